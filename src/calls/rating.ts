import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { AppliedTax, LevelCharge, Pool } from '../billing/index.js';
import { COUNTER_COLUMNS, counterState, limitCounters, writeCounters, type CounterRow } from '../packages/limits.js';
import { Decimal, ZERO } from '../money.js';
import { appliedTaxesOf } from '../taxes/rates.js';

import type { AccountStatus, Applicability, CallRecord, Direction, Rate } from '../entities/index.js';
import type { RateQuery } from '../rates/rates.js';

/** What a call record holds of the call itself, as the switch reported it. */
export interface CallFacts {
  id: string;
  callId: string;
  accountId: string;
  ownerPath: string;
  destination: string;
  direction: Direction;
  durationSeconds: number;
  startedAt: Date;
}

/** A call as written: its record and one charge per level, bottom-up. */
export interface CallToWrite extends CallFacts {
  /** Per level, bottom-up (chargeCall's result). */
  charges: LevelCharge[];
}

/**
 * Concurrent ratings of one account (a switch retrying a batch) queue here, in a fixed order, so the check for
 * ids already rated that follows sees what the other committed.
 */
export async function lockRatingOf(em: Em, accountIds: string[]): Promise<void> {
  if (accountIds.length === 0) return;
  // One statement, however many accounts: taken in byte order (collation "C", as ids sort in JavaScript).
  await executeBound(
    em,
    `select count(pg_advisory_xact_lock(hashtext('rating:' || id)))
       from (select distinct unnest(?::text[]) collate "C" as id order by 1) ids`,
    [pgArray(accountIds)],
  );
}

/** Record ids of calls already rated, by account and call id: one probe of the unique index per call. */
export async function ratedCalls(
  em: Em,
  calls: { accountId: string; callId: string }[],
): Promise<{ id: string; accountId: string; callId: string }[]> {
  const rows = await executeBound<{ id: string; account_id: string; call_id: string }[]>(
    em,
    `select c.id, c.account_id, c.call_id from unnest(?::text[], ?::text[]) as j(account_id, call_id)
       cross join lateral (select id, account_id, call_id from calls where account_id = j.account_id and call_id = j.call_id limit 1) c`,
    [pgArray(calls.map((c) => c.accountId)), pgArray(calls.map((c) => c.callId))],
  );
  return rows.map((r) => ({ id: r.id, accountId: r.account_id, callId: r.call_id }));
}

/**
 * Inbound calls of a platform already rated, by call id and number dialled: the account each was rated on. A
 * call that named its number instead of its account is matched on these when retried, not on the number's
 * holder now (who may have changed since).
 */
export async function inboundRatedOn(
  em: Em,
  rootId: string,
  calls: { callId: string; destination: string }[],
): Promise<Map<string, string>> {
  if (calls.length === 0) return new Map();
  const rows = await executeBound<{ call_id: string; destination: string; account_id: string }[]>(
    em,
    `select c.call_id, c.destination, c.account_id from unnest(?::text[], ?::text[]) as j(call_id, destination)
       cross join lateral (select call_id, destination, account_id from calls
                            where root_id = ? and direction = 'INBOUND' and call_id = j.call_id and destination = j.destination
                            limit 1) c`,
    [pgArray(calls.map((c) => c.callId)), pgArray(calls.map((c) => c.destination)), rootId],
  );
  return new Map(rows.map((r) => [`${r.call_id}\u0000${r.destination}`, r.account_id]));
}

/**
 * Each level's rate for each call (null: none), in one lookup: every level account's rate group as assigned
 * now, longest prefix for the call's number and direction.
 */
export async function levelRates(
  em: Em,
  rates: { findRates(em: Em, queries: RateQuery[]): Promise<(Rate | null)[]> },
  calls: readonly { destination: string; direction: Direction; levels: readonly string[] }[],
): Promise<(Rate | null)[][]> {
  const accountIds = [...new Set(calls.flatMap((c) => c.levels))];
  const rows = accountIds.length
    ? await executeBound<{ id: string; rate_group_id: string | null }[]>(
        em,
        `select id, rate_group_id from accounts where id = any(?::text[])`,
        [pgArray(accountIds)],
      )
    : [];
  const groups = new Map(rows.map((r) => [r.id, r.rate_group_id]));
  const queries = calls.flatMap((c, ci) =>
    c.levels.flatMap((id, level) => {
      const rateGroupId = groups.get(id);
      return rateGroupId ? [{ ci, level, rateGroupId, number: c.destination, direction: c.direction }] : [];
    }),
  );
  const found = await rates.findRates(em, queries);
  const out = calls.map((c) => c.levels.map((): Rate | null => null));
  queries.forEach((q, i) => (out[q.ci][q.level] = found[i]));
  return out;
}

