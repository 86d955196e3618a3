import type { BillingType, DiscountRule, ResellerModel } from '../entities/index.js';
import { Decimal, ZERO } from '../money.js';
import { availableFunds, canAfford, commissionOn, discountedPrice } from './packages.js';
import { didHoldUntil } from './dids.js';
import { periodEnd } from './periods.js';
import { chargedTaxes, grossOf, taxFee, type AppliedTax } from './taxes.js';

/** A chain that was down for longer than this many periods is caught up over several runs. */
export const MAX_PERIODS_PER_RUN = 120;

const HOUR_MS = 3_600_000;

/** A chain's state and its original package's terms, as read for renewal (its level-0 subscription's). */
export interface RenewalChain {
  /** ACTIVE, or PAST_DUE: a renewal that could not be paid, tried again by every run. */
  status: 'ACTIVE' | 'PAST_DUE';
  activatedAt: Date;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  periodsCharged: number;
  currentPeriodNumber: number;
  billingType: `${BillingType}`;
  billingDays: number;
  freeMinutes: number;
  releaseIfNoBalance: boolean;
  /** With releaseIfNoBalance: hours after the boundary during which a chain that cannot pay is PAST_DUE. */
  renewRetryHours: number | null;
  /** Days the chain's numbers are kept ON_HOLD once it is past due (DOMAIN.md 12). */
  didHoldDays: number;
  /** The buyer holds numbers through the chain (assigned, or on hold while it is past due). */
  holdsDids: boolean;
  discounts: readonly DiscountRule[];
  endDate: Date | null;
  advanceRenewHours: number;
}

/** One level of the chain: its subscription and the current price of the package it subscribes to. */
export interface RenewalLevel {
  subscriptionId: string;
  level: number;
  accountId: string;
  packageId: string;
  /** The package's list price; the discount for each period is applied here. */
  price: Decimal;
  commissionRate: Decimal;
  resellerModel: `${ResellerModel}` | null;
  /** The taxes the level's parent adds to what it charges it now. */
  taxes: readonly AppliedTax[];
  /** The package's price includes those taxes. */
  taxInclusive: boolean;
}

export interface Funds {
  balance: Decimal;
  creditLimit: Decimal;
}

/** One level's charge for one period: a subscription_periods row (setup fee 0). */
export interface ChargedPeriod {
  subscriptionId: string;
  level: number;
  accountId: string;
  periodNumber: number;
  start: Date;
  end: Date;
  /** Net of taxes. */
  price: Decimal;
  /** The price with its taxes: what the level's funds had to cover. */
  gross: Decimal;
  /** The taxes applied to the price, kept with the period for its refund. */
  taxes: AppliedTax[];
  /** The level's rate where it earned a commission, else 0. */
  commissionRate: Decimal;
  commission: Decimal;
  /**
   * The level's running balance when this charge was judged (before it). A caller that planned from balances
   * read without a lock can state what each decision assumed.
   */
  balanceBefore: Decimal;
}

/** One ledger entry to write, in order; amounts of 0 are never planned. */
export interface RenewalPosting {
  subscriptionId: string;
  level: number;
  accountId: string;
  periodNumber: number;
  kind: 'RENEWAL_FEE' | 'TAX' | 'COMMISSION';
  amount: Decimal;
  /** A TAX posting's rate. */
  taxRateId?: string;
  balanceAfter: Decimal;
  description: string;
}

export interface RenewalOutcome {
  status: 'ACTIVE' | 'PAST_DUE' | 'EXPIRED' | 'RELEASED';
  /** False when nothing is to be written for the chain: not due after all, or held until its boundary. */
  changed: boolean;
  /** Some period was charged (a chain released or expired after catching up was charged too). */
  chargedAny: boolean;
  periodsCharged: number;
  currentPeriodNumber: number;
  periodStart: Date;
  periodEnd: Date;
  /** The current period moved: free seconds are reset to freeSecondsTotal, with none used. */
  freeSecondsReset: boolean;
  freeSecondsTotal: number;
  endedAt: Date | null;
  /** Released or past due: the level found short, with its price and its running balance when judged. */
  shortfall: { accountId: string; price: Decimal; balanceBefore: Decimal } | null;
}

