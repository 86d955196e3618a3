import { setMaxListeners } from 'node:events';
import { createPubSub } from '@graphql-yoga/subscription';
import type { Database } from './db/orm.js';
import type { Logger } from './logger.js';
import type { CredentialChange } from './services/auth.service.js';

/** What the database announces for each ledger entry (see the alerts migration). */
export interface BalanceEventPayload {
  type: 'balance';
  accountId: string;
  path: string;
  balance: string;
  available: string;
  delta: string;
  kind: string;
  at: string;
}

export interface AlertPayload {
  type: 'alert';
  id: string;
  accountId: string;
  path: string;
  kind: string;
  available: string;
  threshold: string | null;
  at: string;
}

export const CHANNEL = 'trellis_events';

export type Events = ReturnType<typeof createEvents>;

export function createEvents() {
  // One listener per live subscription on this target: thousands are expected, not a leak.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  return createPubSub<{ BALANCE: [BalanceEventPayload]; ALERT: [AlertPayload] }>({ eventTarget });
}

/**
 * Relays the database's notifications to this instance's subscribers. Every instance listens, so a change
 * committed through any of them reaches subscribers on all of them.
 */
export async function relayDatabaseEvents(
  db: Database,
  events: Events,
  log: Logger,
  onCredentials: (change: CredentialChange) => void,
): Promise<() => Promise<void>> {
  return db.listen(CHANNEL, (raw) => {
    try {
      const payload = JSON.parse(raw) as BalanceEventPayload | AlertPayload | CredentialChange;
      if (payload.type === 'balance') events.publish('BALANCE', payload);
      else if (payload.type === 'alert') events.publish('ALERT', payload);
      // Handled before the next notification is read: events committed after the change never reach the
      // subscriptions it ends. Notifications arrive in commit order.
      else if (payload.type === 'credentials') onCredentials(payload);
    } catch (error) {
      log.error({ err: error }, 'unreadable database event');
    }
  });
}