/** A pool as rating loads it: with what writing its counters back needs. */
export interface LoadedPool extends Pool {
  ownerPath: string;
  periodNumber: number;
  carriedOver: Decimal;
}

interface SubscriptionRow {
  id: string;
  chain_id: string;
  account_id: string;
  owner_path?: string;
  level: number;
  seq: string;
  current_period_start: Date;
  current_period_end: Date;
  current_period_number?: number;
  free_seconds_total: number;
  free_seconds_used: number;
  destinations: string[];
  applicable_for: Applicability;
  priority: number;
}

/**
 * Every pool of the subscriptions: its free minutes when it has any, then its package's limits, each as it
 * stands in the subscription's current period (periodPool).
 */
function poolsOf(subscriptions: SubscriptionRow[], limits: CounterRow[]): LoadedPool[] {
  const limitsOf = new Map<string, CounterRow[]>();
  for (const l of limits) limitsOf.set(l.subscription_id, [...(limitsOf.get(l.subscription_id) ?? []), l]);
  return subscriptions.flatMap((r) => {
    const base = {
      subscriptionId: r.id,
      chainId: r.chain_id,
      accountId: r.account_id,
      ownerPath: r.owner_path ?? '',
      level: r.level,
      seq: Number(r.seq),
      periodStart: new Date(r.current_period_start),
      periodEnd: new Date(r.current_period_end),
      applicableFor: r.applicable_for,
      priority: r.priority,
    };
    const pools: LoadedPool[] = [];
    if (r.free_seconds_total > 0) {
      pools.push({
        ...base,
        key: r.id,
        limitId: null,
        position: 0,
        kind: 'VOLUME',
        patterns: r.destinations,
        total: new Decimal(r.free_seconds_total),
        used: new Decimal(r.free_seconds_used),
        inBundleRate: ZERO,
        rejectWhenExhausted: false,
        periodNumber: r.current_period_number ?? 0,
        carriedOver: ZERO,
      });
    }
    for (const l of (limitsOf.get(r.id) ?? []).sort((a, b) => a.place - b.place)) {
      const state = counterState(l);
      pools.push({
        ...base,
        key: `${r.id}/${l.limit_id}`,
        limitId: l.limit_id,
        position: l.place,
        kind: l.kind,
        patterns: l.patterns,
        total: state.total,
        used: state.used,
        inBundleRate: new Decimal(l.in_bundle_rate),
        rejectWhenExhausted: l.reject_when_exhausted,
        periodNumber: l.current_period,
        carriedOver: state.carriedOver,
      });
    }
    return pools;
  });
}

/**
 * Every pool of the accounts' active chains that give any (free minutes or limits), each level's subscription
 * locked in id order (as termination locks): its lock is what guards the pools' counters.
 */
export async function lockPools(em: Em, accountIds: string[]): Promise<LoadedPool[]> {
  const subscriptions = await executeBound<(SubscriptionRow & { has_limits: boolean })[]>(
    em,
    `select s.id, s.chain_id, s.account_id, s.owner_path, s.level, s.seq, s.current_period_start, s.current_period_end,
            s.current_period_number, s.free_seconds_total, s.free_seconds_used, t.destinations, t.applicable_for,
            t.priority, t.has_limits
       from package_subscriptions s
       join packages p on p.id = s.package_id
       join package_terms t on t.id = p.terms_id
      where s.status = 'ACTIVE' and (s.free_seconds_total > 0 or t.has_limits) and s.chain_id in (
              select h.chain_id from package_subscriptions h
               where h.account_id = any(?::text[]) and h.level = 0 and h.status = 'ACTIVE')
      order by s.id
        for no key update of s`,
    [pgArray(accountIds)],
  );
  const withLimits = subscriptions.filter((s) => s.has_limits).map((s) => s.id);
  const limits = withLimits.length ? await limitCounters(em, withLimits) : [];
  return poolsOf(subscriptions, limits);
}

