import { describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { BillingType, ChargeType } from '../src/entities/index.js';
import { addMonthsClamped, commissionOn, discountedPrice, periodEnd, refundFor } from '../src/billing/index.js';

const d = (v: string | number) => new Decimal(v);
const DAY = 86_400_000;

describe('periods', () => {
  it('RECURRING and ONE_TIME: N x 24 h from the previous end, exact instants', () => {
    const start = new Date('2026-03-28T22:30:00.000Z');
    expect(periodEnd(BillingType.RECURRING, 30, start, 1).toISOString()).toBe('2026-04-27T22:30:00.000Z');
    expect(periodEnd(BillingType.RECURRING, 30, start, 2).toISOString()).toBe('2026-05-27T22:30:00.000Z');
    expect(periodEnd(BillingType.ONE_TIME, 7, start, 1).toISOString()).toBe('2026-04-04T22:30:00.000Z');
  });

  it('MONTHLY: the activation day each month, clamped to the last day, then back', () => {
    const start = new Date('2026-01-31T10:00:00.000Z');
    expect([1, 2, 3, 4, 13].map((n) => periodEnd(BillingType.MONTHLY, 30, start, n).toISOString())).toEqual([
      '2026-02-28T10:00:00.000Z',
      '2026-03-31T10:00:00.000Z',
      '2026-04-30T10:00:00.000Z',
      '2026-05-31T10:00:00.000Z',
      '2027-02-28T10:00:00.000Z',
    ]);
    expect(addMonthsClamped(new Date('2028-01-30T00:00:00Z'), 1).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(addMonthsClamped(new Date('2026-12-15T12:00:00Z'), 1).toISOString()).toBe('2027-01-15T12:00:00.000Z');
  });
});

describe('prices', () => {
  it('renewal discounts apply from the N-th charged period, never below 0, rounded half-up to 4 places', () => {
    const rules = [
      { fromActivation: 2, amount: '1.5' },
      { fromActivation: 4, amount: '20' },
    ];
    expect(discountedPrice(d('10'), rules, 1).toString()).toBe('10');
    expect(discountedPrice(d('10'), rules, 2).toString()).toBe('8.5');
    expect(discountedPrice(d('10'), rules, 3).toString()).toBe('8.5');
    expect(discountedPrice(d('10'), rules, 4).toString()).toBe('0');
    expect(discountedPrice(d('1.000051'), [], 1).toString()).toBe('1.0001');
  });

  it('commission is computed on the sum and rounded once', () => {
    expect(commissionOn(d('10'), d('10')).toString()).toBe('1');
    expect(commissionOn(d('12.5'), d('7.83')).toString()).toBe('0.9788');
    expect(commissionOn(d('50'), d('0.00015')).toString()).toBe('0.0001');
    expect(commissionOn(d('33.3333'), d('0.00015')).toString()).toBe('0');
  });
});

describe('refunds (DOMAIN.md 6 example: 28 days, 28.00, 100 minutes, 6 days 1 hour, 60 minutes used)', () => {
  const start = new Date('2026-05-01T00:00:00Z');
  const base = {
    price: d('28'),
    periodStart: start,
    periodEnd: new Date(start.getTime() + 28 * DAY),
    at: new Date(start.getTime() + 6 * DAY + 3_600_000),
    freeSecondsTotal: 6000,
    freeSecondsUsed: 3600,
  };
  it.each([
    [ChargeType.FULL, '0'],
    [ChargeType.UTILIZED_DAYS, '21'],
    [ChargeType.UTILIZED_MINUTES, '11.2'],
    [ChargeType.HIGHEST_UTILIZATION, '11.2'],
  ])('%s refunds %s', (chargeType, expected) => {
    expect(refundFor({ ...base, chargeType }).toString()).toBe(expected);
  });

  it('HIGHEST_UTILIZATION takes the days when they are the larger use', () => {
    expect(refundFor({ ...base, chargeType: ChargeType.HIGHEST_UTILIZATION, freeSecondsUsed: 60 }).toString()).toBe('21');
  });

  it('never refunds below 0, nor more than the price; no free minutes counts as fully used by minutes', () => {
    const late = { ...base, at: new Date(start.getTime() + 40 * DAY) };
    expect(refundFor({ ...late, chargeType: ChargeType.UTILIZED_DAYS }).toString()).toBe('0');
    expect(refundFor({ ...base, at: start, chargeType: ChargeType.UTILIZED_DAYS }).toString()).toBe('28');
    expect(
      refundFor({ ...base, freeSecondsTotal: 0, freeSecondsUsed: 0, chargeType: ChargeType.UTILIZED_MINUTES }).toString(),
    ).toBe('0');
    expect(refundFor({ ...base, price: d('0'), chargeType: ChargeType.UTILIZED_DAYS }).toString()).toBe('0');
  });

  it('rounds the refund half-up to 4 places', () => {
    const thirds = {
      ...base,
      price: d('10'),
      periodEnd: new Date(start.getTime() + 3 * DAY),
      at: new Date(start.getTime() + 1000),
    };
    expect(refundFor({ ...thirds, chargeType: ChargeType.UTILIZED_DAYS }).toString()).toBe('6.6667');
  });
});
