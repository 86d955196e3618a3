import { Decimal } from 'decimal.js';

// 40 significant digits covers numeric(20,6) with room for intermediate products (rate x seconds / 60).
Decimal.set({ precision: 40, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -40, toExpPos: 40 });

export { Decimal };

/** What clients may send as Money: a plain decimal string, no exponent, at most 6 decimals. */
export const MONEY_PATTERN = /^-?\d+(\.\d{1,6})?$/;
/** numeric(20,6) holds 14 integer digits. */
const MAX_ABS = new Decimal('1e14');

export class MoneyFormatError extends Error {}

export function parseMoney(value: unknown): Decimal {
  if (typeof value !== 'string') throw new MoneyFormatError('Money must be a decimal string such as "12.50"');
  if (!MONEY_PATTERN.test(value)) {
    throw new MoneyFormatError('Money must be a decimal string with at most 6 decimals and no exponent');
  }
  const d = new Decimal(value);
  if (d.abs().gte(MAX_ABS)) throw new MoneyFormatError('Money is out of range');
  return d;
}

/** Every charge, refund and commission is rounded half-up to 4 places when it is computed (DOMAIN.md 2). */
export function roundMoney(d: Decimal): Decimal {
  return d.toDecimalPlaces(4, Decimal.ROUND_HALF_UP);
}

/** Canonical text: no exponent, no trailing zeros ("12.5", "0", "-3.25"). */
export function formatMoney(d: Decimal): string {
  const s = d.toFixed();
  return s === '-0' ? '0' : s;
}

export const ZERO = new Decimal(0);
