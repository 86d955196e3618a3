import { systemEm, type Orm } from '../db/orm.js';
import type { Logger } from '../logger.js';
import type { DeliveryReport, WebhookService } from '../services/webhook.service.js';
import { every, type Scheduler } from './scheduler.js';

/**
 * Sends due webhook deliveries every `intervalMs`, on every instance: deliveries are claimed with FOR UPDATE SKIP
 * LOCKED and leased, so instances share the work without coordinating, and one that dies mid-POST leaves its
 * claims to be taken again when their lease ends. A run keeps going while work is due, for at most a few
 * intervals, so a shutdown waits for little.
 */
export function startWebhookWorker(deps: { orm: Orm; webhooks: WebhookService; intervalMs: number; log: Logger }): Scheduler {
  const { orm, webhooks, log } = deps;
  return every<DeliveryReport>({
    name: 'webhook',
    intervalMs: deps.intervalMs,
    log,
    run: async () => {
      const report = await webhooks.deliverDue(systemEm(orm), Math.max(1_000, deps.intervalMs * 5));
      if (report.failed) log.info({ webhooks: report }, 'webhook run');
      return report;
    },
  });
}
