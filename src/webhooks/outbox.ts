import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { WebhookEventTypeName } from './rules.js';

/** An event to record: what happened to which account, and the `data` its POST carries. */
export interface WebhookEventInput {
  type: WebhookEventTypeName;
  accountId: string;
  /** The account's path: which endpoints hear it (the account's own and its ancestors'). */
  ownerPath: string;
  /** Plain JSON: money as decimal strings, times as ISO strings. */
  data: Record<string, unknown>;
}

/**
 * Records events in `em`'s transaction, in the order given (the order they are delivered in, per account): they
 * exist if and only if the change that caused them commits. The database creates their deliveries, one per
 * enabled endpoint of the account or an ancestor that wants the type (the webhook_events insert trigger); an
 * event nobody listens to is not stored. One statement, however many events.
 */
export async function recordEvents(em: Em, events: readonly WebhookEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await executeBound(
    em,
    `insert into webhook_events (id, type, account_id, owner_path, data)
     select 'evt_' || replace(gen_random_uuid()::text, '-', ''), x.type, x.account_id, x.owner_path, x.data::jsonb
       from unnest(?::text[], ?::text[], ?::text[], ?::text[]) with ordinality as x(type, account_id, owner_path, data, n)
      where trellis_webhook_wanted(x.type, x.owner_path)
      order by x.n`,
    [
      pgArray(events.map((e) => e.type)),
      pgArray(events.map((e) => e.accountId)),
      pgArray(events.map((e) => e.ownerPath)),
      pgArray(events.map((e) => JSON.stringify(e.data))),
    ],
  );
}