/** The same pools for authorizeCall, read through functions that see above the caller's scope, unlocked. */
export async function poolsForAuthorization(em: Em, accountId: string): Promise<Pool[]> {
  const [subscriptions, limits] = await Promise.all([
    em.execute<SubscriptionRow[]>(`select * from trellis_call_free_sources(?)`, [accountId]),
    em.execute<CounterRow[]>(`select ${COUNTER_COLUMNS} from trellis_call_limits(?) l`, [accountId]),
  ]);
  return poolsOf(subscriptions, limits);
}

export interface AuthorizationLevel {
  level: number;
  accountId: string;
  status: AccountStatus;
  balance: string;
  creditLimit: string;
  dailySpendLimit: string | null;
  monthlySpendLimit: string | null;
  daySpend: string;
  monthSpend: string;
  /** Every rate whose prefix starts the number: the caller chooses with the one matcher. */
  rates: { prefix: string; ratePerMinute: string; connectionFee: string; initialIncrement: number; increment: number }[];
  /** The taxes the level's parent adds to its charges. */
  taxes: AppliedTax[];
  /** Call admission (DOMAIN.md 14): the level's settings, its open leases and the funds they hold. */
  minimumBalanceToCall: string | null;
  maxConcurrentCalls: number | null;
  allowNegativeMargin: boolean;
  openCalls: number;
  /** What open leases hold of the level's funds (with taxes) and of its spend limits (net). */
  held: string;
  heldSpend: string;
}

/** authorizeCall's view of the levels above an account in the caller's scope (empty outside it). */
export async function authorizationLevels(
  em: Em,
  accountId: string,
  number: string,
  direction: Direction,
  now: Date,
): Promise<AuthorizationLevel[]> {
  const rows = await em.execute<
    {
      level: number;
      account_id: string;
      status: AccountStatus;
      balance: string;
      credit_limit: string;
      daily_spend_limit: string | null;
      monthly_spend_limit: string | null;
      day_spend: string;
      month_spend: string;
      rates: AuthorizationLevel['rates'];
      taxes: { taxRateId: string; percent: string }[];
      minimum_balance_to_call: string | null;
      max_concurrent_calls: number | null;
      allow_negative_margin: boolean;
      open_calls: number;
      held: string;
      held_spend: string;
    }[]
  >(
    `select level, account_id, status, balance::text, credit_limit::text, daily_spend_limit::text,
            monthly_spend_limit::text, day_spend::text, month_spend::text, rates, taxes,
            minimum_balance_to_call::text, max_concurrent_calls, allow_negative_margin, open_calls, held::text,
            held_spend::text
       from trellis_call_admission(?, ?, ?, ?)`,
    [accountId, number, direction, now],
  );
  return rows.map((r) => ({
    level: r.level,
    accountId: r.account_id,
    status: r.status,
    balance: r.balance,
    creditLimit: r.credit_limit,
    dailySpendLimit: r.daily_spend_limit,
    monthlySpendLimit: r.monthly_spend_limit,
    daySpend: r.day_spend,
    monthSpend: r.month_spend,
    rates: r.rates,
    taxes: appliedTaxesOf(r.taxes),
    minimumBalanceToCall: r.minimum_balance_to_call,
    maxConcurrentCalls: r.max_concurrent_calls,
    allowNegativeMargin: r.allow_negative_margin,
    openCalls: Number(r.open_calls),
    held: r.held,
    heldSpend: r.held_spend,
  }));
}

/**
 * Writes the calls, their charges and the free seconds the batch drew, and returns the records as written
 * (plain objects built from the input: the entity's property setters were a tenth of a batch's CPU).
 */
