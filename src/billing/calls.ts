import type { Direction } from '../entities/index.js';
import { Decimal, ZERO, roundMoney } from '../money.js';
import { drawFree, type FreeSource } from './free-seconds.js';

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
 * Cost of the charged (not free) seconds: connection fee + rate/60 x seconds, rounded half-up to 4 places. A
 * call wholly covered by free seconds costs nothing, connection fee included.
 */
export function chargeFor(rate: CallRate, chargedSeconds: number): Decimal {
  if (chargedSeconds <= 0) return ZERO;
  return roundMoney(rate.connectionFee.plus(rate.ratePerMinute.times(chargedSeconds).div(60)));
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

/**
 * Seconds one level can take on a call: its free seconds left plus what its money buys after the connection
 * fee, in whole seconds (pass the result to longestBilledWithin for a duration). Null when the level does not
 * limit the call: its rate is 0 and it can pay the connection fee. A level that cannot pay the fee still
 * takes its free seconds, since a wholly free call charges no fee.
 */
export function secondsBudget(rate: CallRate, freeSecondsLeft: number, money: Decimal): number | null {
  if (rate.ratePerMinute.isZero()) return money.gte(rate.connectionFee) ? null : freeSecondsLeft;
  const paid = money.lt(rate.connectionFee)
    ? 0
    : money.minus(rate.connectionFee).times(60).div(rate.ratePerMinute).floor().toNumber();
  return freeSecondsLeft + paid;
}

/** What one level of a call is priced by: its rate for the number (null: none) and the chain level it draws from. */
export interface LevelTerms {
  accountId: string;
  rate: (CallRate & { prefix: string; initialIncrement: number; increment: number }) | null;
  /** The chosen chain's subscription at this level, if the call draws free seconds. */
  source?: Pick<FreeSource, 'id' | 'freeTotal' | 'freeUsed'>;
}

/** One level's share of a call: a call_charges row. */
export interface LevelCharge {
  level: number;
  accountId: string;
  amount: Decimal;
  billedSeconds: number;
  freeSeconds: number;
  subscriptionId: string | null;
  ratePrefix: string | null;
}

/**
 * A call's charge at every level, the call's account first (DOMAIN.md 5): billed seconds by the level's own
 * increments, free seconds drawn from the level's subscription in the chosen chain, the rest at its rate. An
 * outbound call with no rate at some level cannot be rated (`noRateAt` names the level); an inbound call with
 * no inbound rate costs nothing there. Does not record the draws: the caller adds `freeSeconds` to its
 * sources so that later calls of a batch see them.
 */
export function chargeCall(
  durationSeconds: number,
  direction: `${Direction}`,
  levels: readonly LevelTerms[],
): { charges: LevelCharge[] } | { noRateAt: number } {
  const charges: LevelCharge[] = [];
  for (const [level, { accountId, rate, source }] of levels.entries()) {
    if (!rate) {
      if (direction === 'OUTBOUND') return { noRateAt: level };
      charges.push({ level, accountId, amount: ZERO, billedSeconds: 0, freeSeconds: 0, subscriptionId: null, ratePrefix: null });
      continue;
    }
    const billed = billedSeconds(durationSeconds, rate.initialIncrement, rate.increment);
    const free = drawFree(source, billed);
    charges.push({
      level,
      accountId,
      amount: chargeFor(rate, billed - free),
      billedSeconds: billed,
      freeSeconds: free,
      subscriptionId: source && free > 0 ? source.id : null,
      ratePrefix: rate.prefix,
    });
  }
  return { charges };
}
