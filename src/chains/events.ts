import type { Em } from '../db/orm.js';
import { recordEvents } from '../webhooks/outbox.js';

/** One level of a chain, as its webhook events describe it. */
export interface ChainLevelRef {
  subscriptionId: string;
  accountId: string;
  ownerPath: string;
  packageId: string;
}

export type ChainEventType =
  | 'SUBSCRIPTION_ACTIVATED'
  | 'SUBSCRIPTION_RENEWED'
  | 'SUBSCRIPTION_PAST_DUE'
  | 'SUBSCRIPTION_RELEASED'
  | 'SUBSCRIPTION_EXPIRED'
  | 'SUBSCRIPTION_TERMINATED';

/**
 * A chain's lifecycle event, one per level (each level is its account's subscription, so a reseller's endpoint
 * hears about its own upstream subscription as well as its customers'), recorded in the caller's transaction.
 */
export function recordChainEvents(
  em: Em,
  events: { type: ChainEventType; chainId: string; levels: readonly ChainLevelRef[]; state: ChainEventState }[],
): Promise<void> {
  return recordEvents(
    em,
    events.flatMap(({ type, chainId, levels, state }) =>
      levels.map((l) => ({
        type,
        accountId: l.accountId,
        ownerPath: l.ownerPath,
        data: {
          subscriptionId: l.subscriptionId,
          chainId,
          accountId: l.accountId,
          packageId: l.packageId,
          status: state.status,
          periodStart: state.periodStart.toISOString(),
          periodEnd: state.periodEnd.toISOString(),
          periodsCharged: state.periodsCharged,
          endedAt: state.endedAt?.toISOString() ?? null,
        },
      })),
    ),
  );
}

export interface ChainEventState {
  status: string;
  periodStart: Date;
  periodEnd: Date;
  periodsCharged: number;
  endedAt: Date | null;
}