export interface RenewalPlan {
  /** Per period, oldest first, then per level bottom-up. */
  periods: ChargedPeriod[];
  /** Per period, then per level bottom-up: RENEWAL_FEE then COMMISSION. */
  postings: RenewalPosting[];
  outcome: RenewalOutcome;
  /** The balances after this chain's postings: pass them to the next chain of the batch. */
  balances: Map<string, Funds>;
}

/**
 * When a chain is due (DOMAIN.md 6): at its period end less the advance-renew hours, except a chain paid
 * ahead (due to switch at its boundary) or one that ends there (ONE_TIME, or the package's end date has
 * come), which is due exactly at its period end.
 */
export function renewalDueAt(chain: RenewalChain): Date {
  const end = chain.currentPeriodEnd;
  const aheadOrEnding =
    chain.periodsCharged > chain.currentPeriodNumber ||
    chain.billingType === 'ONE_TIME' ||
    (chain.endDate !== null && chain.endDate <= end);
  return new Date(end.getTime() - (aheadOrEnding ? 0 : chain.advanceRenewHours * HOUR_MS));
}

/**
 * Renews one chain as of `asOf` (DOMAIN.md 6). Each period is charged from the end of the one before, oldest
 * first, each level at its package's current price with that period's discount (no setup fee), a COMMISSION
 * reseller credited its commission; at most MAX_PERIODS_PER_RUN periods. A period charged ahead (advance
 * renew) becomes current only at its boundary. If a level cannot pay a period and the package releases on no
 * balance, the chain is RELEASED at that period's start with nothing charged for it; otherwise every level is
 * charged regardless. ONE_TIME chains, and chains whose package's end date has come, EXPIRE at their period end.
 *
 * `balances` must hold every level's account and is not changed: the plan carries the balances after its
 * postings, so that the chains of one batch are judged on each other's charges.
 */
