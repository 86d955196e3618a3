import { systemEm, type Orm } from '../db/orm.js';
import type { Logger } from '../logger.js';
import type { RenewalReport, RenewalService } from '../services/renewal.service.js';

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Renews what is due every `intervalMs`, across every platform, in batches of their own transactions.
 * Several instances may run it at once: the service claims chains with SKIP LOCKED and the database refuses a
 * second charge for a period, so no coordination between instances is needed.
 */
export function startRenewalScheduler(deps: {
  orm: Orm;
  renewals: RenewalService;
  intervalMs: number;
  log: Logger;
  /** Told of every run: its report, or undefined when it failed. */
  onRun?: (report: RenewalReport | undefined, seconds: number) => void;
}): Scheduler {
  const { orm, renewals, intervalMs, log, onRun } = deps;
  if (!intervalMs) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      const started = performance.now();
      try {
        const report = await renewals.runAll(systemEm(orm), new Date());
        onRun?.(report, (performance.now() - started) / 1000);
        if (report.renewed || report.released || report.expired) log.info({ renewals: report }, 'renewal run');
      } catch (error) {
        onRun?.(undefined, (performance.now() - started) / 1000);
        log.error({ err: error }, 'renewal run failed');
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
