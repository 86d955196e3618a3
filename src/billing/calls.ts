import type { Direction } from '../entities/index.js';
import { Decimal, ZERO, roundMoney } from '../money.js';
import { choosePool, poolLeft, type Pool } from './pools.js';

/** The longest call rated: a week. */
export const MAX_CALL_SECONDS = 7 * 86_400;

/** What a level pays for a call, besides its increments. */
export interface CallRate {
  ratePerMinute: Decimal;
  connectionFee: Decimal;
}

/** Seconds billed for a call: 0 for 0 s; else at least the initial increment, the rest in whole increments. */
export function billedSeconds(duration: number, initialIncrement: number, increment: number): number {
  if (duration <= 0) return 0;
  if (duration <= initialIncrement) return initialIncrement;
  return initialIncrement + Math.ceil((duration - initialIncrement) / increment) * increment;
}

/** The longest duration whose billed seconds fit in `budget` seconds (0 if not even the first increment does). */
export function longestBilledWithin(budget: number, initialIncrement: number, increment: number): number {
  if (budget < Math.max(initialIncrement, 1)) return initialIncrement === 0 ? Math.floor(budget / increment) * increment : 0;
  return initialIncrement + Math.floor((budget - initialIncrement) / increment) * increment;
}

/**
 * Cost of a level's charged seconds: connection fee + rate/60 x seconds at the rate + in-bundle rate/60 x
 * seconds a VOLUME pool covers at its in-bundle rate, rounded half-up to 4 places. A call wholly covered by
 * free seconds costs nothing, connection fee included.
 */
export function chargeFor(rate: CallRate, ratedSeconds: number, inBundle?: { rate: Decimal; seconds: number }): Decimal {
  const bundled = inBundle && inBundle.rate.gt(0) ? inBundle.seconds : 0;
  if (ratedSeconds + bundled <= 0) return ZERO;
  const atRate = rate.connectionFee.plus(rate.ratePerMinute.times(ratedSeconds).div(60));
  return roundMoney(bundled > 0 ? atRate.plus(inBundle!.rate.times(bundled).div(60)) : atRate);
}

/** A spend limit (daily or monthly) and what was spent against it; a null limit is no limit. */
export interface SpendLimit {
  limit: Decimal | null;
  spent: Decimal;
}

/**
 * The money a level may spend on a call: its available balance, lowered to what is left of any spend limit.
 * `limited` says a spend limit is what binds, so a refusal can say LIMIT_REACHED rather than
 * INSUFFICIENT_FUNDS; a limit leaving exactly the available balance does not bind.
 */
export function spendableMoney(
  balance: Decimal,
  creditLimit: Decimal,
  limits: readonly SpendLimit[],
): { money: Decimal; limited: boolean } {
  let money = balance.plus(creditLimit);
  let limited = false;
  for (const { limit, spent } of limits) {
    if (limit === null) continue;
    const left = limit.minus(spent);
    if (left.lt(money)) {
      money = left;
      limited = true;
    }
  }
  return { money, limited };
}

/** The VOLUME pool a level's share of a call draws on: what is left of it, and its in-bundle rate. */
export type VolumeDraw = Pick<Pool, 'key' | 'subscriptionId' | 'limitId' | 'total' | 'used' | 'inBundleRate'>;
/** The MONEY pool that pays a level's remaining charge. */
export type MoneyDraw = Pick<Pool, 'key' | 'subscriptionId' | 'limitId' | 'total' | 'used'>;

/**
 * Billed seconds one level can take on a call with `money` to pay for it: the seconds its VOLUME pool covers
 * (free, or at its in-bundle rate), then what the money buys at the rate, the connection fee paid first by any
 * charged part; whole seconds (pass the result to longestBilledWithin for a duration). Null when the level
 * does not limit the call: its rate is 0 and it can pay what the pool's seconds cost. A level that cannot pay
 * the fee still takes its free seconds, since a wholly free call charges no fee.
 */
export function secondsBudget(
  rate: CallRate,
  volume: { left: number; inBundleRate: Decimal } | number,
  money: Decimal,
): number | null {
  const { left, inBundleRate } = typeof volume === 'number' ? { left: volume, inBundleRate: ZERO } : volume;
  let rest = money.minus(rate.connectionFee);
  if (inBundleRate.gt(0) && left > 0) {
    if (rest.lt(0)) return 0;
    const inBundle = rest.times(60).div(inBundleRate).floor().toNumber();
    if (inBundle < left) return inBundle;
    rest = rest.minus(inBundleRate.times(left).div(60));
  }
  if (rate.ratePerMinute.isZero()) return rest.gte(0) ? null : left;
  const paid = rest.lt(0) ? 0 : rest.times(60).div(rate.ratePerMinute).floor().toNumber();
  return left + paid;
}

/** What one level of a call is priced by: its rate for the number (null: none) and the pools it draws on. */
export interface LevelTerms {
  accountId: string;
  rate: (CallRate & { prefix: string; initialIncrement: number; increment: number }) | null;
  /** The level's VOLUME pool in the chosen chain, if the call draws on one. */
  volume?: VolumeDraw;
  /** The level's MONEY pool in the chosen chain, if the call draws on one. */
  money?: MoneyDraw;
}