export function planChainRenewal(
  chain: RenewalChain,
  levels: readonly RenewalLevel[],
  balances: ReadonlyMap<string, Funds>,
  asOf: Date,
): RenewalPlan {
  // Bottom-up: the order every chain operation posts in.
  const chainLevels = [...levels].sort((x, y) => x.level - y.level);
  const running = new Map(balances);
  const fundsOf = (accountId: string): Funds => {
    const funds = running.get(accountId);
    if (!funds) throw new Error(`No balance given for account ${accountId}`);
    return funds;
  };
  const periods: ChargedPeriod[] = [];
  const postings: RenewalPosting[] = [];
  const post = (l: RenewalLevel, amount: Decimal, kind: RenewalPosting['kind'], n: number, taxRateId?: string) => {
    const funds = fundsOf(l.accountId);
    const after = funds.balance.plus(amount);
    running.set(l.accountId, { ...funds, balance: after });
    postings.push({
      subscriptionId: l.subscriptionId,
      level: l.level,
      accountId: l.accountId,
      periodNumber: n,
      kind,
      amount,
      balanceAfter: after,
      description: `${l.packageId} period ${n}`,
      ...(taxRateId ? { taxRateId } : {}),
    });
  };

  const activated = chain.activatedAt;
  const advanceMs = chain.advanceRenewHours * HOUR_MS;
  let charged = chain.periodsCharged;
  let current = chain.currentPeriodNumber;
  // Copies: the plan's dates must not alias the caller's.
  let start = new Date(chain.currentPeriodStart.getTime());
  let end = new Date(chain.currentPeriodEnd.getTime());
  // A PAST_DUE chain stays so until a period is charged (a run with an earlier asOf changes nothing).
  let status: RenewalOutcome['status'] = chain.status;
  let chargedAny = false;
  let switched = false;
  let shortfall: RenewalOutcome['shortfall'] = null;
  // Each period takes at most two steps (its charge, then its switch to current).
  for (let i = 0; i < MAX_PERIODS_PER_RUN * 2; i++) {
    // A period paid ahead becomes current at the boundary, not before: until then calls, free seconds and
    // refunds still belong to the running period.
    if (charged > current) {
      if (asOf < end) break;
      current++;
      start = end;
      end = periodEnd(chain.billingType, chain.billingDays, activated, current);
      switched = true;
      continue;
    }
    const ends = chain.billingType === 'ONE_TIME' || (chain.endDate !== null && chain.endDate <= end);
    if (ends) {
      if (asOf >= end) status = 'EXPIRED'; // at its period end, whatever the advance hours
      break;
    }
    if (asOf.getTime() < end.getTime() - advanceMs) break;
    // Numbers held for a past-due chain are kept only for their hold: once it ends the chain is released as of
    // its boundary, whether or not it could pay now (DOMAIN.md 12).
    if (status === 'PAST_DUE') {
      const holdEnd = chain.holdsDids ? didHoldUntil(end, chain.didHoldDays) : null;
      if (holdEnd && asOf >= holdEnd) {
        status = 'RELEASED';
        break;
      }
    }
    const next = charged + 1;
    // Each level's price with that period's discount, then its taxes (DOMAIN.md 8): funds must cover both,
    // and a commission is earned on the net.
    const charges = chainLevels.map((l) => {
      const fee = taxFee(discountedPrice(l.price, chain.discounts, next), l.taxes, l.taxInclusive);
      const earns = l.level > 0 && l.resellerModel === 'COMMISSION';
      return { l, fee, gross: grossOf(fee), commission: earns ? commissionOn(l.commissionRate, fee.net) : ZERO };
    });
    const short = charges.find((c) => {
      const funds = fundsOf(c.l.accountId);
      return !canAfford(availableFunds(funds.balance, funds.creditLimit), c.gross);
    });
    if (short && chain.releaseIfNoBalance) {
      const retryMs = (chain.renewRetryHours ?? 0) * HOUR_MS;
      // With a retry window the chain waits for its boundary (advance renew cannot make it past due early),
      // is PAST_DUE until the window closes, and is released as of the boundary after it.
      if (retryMs > 0 && asOf < end) break;
      // Numbers held for a past-due chain are kept only for their hold: once it ends the chain stops waiting.
      const holdEnd = chain.holdsDids ? didHoldUntil(end, chain.didHoldDays) : null;
      const waiting = retryMs > 0 && asOf.getTime() < end.getTime() + retryMs && !(holdEnd && asOf >= holdEnd);
      status = waiting ? 'PAST_DUE' : 'RELEASED';
      shortfall = { accountId: short.l.accountId, price: short.gross, balanceBefore: fundsOf(short.l.accountId).balance };
      break;
    }
    const nextEnd = periodEnd(chain.billingType, chain.billingDays, activated, next);
    for (const c of charges) {
      const balanceBefore = fundsOf(c.l.accountId).balance;
      if (c.fee.net.gt(0)) post(c.l, c.fee.net.neg(), 'RENEWAL_FEE', next);
      for (const t of c.fee.taxes) if (t.amount.gt(0)) post(c.l, t.amount.neg(), 'TAX', next, t.taxRateId);
      if (c.commission.gt(0)) post(c.l, c.commission, 'COMMISSION', next);
      periods.push({
        subscriptionId: c.l.subscriptionId,
        level: c.l.level,
        accountId: c.l.accountId,
        periodNumber: next,
        start: end,
        end: nextEnd,
        price: c.fee.net,
        gross: c.gross,
        taxes: chargedTaxes(c.l.taxes, c.fee.taxes),
        commissionRate: c.commission.gt(0) ? c.l.commissionRate : ZERO,
        commission: c.commission,
        balanceBefore,
      });
    }
    charged = next;
    chargedAny = true;
    status = 'ACTIVE';
  }
  return {
    periods,
    postings,
    outcome: {
      status,
      changed: status !== chain.status || chargedAny || switched,
      chargedAny,
      periodsCharged: charged,
      currentPeriodNumber: current,
      periodStart: start,
      periodEnd: end,
      freeSecondsReset: switched,
      freeSecondsTotal: chain.freeMinutes * 60,
      endedAt: status === 'ACTIVE' || status === 'PAST_DUE' ? null : end,
      shortfall,
    },
    balances: running,
  };
}
