import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { FirstCharge } from '../billing/index.js';
import { appliedTaxesJson } from '../taxes/rates.js';
import type { AccountStatus, BillingType, PackageStatus, ResellerModel } from '../entities/index.js';
import { Decimal } from '../money.js';

/** A package of a chain's lineage, as its levels are priced. */
export interface LineagePackage {
  id: string;
  ownerId: string;
  status: PackageStatus;
  optedOutAt: Date | null;
  price: Decimal;
  setupFee: Decimal;
  commissionRate: Decimal;
  taxInclusive: boolean;
}

/** An account that takes a level of a new chain. */
export interface LevelAccount {
  id: string;
  path: string;
  currency: string;
  resellerModel: ResellerModel | null;
  status: AccountStatus;
}

export async function lineagePackages(em: Em, ids: string[]): Promise<Map<string, LineagePackage>> {
  const rows = await executeBound<
    {
      id: string;
      owner_id: string;
      status: PackageStatus;
      opted_out_at: Date | null;
      price: string;
      setup_fee: string;
      commission_rate: string;
      tax_inclusive: boolean;
    }[]
  >(
    em,
    // A minimum-spend package's price is a commitment settled at each period's end, not a fee charged ahead.
    `select p.id, p.owner_id, p.status, p.opted_out_at, (case when t.minimum_spend then 0 else p.price end)::text as price,
            p.setup_fee::text, p.commission_rate::text, p.tax_inclusive
       from packages p join package_terms t on t.id = p.terms_id where p.id = any(?::text[])`,
    [pgArray(ids)],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        ownerId: r.owner_id,
        status: r.status,
        optedOutAt: r.opted_out_at,
        price: new Decimal(r.price),
        setupFee: new Decimal(r.setup_fee),
        commissionRate: new Decimal(r.commission_rate),
        taxInclusive: r.tax_inclusive,
      },
    ]),
  );
}

interface LevelAccountRow {
  id: string;
  path: string;
  currency: string;
  reseller_model: ResellerModel | null;
  status: AccountStatus;
}

const toLevelAccount = (r: LevelAccountRow): LevelAccount => ({
  id: r.id,
  path: r.path,
  currency: r.currency,
  resellerModel: r.reseller_model,
  status: r.status,
});

export async function levelAccounts(em: Em, ids: string[]): Promise<Map<string, LevelAccount>> {
  const rows = await executeBound<LevelAccountRow[]>(
    em,
    `select id, path, currency, reseller_model, status from accounts where id = any(?::text[])`,
    [pgArray(ids)],
  );
  return new Map(rows.map((r) => [r.id, toLevelAccount(r)]));
}

/**
 * A new period row's commitment (minimum-spend packages only: the price as listed now, and whether it includes
 * taxes), joined as `m` for the subscription in `subscription`.
 */
export const commitmentOf = (subscription: string) => `left join lateral (
   select case when t.minimum_spend then p.price end as commitment, case when t.minimum_spend then p.tax_inclusive end as inclusive
     from package_subscriptions s join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
    where s.id = ${subscription}) m on true`;

/** One level of a chain being created. */
export interface NewLevel extends FirstCharge {
  subscriptionId: string;
  level: number;
  accountId: string;
  ownerPath: string;
  packageId: string;
}

/** The chain's subscriptions, ACTIVE with the first period charged, and that period's record at each level. */
export interface NewChain {
  chainId: string;
  start: Date;
  end: Date;
  freeSeconds: number;
  levels: NewLevel[];
}

/**
 * A PENDING chain (PENDING_IF_INSUFFICIENT, DOMAIN.md 10): its levels, nothing charged, no free seconds. Its
 * period is the one it would have if activated now, until activatePendingRows gives it the real one.
 */
export function insertChain(em: Em, chain: NewChain, status: 'ACTIVE' | 'PENDING' = 'ACTIVE'): Promise<void> {
  return insertChains(em, [chain], status);
}

