import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { Applicability, Direction } from '../entities/index.js';
import type { LevelCharge } from '../billing/index.js';
import { Decimal, ZERO } from '../money.js';
import { counterState, limitCounters } from '../packages/limits.js';
import type { CallFacts, LoadedPool } from './rating.js';

/** A level's charge as stored, for comparing with a new rating and for the revision kept of it. */
export interface StoredCharge {
  level: number;
  accountId: string;
  amount: string;
  billedSeconds: number;
  freeSeconds: number;
  subscriptionId: string | null;
  limitId: string | null;
  moneyAmount: string;
  moneySubscriptionId: string | null;
  moneyLimitId: string | null;
  ratePrefix: string | null;
}

/** A call to rate again, with its charges as they stand. */
export interface RatedCallRow extends CallFacts {
  cost: string;
  billedSeconds: number;
  revision: number;
  ratedAt: Date;
  charges: StoredCharge[];
}

/** The accounts of a subtree, the root of it first. */
export async function subtreeAccounts(em: Em, path: string): Promise<{ id: string; depth: number }[]> {
  return executeBound(em, `select id, depth from accounts where path like ? order by depth, id`, [`${path}%`]);
}

/** The accounts among these with calls started in [from, to): those whose calls are rated again. */
export async function accountsWithCallsIn(em: Em, accountIds: string[], from: Date, to: Date): Promise<string[]> {
  const rows = await executeBound<{ account_id: string }[]>(
    em,
    `select a.id as account_id from unnest(?::text[]) as a(id)
      where exists (select 1 from call_charges c where c.level = 0 and c.account_id = a.id and c.started_at >= ? and c.started_at < ?)`,
    [pgArray(accountIds), from, to],
  );
  return rows.map((r) => r.account_id);
}

/**
 * The calls of these accounts started in [from, to), in start order, with every level's charge: found by the
 * level-0 charges' (account, start) index.
 */
export async function callsStartedIn(em: Em, accountIds: string[], from: Date, to: Date): Promise<RatedCallRow[]> {
  const rows = await executeBound<
    {
      id: string;
      call_id: string;
      account_id: string;
      owner_path: string;
      destination: string;
      direction: Direction;
      duration_seconds: number;
      started_at: Date;
      cost: string;
      billed_seconds: number;
      revision: number;
      rated_at: Date;
      charges: StoredCharge[] | string;
    }[]
  >(
    em,
    `select k.id, k.call_id, k.account_id, k.owner_path, k.destination, k.direction, k.duration_seconds, k.started_at,
            k.cost::text as cost, k.billed_seconds, k.revision, coalesce(k.rated_at, k.created_at) as rated_at,
            (select json_agg(json_build_object(
                      'level', c.level, 'accountId', c.account_id, 'amount', c.amount::text,
                      'billedSeconds', c.billed_seconds, 'freeSeconds', c.free_seconds,
                      'subscriptionId', c.subscription_id, 'limitId', c.limit_id, 'moneyAmount', c.money_amount::text,
                      'moneySubscriptionId', c.money_subscription_id, 'moneyLimitId', c.money_limit_id,
                      'ratePrefix', c.rate_prefix) order by c.level)
               from call_charges c where c.call_id = k.id) as charges
       from call_charges c0 join calls k on k.id = c0.call_id
      where c0.level = 0 and c0.account_id = any(?::text[]) and c0.started_at >= ? and c0.started_at < ?
      order by k.started_at, k.seq`,
    [pgArray(accountIds), from, to],
  );
  return rows.map((r) => ({
    id: r.id,
    callId: r.call_id,
    accountId: r.account_id,
    ownerPath: r.owner_path,
    destination: r.destination,
    direction: r.direction,
    durationSeconds: r.duration_seconds,
    startedAt: new Date(r.started_at),
    cost: r.cost,
    billedSeconds: r.billed_seconds,
    revision: r.revision,
    ratedAt: new Date(r.rated_at),
    charges: typeof r.charges === 'string' ? (JSON.parse(r.charges) as StoredCharge[]) : r.charges,
  }));
}

/** A pool of one period: LoadedPool, its period's number, and whether that period is its subscription's current one. */
export type PeriodPool = LoadedPool & { current: boolean };

interface PeriodRow {
  id: string;
  chain_id: string;
  account_id: string;
  owner_path: string;
  level: number;
  seq: string;
  status: string;
  ended_at: Date | null;
  current_period_number: number;
  free_seconds_total: number;
  free_minutes: number;
  destinations: string[];
  applicable_for: Applicability;
  priority: number;
  period_number: number;
  period_start: Date;
  period_end: Date;
}

/**
 * Every pool of the accounts' chains in every period overlapping [from, to), whatever the chains' status now
 * (the subscriptions active at each call's start, DOMAIN.md 14), each with what calls outside [from, to) drew
 * from it in its period. The subscriptions are locked in id order, as rating locks them, since the counters
 * of their current periods are rewritten.
 *
 * A pool's allowance in its current period is the one its counters hold (carry-over included); in an earlier
 * period, the package's allowance as it is now (what was carried into it is not kept).
 */
