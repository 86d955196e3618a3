import { DAY_MS } from './periods.js';

/** The longest number the inventory takes: E.164's 15 digits. */
export const MAX_DID_DIGITS = 15;

/** A DID is digits only ("+44 20 7000 0001" is 442070000001): null when it is not a number the inventory takes. */
export function didNumber(value: string): string | null {
  const digits = value
    .trim()
    .replace(/^\+/, '')
    .replace(/[\s().-]/g, '');
  return new RegExp(`^[0-9]{1,${MAX_DID_DIGITS}}$`).test(digits) ? digits : null;
}

/** A number qualifies for a package when it has one of the package's allowed tags, or the package allows any. */
export function didQualifies(tags: readonly string[], allowedTags: readonly string[]): boolean {
  return allowedTags.length === 0 || tags.some((t) => allowedTags.includes(t));
}

/** Until when numbers are kept for a subscription that ended (or went past due) at `at`: null, none (AVAILABLE at once). */
export function didHoldUntil(at: Date, holdDays: number): Date | null {
  return holdDays > 0 ? new Date(at.getTime() + holdDays * DAY_MS) : null;
}

/** Numbers compare as numbers: shorter first, then digit by digit (the order claims take them in). */
export function compareDidNumbers(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