export async function writeCalls(
  em: Em,
  rootId: string,
  calls: CallToWrite[],
  drawn: LoadedPool[],
): Promise<Map<string, CallRecord>> {
  const inserted = await executeBound<{ id: string; seq: string; created_at: Date }[]>(
    em,
    `insert into calls (id, root_id, call_id, account_id, owner_path, destination, direction, duration_seconds,
                        billed_seconds, started_at, cost)
     select x.id, ?, x.call_id, x.account_id, x.owner_path, x.destination, x.direction, x.duration, x.billed,
            x.started_at, x.cost
       from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[],
                   ?::timestamptz[], ?::numeric[])
            as x(id, call_id, account_id, owner_path, destination, direction, duration, billed, started_at, cost)
     returning id, seq::text as seq, created_at`,
    [
      rootId,
      pgArray(calls.map((c) => c.id)),
      pgArray(calls.map((c) => c.callId)),
      pgArray(calls.map((c) => c.accountId)),
      pgArray(calls.map((c) => c.ownerPath)),
      pgArray(calls.map((c) => c.destination)),
      pgArray(calls.map((c) => c.direction)),
      pgArray(calls.map((c) => c.durationSeconds)),
      pgArray(calls.map((c) => c.charges[0].billedSeconds)),
      pgArray(calls.map((c) => c.startedAt.toISOString())),
      pgArray(calls.map((c) => c.charges[0].amount.toFixed())),
    ],
  );
  const charges = calls.flatMap((call) => call.charges.map((charge) => ({ call, charge })));
  await executeBound(
    em,
    `insert into call_charges (call_id, level, owner_path, account_id, started_at, amount, billed_seconds, free_seconds,
                               subscription_id, rate_prefix, limit_id, money_amount, money_subscription_id, money_limit_id)
     select * from unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::timestamptz[], ?::numeric[], ?::int[], ?::int[],
                          ?::text[], ?::text[], ?::text[], ?::numeric[], ?::text[], ?::text[])`,
    [
      pgArray(charges.map(({ call }) => call.id)),
      pgArray(charges.map(({ charge }) => charge.level)),
      pgArray(charges.map(({ call }) => call.ownerPath)),
      pgArray(charges.map(({ charge }) => charge.accountId)),
      pgArray(charges.map(({ call }) => call.startedAt.toISOString())),
      pgArray(charges.map(({ charge }) => charge.amount.toFixed())),
      pgArray(charges.map(({ charge }) => charge.billedSeconds)),
      pgArray(charges.map(({ charge }) => charge.freeSeconds)),
      pgArray(charges.map(({ charge }) => charge.volume?.subscriptionId ?? null)),
      pgArray(charges.map(({ charge }) => charge.ratePrefix)),
      pgArray(charges.map(({ charge }) => charge.volume?.limitId ?? null)),
      pgArray(charges.map(({ charge }) => charge.moneyAmount.toFixed())),
      pgArray(charges.map(({ charge }) => charge.money?.subscriptionId ?? null)),
      pgArray(charges.map(({ charge }) => charge.money?.limitId ?? null)),
    ],
  );
  await writePoolCounters(em, drawn);
  const generated = new Map(inserted.map((r) => [r.id, r]));
  return new Map(
    calls.map((c): [string, CallRecord] => {
      const { seq, created_at } = generated.get(c.id)!;
      return [
        c.id,
        {
          id: c.id,
          seq,
          rootId,
          callId: c.callId,
          accountId: c.accountId,
          ownerPath: c.ownerPath,
          destination: c.destination,
          direction: c.direction,
          durationSeconds: c.durationSeconds,
          billedSeconds: c.charges[0].billedSeconds,
          startedAt: c.startedAt,
          cost: c.charges[0].amount,
          createdAt: new Date(created_at),
          revision: 0,
        },
      ];
    }),
  );
}

/**
 * The counters of pools drawn on in their subscription's current period: a subscription's free seconds used,
 * and each limit's counters, which replace those of an earlier period (see periodPool).
 */
export async function writePoolCounters(em: Em, pools: readonly LoadedPool[]): Promise<void> {
  const freeMinutes = pools.filter((p) => p.limitId === null);
  if (freeMinutes.length) {
    await executeBound(
      em,
      `update package_subscriptions s set free_seconds_used = x.used
         from unnest(?::text[], ?::int[]) as x(id, used) where s.id = x.id`,
      [pgArray(freeMinutes.map((p) => p.subscriptionId)), pgArray(freeMinutes.map((p) => p.used.toNumber()))],
    );
  }
  await writeCounters(
    em,
    pools.filter((p) => p.limitId !== null),
  );
}
