import { executeBound, pgArray, type Em } from '../db/orm.js';
import { periodPool, type LimitKind } from '../billing/index.js';
import { newId } from '../ids.js';
import { Decimal, ZERO } from '../money.js';

/** A package limit as the API shows it (DOMAIN.md 13). */
export interface LimitRow {
  id: string;
  termsId: string;
  kind: LimitKind;
  patterns: string[];
  /** Seconds (VOLUME) or an amount (MONEY). */
  amount: Decimal;
  inBundleRatePerMinute: Decimal;
  carryOver: boolean;
  rejectWhenExhausted: boolean;
}

/** A limit as given: what replaceLimits writes at its place in the list. */
export type LimitData = Omit<LimitRow, 'id' | 'termsId'>;

interface Row {
  id: string;
  terms_id: string;
  kind: LimitKind;
  patterns: string[];
  amount: string;
  in_bundle_rate: string;
  carry_over: boolean;
  reject_when_exhausted: boolean;
}

const toLimit = (r: Row): LimitRow => ({
  id: r.id,
  termsId: r.terms_id,
  kind: r.kind,
  patterns: r.patterns,
  amount: new Decimal(r.amount),
  inBundleRatePerMinute: new Decimal(r.in_bundle_rate),
  carryOver: r.carry_over,
  rejectWhenExhausted: r.reject_when_exhausted,
});

const COLUMNS = `id, terms_id, kind, patterns, amount::text as amount, in_bundle_rate::text as in_bundle_rate, carry_over,
                 reject_when_exhausted`;

/** The limits of many terms (so of many packages, clones sharing their original's) in one statement, in order. */
export async function limitsOfTerms(em: Em, termsIds: readonly string[]): Promise<Map<string, LimitRow[]>> {
  const rows = await executeBound<Row[]>(
    em,
    `select ${COLUMNS} from package_limits where terms_id = any(?::text[]) order by terms_id, place`,
    [pgArray([...termsIds])],
  );
  const out = new Map<string, LimitRow[]>();
  for (const r of rows) out.set(r.terms_id, [...(out.get(r.terms_id) ?? []), toLimit(r)]);
  return out;
}

/** Limits by id, through the scope filter. */
export async function findLimits(em: Em, ids: readonly string[]): Promise<LimitRow[]> {
  const rows = await executeBound<Row[]>(em, `select ${COLUMNS} from package_limits where id = any(?::text[])`, [
    pgArray([...ids]),
  ]);
  return rows.map(toLimit);
}

/**
 * Writes a package's list of limits: the limit at each place keeps its id, and so its subscriptions' counters,
 * while its kind stays; the others are replaced, and limits past the end of the list removed with their
 * counters. The current period of every active subscription keeps the pools it has: their counters are
 * written as they stand before the change, so a new amount applies from the next period on, and a new limit
 * starts now with its full amount.
 */
export async function replaceLimits(em: Em, termsId: string, ownerPath: string, limits: readonly LimitData[]): Promise<void> {
  const current = await executeBound<{ id: string; place: number; kind: LimitKind }[]>(
    em,
    `select id, place, kind from package_limits where terms_id = ? order by place for update`,
    [termsId],
  );
  const ids = limits.map((l, i) => current.find((c) => c.place === i + 1 && c.kind === l.kind)?.id ?? newId('PackageLimit'));
  const subscriptions = await executeBound<{ id: string; owner_path: string; current_period_number: number }[]>(
    em,
    `select s.id, s.owner_path, s.current_period_number from package_subscriptions s join packages p on p.id = s.package_id
      where p.terms_id = ? and s.status = 'ACTIVE'`,
    [termsId],
  );
  const before = subscriptions.length
    ? await limitCounters(
        em,
        subscriptions.map((s) => s.id),
      )
    : [];

  await executeBound(em, `update package_terms set has_limits = ? where id = ?`, [limits.length > 0, termsId]);
  const gone = current.filter((c) => !ids.includes(c.id)).map((c) => c.id);
  if (gone.length) await executeBound(em, `delete from package_limits where id = any(?::text[])`, [pgArray(gone)]);
  if (limits.length) {
    await executeBound(
      em,
      `insert into package_limits (id, terms_id, owner_path, place, kind, patterns, amount, in_bundle_rate, carry_over,
                                   reject_when_exhausted)
       select x.id, ?, ?, x.place, x.kind, x.patterns::text[], x.amount, x.in_bundle_rate, x.carry_over, x.reject
         from unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::boolean[], ?::boolean[])
              as x(id, place, kind, patterns, amount, in_bundle_rate, carry_over, reject)
       on conflict (id) do update set patterns = excluded.patterns, amount = excluded.amount,
         in_bundle_rate = excluded.in_bundle_rate, carry_over = excluded.carry_over,
         reject_when_exhausted = excluded.reject_when_exhausted`,
      [
        termsId,
        ownerPath,
        pgArray(ids),
        pgArray(limits.map((_, i) => i + 1)),
        pgArray(limits.map((l) => l.kind)),
        pgArray(limits.map((l) => pgArray(l.patterns))),
        pgArray(limits.map((l) => l.amount.toFixed())),
        pgArray(limits.map((l) => l.inBundleRatePerMinute.toFixed())),
        pgArray(limits.map((l) => String(l.carryOver))),
        pgArray(limits.map((l) => String(l.rejectWhenExhausted))),
      ],
    );
  }

  const existing = new Set(current.map((c) => c.id));
  const counters = [
    ...before
      .filter((r) => ids.includes(r.limit_id))
      .map((r) => ({ subscriptionId: r.subscription_id, limitId: r.limit_id, period: r.current_period, ...counterState(r) })),
    ...subscriptions.flatMap((s) =>
      ids
        .map((id, i) => ({ id, amount: limits[i].amount }))
        .filter(({ id }) => !existing.has(id))
        .map(({ id, amount }) => ({
          subscriptionId: s.id,
          limitId: id,
          period: s.current_period_number,
          total: amount,
          used: ZERO,
          carriedOver: ZERO,
        })),
    ),
  ];
  const ownerOf = new Map(subscriptions.map((s) => [s.id, s.owner_path]));
  await writeCounters(
    em,
    counters.map((c) => ({ ...c, ownerPath: ownerOf.get(c.subscriptionId)!, periodNumber: c.period })),
  );
}

