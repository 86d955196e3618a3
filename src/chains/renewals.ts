import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { ChargedPeriod, RenewalChain, RenewalLevel, RenewalOutcome } from '../billing/index.js';
import type { BillingType, DiscountRule, ResellerModel } from '../entities/index.js';
import { likePrefix } from '../entities/scope.js';
import { Decimal } from '../money.js';
import { appliedTaxesJson, taxesOf } from '../taxes/rates.js';
import { commitmentOf } from './activation.js';

/** A chain due for renewal as locked for it: its terms, its levels, and each level's balance as read. */
export interface LockedChain {
  chainId: string;
  chain: RenewalChain;
  levels: RenewalLevel[];
  /** Every level's account, its balance and credit limit read without a lock (the posting engine takes it). */
  funds: { accountId: string; balance: Decimal; creditLimit: Decimal }[];
  /** Each level's owner path, by subscription id: what its period rows are scoped by. */
  ownerPaths: Map<string, string>;
}

/** The longest advance-renew interval among a platform's packages, in hours. */
export async function maxAdvanceRenewHours(em: Em, rootPath: string): Promise<number> {
  const [{ hours }] = await em.execute<{ hours: number }[]>(
    `select coalesce(max(advance_renew_hours), 0)::int as hours from package_terms where owner_path like ?`,
    [likePrefix(rootPath)],
  );
  return Number(hours);
}

/** Heads of due chains, oldest period end first, read without locks (lockChains locks and re-checks). */
export async function findDueChains(em: Em, asOf: Date, rootPath: string | undefined, limit: number): Promise<string[]> {
  const rows = await em.execute<{ chain_id: string }[]>(
    `select s.chain_id from package_subscriptions s
       join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
      where s.level = 0 and s.status in ('ACTIVE', 'PAST_DUE')
        and (case when s.periods_charged > s.current_period_number   -- paid ahead: due to switch at its end
                    or t.billing_type = 'ONE_TIME' or t.end_date <= s.current_period_end  -- it ends: due at its end
                  then s.current_period_end
                  else s.current_period_end - make_interval(hours => t.advance_renew_hours) end) <= ?
        and (?::text is null or starts_with(s.owner_path, ?))
      -- Chains waiting past due are tried after every ACTIVE chain due: they cannot hold up renewals.
      order by s.status = 'PAST_DUE', s.current_period_end, s.id
      limit ?`,
    [asOf, rootPath ?? null, rootPath ?? null, limit],
  );
  return rows.map((r) => r.chain_id);
}

interface LevelRow {
  id: string;
  chain_id: string;
  level: number;
  status: string;
  account_id: string;
  owner_path: string;
  package_id: string;
  balance: string;
  credit_limit: string;
  reseller_model: ResellerModel | null;
  price: string;
  commission_rate: string;
  tax_inclusive: boolean;
  activated_at: Date;
  current_period_start: Date;
  current_period_end: Date;
  periods_charged: number;
  current_period_number: number;
  billing_type: BillingType;
  billing_days: number;
  free_minutes: number;
  release_if_no_balance: boolean;
  renew_retry_hours: number | null;
  did_hold_days: number;
  did_count: number;
  discounts: DiscountRule[];
  end_date: Date | null;
  advance_renew_hours: number;
  chain_size: number;
}

/**
 * Locks the chains' subscriptions with SKIP LOCKED and returns the chains locked whole and still ACTIVE (a
 * renewer never waits on a subscription, so it cannot deadlock with rating or termination, which wait in id
 * order). Balances are read as they are, without a lock.
 */
export async function lockChains(em: Em, chainIds: string[]): Promise<LockedChain[]> {
  const chains = await lockChainRows(em, chainIds);
  const taxes = await taxesOf(em, [...new Set(chains.flatMap((c) => c.levels.map((l) => l.accountId)))]);
  for (const c of chains) for (const l of c.levels) l.taxes = taxes.get(l.accountId) ?? [];
  return chains;
}

