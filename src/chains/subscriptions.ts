import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { SubscriptionStatus } from '../entities/index.js';
import { likePrefix, scopePath } from '../entities/scope.js';

/** A subscription as the API shows it: what PackageSubscriptionType and its resolvers read. */
export interface SubscriptionView {
  readonly id: string;
  readonly seq?: string;
  readonly accountId: string;
  readonly packageId: string;
  readonly status: SubscriptionStatus;
  readonly activatedAt: Date;
  readonly currentPeriodStart: Date;
  readonly currentPeriodEnd: Date;
  readonly periodsCharged: number;
  readonly freeSecondsTotal: number;
  readonly freeSecondsUsed: number;
  readonly endedAt?: Date | null;
}

/** Columns of a SubscriptionView row, for package_subscriptions aliased `s`. */
export const SUBSCRIPTION_COLUMNS = `s.id, s.seq::text as seq, s.account_id, s.package_id, s.status, s.activated_at,
  s.current_period_start, s.current_period_end, s.periods_charged, s.free_seconds_total, s.free_seconds_used, s.ended_at`;

export interface SubscriptionRow {
  id: string;
  seq: string;
  account_id: string;
  package_id: string;
  status: SubscriptionStatus;
  activated_at: Date | string;
  current_period_start: Date | string;
  current_period_end: Date | string;
  periods_charged: number;
  free_seconds_total: number;
  free_seconds_used: number;
  ended_at: Date | string | null;
}

/** Lists read plain rows: no entity to build and register per subscription. */
export function subscriptionView(r: SubscriptionRow): SubscriptionView {
  return {
    id: r.id,
    seq: r.seq,
    accountId: r.account_id,
    packageId: r.package_id,
    status: r.status,
    // Timestamps come as text through MikroORM's connection (it maps them itself), as Dates through others.
    activatedAt: new Date(r.activated_at),
    currentPeriodStart: new Date(r.current_period_start),
    currentPeriodEnd: new Date(r.current_period_end),
    periodsCharged: r.periods_charged,
    freeSecondsTotal: r.free_seconds_total,
    freeSecondsUsed: r.free_seconds_used,
    endedAt: r.ended_at === null ? null : new Date(r.ended_at),
  };
}

/** Subscriptions by id in the caller's scope; a missing or out-of-scope id is simply not returned. */
export async function findSubscriptionViews(em: Em, ids: readonly string[]): Promise<SubscriptionView[]> {
  const rows = await executeBound<SubscriptionRow[]>(
    em,
    `select ${SUBSCRIPTION_COLUMNS} from package_subscriptions s where s.id = any(?::text[]) and s.owner_path like ?`,
    [pgArray(ids), likePrefix(scopePath(em))],
  );
  return rows.map(subscriptionView);
}