export async function periodPools(em: Em, accountIds: string[], from: Date, to: Date): Promise<PeriodPool[]> {
  const rows = await executeBound<PeriodRow[]>(
    em,
    `select s.id, s.chain_id, s.account_id, s.owner_path, s.level, s.seq, s.status, s.ended_at, s.current_period_number,
            s.free_seconds_total, t.free_minutes, t.destinations, t.applicable_for, t.priority, p.period_number,
            p.period_start, p.period_end
       from package_subscriptions s
       join packages pk on pk.id = s.package_id
       join package_terms t on t.id = pk.terms_id
       join subscription_periods p on p.subscription_id = s.id
      where s.chain_id in (select chain_id from package_subscriptions where account_id = any(?::text[]) and level = 0)
        and p.period_start < ? and p.period_end > ?
      order by s.id, p.period_number
        for no key update of s`,
    [pgArray(accountIds), to, from],
  );
  if (rows.length === 0) return [];
  const subscriptionIds = [...new Set(rows.map((r) => r.id))];
  const limits = await limitCounters(em, subscriptionIds);
  // What calls outside the range drew, per subscription, pool (limit, or '' for free minutes) and period.
  const drawn = await executeBound<{ subscription_id: string; period_number: number; pool: string; drawn: string }[]>(
    em,
    // Only the chain's customer's calls draw on a chain: read through its own charges (level 0, by its
    // account and start), then each level's charge of the same call, instead of every charge of a reseller.
    `with drawn as (
       select p.subscription_id, p.period_number, c.limit_id, c.free_seconds, c.subscription_id as volume_of,
              c.money_limit_id, c.money_amount, c.money_subscription_id as money_of
         from subscription_periods p join package_subscriptions s on s.id = p.subscription_id
         join package_subscriptions s0 on s0.chain_id = s.chain_id and s0.level = 0
         join call_charges c0 on c0.account_id = s0.account_id and c0.level = 0
          and c0.started_at >= p.period_start and c0.started_at < p.period_end
         join call_charges c on c.call_id = c0.call_id and c.level = s.level
        where p.subscription_id = any(?::text[]) and p.period_start < ? and p.period_end > ?
          and (c0.started_at < ? or c0.started_at >= ?))
     select subscription_id, period_number, coalesce(limit_id, '') as pool, sum(free_seconds)::text as drawn
       from drawn where volume_of = subscription_id and free_seconds > 0 group by 1, 2, 3
     union all
     select subscription_id, period_number, money_limit_id, sum(money_amount)::text
       from drawn where money_of = subscription_id and money_amount > 0 group by 1, 2, 3`,
    [pgArray(subscriptionIds), to, from, from, to],
  );
  const limitsOf = new Map<string, typeof limits>();
  for (const l of limits) limitsOf.set(l.subscription_id, [...(limitsOf.get(l.subscription_id) ?? []), l]);
  const drawnBy = new Map(drawn.map((d) => [`${d.subscription_id}/${d.pool}/${d.period_number}`, new Decimal(d.drawn)]));
  return rows.flatMap((r) => {
    const current = r.period_number === r.current_period_number && r.status === 'ACTIVE';
    const end = r.ended_at && new Date(r.ended_at) < new Date(r.period_end) ? new Date(r.ended_at) : new Date(r.period_end);
    const base = {
      subscriptionId: r.id,
      chainId: r.chain_id,
      accountId: r.account_id,
      ownerPath: r.owner_path,
      level: r.level,
      seq: Number(r.seq),
      periodStart: new Date(r.period_start),
      periodEnd: end,
      applicableFor: r.applicable_for,
      priority: r.priority,
      periodNumber: r.period_number,
      current,
    };
    const used = (pool: string) => drawnBy.get(`${r.id}/${pool}/${r.period_number}`) ?? ZERO;
    const pools: PeriodPool[] = [];
    const freeSeconds = current ? r.free_seconds_total : r.free_minutes * 60;
    if (freeSeconds > 0) {
      pools.push({
        ...base,
        key: `${r.id}#${r.period_number}`,
        limitId: null,
        position: 0,
        kind: 'VOLUME',
        patterns: r.destinations,
        total: new Decimal(freeSeconds),
        used: used(''),
        inBundleRate: ZERO,
        rejectWhenExhausted: false,
        carriedOver: ZERO,
      });
    }
    for (const l of limitsOf.get(r.id) ?? []) {
      const state = current ? counterState(l) : { total: new Decimal(l.amount), carriedOver: ZERO };
      pools.push({
        ...base,
        key: `${r.id}/${l.limit_id}#${r.period_number}`,
        limitId: l.limit_id,
        position: l.place,
        kind: l.kind,
        patterns: l.patterns,
        total: state.total,
        used: used(l.limit_id),
        inBundleRate: new Decimal(l.in_bundle_rate),
        rejectWhenExhausted: l.reject_when_exhausted,
        carriedOver: state.carriedOver,
      });
    }
    return pools;
  });
}

