import type { Applicability, Direction } from '../entities/index.js';
import { Decimal, ZERO } from '../money.js';

export type LimitKind = 'VOLUME' | 'MONEY';

/**
 * One pool a subscription gives for its current period (DOMAIN.md 5 and 13): its package's free minutes
 * (`limitId` null: a VOLUME pool, free, on the package's destinations) or one of its package's limits. VOLUME
 * pools count seconds, MONEY pools an amount in the package currency.
 */
export interface Pool {
  /** Unique among the pools priced together: subscription, limit (none: free minutes) and, re-rating, period. */
  key: string;
  subscriptionId: string;
  limitId: string | null;
  /** Among one subscription's pools: the free minutes (0) first, then the limits as listed. */
  position: number;
  chainId: string;
  accountId: string;
  level: number;
  seq: number;
  periodStart: Date;
  periodEnd: Date;
  applicableFor: `${Applicability}`;
  priority: number;
  kind: LimitKind;
  patterns: string[];
  total: Decimal;
  used: Decimal;
  /** VOLUME only: covered seconds are charged at this rate instead of free (0: free). */
  inBundleRate: Decimal;
  rejectWhenExhausted: boolean;
}

/** What is left of a pool. */
export function poolLeft(pool: Pick<Pool, 'total' | 'used'>): Decimal {
  return pool.total.minus(pool.used);
}

/**
 * How well destination patterns match a number; -1 if none. A pattern is a prefix ("44"), or with a trailing
 * "$" the exact number only ("442071234567$"), which beats every prefix. No patterns match every number, as
 * the shortest possible pattern (0), so any pattern that matches beats it.
 */
export function matchLength(patterns: readonly string[], number: string): number {
  if (patterns.length === 0) return 0;
  // A pool has a handful of patterns: a plain scan beats any index built per call.
  let best = -1;
  for (const p of patterns) {
    if (p.endsWith('$')) {
      if (p.length - 1 === number.length && number.startsWith(p.slice(0, -1))) return number.length + 1;
    } else if (p.length > best && number.startsWith(p)) {
      best = p.length;
    }
  }
  return best;
}

/**
 * The customer-level pool of `kind` a call draws on (DOMAIN.md 5, 13): of a subscription active at the call's
 * start, for its direction, matching the number, with something left. Longest pattern, then priority (1 beats
 * 2), then the earlier period end, then the older subscription, then the pool's place in its package. Returns
 * the candidate object itself, so the caller can record what it draws on it for the next call of a batch.
 */
export function choosePool<P extends Pool>(
  candidates: readonly P[],
  kind: LimitKind,
  number: string,
  direction: `${Direction}`,
  at: Date,
): P | null {
  let best: { p: P; len: number } | null = null;
  for (const p of candidates) {
    if (p.kind !== kind || p.level !== 0 || !p.used.lt(p.total)) continue;
    const len = applies(p, number, direction, at);
    if (len < 0) continue;
    if (!best || len > best.len || (len === best.len && ranksBefore(p, best.p))) best = { p, len };
  }
  return best?.p ?? null;
}

/** The match length of a pool for a call (see matchLength); -1 when it does not apply at all. */
function applies(p: Pool, number: string, direction: `${Direction}`, at: Date): number {
  if (!(p.periodStart <= at && at < p.periodEnd)) return -1;
  if (p.applicableFor !== 'BOTH' && p.applicableFor !== direction) return -1;
  return matchLength(p.patterns, number);
}

function ranksBefore(p: Pool, q: Pool): boolean {
  if (p.priority !== q.priority) return p.priority < q.priority;
  if (p.periodEnd.getTime() !== q.periodEnd.getTime()) return p.periodEnd < q.periodEnd;
  if (p.seq !== q.seq) return p.seq < q.seq;
  return p.position < q.position;
}

/**
 * The pools at the customer's level that cap a call (DOMAIN.md 13): those that reject calls once exhausted and
 * cover it (its direction, its number, a period containing now), full or empty. Each allows the call no further
 * than what it has left, and an empty one refuses it.
 */
export function rejectingPools<P extends Pool>(
  candidates: readonly P[],
  number: string,
  direction: `${Direction}`,
  at: Date,
): P[] {
  return candidates.filter((p) => p.level === 0 && p.rejectWhenExhausted && applies(p, number, direction, at) >= 0);
}

/** A limit's terms as the package lists it. */
export interface LimitTerms {
  amount: Decimal;
  carryOver: boolean;
}

/** A pool's counters as last written, for the period it was written in. */
export interface PoolUsage {
  periodNumber: number;
  total: Decimal;
  used: Decimal;
  carriedOver: Decimal;
}

/**
 * A limit's pool in the subscription's current period (DOMAIN.md 13), from its counters as last written
 * (null: never written, so nothing to carry). A period's pool is its own allowance plus, with carryOver, the
 * unused part of the period before's own allowance, never what that one carried: min(its allowance, what was
 * left). A period before it with no counters written was not used at all: its whole allowance carries.
 */
export function periodPool(limit: LimitTerms, usage: PoolUsage | null, periodNumber: number): Omit<PoolUsage, 'periodNumber'> {
  if (usage && usage.periodNumber === periodNumber) return usage;
  let carried = ZERO;
  if (usage && limit.carryOver && usage.periodNumber < periodNumber) {
    carried =
      usage.periodNumber === periodNumber - 1
        ? Decimal.max(ZERO, Decimal.min(usage.total.minus(usage.carriedOver), usage.total.minus(usage.used)))
        : limit.amount;
  }
  return { total: limit.amount.plus(carried), used: ZERO, carriedOver: carried };
}
