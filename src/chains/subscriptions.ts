import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { SubscriptionStatus } from '../entities/index.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import type { Page, PageArgs } from '../services/pagination.js';
import { rowPage, type RowPageLoaders } from '../services/row-pages.js';

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

const SUBSCRIPTION_COLUMNS = `id, seq::text as seq, account_id, package_id, status, activated_at,
  current_period_start, current_period_end, periods_charged, free_seconds_total, free_seconds_used, ended_at`;

interface SubscriptionRow {
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
function subscriptionView(r: SubscriptionRow): SubscriptionView {
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
    `select ${SUBSCRIPTION_COLUMNS} from package_subscriptions where id = any(?::text[]) and owner_path like ?`,
    [pgArray(ids), likePrefix(scopePath(em))],
  );
  return rows.map(subscriptionView);
}

/**
 * An account's own subscriptions (its level of each chain), oldest first: every account of a list level asking with
 * the same arguments shares one statement (src/services/row-pages.ts).
 */
export function subscriptionsPage(
  loaders: RowPageLoaders,
  accountId: string,
  args: PageArgs & { status?: SubscriptionStatus | null },
): Promise<Page<SubscriptionView>> {
  const list = {
    table: 'package_subscriptions',
    columns: SUBSCRIPTION_COLUMNS,
    pathColumn: 'owner_path',
    parentColumn: 'account_id',
    where: args.status ? ['package_subscriptions.status = ?'] : [],
    values: args.status ? [args.status] : [],
    order: 'asc' as const,
  };
  return rowPage(loaders, list, accountId, args, subscriptionView);
}