/**
 * A call's new rating replaces its charges: the rating it had is kept as a revision (oldest first), the call's
 * cost and billed seconds and each level's charge are rewritten (a call's levels never change: its account's
 * path is fixed).
 */
export async function writeRevisions(
  em: Em,
  changed: { call: RatedCallRow; charges: LevelCharge[] }[],
  ratedAt: Date,
): Promise<void> {
  if (changed.length === 0) return;
  await executeBound(
    em,
    `insert into call_revisions (call_id, revision, owner_path, cost, billed_seconds, charges, rated_at)
     select * from unnest(?::text[], ?::int[], ?::text[], ?::numeric[], ?::int[], ?::jsonb[], ?::timestamptz[])`,
    [
      pgArray(changed.map((c) => c.call.id)),
      pgArray(changed.map((c) => c.call.revision)),
      pgArray(changed.map((c) => c.call.ownerPath)),
      pgArray(changed.map((c) => c.call.cost)),
      pgArray(changed.map((c) => c.call.billedSeconds)),
      pgArray(changed.map((c) => JSON.stringify(c.call.charges))),
      pgArray(changed.map((c) => c.call.ratedAt.toISOString())),
    ],
  );
  await executeBound(
    em,
    `update calls k set cost = x.cost, billed_seconds = x.billed, revision = k.revision + 1, rated_at = ?
       from unnest(?::text[], ?::numeric[], ?::int[]) as x(id, cost, billed) where k.id = x.id`,
    [
      ratedAt,
      pgArray(changed.map((c) => c.call.id)),
      pgArray(changed.map((c) => c.charges[0].amount.toFixed())),
      pgArray(changed.map((c) => c.charges[0].billedSeconds)),
    ],
  );
  const rows = changed.flatMap(({ call, charges }) => charges.map((charge) => ({ call, charge })));
  await executeBound(
    em,
    `update call_charges c set amount = x.amount, billed_seconds = x.billed, free_seconds = x.free,
            subscription_id = x.subscription_id, rate_prefix = x.rate_prefix, limit_id = x.limit_id,
            money_amount = x.money_amount, money_subscription_id = x.money_subscription_id, money_limit_id = x.money_limit_id
       from unnest(?::text[], ?::int[], ?::numeric[], ?::int[], ?::int[], ?::text[], ?::text[], ?::text[], ?::numeric[],
                   ?::text[], ?::text[])
            as x(call_id, level, amount, billed, free, subscription_id, rate_prefix, limit_id, money_amount,
                 money_subscription_id, money_limit_id)
      where c.call_id = x.call_id and c.level = x.level`,
    [
      pgArray(rows.map((r) => r.call.id)),
      pgArray(rows.map((r) => r.charge.level)),
      pgArray(rows.map((r) => r.charge.amount.toFixed())),
      pgArray(rows.map((r) => r.charge.billedSeconds)),
      pgArray(rows.map((r) => r.charge.freeSeconds)),
      pgArray(rows.map((r) => r.charge.volume?.subscriptionId ?? null)),
      pgArray(rows.map((r) => r.charge.ratePrefix)),
      pgArray(rows.map((r) => r.charge.volume?.limitId ?? null)),
      pgArray(rows.map((r) => r.charge.moneyAmount.toFixed())),
      pgArray(rows.map((r) => r.charge.money?.subscriptionId ?? null)),
      pgArray(rows.map((r) => r.charge.money?.limitId ?? null)),
    ],
  );
}

/** The earlier ratings of many calls, oldest first. */
export async function revisionsOf(
  em: Em,
  callIds: readonly string[],
): Promise<Map<string, { revision: number; cost: string; billedSeconds: number; ratedAt: Date; charges: StoredCharge[] }[]>> {
  const rows = await executeBound<
    {
      call_id: string;
      revision: number;
      cost: string;
      billed_seconds: number;
      rated_at: Date;
      charges: StoredCharge[] | string;
    }[]
  >(
    em,
    `select call_id, revision, cost::text as cost, billed_seconds, rated_at, charges from call_revisions
      where call_id = any(?::text[]) order by call_id, revision`,
    [pgArray([...callIds])],
  );
  const out = new Map<
    string,
    { revision: number; cost: string; billedSeconds: number; ratedAt: Date; charges: StoredCharge[] }[]
  >();
  for (const r of rows) {
    const charges = typeof r.charges === 'string' ? (JSON.parse(r.charges) as StoredCharge[]) : r.charges;
    const entry = { revision: r.revision, cost: r.cost, billedSeconds: r.billed_seconds, ratedAt: new Date(r.rated_at), charges };
    out.set(r.call_id, [...(out.get(r.call_id) ?? []), entry]);
  }
  return out;
}
