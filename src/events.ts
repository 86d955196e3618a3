import { setMaxListeners } from 'node:events';
import { createPubSub, Repeater } from '@graphql-yoga/subscription';
import type { Database } from './db/orm.js';
import type { Logger } from './logger.js';
import { rateLimited } from './services/throttle.service.js';

/**
 * What ends credentials, announced to every instance when it commits so that open
 * subscriptions end at once: one API key; the login tokens of one account (a password change); or every
 * credential at or below a path (a suspension or deletion).
 */
export type CredentialChange =
  { type: 'credentials'; apiKeyId: string } | { type: 'credentials'; tokensOf: string } | { type: 'credentials'; under: string };

/** What the database announces for each ledger entry (see the alerts migration). */
export interface BalanceEventPayload {
  type: 'balance';
  /** The ledger entry's id: a dashboard de-duplicates with it, and pages the ledger back to it after a reconnect. */
  id: string;
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

type Topics = { BALANCE: BalanceEventPayload; ALERT: AlertPayload };

export function createEvents() {
  // One listener per live subscription on this target: thousands are expected, not a leak.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  const pubsub = createPubSub<{ BALANCE: [BalanceEventPayload]; ALERT: [AlertPayload] }>({ eventTarget });
  return {
    publish: pubsub.publish,
    /** type-graphql's PubSub interface; subscriptions use `subscribeFiltered`. */
    subscribe: pubsub.subscribe,
    /**
     * A subscriber's events: only those it accepts are queued (filtered as they are published, not as they are
     * read), and at most `maxQueued` of them. A subscriber that falls further behind (a client that stops
     * reading) ends with RATE_LIMITED rather than holding every event of the instance in memory; an unbounded
     * queue also overflowed at 1,024 events by throwing inside the publisher, which ended the process.
     */
    subscribeFiltered<K extends keyof Topics>(
      topic: K,
      accept: (event: Topics[K]) => boolean,
      maxQueued: number,
    ): AsyncIterableIterator<Topics[K]> {
      return new Repeater<Topics[K]>((push, stop) => {
        let queued = 0;
        const listener = (event: Event) => {
          const payload = (event as CustomEvent<Topics[K]>).detail;
          if (!accept(payload)) return;
          if (queued >= maxQueued) {
            stop(
              rateLimited(
                1000,
                `The subscriber fell more than ${maxQueued} events behind; subscribe again and read what was missed from alerts or the ledger`,
              ),
            );
            return;
          }
          queued++;
          // Settles when the subscriber takes the event (or the subscription ends).
          push(payload).then(
            () => queued--,
            () => queued--,
          );
        };
        eventTarget.addEventListener(topic, listener);
        void stop.then(() => eventTarget.removeEventListener(topic, listener));
      });
    },
  };
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
