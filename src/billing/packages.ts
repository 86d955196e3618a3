import type { ChargeType, DiscountRule } from '../entities/index.js';
import { Decimal, ZERO, roundMoney } from '../money.js';
import { DAY_MS } from './periods.js';
import {
  chargedTaxes,
  splitInclusive,
  sumTaxes,
  taxFee,
  totalOf,
  type AppliedTax,
  type TaxAmount,
  type TaxedFee,
} from './taxes.js';

/** Ledger kinds that are a charge to the account that holds the entry (negative) or its reversal (REFUND). */
export const CHARGE_KINDS = [
  'SETUP_FEE',
  'PACKAGE_FEE',
  'RENEWAL_FEE',
  'MINIMUM_SPEND',
  'USAGE',
  'USAGE_ADJUSTMENT',
  'REFUND',
] as const;
export const COMMISSION_KINDS = ['COMMISSION', 'COMMISSION_REVERSAL'] as const;
/** A parent's taxes on what it charges the account (DOMAIN.md 8), and their reversal with a refund. */
export const TAX_KINDS = ['TAX', 'TAX_REFUND'] as const;

/** The price of period `n` after the renewal discount that applies to it, never below 0 (DOMAIN.md 3). */
export function discountedPrice(price: Decimal, discounts: readonly DiscountRule[], n: number): Decimal {
  const rule = discounts.filter((d) => d.fromActivation <= n).sort((a, b) => b.fromActivation - a.fromActivation)[0];
  const reduced = rule ? price.minus(rule.amount) : price;
  return roundMoney(Decimal.max(reduced, ZERO));
}

/** commission = rate/100 x (setup fee + price) of one charge, computed on the sum and rounded once. */
export function commissionOn(rate: Decimal, charged: Decimal): Decimal {
  return roundMoney(rate.div(100).times(charged));
}

/**
 * What early termination gives back of the current period's price (DOMAIN.md 6). Utilization by days counts
 * elapsed time rounded up to whole days; by minutes, free seconds used over free seconds granted (a package
 * without free minutes counts as fully used by minutes). Never negative, never the setup fee.
 */
export function refundFor(args: {
  chargeType: `${ChargeType}`;
  price: Decimal;
  periodStart: Date;
  periodEnd: Date;
  at: Date;
  freeSecondsTotal: number;
  freeSecondsUsed: number;
}): Decimal {
  const { chargeType, price } = args;
  if (chargeType === 'FULL' || price.lte(0)) return ZERO;
  const periodDays = Math.max(1, Math.round((args.periodEnd.getTime() - args.periodStart.getTime()) / DAY_MS));
  const usedDays = Math.min(periodDays, Math.max(0, Math.ceil((args.at.getTime() - args.periodStart.getTime()) / DAY_MS)));
  const days = { used: new Decimal(usedDays), of: new Decimal(periodDays) };
  const minutes =
    args.freeSecondsTotal > 0
      ? { used: new Decimal(Math.min(args.freeSecondsUsed, args.freeSecondsTotal)), of: new Decimal(args.freeSecondsTotal) }
      : { used: new Decimal(1), of: new Decimal(1) };
  let utilization = days;
  if (chargeType === 'UTILIZED_MINUTES') utilization = minutes;
  if (chargeType === 'HIGHEST_UTILIZATION') {
    // Cross-multiplied so the comparison is exact; on a tie the days win, which gives the same refund.
    utilization = minutes.used.times(days.of).gt(days.used.times(minutes.of)) ? minutes : days;
  }
  const refund = roundMoney(price.times(utilization.of.minus(utilization.used)).div(utilization.of));
  return Decimal.max(refund, ZERO);
}

/**
 * The commission a level gives back for a refund (DOMAIN.md 6): its rate on the refund, rounded once, never
 * more than the commission it was credited for that period (which was computed on setup fee + price, while
 * the refund never includes the setup fee).
 */
export function commissionReversal(commission: Decimal, rate: Decimal, refund: Decimal): Decimal {
  return commission.gt(0) ? Decimal.min(commission, commissionOn(rate, refund)) : ZERO;
}

/** available = balance + credit limit (DOMAIN.md 2). */
export function availableFunds(balance: Decimal, creditLimit: Decimal): Decimal {
  return balance.plus(creditLimit);
}

/**
 * Whether funds suffice for a charge: DENY_IF_INSUFFICIENT at purchase (setup fee + price) and release if no
 * balance at renewal (the renewal price). Exactly enough is enough; a commission the same charge would
 * credit does not count towards paying it.
 */
export function canAfford(available: Decimal, charge: Decimal): boolean {
  return !available.lt(charge);
}