/** Many chains in two statements (assignToChildren): their levels, and unless PENDING their first periods. */
export async function insertChains(em: Em, chains: NewChain[], status: 'ACTIVE' | 'PENDING' = 'ACTIVE'): Promise<void> {
  if (chains.length === 0) return;
  const rows = chains.flatMap((chain) => chain.levels.map((l) => ({ chain, l })));
  const pending = status === 'PENDING';
  await executeBound(
    em,
    `insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                        current_period_start, current_period_end, periods_charged, free_seconds_total)
     select x.id, x.account_id, x.owner_path, x.package_id, x.chain_id, x.level, ?, x.start, x.start, x."end", ?,
            case when ? then 0 else x.free_seconds end
       from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::timestamptz[], ?::timestamptz[],
                   ?::int[])
            as x(id, account_id, owner_path, package_id, chain_id, level, start, "end", free_seconds)`,
    [
      status,
      pending ? 0 : 1,
      pending,
      pgArray(rows.map((r) => r.l.subscriptionId)),
      pgArray(rows.map((r) => r.l.accountId)),
      pgArray(rows.map((r) => r.l.ownerPath)),
      pgArray(rows.map((r) => r.l.packageId)),
      pgArray(rows.map((r) => r.chain.chainId)),
      pgArray(rows.map((r) => r.l.level)),
      pgArray(rows.map((r) => r.chain.start.toISOString())),
      pgArray(rows.map((r) => r.chain.end.toISOString())),
      pgArray(rows.map((r) => r.chain.freeSeconds)),
    ],
  );
  if (!pending) await insertFirstPeriods(em, chains);
}

/** A PENDING chain becomes ACTIVE: its first period starts now, with its free seconds. */
export async function activatePendingRows(em: Em, chain: NewChain): Promise<void> {
  await executeBound(
    em,
    `update package_subscriptions set status = 'ACTIVE', activated_at = ?, current_period_start = ?, current_period_end = ?,
            periods_charged = 1, current_period_number = 1, free_seconds_total = ?, free_seconds_used = 0
      where chain_id = ? and status = 'PENDING'`,
    [chain.start, chain.start, chain.end, chain.freeSeconds, chain.chainId],
  );
  await insertFirstPeriods(em, [chain]);
}

/** The first period's record at each level (what was charged, what refunds and invoices read back) and its pools. */
async function insertFirstPeriods(em: Em, chains: NewChain[]): Promise<void> {
  const rows = chains.flatMap((chain) => chain.levels.map((l) => ({ chain, l })));
  const levels = rows.map((r) => r.l);
  await executeBound(
    em,
    `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee,
                                       price, commission_rate, commission, taxes, charged_at, commitment,
                                       commitment_inclusive)
     select x.id, 1, x.owner_path, x.start, x."end", x.setup_fee, x.price, x.rate, x.commission, x.taxes::jsonb, now(),
            m.commitment, m.inclusive
       from unnest(?::timestamptz[], ?::timestamptz[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[],
                   ?::numeric[], ?::text[])
            as x(start, "end", id, owner_path, setup_fee, price, rate, commission, taxes)
       ${commitmentOf('x.id')}`,
    [
      pgArray(rows.map((r) => r.chain.start.toISOString())),
      pgArray(rows.map((r) => r.chain.end.toISOString())),
      pgArray(levels.map((l) => l.subscriptionId)),
      pgArray(levels.map((l) => l.ownerPath)),
      pgArray(levels.map((l) => l.setupFee.toFixed())),
      pgArray(levels.map((l) => l.price.toFixed())),
      pgArray(levels.map((l) => l.commissionRate.toFixed())),
      pgArray(levels.map((l) => l.commission.toFixed())),
      pgArray(levels.map((l) => appliedTaxesJson(l.applied))),
    ],
  );
  // Each limit's counters start with the first period, so that an unused first period carries over too.
  await executeBound(
    em,
    `insert into subscription_limits (subscription_id, limit_id, owner_path, period_number, total)
     select s.id, l.id, s.owner_path, 1, l.amount
       from package_subscriptions s join packages p on p.id = s.package_id join package_limits l on l.terms_id = p.terms_id
      where s.id = any(?::text[])
     on conflict (subscription_id, limit_id) do update set period_number = 1, total = excluded.total, used = 0, carried_over = 0`,
    [pgArray(levels.map((l) => l.subscriptionId))],
  );
}

/**
 * The PENDING chains an account bought (level 0). A top-up of the buyer, the deepest account of its chain, can
 * activate them with the accounts locked in the global order (deepest first); a reseller's top-up leaves its
 * customers' chains to the next renewal run.
 */