/** A limit with one subscription's counters as last written, and the subscription's current period. */
export interface CounterRow {
  subscription_id: string;
  limit_id: string;
  place: number;
  kind: LimitKind;
  patterns: string[];
  amount: string;
  in_bundle_rate: string;
  carry_over: boolean;
  reject_when_exhausted: boolean;
  /** The period the counters were last written in (null: never). */
  period_number: number | null;
  current_period: number;
  total: string | null;
  used: string | null;
  carried_over: string | null;
}

/** CounterRow's columns, from `l` (the limit with the counters joined, or trellis_call_limits). */
export const COUNTER_COLUMNS = `l.subscription_id, l.limit_id, l.place, l.kind, l.patterns, l.amount::text as amount,
  l.in_bundle_rate::text as in_bundle_rate, l.carry_over, l.reject_when_exhausted, l.period_number, l.current_period,
  l.total::text as total, l.used::text as used, l.carried_over::text as carried_over`;

const COUNTERS = `select s.id as subscription_id, l.id as limit_id, p.terms_id, l.place, l.kind, l.patterns, l.amount,
         l.in_bundle_rate, l.carry_over, l.reject_when_exhausted, u.period_number, s.current_period_number as current_period,
         u.total, u.used, u.carried_over
    from package_subscriptions s join packages p on p.id = s.package_id
    join package_limits l on l.terms_id = p.terms_id
    left join subscription_limits u on u.subscription_id = s.id and u.limit_id = l.id
   where s.id = any(?::text[])`;

/** Every limit of the subscriptions' packages with each subscription's counters, in the packages' order. */
export async function limitCounters(em: Em, subscriptionIds: readonly string[]): Promise<(CounterRow & { terms_id: string })[]> {
  return executeBound(em, `select l.terms_id, ${COUNTER_COLUMNS} from (${COUNTERS}) l order by l.subscription_id, l.place`, [
    pgArray([...subscriptionIds]),
  ]);
}

/** A limit's pool in its subscription's current period, from its counters as last written. */
export function counterState(l: CounterRow): { total: Decimal; used: Decimal; carriedOver: Decimal } {
  const written =
    l.period_number === null
      ? null
      : {
          periodNumber: l.period_number,
          total: new Decimal(l.total!),
          used: new Decimal(l.used!),
          carriedOver: new Decimal(l.carried_over!),
        };
  return periodPool({ amount: new Decimal(l.amount), carryOver: l.carry_over }, written, l.current_period);
}

/** A limit's pool in a subscription's current period. */
export interface LimitUsageRow {
  limit: LimitRow;
  total: Decimal;
  used: Decimal;
  carriedOver: Decimal;
}

/** A subscription's limits with their pools in its current period (LimitUsage), many subscriptions at once. */
export async function limitUsageOf(em: Em, subscriptionIds: readonly string[]): Promise<Map<string, LimitUsageRow[]>> {
  const out = new Map<string, LimitUsageRow[]>();
  for (const r of await limitCounters(em, subscriptionIds)) {
    const limit = toLimit({ ...r, id: r.limit_id });
    out.set(r.subscription_id, [...(out.get(r.subscription_id) ?? []), { limit, ...counterState(r) }]);
  }
  return out;
}

/** Limit counters as they stand in a period: they replace those of an earlier one (see periodPool). */
export async function writeCounters(
  em: Em,
  counters: readonly {
    subscriptionId: string;
    limitId: string | null;
    ownerPath: string;
    periodNumber: number;
    total: Decimal;
    used: Decimal;
    carriedOver: Decimal;
  }[],
): Promise<void> {
  if (counters.length === 0) return;
  await executeBound(
    em,
    `insert into subscription_limits (subscription_id, limit_id, owner_path, period_number, total, used, carried_over)
     select * from unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::numeric[], ?::numeric[], ?::numeric[])
     on conflict (subscription_id, limit_id) do update set period_number = excluded.period_number,
       total = excluded.total, used = excluded.used, carried_over = excluded.carried_over`,
    [
      pgArray(counters.map((c) => c.subscriptionId)),
      pgArray(counters.map((c) => c.limitId)),
      pgArray(counters.map((c) => c.ownerPath)),
      pgArray(counters.map((c) => c.periodNumber)),
      pgArray(counters.map((c) => c.total.toFixed())),
      pgArray(counters.map((c) => c.used.toFixed())),
      pgArray(counters.map((c) => c.carriedOver.toFixed())),
    ],
  );
}