/** One level's share of a call: a call_charges row. */
export interface LevelCharge {
  level: number;
  accountId: string;
  /** What the level's balance pays (before taxes). */
  amount: Decimal;
  billedSeconds: number;
  /** Seconds covered by a VOLUME pool, free or at its in-bundle rate. */
  freeSeconds: number;
  /** Seconds charged at a rate (the rest, and covered seconds with an in-bundle rate). */
  chargedSeconds: number;
  /** The VOLUME pool drawn on, when it covered some seconds. */
  volume: { key: string; subscriptionId: string; limitId: string | null } | null;
  /** The part of the charge a MONEY pool paid, and the pool. */
  moneyAmount: Decimal;
  money: { key: string; subscriptionId: string; limitId: string | null } | null;
  ratePrefix: string | null;
}

/**
 * A call's charge at every level, the call's account first (DOMAIN.md 5, 13): billed seconds by the level's
 * own increments; the level's VOLUME pool covers min(its seconds left, the billed seconds), free or at its
 * in-bundle rate; the rest is charged at the rate, plus the connection fee when any second is charged; its
 * MONEY pool then pays what it can of that charge, and the balance the remainder. An outbound call with no
 * rate at some level cannot be rated (`noRateAt` names the level); an inbound call with no inbound rate costs
 * nothing there. Does not record the draws: the caller adds them to its pools so that later calls of a batch
 * see them.
 */
export function chargeCall(
  durationSeconds: number,
  direction: `${Direction}`,
  levels: readonly LevelTerms[],
): { charges: LevelCharge[] } | { noRateAt: number } {
  const charges: LevelCharge[] = [];
  for (const [level, { accountId, rate, volume, money }] of levels.entries()) {
    if (!rate) {
      if (direction === 'OUTBOUND') return { noRateAt: level };
      charges.push({
        level,
        accountId,
        amount: ZERO,
        billedSeconds: 0,
        freeSeconds: 0,
        chargedSeconds: 0,
        volume: null,
        moneyAmount: ZERO,
        money: null,
        ratePrefix: null,
      });
      continue;
    }
    const billed = billedSeconds(durationSeconds, rate.initialIncrement, rate.increment);
    const covered = volume ? Math.max(0, Math.min(poolLeft(volume).toNumber(), billed)) : 0;
    const inBundleRate = covered > 0 ? volume!.inBundleRate : ZERO;
    const chargedSeconds = billed - covered + (inBundleRate.gt(0) ? covered : 0);
    const charge = chargeFor(rate, billed - covered, { rate: inBundleRate, seconds: covered });
    const fromMoney = money && charge.gt(0) ? Decimal.max(ZERO, Decimal.min(poolLeft(money), charge)) : ZERO;
    charges.push({
      level,
      accountId,
      amount: charge.minus(fromMoney),
      billedSeconds: billed,
      freeSeconds: covered,
      chargedSeconds,
      volume: covered > 0 ? { key: volume!.key, subscriptionId: volume!.subscriptionId, limitId: volume!.limitId } : null,
      moneyAmount: fromMoney,
      money: fromMoney.gt(0) ? { key: money!.key, subscriptionId: money!.subscriptionId, limitId: money!.limitId } : null,
      ratePrefix: rate.prefix,
    });
  }
  return { charges };
}

/** A call to price: its levels' accounts (the call's first) and each level's rate for it (null: none). */
export interface CallToPrice {
  accountId: string;
  destination: string;
  direction: `${Direction}`;
  durationSeconds: number;
  startedAt: Date;
  levels: readonly { accountId: string; rate: LevelTerms['rate'] }[];
}

/**
 * Prices calls in the order given, drawing on pools as it goes (DOMAIN.md 5, 13): for each call, the VOLUME and
 * then the MONEY pool chosen at the customer's level, and at each level above the same limit of its own
 * subscription in the same chain and period. Records each draw on the pool objects, so a later call sees what
 * an earlier one left; the caller writes the counters of the pools drawn on.
 */
export function priceCalls<P extends Pool & { periodNumber: number }>(
  calls: readonly CallToPrice[],
  pools: readonly P[],
): ({ charges: LevelCharge[] } | { noRateAt: number })[] {
  const byAccount = new Map<string, P[]>();
  const byChainLevel = new Map<string, P>();
  const chainKey = (p: Pick<P, 'chainId' | 'limitId' | 'periodNumber'>, level: number) =>
    `${p.chainId}:${level}:${p.limitId ?? ''}:${p.periodNumber}`;
  for (const p of pools) {
    if (p.level === 0) byAccount.set(p.accountId, [...(byAccount.get(p.accountId) ?? []), p]);
    byChainLevel.set(chainKey(p, p.level), p);
  }
  const byKey = new Map(pools.map((p) => [p.key, p]));
  const atLevel = (chosen: P | null, level: number) =>
    chosen ? (level === 0 ? chosen : byChainLevel.get(chainKey(chosen, level))) : undefined;
  return calls.map((c) => {
    const candidates = byAccount.get(c.accountId) ?? [];
    const volume = choosePool(candidates, 'VOLUME', c.destination, c.direction, c.startedAt);
    const money = choosePool(candidates, 'MONEY', c.destination, c.direction, c.startedAt);
    const plan = chargeCall(
      c.durationSeconds,
      c.direction,
      c.levels.map(({ accountId, rate }, level) => ({
        accountId,
        rate,
        volume: atLevel(volume, level),
        money: atLevel(money, level),
      })),
    );
    if ('charges' in plan) {
      for (const charge of plan.charges) {
        if (charge.volume) {
          const p = byKey.get(charge.volume.key)!;
          p.used = p.used.plus(charge.freeSeconds);
        }
        if (charge.money) {
          const p = byKey.get(charge.money.key)!;
          p.used = p.used.plus(charge.moneyAmount);
        }
      }
    }
    return plan;
  });
}