/** What one level of a new chain is charged for its first period (DOMAIN.md 4 and 8). */
export interface FirstCharge {
  /** Net of taxes. */
  setupFee: Decimal;
  /** Net of taxes. */
  price: Decimal;
  /** Per tax rate, the setup fee's and the price's taxes summed: one TAX entry each. */
  taxes: TaxAmount[];
  /** The taxes applied, each with what it charged on the price: kept with the period for its refund. */
  applied: AppliedTax[];
  /** The rate the level earns on it (0 unless a COMMISSION reseller). */
  commissionRate: Decimal;
  /** On the net fees: commissions are not taxed. */
  commission: Decimal;
}

/**
 * Level `level` of a new chain pays its package's setup fee and first-period price (each rounded to 4 places)
 * with its taxes, each fee taxed on its own (or, for a tax-inclusive package, split into net and taxes); a
 * COMMISSION reseller (never the customer at level 0) is credited its rate on the net fees' sum.
 */
export function firstCharge(
  level: number,
  pkg: { setupFee: Decimal; price: Decimal; commissionRate: Decimal; taxInclusive?: boolean },
  resellerModel: string | null,
  taxes: readonly AppliedTax[] = [],
): FirstCharge {
  const setup = taxFee(roundMoney(pkg.setupFee), taxes, pkg.taxInclusive ?? false);
  const price = taxFee(roundMoney(pkg.price), taxes, pkg.taxInclusive ?? false);
  const commissionRate = level > 0 && resellerModel === 'COMMISSION' ? pkg.commissionRate : ZERO;
  return {
    setupFee: setup.net,
    price: price.net,
    taxes: sumTaxes([setup.taxes, price.taxes]),
    applied: chargedTaxes(taxes, price.taxes),
    commissionRate,
    commission: commissionOn(commissionRate, setup.net.plus(price.net)),
  };
}

/** What a first charge costs the level in all: what its funds must cover. */
export function firstChargeGross(charge: FirstCharge): Decimal {
  return charge.setupFee.plus(charge.price).plus(totalOf(charge.taxes));
}

/** A period a level has been charged and not yet refunded, with the state its refund depends on. */
export interface ChargedLevelPeriod {
  subscriptionId: string;
  periodNumber: number;
  price: Decimal;
  commission: Decimal;
  commissionRate: Decimal;
  /** The level's running period: refunded by the charge type. Later ones were paid ahead: refunded whole. */
  current: boolean;
  periodStart: Date;
  periodEnd: Date;
  freeSecondsTotal: number;
  freeSecondsUsed: number;
  /** The taxes that applied to the period's fees: its refund gives each back (TAX_REFUND). */
  taxes: AppliedTax[];
}

/** What early termination at `at` gives back of one charged period, and the commission it takes back. */
export function periodRefund(
  period: ChargedLevelPeriod,
  chargeType: `${ChargeType}`,
  at: Date,
): { refund: Decimal; reversal: Decimal } {
  const refund = period.current
    ? refundFor({
        chargeType,
        price: period.price,
        periodStart: period.periodStart,
        periodEnd: period.periodEnd,
        at,
        freeSecondsTotal: period.freeSecondsTotal,
        freeSecondsUsed: period.freeSecondsUsed,
      })
    : period.price;
  return { refund, reversal: commissionReversal(period.commission, period.commissionRate, refund) };
}

/**
 * Minimum spend (DOMAIN.md 13): what a level owes when a period of a minimum-spend package ends, the price it
 * committed to less its usage charges for the chain's calls started in that period, never below 0.
 */
export function minimumSpendShortfall(price: Decimal, usage: Decimal): Decimal {
  return Decimal.max(ZERO, roundMoney(price).minus(usage));
}

/**
 * The MINIMUM_SPEND charge with its taxes. Usage charges are net of taxes, so a commitment listed with its taxes
 * is compared by its net part (splitInclusive); the shortfall, a net amount, is then taxed on top.
 */
export function minimumSpendCharge(
  commitment: Decimal,
  inclusive: boolean,
  usage: Decimal,
  taxes: readonly AppliedTax[],
): TaxedFee {
  const committed = inclusive ? splitInclusive(roundMoney(commitment), taxes).net : commitment;
  return taxFee(minimumSpendShortfall(committed, usage), taxes, false);
}

/** A package is for sale from its start date (inclusive) until its end date (exclusive); either may be absent. */
export function withinSaleDates(terms: { startDate?: Date | null; endDate?: Date | null }, at: Date): boolean {
  return !(terms.startDate && terms.startDate > at) && !(terms.endDate && terms.endDate <= at);
}
