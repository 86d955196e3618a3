import { systemEm, type Orm } from '../db/orm.js';
import type { Logger } from '../logger.js';
import type { InvoiceReport, InvoiceService } from '../services/invoice.service.js';
import { every, type Scheduler } from './scheduler.js';

/**
 * Issues the invoices of every period that has ended, across every platform, every `intervalMs`. Several
 * instances may run it at once: accounts are claimed with advisory locks, and the database refuses a second
 * invoice for a period or a second holding of an entry.
 */
export function startInvoiceScheduler(deps: {
  orm: Orm;
  invoices: InvoiceService;
  intervalMs: number;
  log: Logger;
  onRun?: (report: InvoiceReport | undefined, seconds: number) => void;
}): Scheduler {
  const { orm, invoices, log } = deps;
  return every({
    name: 'invoice',
    intervalMs: deps.intervalMs,
    log,
    onRun: deps.onRun,
    run: async () => {
      const report = await invoices.runAll(systemEm(orm), new Date());
      if (report.issued) log.info({ invoices: report }, 'invoice run');
      return report;
    },
  });
}