async function lockChainRows(em: Em, chainIds: string[]): Promise<LockedChain[]> {
  const rows = await executeBound<LevelRow[]>(
    em,
    `select s.id, s.chain_id, s.level, s.status, s.account_id, s.owner_path, s.package_id, a.balance::text, a.credit_limit::text,
            a.reseller_model, (case when t.minimum_spend then 0 else p.price end)::text as price, p.commission_rate::text, p.tax_inclusive, s.activated_at, s.current_period_start,
            s.current_period_end, s.periods_charged, s.current_period_number, t.billing_type, t.billing_days,
            t.free_minutes, t.release_if_no_balance, t.renew_retry_hours, t.did_hold_days,
            (select count(*)::int from dids d where d.subscription_id = s.id) as did_count, t.discounts, t.end_date, t.advance_renew_hours,
            n.chain_size
       -- Each chain probed by its index (OFFSET 0 keeps it a lateral probe: the planner otherwise hashed
       -- every subscription), counted once, and locked there, skipping rows another renewer holds.
       from unnest(?::text[]) c(id)
       cross join lateral (select count(*)::int as chain_size from package_subscriptions x where x.chain_id = c.id) n
       cross join lateral (
         select * from package_subscriptions x where x.chain_id = c.id offset 0 for no key update skip locked
       ) s
       join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
       join accounts a on a.id = s.account_id
      order by s.id`,
    [pgArray(chainIds)],
  );
  const byChain = new Map<string, LevelRow[]>();
  for (const r of rows) byChain.set(r.chain_id, [...(byChain.get(r.chain_id) ?? []), r]);
  const chains: LockedChain[] = [];
  for (const [chainId, levels] of byChain) {
    levels.sort((x, y) => x.level - y.level);
    const head = levels[0];
    if (head.level !== 0 || levels.length !== head.chain_size) continue;
    if (head.status !== 'ACTIVE' && head.status !== 'PAST_DUE') continue;
    chains.push({
      chainId,
      chain: {
        status: head.status,
        activatedAt: new Date(head.activated_at),
        currentPeriodStart: new Date(head.current_period_start),
        currentPeriodEnd: new Date(head.current_period_end),
        periodsCharged: head.periods_charged,
        currentPeriodNumber: head.current_period_number,
        billingType: head.billing_type,
        billingDays: head.billing_days,
        freeMinutes: head.free_minutes,
        releaseIfNoBalance: head.release_if_no_balance,
        renewRetryHours: head.renew_retry_hours,
        didHoldDays: head.did_hold_days,
        holdsDids: head.did_count > 0,
        discounts: head.discounts,
        endDate: head.end_date === null ? null : new Date(head.end_date),
        advanceRenewHours: head.advance_renew_hours,
      },
      levels: levels.map((l) => ({
        subscriptionId: l.id,
        level: l.level,
        accountId: l.account_id,
        packageId: l.package_id,
        price: new Decimal(l.price),
        commissionRate: new Decimal(l.commission_rate),
        resellerModel: l.reseller_model,
        taxes: [],
        taxInclusive: l.tax_inclusive,
      })),
      funds: levels.map((l) => ({
        accountId: l.account_id,
        balance: new Decimal(l.balance),
        creditLimit: new Decimal(l.credit_limit),
      })),
      ownerPaths: new Map(levels.map((l) => [l.id, l.owner_path])),
    });
  }
  return chains;
}

/** The primary key (subscription_id, period_number) is the last word: a period cannot be charged twice. */
export async function insertRenewedPeriods(em: Em, periods: (ChargedPeriod & { ownerPath: string })[]): Promise<void> {
  if (periods.length === 0) return;
  await executeBound(
    em,
    `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee,
                                       price, commission_rate, commission, taxes, charged_at, commitment, commitment_inclusive)
     select x.subscription_id, x.period_number, x.owner_path, x.period_start, x.period_end, 0, x.price, x.commission_rate,
            x.commission, x.taxes::jsonb, now(), m.commitment, m.inclusive
       from unnest(?::text[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::numeric[], ?::numeric[], ?::numeric[],
                   ?::text[])
            as x(subscription_id, period_number, owner_path, period_start, period_end, price, commission_rate, commission,
                 taxes)
       ${commitmentOf('x.subscription_id')}`,
    [
      pgArray(periods.map((p) => p.subscriptionId)),
      pgArray(periods.map((p) => p.periodNumber)),
      pgArray(periods.map((p) => p.ownerPath)),
      pgArray(periods.map((p) => p.start.toISOString())),
      pgArray(periods.map((p) => p.end.toISOString())),
      pgArray(periods.map((p) => p.price.toFixed())),
      pgArray(periods.map((p) => p.commissionRate.toFixed())),
      pgArray(periods.map((p) => p.commission.toFixed())),
      pgArray(periods.map((p) => appliedTaxesJson(p.taxes))),
    ],
  );
}

/** Every level of each chain takes its outcome: status, period counters, current period, free seconds. */
export async function updateRenewedChains(em: Em, updates: { chainId: string; outcome: RenewalOutcome }[]): Promise<void> {
  if (updates.length === 0) return;
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  await executeBound(
    em,
    `update package_subscriptions s set
       status = x.status, periods_charged = x.periods_charged, current_period_number = x.current_period_number,
       current_period_start = x.period_start, current_period_end = x.period_end, ended_at = x.ended_at,
       free_seconds_total = case when x.reset then x.free_seconds else s.free_seconds_total end,
       free_seconds_used = case when x.reset then 0 else s.free_seconds_used end
      from unnest(?::text[], ?::text[], ?::int[], ?::int[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::boolean[],
                  ?::timestamptz[])
           as x(chain_id, status, periods_charged, current_period_number, period_start, period_end, free_seconds, reset,
                ended_at)
     where s.chain_id = x.chain_id`,
    [
      pgArray(updates.map((u) => u.chainId)),
      pgArray(updates.map((u) => u.outcome.status)),
      pgArray(updates.map((u) => u.outcome.periodsCharged)),
      pgArray(updates.map((u) => u.outcome.currentPeriodNumber)),
      pgArray(updates.map((u) => u.outcome.periodStart.toISOString())),
      pgArray(updates.map((u) => u.outcome.periodEnd.toISOString())),
      pgArray(updates.map((u) => u.outcome.freeSecondsTotal)),
      pgArray(updates.map((u) => String(u.outcome.freeSecondsReset))),
      pgArray(updates.map((u) => iso(u.outcome.endedAt))),
    ],
  );
}
