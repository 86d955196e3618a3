import { systemEm, type Orm } from '../db/orm.js';
import type { Logger } from '../logger.js';
import type { RenewalReport, RenewalService } from '../services/renewal.service.js';
import { every, type Scheduler } from './scheduler.js';

/**
 * Renews what is due every `intervalMs`, across every platform, in batches of their own transactions.
 * Several instances may run it at once: the service claims chains with SKIP LOCKED and the database refuses a
 * second charge for a period.
 */
export function startRenewalScheduler(deps: {
  orm: Orm;
  renewals: RenewalService;
  intervalMs: number;
  log: Logger;
  onRun?: (report: RenewalReport | undefined, seconds: number) => void;
}): Scheduler {
  const { orm, renewals, log } = deps;
  return every({
    name: 'renewal',
    intervalMs: deps.intervalMs,
    log,
    onRun: deps.onRun,
    run: async () => {
      const report = await renewals.runAll(systemEm(orm), new Date());
      if (Object.values(report).some((n) => n > 0)) log.info({ renewals: report }, 'renewal run');
      return report;
    },
  });
}
