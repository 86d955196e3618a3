import { Decimal, ZERO, roundMoney } from '../money.js';

/** A tax a parent adds to what it charges a child (DOMAIN.md 8): its rate and percentage when applied. */
export interface AppliedTax {
  taxRateId: string;
  percent: Decimal;
  /** Kept with a charged period: the tax charged on its price, which a whole refund gives back exactly. */
  charged?: Decimal;
}

/** One tax's amount on a fee, or summed over several fees. */
export interface TaxAmount {
  taxRateId: string;
  amount: Decimal;
}

/** A fee as charged: the net amount and each of its taxes. */
export interface TaxedFee {
  net: Decimal;
  taxes: TaxAmount[];
}

/** round_half_up(fee x percent / 100, 4) for each tax: taxes are never compound. */
export function taxesOn(fee: Decimal, taxes: readonly AppliedTax[]): TaxAmount[] {
  return taxes.map((t) => ({ taxRateId: t.taxRateId, amount: roundMoney(fee.times(t.percent).div(100)) }));
}

/**
 * A listed amount that includes the child's taxes: net0 = P x 100 / (100 + S) unrounded, each tax rounded
 * from net0, and the net fee is P less those taxes, so that net + taxes is exactly P.
 */
export function splitInclusive(listed: Decimal, taxes: readonly AppliedTax[]): TaxedFee {
  const sum = taxes.reduce((s, t) => s.plus(t.percent), ZERO);
  const net0 = listed.times(100).div(sum.plus(100));
  const amounts = taxesOn(net0, taxes);
  return { net: listed.minus(totalOf(amounts)), taxes: amounts };
}

/** A fee of `listed` (already rounded to 4 places): exclusive, taxes are added; inclusive, they are inside. */
export function taxFee(listed: Decimal, taxes: readonly AppliedTax[], inclusive: boolean): TaxedFee {
  return inclusive ? splitInclusive(listed, taxes) : { net: listed, taxes: taxesOn(listed, taxes) };
}

export function totalOf(taxes: readonly TaxAmount[]): Decimal {
  return taxes.reduce((s, t) => s.plus(t.amount), ZERO);
}

/** Per tax rate, in the order rates first appear: what one TAX entry per (account, rate, mutation) holds. */
export function sumTaxes(lists: readonly (readonly TaxAmount[])[]): TaxAmount[] {
  const sums = new Map<string, Decimal>();
  for (const list of lists) for (const t of list) sums.set(t.taxRateId, (sums.get(t.taxRateId) ?? ZERO).plus(t.amount));
  return [...sums].map(([taxRateId, amount]) => ({ taxRateId, amount }));
}

/**
 * The taxes a refund of the net amount X gives back (TAX_REFUND): round_half_up(X x percent / 100, 4) of each
 * tax that applied. A refund of the whole price gives back exactly what was charged: for a tax-inclusive price
 * the formula on the net can differ from it by 0.0001.
 */
export function taxesOnRefund(refund: Decimal, price: Decimal, taxes: readonly AppliedTax[]): TaxAmount[] {
  if (refund.eq(price) && taxes.every((t) => t.charged !== undefined)) {
    return taxes.map((t) => ({ taxRateId: t.taxRateId, amount: t.charged! }));
  }
  return taxesOn(refund, taxes);
}

/** The taxes applied to a price, each with what it charged on it. */
export function chargedTaxes(taxes: readonly AppliedTax[], amounts: readonly TaxAmount[]): AppliedTax[] {
  return taxes.map((t) => ({ ...t, charged: amounts.find((a) => a.taxRateId === t.taxRateId)?.amount ?? ZERO }));
}

/** What a fee costs the child with its taxes: what funds must cover (DENY, renewals, authorizeCall). */
export function grossOf(fee: TaxedFee): Decimal {
  return fee.net.plus(totalOf(fee.taxes));
}

/**
 * The net money a level may spend before taxes, from what it may spend in all: budget x 100 / (100 + S),
 * floored to 4 places so that the net it buys, taxed per call, stays within the budget.
 */
export function netOfTaxes(budget: Decimal, taxes: readonly AppliedTax[]): Decimal {
  const sum = taxes.reduce((s, t) => s.plus(t.percent), ZERO);
  if (sum.isZero()) return budget;
  return budget.times(100).div(sum.plus(100)).toDecimalPlaces(4, Decimal.ROUND_FLOOR);
}
