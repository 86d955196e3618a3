import type { BillingType } from '../entities/index.js';

export const DAY_MS = 86_400_000;

/** Adds months in UTC, keeping the day of month of `anchor`, clamped to the target month's last day. */
export function addMonthsClamped(anchor: Date, months: number): Date {
  const y = anchor.getUTCFullYear();
  const m = anchor.getUTCMonth() + months;
  const targetYear = y + Math.floor(m / 12);
  const targetMonth = ((m % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      targetYear,
      targetMonth,
      Math.min(anchor.getUTCDate(), lastDay),
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}

/**
 * The end of period `n` (1-based) of a subscription activated at `activatedAt`, as an exact UTC instant.
 * RECURRING and ONE_TIME periods are billingDays x 24 h from the previous end; MONTHLY periods end on the
 * activation day of the month (clamped to the month's last day, and back to the activation day after).
 * Every end is computed from the activation, never from the previous end, so a clamped month does not drift.
 */
export function periodEnd(billingType: `${BillingType}`, billingDays: number, activatedAt: Date, n: number): Date {
  if (billingType === 'MONTHLY') return addMonthsClamped(activatedAt, n);
  return new Date(activatedAt.getTime() + n * billingDays * DAY_MS);
}