export async function pendingChainsOf(em: Em, accountId: string): Promise<string[]> {
  const rows = await executeBound<{ chain_id: string }[]>(
    em,
    `select chain_id from package_subscriptions where account_id = ? and level = 0 and status = 'PENDING' order by seq`,
    [accountId],
  );
  return rows.map((r) => r.chain_id);
}

/** PENDING chains of a platform (or all), oldest first: renewal runs try them all. */
export async function pendingChains(em: Em, rootPath: string | undefined, limit: number): Promise<string[]> {
  const rows = await executeBound<{ chain_id: string }[]>(
    em,
    `select chain_id from package_subscriptions
      where level = 0 and status = 'PENDING' and (?::text is null or starts_with(owner_path, ?))
      order by seq limit ?`,
    [rootPath ?? null, rootPath ?? null, limit],
  );
  return rows.map((r) => r.chain_id);
}

/** What a chain's period and free seconds are, from its original package's terms (shared by the clones). */
export async function chainTerms(
  em: Em,
  packageId: string,
): Promise<{
  billingType: BillingType;
  billingDays: number;
  freeMinutes: number;
  startDate: Date | null;
  endDate: Date | null;
  didQuantity: number;
}> {
  const [row] = await executeBound<
    {
      billing_type: BillingType;
      billing_days: number;
      free_minutes: number;
      start_date: Date | null;
      end_date: Date | null;
      did_quantity: number;
    }[]
  >(
    em,
    `select t.billing_type, t.billing_days, t.free_minutes, t.start_date, t.end_date, t.did_quantity
       from packages p join package_terms t on t.id = p.terms_id where p.id = ?`,
    [packageId],
  );
  return {
    billingType: row.billing_type,
    billingDays: row.billing_days,
    freeMinutes: row.free_minutes,
    startDate: row.start_date ? new Date(row.start_date) : null,
    endDate: row.end_date ? new Date(row.end_date) : null,
    didQuantity: row.did_quantity,
  };
}

/**
 * The direct child customers of an account that do not hold a package yet (a live chain of it at level 0):
 * ACTIVE ones only, on a rate group when one is given. assignToChildren assigns them the package.
 */
export async function childrenWithout(
  em: Em,
  parentId: string,
  packageId: string,
  rateGroupId: string | null,
): Promise<LevelAccount[]> {
  const rows = await executeBound<LevelAccountRow[]>(
    em,
    `select a.id, a.path, a.currency, a.reseller_model, a.status from accounts a
      where a.parent_id = ? and a.kind = 'CUSTOMER' and a.status = 'ACTIVE' and (?::text is null or a.rate_group_id = ?)
        and not exists (select 1 from package_subscriptions s
                         where s.account_id = a.id and s.package_id = ? and s.level = 0
                           and s.status in ('PENDING', 'ACTIVE', 'PAST_DUE'))
      order by a.seq`,
    [parentId, rateGroupId, rateGroupId, packageId],
  );
  return rows.map(toLevelAccount);
}

/**
 * Which of these accounts hold a live chain of a package (level 0, PENDING, ACTIVE or PAST_DUE). Read after their
 * accounts are locked, it sees every purchase committed before, and one still running holds its buyer's lock.
 */
export async function holdingPackage(em: Em, accountIds: string[], packageId: string): Promise<Set<string>> {
  const rows = await executeBound<{ account_id: string }[]>(
    em,
    `select distinct account_id from package_subscriptions
      where account_id = any(?::text[]) and package_id = ? and level = 0 and status in ('PENDING', 'ACTIVE', 'PAST_DUE')`,
    [pgArray(accountIds), packageId],
  );
  return new Set(rows.map((r) => r.account_id));
}

/** The packages an account gives every new child customer: its own mandatory ones, ACTIVE. */
export async function mandatoryPackageIds(em: Em, ownerId: string): Promise<string[]> {
  const rows = await executeBound<{ id: string }[]>(
    em,
    `select id from packages where owner_id = ? and mandatory and status = 'ACTIVE' and opted_out_at is null order by seq`,
    [ownerId],
  );
  return rows.map((r) => r.id);
}

/** Serialises assignToChildren calls for one package: each sees the chains the one before created. */
export async function lockPackageAssignment(em: Em, packageId: string): Promise<void> {
  await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`assign:${packageId}`]);
}
