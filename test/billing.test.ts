// Pure billing rules (src/billing), no database. Every expected value is taken from DOMAIN.md's text and worked
// examples, or worked out by hand from its formulas (the arithmetic is in the comments).
import { describe, expect, it } from 'vitest';
import { Decimal } from '../src/money.js';
import {
  DAY_MS,
  MAX_CALL_SECONDS,
  MAX_PERIODS_PER_RUN,
  addMonthsClamped,
  availableFunds,
  billedSeconds,
  canAfford,
  chargeCall,
  chargeFor,
  choosePool,
  rejectingPools,
  periodPool,
  commissionOn,
  commissionReversal,
  compareDidNumbers,
  didHoldUntil,
  didNumber,
  didQualifies,
  discountedPrice,
  firstCharge,
  longestBilledWithin,
  longestOf,
  longestPrefix,
  minimumSpendCharge,
  minimumSpendShortfall,
  withinSaleDates,
  matchLength,
  periodEnd,
  periodRefund,
  planChainRenewal,
  prefixLengths,
  prefixesOf,
  refundFor,
  renewalDueAt,
  secondsBudget,
  spendableMoney,
  chargedTaxes,
  grossOf,
  invoiceBalances,
  invoiceNumber,
  invoiceTotals,
  netOfTaxes,
  periodAt,
  periodFor,
  planInvoices,
  splitInclusive,
  sumTaxes,
  taxesOn,
  taxesOnRefund,
  type Pool,
  type Funds,
  type InvoiceEntry,
  type RenewalChain,
  type RenewalLevel,
  type RenewalPlan,
} from '../src/billing/index.js';

const d = (v: string | number) => new Decimal(v);
const at = (iso: string) => new Date(iso);
const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('calls: billed seconds and cost (DOMAIN.md 5)', () => {
  it.each([
    // [duration, initial increment, increment, billed]
    [0, 60, 60, 0], // a 0-second call costs nothing
    [1, 60, 60, 60], // at least the initial increment
    [60, 60, 60, 60],
    [61, 60, 60, 120], // the rest rounded up to whole increments
    [121, 60, 60, 180],
    [30, 60, 1, 60],
    [61, 60, 1, 61],
    [61, 30, 6, 66], // 30 + ceil(31 / 6) x 6 = 30 + 36
    [1, 1, 1, 1],
    [0, 0, 6, 0],
    [1, 0, 60, 60], // initial increment 0: whole increments from the first second
    [6, 0, 6, 6],
    [7, 0, 6, 12],
  ])('%i s with %i/%i bills %i s', (duration, initial, increment, billed) => {
    expect(billedSeconds(duration, initial, increment)).toBe(billed);
  });

  it.each([
    // [budget, initial increment, increment, longest duration]
    [0, 60, 60, 0],
    [59, 60, 60, 0], // not even the first increment fits
    [60, 60, 60, 60],
    [119, 60, 60, 60],
    [120, 60, 60, 120],
    [65, 30, 6, 60], // 30 + floor(35 / 6) x 6 = 30 + 30
    [0, 0, 6, 0],
    [5, 0, 6, 0],
    [13, 0, 6, 12],
  ])('a budget of %i s with %i/%i allows %i s', (budget, initial, increment, longest) => {
    expect(longestBilledWithin(budget, initial, increment)).toBe(longest);
  });

  it('longestBilledWithin is the longest duration whose billed seconds fit the budget', () => {
    for (const [initial, increment] of [
      [0, 1],
      [0, 6],
      [1, 1],
      [30, 6],
      [60, 60],
      [60, 1],
    ]) {
      for (let budget = 0; budget <= 200; budget++) {
        const longest = longestBilledWithin(budget, initial, increment);
        expect(billedSeconds(longest, initial, increment)).toBeLessThanOrEqual(budget);
        expect(billedSeconds(longest + 1, initial, increment)).toBeGreaterThan(budget);
      }
    }
  });

  it.each([
    // [rate per minute, connection fee, charged seconds, cost]
    ['0.015', '0', 60, '0.015'], // DOMAIN.md 8: 60 s at 0.0150/min is 0.0150
    ['0.015', '0', 1, '0.0003'], // 0.00025, half-up
    ['0.01', '0', 1, '0.0002'], // 0.000166...
    ['0.01', '0', 3, '0.0005'],
    ['0.0001', '0', 30, '0.0001'], // 0.00005, half-up
    ['0.0001', '0', 29, '0'], // 0.0000483...
    ['0.12', '0.05', 90, '0.23'], // 0.05 + 0.18
    ['1.2345', '0.1', 7, '0.244'], // 0.1 + 8.6415 / 60 = 0.244025
    ['0.0999', '0', 61, '0.1016'], // 6.0939 / 60 = 0.101565
    ['0.12', '0.05', 0, '0'], // nothing charged: no connection fee either
  ])('%s/min + %s for %i s costs %s', (rate, fee, seconds, cost) => {
    expect(chargeFor({ ratePerMinute: d(rate), connectionFee: d(fee) }, seconds).toString()).toBe(cost);
  });

  it('the longest call is a week', () => {
    expect(MAX_CALL_SECONDS).toBe(604_800);
  });

  it.each([
    { name: 'no limits: balance + credit limit', balance: '10', credit: '5', limits: [], money: '15', limited: false },
    { name: 'a null limit is no limit', balance: '10', credit: '5', limits: [[null, '3']], money: '15', limited: false },
    { name: 'what is left of a daily limit binds', balance: '10', credit: '5', limits: [['3', '1']], money: '2', limited: true },
    {
      name: 'the smaller of the limits left binds',
      balance: '10',
      credit: '5',
      limits: [
        ['3', '1'],
        ['100', '99.5'],
      ],
      money: '0.5',
      limited: true,
    },
    {
      name: 'a limit leaving more does not bind',
      balance: '10',
      credit: '5',
      limits: [['20', '1']],
      money: '15',
      limited: false,
    },
    {
      name: 'a limit leaving exactly as much does not bind',
      balance: '10',
      credit: '5',
      limits: [['16', '1']],
      money: '15',
      limited: false,
    },
  ] as { name: string; balance: string; credit: string; limits: [string | null, string][]; money: string; limited: boolean }[])(
    'spendable money: $name',
    ({ balance, credit, limits, money, limited }) => {
      const result = spendableMoney(
        d(balance),
        d(credit),
        limits.map(([limit, spent]) => ({ limit: limit === null ? null : d(limit), spent: d(spent) })),
      );
      expect({ money: result.money.toString(), limited: result.limited }).toEqual({ money, limited });
    },
  );

  it.each([
    // [rate per minute, connection fee, free seconds left, money, seconds budget (null: no limit)]
    ['0.06', '0', 0, '1', 1000], // 1 x 60 / 0.06
    ['0.06', '0.10', 0, '1', 900], // (1 - 0.10) x 60 / 0.06
    ['0.07', '0', 0, '0.01', 8], // 0.6 / 0.07 = 8.57..., whole seconds only
    ['0.06', '0.10', 120, '0.05', 120], // cannot pay the fee: free seconds only
    ['0.06', '0.10', 120, '0.10', 120],
    ['0.06', '0.10', 120, '0.16', 180], // 120 + 0.06 x 60 / 0.06
    ['0.06', '0', 60, '-1', 60], // in debt: free seconds only
    ['0', '0', 0, '5', null], // a free rate does not limit the call
    ['0', '0.50', 30, '0.40', 30], // free rate but the fee cannot be paid
    ['0', '0.50', 30, '0.50', null],
  ] as [string, string, number, string, number | null][])(
    '%s/min + %s with %i free s and %s money: %s s',
    (rate, fee, free, money, budget) => {
      expect(secondsBudget({ ratePerMinute: d(rate), connectionFee: d(fee) }, free, d(money))).toBe(budget);
    },
  );
});

describe('a call at every level (DOMAIN.md 5)', () => {
  const rate = (ratePerMinute: string, connectionFee = '0', initialIncrement = 60, increment = 60) => ({
    prefix: '44',
    ratePerMinute: new Decimal(ratePerMinute),
    connectionFee: new Decimal(connectionFee),
    initialIncrement,
    increment,
  });
  const amounts = (result: ReturnType<typeof chargeCall>) =>
    'charges' in result
      ? result.charges.map((c) => [c.billedSeconds, c.freeSeconds, c.amount.toFixed(), c.volume?.subscriptionId ?? null])
      : result;

  it.each([
    // [case, duration, levels (rate, free seconds left), expected per level: billed, free, amount, subscription]
    [
      'each level by its own increments and rate',
      61,
      [[rate('0.06')], [rate('0.03', '0', 1, 1)]],
      [
        [120, 0, '0.12', null],
        [61, 0, '0.0305', null],
      ],
    ],
    [
      'free seconds cover the billed duration at each level',
      90,
      [
        [rate('0.06'), 100],
        [rate('0.03'), 200],
      ],
      [
        [120, 100, '0.02', 's0'],
        [120, 120, '0', 's1'],
      ],
    ],
    [
      'the connection fee only when some part is charged',
      30,
      [
        [rate('0.06', '0.05'), 60],
        [rate('0.06', '0.05'), 10],
      ],
      [
        [60, 60, '0', 's0'],
        [60, 10, '0.1', 's1'],
      ],
    ],
    [
      'a 0-second call costs nothing anywhere',
      0,
      [[rate('0.06', '0.05')], [rate('1', '1')]],
      [
        [0, 0, '0', null],
        [0, 0, '0', null],
      ],
    ],
    ['rounded half-up to 4 places', 1, [[rate('0.00015', '0', 1, 1)]], [[1, 0, '0', null]]],
    ['rounded half-up to 4 places, upwards', 1, [[rate('0.003', '0', 1, 1)]], [[1, 0, '0.0001', null]]],
  ] as [string, number, [ReturnType<typeof rate>, number?][], unknown[]][])('%s', (_name, duration, levels, expected) => {
    const result = chargeCall(
      duration,
      'OUTBOUND',
      levels.map(([r, free], i) => ({
        accountId: `a${i}`,
        rate: r,
        volume:
          free === undefined
            ? undefined
            : {
                key: `s${i}`,
                subscriptionId: `s${i}`,
                limitId: null,
                total: d(String(free)),
                used: d('0'),
                inBundleRate: d('0'),
              },
      })),
    );
    expect(amounts(result)).toEqual(expected);
  });

  it('an outbound call with no rate at some level names it; an inbound one costs nothing there', () => {
    const levels = [
      { accountId: 'a0', rate: rate('0.06') },
      { accountId: 'a1', rate: null },
    ];
    expect(chargeCall(60, 'OUTBOUND', levels)).toEqual({ noRateAt: 1 });
    expect(amounts(chargeCall(60, 'INBOUND', levels))).toEqual([
      [60, 0, '0.06', null],
      [0, 0, '0', null],
    ]);
  });
});

describe('longest prefix', () => {
  it.each([
    ['4420', ['4420', '442', '44', '4']],
    ['7', ['7']],
    ['', []],
  ])('prefixesOf(%j), longest first', (number, prefixes) => {
    expect(prefixesOf(number)).toEqual(prefixes);
  });

  it('prefixLengths: distinct lengths, longest first', () => {
    expect(prefixLengths(['44', '4420', '1', '45'])).toEqual([4, 2, 1]);
    expect(prefixLengths([])).toEqual([]);
  });

  const deck = new Map([
    ['1', 'NANP'],
    ['44', 'UK'],
    ['447', 'UK mobile'],
    ['4420', 'London'],
  ]);
  it.each([
    ['442071234567', 'London'],
    ['447700900123', 'UK mobile'],
    ['441612345678', 'UK'],
    ['12125550001', 'NANP'],
    ['44', 'UK'], // lengths longer than the number are skipped
    ['4', null],
    ['33123456', null],
    ['', null],
  ])('%s -> %s', (number, expected) => {
    expect(longestPrefix(number, prefixLengths(deck.keys()), (p) => deck.get(p))).toBe(expected);
  });

  it('longestOf picks the same rate from fetched candidates (the database lookup and authorizeCall)', () => {
    const candidates = [...deck].map(([prefix, name]) => ({ prefix, name }));
    for (const number of ['442071234567', '447700900123', '441612345678', '12125550001', '4', '33123456']) {
      expect(longestOf(number, candidates)?.name ?? null).toBe(
        longestPrefix(number, prefixLengths(deck.keys()), (p) => deck.get(p)),
      );
    }
    expect(longestOf('44', [])).toBeNull();
  });

  it('a falsy value found is a match', () => {
    expect(longestPrefix('441', [2], (p) => (p === '44' ? 0 : undefined))).toBe(0);
  });

  it.each([
    // [package destination patterns, number, matched length]
    [[], '44123', 0], // no patterns match every number, as the shortest pattern
    [['44'], '44123', 2],
    [['44', '4412'], '44123', 4],
    [['4412', '44'], '44123', 4],
    [['44123'], '44123', 5],
    [['33'], '44123', -1],
    [['441234'], '4412', -1], // a pattern longer than the number
    [['44123$'], '44123', 6], // an exact number beats every prefix (DOMAIN.md 13)
    [['44', '44123$'], '44123', 6],
    [['44123$'], '441234', -1], // exact: not a prefix
    [['4412$', '44'], '44123', 2],
  ] as [string[], string, number][])('matchLength(%j, %s) = %i', (patterns, number, length) => {
    expect(matchLength(patterns, number)).toBe(length);
  });
});

describe('free seconds (DOMAIN.md 5)', () => {
  const call = { number: '442071234567', at: at('2026-05-10T12:00:00.000Z') };
  type SourceOver = Partial<Omit<Pool, 'total' | 'used' | 'patterns'>> & {
    id: string;
    destinations?: string[];
    freeTotal?: number;
    freeUsed?: number;
  };
  // A subscription's free minutes as a VOLUME pool; `over` changes any field.
  const source = ({ id, destinations = ['44'], freeTotal = 6000, freeUsed = 0, ...over }: SourceOver): Pool => ({
    key: id,
    subscriptionId: id,
    limitId: null,
    position: 0,
    chainId: id,
    accountId: 'C',
    level: 0,
    seq: 1,
    periodStart: at('2026-05-01T00:00:00.000Z'),
    periodEnd: at('2026-05-31T00:00:00.000Z'),
    applicableFor: 'BOTH',
    priority: 1,
    kind: 'VOLUME',
    patterns: destinations,
    total: d(freeTotal),
    used: d(freeUsed),
    inBundleRate: d('0'),
    rejectWhenExhausted: false,
    ...over,
  });

  it.each([
    {
      name: 'the longest matching pattern comes first, before priority',
      candidates: [source({ id: 'a', priority: 1 }), source({ id: 'b', destinations: ['4420'], priority: 9 })],
      expected: 'b',
    },
    {
      name: 'a package without destinations matches as the shortest pattern',
      candidates: [source({ id: 'a', destinations: [] }), source({ id: 'b', destinations: ['4'] })],
      expected: 'b',
    },
    {
      name: 'a package without destinations matches every number',
      candidates: [source({ id: 'a', destinations: [] }), source({ id: 'b', destinations: ['33'] })],
      expected: 'a',
    },
    {
      name: 'then the higher priority (1 beats 2)',
      candidates: [source({ id: 'a', priority: 2, seq: 1 }), source({ id: 'b', priority: 1, seq: 2 })],
      expected: 'b',
    },
    {
      name: 'then the earlier period end',
      candidates: [
        source({ id: 'a', seq: 1, periodEnd: at('2026-06-01T00:00:00.000Z') }),
        source({ id: 'b', seq: 2, periodEnd: at('2026-05-20T00:00:00.000Z') }),
      ],
      expected: 'b',
    },
    {
      name: 'then the older subscription',
      candidates: [source({ id: 'a', seq: 7 }), source({ id: 'b', seq: 3 })],
      expected: 'b',
    },
    {
      name: 'then the older subscription, whatever the order given',
      candidates: [source({ id: 'b', seq: 3 }), source({ id: 'a', seq: 7 })],
      expected: 'b',
    },
    {
      name: 'only packages for the call direction',
      candidates: [
        source({ id: 'a', destinations: ['4420'], applicableFor: 'INBOUND' }),
        source({ id: 'b', applicableFor: 'OUTBOUND' }),
      ],
      expected: 'b',
    },
    {
      name: 'BOTH applies to inbound calls',
      direction: 'INBOUND' as const,
      candidates: [
        source({ id: 'a', destinations: ['4420'], applicableFor: 'OUTBOUND' }),
        source({ id: 'b', applicableFor: 'BOTH' }),
      ],
      expected: 'b',
    },
    {
      name: 'only a period that contains the call start',
      candidates: [source({ id: 'a', destinations: ['4420'], periodStart: at('2026-05-11T00:00:00.000Z') }), source({ id: 'b' })],
      expected: 'b',
    },
    {
      name: 'the period end is outside the period',
      candidates: [source({ id: 'a', destinations: ['4420'], periodEnd: call.at }), source({ id: 'b' })],
      expected: 'b',
    },
    {
      name: 'the period start is inside the period',
      candidates: [source({ id: 'a', destinations: ['4420'], periodStart: call.at }), source({ id: 'b' })],
      expected: 'a',
    },
    {
      name: 'an exhausted subscription is skipped',
      candidates: [source({ id: 'a', destinations: ['4420'], freeUsed: 6000 }), source({ id: 'b', freeUsed: 5999 })],
      expected: 'b',
    },
    {
      name: 'a package without free minutes is skipped',
      candidates: [source({ id: 'a', destinations: ['4420'], freeTotal: 0 }), source({ id: 'b' })],
      expected: 'b',
    },
    {
      name: 'upstream subscriptions are never chosen directly',
      candidates: [source({ id: 'a', destinations: ['4420'], level: 1 }), source({ id: 'b' })],
      expected: 'b',
    },
    {
      name: 'none applies',
      candidates: [source({ id: 'a', destinations: ['33'] }), source({ id: 'b', applicableFor: 'INBOUND' })],
      expected: null,
    },
    { name: 'no candidates', candidates: [], expected: null },
  ] as { name: string; direction?: 'INBOUND' | 'OUTBOUND'; candidates: Pool[]; expected: string | null }[])(
    'choice: $name',
    ({ candidates, direction, expected }) => {
      const chosen = choosePool(candidates, 'VOLUME', call.number, direction ?? 'OUTBOUND', call.at);
      expect(chosen?.key ?? null).toBe(expected);
      // The candidate itself, so that what a call draws is seen by the next call of a batch.
      if (chosen) expect(candidates).toContain(chosen);
    },
  );

  it.each([
    // [free seconds granted, used, billed, drawn]
    [6000, 0, 120, 120],
    [6000, 5950, 120, 50],
    [6000, 6000, 60, 0],
    [6000, 0, 0, 0],
  ])('a pool of %i s with %i used covers min(left, billed %i) = %i', (freeTotal, freeUsed, billed, drawn) => {
    const pool = source({ id: 's', freeTotal, freeUsed });
    const plan = chargeCall(billed, 'OUTBOUND', [
      {
        accountId: 'a',
        rate: { prefix: '44', ratePerMinute: d('0.06'), connectionFee: d('0'), initialIncrement: 1, increment: 1 },
        volume: pool,
      },
    ]);
    expect('charges' in plan && plan.charges[0].freeSeconds).toBe(drawn);
    // The plan does not record the draw: the caller does, so a batch sees it.
    expect(pool.used.toNumber()).toBe(freeUsed);
  });

  it.each([
    // [rate, fee, initial, increment, duration, free seconds left, billed, free, cost]
    ['0.06', '0.10', 60, 60, 61, 50, 120, 50, '0.17'], // 0.10 + 0.06 x 70 / 60
    ['0.06', '0.10', 60, 60, 61, 200, 120, 120, '0'], // wholly covered: no connection fee
    ['0.06', '0.10', 60, 60, 61, 0, 120, 0, '0.22'], // 0.10 + 0.06 x 2
    ['0.06', '0.10', 1, 1, 61, 60, 61, 60, '0.101'], // counted in seconds: 1 s charged, 0.10 + 0.001
    ['0.06', '0.10', 60, 60, 0, 100, 0, 0, '0'],
    ['0.015', '0', 60, 60, 60, 0, 60, 0, '0.015'],
  ] as [string, string, number, number, number, number, number, number, string][])(
    'a level at %s/min + %s (%i/%i), %i s with %i free s: billed %i, free %i, cost %s',
    (rate, fee, initial, increment, duration, freeLeft, billed, free, cost) => {
      const b = billedSeconds(duration, initial, increment);
      const drawn = Math.min(freeLeft, b);
      expect([b, drawn, chargeFor({ ratePerMinute: d(rate), connectionFee: d(fee) }, b - drawn).toString()]).toEqual([
        billed,
        free,
        cost,
      ]);
    },
  );
});

describe('limits and pools (DOMAIN.md 13)', () => {
  const at = (iso: string) => new Date(iso);
  const when = at('2026-05-10T12:00:00.000Z');
  const pool = (over: Partial<Pool> & { key: string }): Pool => ({
    subscriptionId: over.key,
    limitId: over.key,
    position: 1,
    chainId: over.key,
    accountId: 'C',
    level: 0,
    seq: 1,
    periodStart: at('2026-05-01T00:00:00.000Z'),
    periodEnd: at('2026-05-31T00:00:00.000Z'),
    applicableFor: 'BOTH',
    priority: 1,
    kind: 'VOLUME',
    patterns: ['44'],
    total: d(600),
    used: d(0),
    inBundleRate: d(0),
    rejectWhenExhausted: false,
    ...over,
  });

  it.each([
    {
      name: 'a MONEY pool is never the VOLUME choice, whatever its priority',
      kind: 'VOLUME' as const,
      candidates: [pool({ key: 'm', kind: 'MONEY', priority: 1, patterns: ['4412'] }), pool({ key: 'v', priority: 9 })],
      expected: 'v',
    },
    {
      name: 'and the other way round',
      kind: 'MONEY' as const,
      candidates: [pool({ key: 'v', patterns: ['4412'] }), pool({ key: 'm', kind: 'MONEY', priority: 9 })],
      expected: 'm',
    },
    {
      name: 'an exact number beats a longer-listed prefix',
      kind: 'VOLUME' as const,
      candidates: [pool({ key: 'p', patterns: ['4412'] }), pool({ key: 'x', patterns: ['44123$'], priority: 9 })],
      expected: 'x',
    },
    {
      name: "within one subscription, the limits' order",
      kind: 'VOLUME' as const,
      candidates: [pool({ key: 'b', subscriptionId: 's', position: 2 }), pool({ key: 'a', subscriptionId: 's', position: 1 })],
      expected: 'a',
    },
    {
      name: 'an empty MONEY pool is skipped',
      kind: 'MONEY' as const,
      candidates: [
        pool({ key: 'e', kind: 'MONEY', total: d('1.5'), used: d('1.5'), patterns: ['4412'] }),
        pool({ key: 'f', kind: 'MONEY' }),
      ],
      expected: 'f',
    },
  ])('choice: $name', ({ kind, candidates, expected }) => {
    expect(choosePool(candidates, kind, '44123', 'OUTBOUND', when)?.key ?? null).toBe(expected);
  });

  const perSecond = (ratePerMinute: string, connectionFee = '0') => ({
    prefix: '44',
    ratePerMinute: d(ratePerMinute),
    connectionFee: d(connectionFee),
    initialIncrement: 1,
    increment: 1,
  });
  it.each([
    // [case, duration, rate, fee, VOLUME (left, in-bundle rate), MONEY left, expected: free, charged s, balance, money]
    ['free seconds then the rate', 90, '0.06', '0', [60, '0'], null, [60, 30, '0.03', '0']],
    ['in-bundle seconds at their rate, connection fee as usual', 90, '0.06', '0.05', [60, '0.01'], null, [60, 90, '0.09', '0']],
    ['in-bundle only, fee charged', 30, '0.06', '0.05', [60, '0.01'], null, [30, 30, '0.055', '0']],
    ['wholly free: no connection fee', 30, '0.06', '0.05', [60, '0'], null, [30, 0, '0', '0']],
    ['money pays the whole charge', 60, '0.06', '0', null, '1', [0, 60, '0', '0.06']],
    ['money pays part, the balance the rest', 120, '0.06', '0', null, '0.10', [0, 120, '0.02', '0.1']],
    ['volume, then money for the rest', 120, '0.06', '0', [60, '0'], '0.02', [60, 60, '0.04', '0.02']],
    ['nothing charged: money untouched', 30, '0.06', '0', [60, '0'], '1', [30, 0, '0', '0']],
  ] as [string, number, string, string, [number, string] | null, string | null, [number, number, string, string]][])(
    '%s',
    (_name, duration, rate, fee, volume, money, [free, charged, amount, fromMoney]) => {
      const plan = chargeCall(duration, 'OUTBOUND', [
        {
          accountId: 'a',
          rate: perSecond(rate, fee),
          volume: volume
            ? { key: 'v', subscriptionId: 's', limitId: 'v', total: d(volume[0]), used: d(0), inBundleRate: d(volume[1]) }
            : undefined,
          money: money ? { key: 'm', subscriptionId: 's', limitId: 'm', total: d(money), used: d(0) } : undefined,
        },
      ]);
      if (!('charges' in plan)) throw new Error('no rate');
      const [c] = plan.charges;
      expect([c.freeSeconds, c.chargedSeconds, c.amount.toFixed(), c.moneyAmount.toFixed()]).toEqual([
        free,
        charged,
        amount,
        fromMoney,
      ]);
      expect(c.money?.key ?? null).toBe(c.moneyAmount.gt(0) ? 'm' : null);
    },
  );

  it.each([
    // [rate, fee, volume left, in-bundle rate, money, billed seconds the money reaches (null: no limit)]
    ['0.06', '0', 60, '0.01', '0.005', 30], // 0.005 buys 30 s in the bundle only
    ['0.06', '0', 60, '0.01', '0.07', 120], // 60 s in the bundle (0.01), 0.06 buys 60 more
    ['0.06', '0.05', 60, '0.01', '0.04', 0], // the fee comes first
    ['0', '0', 60, '0.01', '1', null], // after the bundle the rate is free
    ['0.06', '0', 60, '0', '0.06', 120],
  ] as [string, string, number, string, string, number | null][])(
    'secondsBudget at %s/min + %s with %i s at %s/min and %s money: %s',
    (rate, fee, left, inBundle, money, expected) => {
      expect(
        secondsBudget({ ratePerMinute: d(rate), connectionFee: d(fee) }, { left, inBundleRate: d(inBundle) }, d(money)),
      ).toBe(expected);
    },
  );

  const limit = (amount: number, carryOver = true) => ({ amount: d(amount), carryOver });
  const written = (periodNumber: number, total: number, used: number, carriedOver: number) => ({
    periodNumber,
    total: d(total),
    used: d(used),
    carriedOver: d(carriedOver),
  });
  it.each([
    // [case, limit, counters as written, current period, expected total, used, carried]
    ['never written: the allowance', limit(100), null, 3, [100, 0, 0]],
    ['the same period: as written', limit(100), written(2, 170, 20, 70), 2, [170, 20, 70]],
    ['the next period: what is left of the own allowance', limit(100), written(1, 100, 30, 0), 2, [170, 0, 70]],
    ['carried seconds never carry again', limit(100), written(2, 170, 150, 70), 3, [120, 0, 20]],
    ['at most the own allowance', limit(100), written(2, 170, 0, 70), 3, [200, 0, 100]],
    ['a period without calls carries its whole allowance', limit(100), written(2, 170, 150, 70), 4, [200, 0, 100]],
    ['without carryOver: the allowance again', limit(100, false), written(1, 100, 30, 0), 2, [100, 0, 0]],
    ['all used: nothing carries', limit(100), written(1, 100, 100, 0), 2, [100, 0, 0]],
  ] as [string, ReturnType<typeof limit>, ReturnType<typeof written> | null, number, [number, number, number]][])(
    'periodPool: %s',
    (_name, terms, usage, period, [total, used, carried]) => {
      const p = periodPool(terms, usage, period);
      expect([p.total.toNumber(), p.used.toNumber(), p.carriedOver.toNumber()]).toEqual([total, used, carried]);
    },
  );

  it('rejectingPools: the rejecting pools that cover the call, full or empty, at the customer level only', () => {
    const reject = (over: Partial<Pool> & { key: string }) => pool({ rejectWhenExhausted: true, ...over });
    const keys = (candidates: Pool[]) => rejectingPools(candidates, '44123', 'OUTBOUND', when).map((p) => p.key);
    expect(keys([reject({ key: 'empty', used: d(600) }), reject({ key: 'full' }), pool({ key: 'open' })])).toEqual([
      'empty',
      'full',
    ]);
    expect(keys([reject({ key: 'other', patterns: ['33'] })])).toEqual([]);
    expect(keys([reject({ key: 'upstream', level: 1 })])).toEqual([]);
    expect(keys([reject({ key: 'inbound', applicableFor: 'INBOUND' })])).toEqual([]);
    expect(keys([reject({ key: 'ended', periodEnd: when })])).toEqual([]);
  });
});

describe('packages: prices, commissions, refunds (DOMAIN.md 3, 4, 6)', () => {
  const rules = [
    { fromActivation: 4, amount: '3' },
    { fromActivation: 2, amount: '1' },
  ];
  it.each([
    // [price, discount rules, period number, price charged]
    ['10', rules, 1, '10'],
    ['10', rules, 2, '9'],
    ['10', rules, 3, '9'],
    ['10', rules, 4, '7'], // the rule of the latest period reached applies, whatever the order of the rules
    ['10', rules, 12, '7'],
    ['10', [], 5, '10'],
    ['1', [{ fromActivation: 2, amount: '5' }], 2, '0'], // never below 0
    ['10', [{ fromActivation: 2, amount: '0.33335' }], 2, '9.6667'], // 9.66665, half-up
    ['9.99995', [], 1, '10'],
  ] as [string, { fromActivation: number; amount: string }[], number, string][])(
    'discountedPrice(%s, %j, %i) = %s',
    (price, discounts, n, expected) => {
      expect(discountedPrice(d(price), discounts, n).toString()).toBe(expected);
    },
  );

  it.each([
    // [rate %, fee charged, commission]
    ['10', '10', '1'], // DOMAIN.md 4: 10 % of 10.00
    ['10', '11', '1.1'], // setup 1.00 + price 10.00
    ['7.5', '13.33', '0.9998'], // 0.99975, half-up
    ['0', '25', '0'],
    ['12.5', '0.0004', '0.0001'], // 0.00005, half-up
    ['3', '0.0001', '0'],
  ])('commissionOn(%s %%, %s) = %s', (rate, charged, commission) => {
    expect(commissionOn(d(rate), d(charged)).toString()).toBe(commission);
  });

  it('commission is computed on setup fee + price and rounded once', () => {
    // 12.5 % of 0.0004 is 0.00005 (0.0001 each, 0.0002 in all), of 0.0008 it is 0.0001.
    expect(commissionOn(d('12.5'), d('0.0004').plus('0.0004')).toString()).toBe('0.0001');
  });

  const start = at('2026-05-01T00:00:00.000Z');
  const base = {
    chargeType: 'FULL' as const,
    price: d('28'),
    periodStart: start,
    periodEnd: new Date(start.getTime() + 28 * DAY),
    at: new Date(start.getTime() + 6 * DAY + HOUR),
    freeSecondsTotal: 6000,
    freeSecondsUsed: 3600,
  };
  it.each([
    // DOMAIN.md 6: 28 days, 28.00, 100 free minutes, terminated 6 days 1 hour in with 60 minutes used.
    { name: 'example: FULL', over: { chargeType: 'FULL' }, refund: '0' },
    { name: 'example: UTILIZED_DAYS', over: { chargeType: 'UTILIZED_DAYS' }, refund: '21' }, // 28 x (28 - 7) / 28
    { name: 'example: UTILIZED_MINUTES', over: { chargeType: 'UTILIZED_MINUTES' }, refund: '11.2' }, // 28 x 2400 / 6000
    { name: 'example: HIGHEST_UTILIZATION', over: { chargeType: 'HIGHEST_UTILIZATION' }, refund: '11.2' },
    {
      name: 'UTILIZED_DAYS, exactly 6 days used',
      over: { chargeType: 'UTILIZED_DAYS', at: new Date(start.getTime() + 6 * DAY) },
      refund: '22',
    },
    {
      name: 'UTILIZED_DAYS, a moment in counts a whole day',
      over: { chargeType: 'UTILIZED_DAYS', at: new Date(start.getTime() + 1) },
      refund: '27',
    },
    { name: 'UTILIZED_DAYS at the period start: all of it', over: { chargeType: 'UTILIZED_DAYS', at: start }, refund: '28' },
    {
      name: 'UTILIZED_DAYS past the period end: nothing, never negative',
      over: { chargeType: 'UTILIZED_DAYS', at: new Date(start.getTime() + 40 * DAY) },
      refund: '0',
    },
    {
      name: 'UTILIZED_DAYS of a 31-day month',
      over: {
        chargeType: 'UTILIZED_DAYS',
        price: d('31'),
        periodEnd: at('2026-06-01T00:00:00.000Z'),
        at: new Date(start.getTime() + 10.5 * DAY),
      },
      refund: '20', // 31 x (31 - 11) / 31
    },
    {
      name: 'UTILIZED_DAYS of a discounted price',
      over: {
        chargeType: 'UTILIZED_DAYS',
        price: d('8.5'),
        periodEnd: new Date(start.getTime() + 30 * DAY),
        at: new Date(start.getTime() + 10 * DAY + 1000),
      },
      refund: '5.3833', // 8.5 x 19 / 30 = 5.38333...
    },
    { name: 'UTILIZED_MINUTES, none used', over: { chargeType: 'UTILIZED_MINUTES', freeSecondsUsed: 0 }, refund: '28' },
    { name: 'UTILIZED_MINUTES, all used', over: { chargeType: 'UTILIZED_MINUTES', freeSecondsUsed: 6000 }, refund: '0' },
    {
      name: 'UTILIZED_MINUTES, more used than granted',
      over: { chargeType: 'UTILIZED_MINUTES', freeSecondsUsed: 6060 },
      refund: '0',
    },
    {
      name: 'UTILIZED_MINUTES without free minutes counts as fully used',
      over: { chargeType: 'UTILIZED_MINUTES', freeSecondsTotal: 0, freeSecondsUsed: 0 },
      refund: '0',
    },
    {
      name: 'UTILIZED_MINUTES rounds half-up to 4 places',
      over: { chargeType: 'UTILIZED_MINUTES', price: d('9.99'), freeSecondsUsed: 1 },
      refund: '9.9883', // 9.99 x 5999 / 6000 = 9.988335
    },
    {
      name: 'UTILIZED_MINUTES rounds a half up',
      over: { chargeType: 'UTILIZED_MINUTES', price: d('0.0003'), freeSecondsUsed: 3000 },
      refund: '0.0002', // 0.00015
    },
    {
      name: 'HIGHEST_UTILIZATION takes the days when they are used more',
      over: { chargeType: 'HIGHEST_UTILIZATION', freeSecondsUsed: 60 },
      refund: '21', // days 7/28 > minutes 60/6000
    },
    {
      name: 'HIGHEST_UTILIZATION without free minutes',
      over: { chargeType: 'HIGHEST_UTILIZATION', freeSecondsTotal: 0, freeSecondsUsed: 0 },
      refund: '0',
    },
    { name: 'a price of 0', over: { chargeType: 'UTILIZED_DAYS', price: d('0'), at: start }, refund: '0' },
  ] as { name: string; over: Partial<Parameters<typeof refundFor>[0]>; refund: string }[])(
    'refund: $name',
    ({ over, refund }) => {
      expect(refundFor({ ...base, ...over }).toString()).toBe(refund);
    },
  );

  it.each([
    // [commission credited, rate %, refund, commission reversed]
    ['1.1', '10', '5', '0.5'], // in proportion to the refund
    ['1', '10', '10', '1'],
    ['0.85', '10', '8.5', '0.85'], // a period paid ahead comes back whole
    ['0.5', '10', '10', '0.5'], // never more than was credited
    ['0', '10', '10', '0'], // a MARGIN level got none
    ['1.1', '10', '0', '0'],
    ['2', '7.5', '13.33', '0.9998'], // 0.99975, rounded once
  ])('commissionReversal(%s, %s %%, %s) = %s', (commission, rate, refund, reversal) => {
    expect(commissionReversal(d(commission), d(rate), d(refund)).toString()).toBe(reversal);
  });

  it.each([
    // [balance, credit limit, charge, affordable]
    ['50', '0', '16', true], // DOMAIN.md 4 margin example: C pays 1.00 + 15.00
    ['100', '0', '13', true], // R2 pays 1.00 + 12.00
    ['20', '0', '10', true], // commission example: C pays 10.00
    ['15', '0', '16', false],
    ['-5', '20', '15', true], // exactly enough, with the credit limit
    ['-5', '20', '15.0001', false],
    ['0', '0', '0', true],
  ])('balance %s + credit %s against %s: %s', (balance, credit, charge, ok) => {
    expect(canAfford(availableFunds(d(balance), d(credit)), d(charge))).toBe(ok);
  });
});

describe('sale dates', () => {
  const at = (iso: string) => new Date(iso);
  it('from the start date, inclusive, until the end date, exclusive; either may be absent', () => {
    const terms = { startDate: at('2026-03-01T00:00:00Z'), endDate: at('2026-04-01T00:00:00Z') };
    expect(withinSaleDates(terms, at('2026-02-28T23:59:59Z'))).toBe(false);
    expect(withinSaleDates(terms, at('2026-03-01T00:00:00Z'))).toBe(true);
    expect(withinSaleDates(terms, at('2026-03-31T23:59:59Z'))).toBe(true);
    expect(withinSaleDates(terms, at('2026-04-01T00:00:00Z'))).toBe(false);
    expect(withinSaleDates({ startDate: null, endDate: null }, at('1999-01-01T00:00:00Z'))).toBe(true);
  });
});

describe('minimum spend (DOMAIN.md 13)', () => {
  const d = (v: string) => new Decimal(v);
  it('the price less the usage, never below 0: the ConnexCS example', () => {
    expect(minimumSpendShortfall(d('50'), d('25')).toFixed()).toBe('25');
    expect(minimumSpendShortfall(d('50'), d('60')).toFixed()).toBe('0');
    expect(minimumSpendShortfall(d('50'), d('50')).toFixed()).toBe('0');
    expect(minimumSpendShortfall(d('50'), d('0.0001')).toFixed()).toBe('49.9999');
  });

  it('a commitment with its taxes in it is compared by its net part; the shortfall is taxed on top', () => {
    const vat = [{ taxRateId: 'vat', percent: d('20') }];
    const short = minimumSpendCharge(d('60'), true, d('40'), vat);
    expect([short.net.toFixed(), short.taxes.map((t) => t.amount.toFixed())]).toEqual(['10', ['2']]);
    expect(minimumSpendCharge(d('60'), true, d('50'), vat).net.toFixed()).toBe('0');
    const exclusive = minimumSpendCharge(d('50'), false, d('25'), vat);
    expect([exclusive.net.toFixed(), exclusive.taxes.map((t) => t.amount.toFixed())]).toEqual(['25', ['5']]);
  });
});

describe('a chain: first charges and termination refunds (DOMAIN.md 4, 6)', () => {
  const d = (v: string) => new Decimal(v);
  it.each([
    // [case, level, package (setup, price, rate), reseller model, expected (setup, price, rate, commission)]
    ['the customer never earns', 0, ['1', '10', '10'], 'COMMISSION', ['1', '10', '0', '0']],
    ['worked example (margin): R1 pays 1.00 + 10.00', 2, ['1', '10', '0'], 'MARGIN', ['1', '10', '0', '0']],
    ['worked example (commission): 10 % of 10.00', 1, ['0', '10', '10'], 'COMMISSION', ['0', '10', '10', '1']],
    [
      'commission on setup fee + price, rounded once',
      1,
      ['0.333', '3.3333', '12.5'],
      'COMMISSION',
      ['0.333', '3.3333', '12.5', '0.4583'],
    ],
    ['prices rounded half-up to 4 places', 1, ['0.00005', '1.23456', '0'], 'MARGIN', ['0.0001', '1.2346', '0', '0']],
  ] as [string, number, string[], string, string[]][])('%s', (_name, level, [setupFee, price, rate], model, expected) => {
    const charge = firstCharge(level, { setupFee: d(setupFee), price: d(price), commissionRate: d(rate) }, model);
    expect([charge.setupFee, charge.price, charge.commissionRate, charge.commission].map((x) => x.toFixed())).toEqual(expected);
  });

  // DOMAIN.md 6: 28 days, price 28.00, 100 free minutes, terminated 6 days and 1 hour in with 60 minutes used.
  const start = new Date('2026-03-01T00:00:00.000Z');
  const period = {
    subscriptionId: 's',
    periodNumber: 1,
    price: d('28'),
    commission: d('2.8'),
    commissionRate: d('10'),
    current: true,
    taxes: [],
    periodStart: start,
    periodEnd: new Date(start.getTime() + 28 * 86_400_000),
    freeSecondsTotal: 6000,
    freeSecondsUsed: 3600,
  };
  const at = new Date(start.getTime() + 6 * 86_400_000 + 3_600_000);
  it.each([
    ['FULL', '0', '0'],
    ['UTILIZED_DAYS', '21', '2.1'],
    ['UTILIZED_MINUTES', '11.2', '1.12'],
    ['HIGHEST_UTILIZATION', '11.2', '1.12'],
  ] as const)('the worked example, %s: refund %s, commission reversed %s', (chargeType, refund, reversal) => {
    const result = periodRefund(period, chargeType, at);
    expect([result.refund.toFixed(), result.reversal.toFixed()]).toEqual([refund, reversal]);
  });

  it('a period paid ahead comes back whole, whatever the charge type', () => {
    const result = periodRefund({ ...period, periodNumber: 2, current: false }, 'FULL', at);
    expect([result.refund.toFixed(), result.reversal.toFixed()]).toEqual(['28', '2.8']);
  });
});

describe('periods (DOMAIN.md 3, 4)', () => {
  it.each([
    // [billing type, billing days, activated at, period number, period end]
    ['RECURRING', 30, '2026-01-15T08:00:00.000Z', 1, '2026-02-14T08:00:00.000Z'],
    ['RECURRING', 30, '2026-01-15T08:00:00.000Z', 2, '2026-03-16T08:00:00.000Z'],
    ['RECURRING', 1, '2026-03-29T00:30:00.000Z', 1, '2026-03-30T00:30:00.000Z'], // exact 24 h, no local time
    ['RECURRING', 30, '2026-01-15T08:00:00.000Z', 0, '2026-01-15T08:00:00.000Z'],
    ['ONE_TIME', 7, '2026-02-25T12:00:00.000Z', 1, '2026-03-04T12:00:00.000Z'],
    ['MONTHLY', 30, '2028-01-31T23:59:59.999Z', 1, '2028-02-29T23:59:59.999Z'], // clamped, leap year
    ['MONTHLY', 30, '2028-01-31T23:59:59.999Z', 2, '2028-03-31T23:59:59.999Z'], // back to the activation day
    ['MONTHLY', 30, '2026-08-30T06:00:00.000Z', 6, '2027-02-28T06:00:00.000Z'],
    ['MONTHLY', 30, '2026-08-30T06:00:00.000Z', 7, '2027-03-30T06:00:00.000Z'],
    ['MONTHLY', 1, '2026-12-15T12:00:00.000Z', 1, '2027-01-15T12:00:00.000Z'], // billing days do not matter
    ['MONTHLY', 1, '2026-05-31T00:00:00.000Z', 12, '2027-05-31T00:00:00.000Z'],
  ] as ['RECURRING' | 'ONE_TIME' | 'MONTHLY', number, string, number, string][])(
    '%s (%i days) from %s: period %i ends %s',
    (billingType, billingDays, activatedAt, n, end) => {
      expect(periodEnd(billingType, billingDays, at(activatedAt), n).toISOString()).toBe(end);
    },
  );

  it('months can be counted back, clamped too; a day is 24 h', () => {
    expect(addMonthsClamped(at('2026-03-31T09:00:00.000Z'), -1).toISOString()).toBe('2026-02-28T09:00:00.000Z');
    expect(DAY_MS).toBe(DAY);
  });
});

describe('renewals (DOMAIN.md 6)', () => {
  // A 30-day RECURRING chain activated on Jan 1: its periods end 30, 60, 90, 120 days later.
  const JAN1 = at('2026-01-01T00:00:00.000Z');
  const E1 = at('2026-01-31T00:00:00.000Z');
  const E2 = at('2026-03-02T00:00:00.000Z'); // January 31 + 30 days (February has 28)
  const E3 = at('2026-04-01T00:00:00.000Z');
  const E4 = at('2026-05-01T00:00:00.000Z');
  const ADVANCE = 72;

  const chain = (over: Partial<RenewalChain> = {}): RenewalChain => ({
    status: 'ACTIVE',
    renewRetryHours: null,
    didHoldDays: 0,
    holdsDids: false,
    activatedAt: JAN1,
    currentPeriodStart: JAN1,
    currentPeriodEnd: E1,
    periodsCharged: 1,
    currentPeriodNumber: 1,
    billingType: 'RECURRING',
    billingDays: 30,
    freeMinutes: 100,
    releaseIfNoBalance: false,
    discounts: [],
    endDate: null,
    advanceRenewHours: 0,
    ...over,
  });
  // The same chain paid ahead: period 2 charged, period 1 still current.
  const paidAhead = (over: Partial<RenewalChain> = {}) => chain({ periodsCharged: 2, advanceRenewHours: ADVANCE, ...over });

  const level = (
    level: number,
    accountId: string,
    price: string,
    resellerModel: RenewalLevel['resellerModel'] = null,
    rate = '0',
  ): RenewalLevel => ({
    subscriptionId: `s${accountId}`,
    level,
    accountId,
    packageId: `p${accountId}`,
    price: d(price),
    commissionRate: d(rate),
    resellerModel,
    taxes: [],
    taxInclusive: false,
  });
  // DOMAIN.md 4 margin example: C buys R2's package (15.00), R2 holds R1's clone (12.00), R1 the admin's (10.00).
  const margin = [level(0, 'C', '15'), level(1, 'R2', '12', 'MARGIN'), level(2, 'R1', '10', 'MARGIN')];
  // ... and the balances after that purchase: C 50 - 16, R2 100 - 13, R1 100 - 11.
  const afterPurchase = { C: '34', R2: '87', R1: '89' };
  // DOMAIN.md 4 commission example: admin package 10.00 at 10 %; C 20 - 10, R1 50 - 10 + 1.00.
  const commission = [level(0, 'C', '10'), level(1, 'R1', '10', 'COMMISSION', '10')];

  const funds = (balances: Record<string, string | [string, string]>): Map<string, Funds> =>
    new Map(
      Object.entries(balances).map(([id, b]) => {
        const [balance, credit] = typeof b === 'string' ? [b, '0'] : b;
        return [id, { balance: d(balance), creditLimit: d(credit) }];
      }),
    );
  const iso = (x: Date | null) => x?.toISOString() ?? null;
  const summary = (plan: RenewalPlan) => ({
    status: plan.outcome.status,
    changed: plan.outcome.changed,
    chargedAny: plan.outcome.chargedAny,
    periodsCharged: plan.outcome.periodsCharged,
    current: plan.outcome.currentPeriodNumber,
    period: [iso(plan.outcome.periodStart), iso(plan.outcome.periodEnd)],
    reset: plan.outcome.freeSecondsReset,
    endedAt: iso(plan.outcome.endedAt),
    postings: plan.postings.map((p) => [p.periodNumber, p.accountId, p.kind, p.amount.toString(), p.balanceAfter.toString()]),
    balances: Object.fromEntries([...plan.balances].map(([id, f]) => [id, f.balance.toString()])),
  });
  type Posted = [number, string, 'RENEWAL_FEE' | 'COMMISSION', string, string];
  const fees = (n: number, c: string, r2: string, r1: string): Posted[] => [
    [n, 'C', 'RENEWAL_FEE', '-15', c],
    [n, 'R2', 'RENEWAL_FEE', '-12', r2],
    [n, 'R1', 'RENEWAL_FEE', '-10', r1],
  ];
  const unchanged = (c: RenewalChain) => ({
    status: 'ACTIVE',
    changed: false,
    chargedAny: false,
    periodsCharged: c.periodsCharged,
    current: c.currentPeriodNumber,
    period: [iso(c.currentPeriodStart), iso(c.currentPeriodEnd)],
    reset: false,
    endedAt: null,
    postings: [],
  });
  const JAN8 = new Date(JAN1.getTime() + 7 * DAY);

  it.each([
    {
      name: 'renews one period at its end, from the previous end, every level bottom-up',
      chain: chain(),
      balances: afterPurchase,
      asOf: E1,
      expected: {
        status: 'ACTIVE',
        changed: true,
        chargedAny: true,
        periodsCharged: 2,
        current: 2,
        period: [iso(E1), iso(E2)],
        reset: true,
        endedAt: null,
        postings: fees(2, '19', '75', '79'), // 34 - 15, 87 - 12, 89 - 10: no setup fee
        balances: { C: '19', R2: '75', R1: '79' },
      },
    },
    {
      name: 'levels given in any order post bottom-up',
      chain: chain(),
      levels: [...margin].reverse(),
      balances: afterPurchase,
      asOf: E1,
      expected: { periodsCharged: 2, postings: fees(2, '19', '75', '79') },
    },
    {
      name: 'is not due a millisecond before its end',
      chain: chain(),
      balances: afterPurchase,
      asOf: new Date(E1.getTime() - 1),
      expected: { ...unchanged(chain()), balances: { C: '34', R2: '87', R1: '89' } },
    },
    {
      name: 'catches up three missed periods, oldest first, and charges them regardless of balance',
      chain: chain(),
      balances: afterPurchase,
      asOf: E3,
      expected: {
        status: 'ACTIVE',
        changed: true,
        chargedAny: true,
        periodsCharged: 4,
        current: 4,
        period: [iso(E3), iso(E4)],
        reset: true,
        endedAt: null,
        // C: 34 -> 19 -> 4 -> -11 (short for period 4, charged anyway)
        postings: [...fees(2, '19', '75', '79'), ...fees(3, '4', '63', '69'), ...fees(4, '-11', '51', '59')],
        balances: { C: '-11', R2: '51', R1: '59' },
      },
    },
    {
      name: 'catches up only to the period that contains asOf',
      chain: chain(),
      balances: afterPurchase,
      asOf: new Date(E3.getTime() - 1),
      expected: { periodsCharged: 3, current: 3, period: [iso(E2), iso(E3)], balances: { C: '4', R2: '63', R1: '69' } },
    },
    ...[
      { who: 'the customer', balances: { ...afterPurchase, C: '14.99' } },
      { who: 'the reseller above it', balances: { ...afterPurchase, R2: '11.99' } },
      { who: 'the top reseller', balances: { ...afterPurchase, R1: '9.99' } },
    ].map(({ who, balances }) => ({
      name: `releases the whole chain at its period end when ${who} is short, with release if no balance`,
      chain: chain({ releaseIfNoBalance: true }),
      balances,
      asOf: E1,
      expected: {
        status: 'RELEASED',
        changed: true,
        chargedAny: false,
        periodsCharged: 1,
        current: 1,
        period: [iso(JAN1), iso(E1)],
        reset: false,
        endedAt: iso(E1),
        postings: [],
        balances,
      },
    })),
    {
      name: 'renews with exactly enough available, counting the credit limit',
      chain: chain({ releaseIfNoBalance: true }),
      balances: { ...afterPurchase, C: ['10', '5'] as [string, string] },
      asOf: E1,
      expected: { status: 'ACTIVE', periodsCharged: 2, postings: fees(2, '-5', '75', '79') },
    },
    {
      name: 'charges a short level anyway without release if no balance',
      chain: chain(),
      balances: { ...afterPurchase, C: '10' },
      asOf: E1,
      expected: { status: 'ACTIVE', periodsCharged: 2, postings: fees(2, '-5', '75', '79') },
    },
    {
      name: 'catches up, then releases at the first period a level cannot pay',
      chain: chain({ releaseIfNoBalance: true }),
      balances: afterPurchase,
      asOf: E3,
      expected: {
        status: 'RELEASED',
        changed: true,
        chargedAny: true,
        periodsCharged: 3,
        current: 3,
        period: [iso(E2), iso(E3)],
        reset: true,
        endedAt: iso(E3), // C holds 4.00 for period 4's 15.00
        postings: [...fees(2, '19', '75', '79'), ...fees(3, '4', '63', '69')],
        balances: { C: '4', R2: '63', R1: '69' },
      },
    },
    {
      name: 'ONE_TIME expires at its period end and charges nothing',
      chain: chain({ billingType: 'ONE_TIME', billingDays: 7, currentPeriodEnd: JAN8 }),
      balances: afterPurchase,
      asOf: JAN8,
      expected: {
        status: 'EXPIRED',
        changed: true,
        chargedAny: false,
        periodsCharged: 1,
        current: 1,
        period: [iso(JAN1), iso(JAN8)],
        reset: false,
        endedAt: iso(JAN8),
        postings: [],
        balances: { C: '34', R2: '87', R1: '89' },
      },
    },
    {
      name: 'ONE_TIME runs until its period end',
      chain: chain({ billingType: 'ONE_TIME', billingDays: 7, currentPeriodEnd: JAN8 }),
      balances: afterPurchase,
      asOf: new Date(JAN8.getTime() - 1),
      expected: unchanged(chain({ billingType: 'ONE_TIME', billingDays: 7, currentPeriodEnd: JAN8 })),
    },
    {
      name: 'ONE_TIME ends at its period end whatever the advance-renew hours',
      chain: chain({ billingType: 'ONE_TIME', billingDays: 7, currentPeriodEnd: JAN8, advanceRenewHours: 48 }),
      balances: afterPurchase,
      asOf: new Date(JAN8.getTime() - HOUR),
      expected: { status: 'ACTIVE', changed: false, postings: [] },
    },
    {
      name: "expires at the period end when the package's end date falls in that period",
      chain: chain({ endDate: at('2026-01-20T00:00:00.000Z') }),
      balances: afterPurchase,
      asOf: E1,
      expected: { status: 'EXPIRED', changed: true, chargedAny: false, periodsCharged: 1, endedAt: iso(E1), postings: [] },
    },
    {
      name: 'an end date exactly at the period end expires it',
      chain: chain({ endDate: E1 }),
      balances: afterPurchase,
      asOf: E1,
      expected: { status: 'EXPIRED', endedAt: iso(E1), postings: [] },
    },
    {
      name: 'an end date in the next period: renews into it, then expires at its end',
      chain: chain({ endDate: at('2026-02-15T00:00:00.000Z') }),
      balances: afterPurchase,
      asOf: E2,
      expected: {
        status: 'EXPIRED',
        changed: true,
        chargedAny: true,
        periodsCharged: 2,
        current: 2,
        period: [iso(E1), iso(E2)],
        reset: true,
        endedAt: iso(E2),
        postings: fees(2, '19', '75', '79'),
      },
    },
    {
      name: 'advance renew: not due before its hours',
      chain: chain({ advanceRenewHours: ADVANCE }),
      balances: afterPurchase,
      asOf: new Date(E1.getTime() - ADVANCE * HOUR - 1),
      expected: unchanged(chain({ advanceRenewHours: ADVANCE })),
    },
    {
      name: 'advance renew: charges the next period early, the running one stays current',
      chain: chain({ advanceRenewHours: ADVANCE }),
      balances: afterPurchase,
      asOf: new Date(E1.getTime() - ADVANCE * HOUR),
      expected: {
        status: 'ACTIVE',
        changed: true,
        chargedAny: true,
        periodsCharged: 2,
        current: 1,
        period: [iso(JAN1), iso(E1)],
        reset: false,
        endedAt: null,
        postings: fees(2, '19', '75', '79'),
      },
    },
    {
      name: 'advance renew: a period paid ahead waits for its boundary',
      chain: paidAhead(),
      balances: { C: '19', R2: '75', R1: '79' },
      asOf: new Date(E1.getTime() - 1),
      expected: unchanged(paidAhead()),
    },
    {
      name: 'advance renew: at the boundary it switches to the paid period without charging again',
      chain: paidAhead(),
      balances: { C: '19', R2: '75', R1: '79' },
      asOf: E1,
      expected: {
        status: 'ACTIVE',
        changed: true,
        chargedAny: false,
        periodsCharged: 2,
        current: 2,
        period: [iso(E1), iso(E2)],
        reset: true,
        endedAt: null,
        postings: [],
        balances: { C: '19', R2: '75', R1: '79' },
      },
    },
    {
      name: 'advance renew: switches, then charges the following period early',
      chain: paidAhead(),
      balances: { C: '19', R2: '75', R1: '79' },
      asOf: new Date(E2.getTime() - ADVANCE * HOUR),
      expected: {
        status: 'ACTIVE',
        chargedAny: true,
        periodsCharged: 3,
        current: 2,
        period: [iso(E1), iso(E2)],
        reset: true,
        postings: fees(3, '4', '63', '69'),
      },
    },
    {
      name: 'MONTHLY: the next period ends on the activation day, clamped',
      chain: chain({
        billingType: 'MONTHLY',
        activatedAt: at('2026-01-31T10:00:00.000Z'),
        currentPeriodStart: at('2026-01-31T10:00:00.000Z'),
        currentPeriodEnd: at('2026-02-28T10:00:00.000Z'),
      }),
      balances: afterPurchase,
      asOf: at('2026-02-28T10:00:00.000Z'),
      expected: { periodsCharged: 2, current: 2, period: ['2026-02-28T10:00:00.000Z', '2026-03-31T10:00:00.000Z'] },
    },
    {
      name: 'a COMMISSION reseller is charged its price and credited its commission (DOMAIN.md 4 example)',
      chain: chain({ releaseIfNoBalance: true }),
      levels: commission,
      balances: { C: '10', R1: '41' },
      asOf: E1,
      expected: {
        status: 'ACTIVE',
        periodsCharged: 2,
        postings: [
          [2, 'C', 'RENEWAL_FEE', '-10', '0'], // exactly enough
          [2, 'R1', 'RENEWAL_FEE', '-10', '31'],
          [2, 'R1', 'COMMISSION', '1', '32'], // 10 % of 10.00
        ],
        balances: { C: '0', R1: '32' },
      },
    },
    {
      name: 'a MARGIN reseller earns no commission, whatever the rate',
      chain: chain(),
      levels: [level(0, 'C', '10'), level(1, 'R1', '10', 'MARGIN', '10')],
      balances: { C: '10', R1: '41' },
      asOf: E1,
      expected: {
        postings: [
          [2, 'C', 'RENEWAL_FEE', '-10', '0'],
          [2, 'R1', 'RENEWAL_FEE', '-10', '31'],
        ],
      },
    },
    {
      name: 'the customer level never earns a commission',
      chain: chain(),
      levels: [level(0, 'C', '10', 'COMMISSION', '10'), level(1, 'R1', '10', 'COMMISSION', '10')],
      balances: { C: '10', R1: '41' },
      asOf: E1,
      expected: {
        postings: [
          [2, 'C', 'RENEWAL_FEE', '-10', '0'],
          [2, 'R1', 'RENEWAL_FEE', '-10', '31'],
          [2, 'R1', 'COMMISSION', '1', '32'],
        ],
      },
    },
    {
      name: 'discounts by period number, commission on the discounted price',
      chain: chain({
        discounts: [
          { fromActivation: 2, amount: '1.5' },
          { fromActivation: 4, amount: '3' },
        ],
      }),
      levels: commission,
      balances: { C: '100', R1: '100' },
      asOf: E3,
      expected: {
        periodsCharged: 4,
        postings: [
          [2, 'C', 'RENEWAL_FEE', '-8.5', '91.5'],
          [2, 'R1', 'RENEWAL_FEE', '-8.5', '91.5'],
          [2, 'R1', 'COMMISSION', '0.85', '92.35'],
          [3, 'C', 'RENEWAL_FEE', '-8.5', '83'],
          [3, 'R1', 'RENEWAL_FEE', '-8.5', '83.85'],
          [3, 'R1', 'COMMISSION', '0.85', '84.7'],
          [4, 'C', 'RENEWAL_FEE', '-7', '76'],
          [4, 'R1', 'RENEWAL_FEE', '-7', '77.7'],
          [4, 'R1', 'COMMISSION', '0.7', '78.4'],
        ],
        balances: { C: '76', R1: '78.4' },
      },
    },
    {
      name: 'a price discounted to 0 is a period charged with no ledger entry',
      chain: chain({ discounts: [{ fromActivation: 2, amount: '5' }] }),
      levels: [level(0, 'C', '1')],
      balances: { C: '0' },
      asOf: E1,
      expected: { status: 'ACTIVE', chargedAny: true, periodsCharged: 2, postings: [], balances: { C: '0' } },
    },
  ] as {
    name: string;
    chain: RenewalChain;
    levels?: RenewalLevel[];
    balances: Record<string, string | [string, string]>;
    asOf: Date;
    expected: Partial<ReturnType<typeof summary>>;
  }[])('$name', ({ chain: c, levels, balances, asOf, expected }) => {
    const given = funds(balances);
    const plan = planChainRenewal(c, levels ?? margin, given, asOf);
    expect(summary(plan)).toMatchObject(expected);
    expect(plan.outcome.freeSecondsTotal).toBe(6000);
    // The balances given are read, never changed.
    expect([...given].map(([id, f]) => [id, f.balance.toString()])).toEqual(
      [...funds(balances)].map(([id, f]) => [id, f.balance.toString()]),
    );
  });

  it('writes one period row per level and period, with its window, price and commission', () => {
    const plan = planChainRenewal(
      chain({
        discounts: [
          { fromActivation: 2, amount: '1.5' },
          { fromActivation: 4, amount: '3' },
        ],
      }),
      commission,
      funds({ C: '100', R1: '100' }),
      E3,
    );
    expect(
      plan.periods.map((p) => [
        p.subscriptionId,
        p.periodNumber,
        iso(p.start),
        iso(p.end),
        p.price.toString(),
        p.commissionRate.toString(),
        p.commission.toString(),
        p.balanceBefore.toString(),
      ]),
    ).toEqual([
      ['sC', 2, iso(E1), iso(E2), '8.5', '0', '0', '100'],
      ['sR1', 2, iso(E1), iso(E2), '8.5', '10', '0.85', '100'],
      ['sC', 3, iso(E2), iso(E3), '8.5', '0', '0', '91.5'],
      ['sR1', 3, iso(E2), iso(E3), '8.5', '10', '0.85', '92.35'],
      ['sC', 4, iso(E3), iso(E4), '7', '0', '0', '83'],
      ['sR1', 4, iso(E3), iso(E4), '7', '10', '0.7', '84.7'],
    ]);
    expect(plan.postings.map((p) => [p.subscriptionId, p.level, p.description])).toEqual([
      ['sC', 0, 'pC period 2'],
      ['sR1', 1, 'pR1 period 2'],
      ['sR1', 1, 'pR1 period 2'],
      ['sC', 0, 'pC period 3'],
      ['sR1', 1, 'pR1 period 3'],
      ['sR1', 1, 'pR1 period 3'],
      ['sC', 0, 'pC period 4'],
      ['sR1', 1, 'pR1 period 4'],
      ['sR1', 1, 'pR1 period 4'],
    ]);
  });

  it('a price of 0 still records its period', () => {
    const plan = planChainRenewal(
      chain({ discounts: [{ fromActivation: 2, amount: '5' }] }),
      [level(0, 'C', '1')],
      funds({ C: '0' }),
      E1,
    );
    expect(plan.periods.map((p) => [p.periodNumber, p.price.toString()])).toEqual([[2, '0']]);
  });

  it("chains of one batch see each other's charges through the balances passed on", () => {
    // R1 holds 15.00: enough for one of its two customers' renewals (10.00 each), not for both.
    const a = [level(0, 'C1', '12'), level(1, 'R1', '10', 'MARGIN')];
    const b = [level(0, 'C2', '12'), level(1, 'R1', '10', 'MARGIN')];
    const start = funds({ C1: '50', C2: '50', R1: '15' });
    const first = planChainRenewal(chain({ releaseIfNoBalance: true }), a, start, E1);
    expect(first.outcome.status).toBe('ACTIVE');
    expect(first.balances.get('R1')!.balance.toString()).toBe('5');
    const second = planChainRenewal(chain({ releaseIfNoBalance: true }), b, first.balances, E1);
    expect(second.outcome.status).toBe('RELEASED');
    expect(second.postings).toEqual([]);
    // Alone, the second chain would have renewed: the batch's running balance is what released it.
    expect(planChainRenewal(chain({ releaseIfNoBalance: true }), b, start, E1).outcome.status).toBe('ACTIVE');
    expect(start.get('R1')!.balance.toString()).toBe('15');
  });

  it(`catches up at most ${MAX_PERIODS_PER_RUN} periods per run; the next run continues`, () => {
    // A daily chain down for 200 days: periods 2..121 now, 122..201 on the next run.
    const daily = chain({ billingDays: 1, currentPeriodEnd: new Date(JAN1.getTime() + DAY) });
    const asOf = new Date(JAN1.getTime() + 200 * DAY);
    const first = planChainRenewal(daily, [level(0, 'C', '1')], funds({ C: '1000' }), asOf);
    expect(MAX_PERIODS_PER_RUN).toBe(120);
    expect(summary(first)).toMatchObject({
      status: 'ACTIVE',
      periodsCharged: 121,
      current: 121,
      period: [iso(new Date(JAN1.getTime() + 120 * DAY)), iso(new Date(JAN1.getTime() + 121 * DAY))],
      balances: { C: '880' },
    });
    expect(first.postings).toHaveLength(120);
    const next = planChainRenewal(
      {
        ...daily,
        periodsCharged: first.outcome.periodsCharged,
        currentPeriodNumber: first.outcome.currentPeriodNumber,
        currentPeriodStart: first.outcome.periodStart,
        currentPeriodEnd: first.outcome.periodEnd,
      },
      [level(0, 'C', '1')],
      first.balances,
      asOf,
    );
    expect(summary(next)).toMatchObject({
      periodsCharged: 201,
      current: 201,
      period: [iso(asOf), iso(new Date(JAN1.getTime() + 201 * DAY))],
      balances: { C: '800' },
    });
  });

  it('needs the balance of every level it charges', () => {
    expect(() => planChainRenewal(chain(), margin, funds({ R2: '87', R1: '89' }), E1)).toThrow(/C/);
  });

  it.each([
    { name: 'at its period end', chain: chain(), due: E1 },
    {
      name: 'advance-renew hours before it',
      chain: chain({ advanceRenewHours: ADVANCE }),
      due: new Date(E1.getTime() - ADVANCE * HOUR),
    },
    { name: 'paid ahead: at its boundary', chain: paidAhead(), due: E1 },
    { name: 'ONE_TIME: at its end', chain: chain({ billingType: 'ONE_TIME', advanceRenewHours: ADVANCE }), due: E1 },
    {
      name: 'ending (end date at the period end): at its end',
      chain: chain({ endDate: E1, advanceRenewHours: ADVANCE }),
      due: E1,
    },
    {
      name: 'end date after the period end: advance hours apply',
      chain: chain({ endDate: new Date(E1.getTime() + 1), advanceRenewHours: ADVANCE }),
      due: new Date(E1.getTime() - ADVANCE * HOUR),
    },
  ])('due: $name', ({ chain: c, due }) => {
    expect(renewalDueAt(c).toISOString()).toBe(due.toISOString());
  });
});

describe('taxes (DOMAIN.md 8)', () => {
  const t = (id: string, percent: string) => ({ taxRateId: id, percent: d(percent) });
  it.each([
    // [fee, percent, tax]: round_half_up(fee x percent / 100, 4)
    ['2', '20', '0.4'],
    ['15', '2.5', '0.375'],
    ['0.015', '2.5', '0.0004'], // 0.000375 rounds up
    ['0.045', '2.5', '0.0011'], // why each call is taxed on its own
    ['10', '0', '0'],
  ])('%s at %s %% is %s', (fee, percent, tax) => {
    expect(taxesOn(d(fee), [t('x', percent)])[0].amount.toFixed()).toBe(tax);
  });

  it('inclusive: 10.00 with 7 % and 5 % is net 8.9286, taxes 0.6250 and 0.4464, exactly 10.00 in all', () => {
    const fee = splitInclusive(d('10'), [t('a', '7'), t('b', '5')]);
    expect([fee.net, ...fee.taxes.map((x) => x.amount)].map((x) => x.toFixed())).toEqual(['8.9286', '0.625', '0.4464']);
    expect(grossOf(fee).toFixed()).toBe('10');
  });

  it('a first charge taxes the setup fee and the price on their own, sums per rate, and pays commission on net', () => {
    const charge = firstCharge(1, { setupFee: d('2'), price: d('15'), commissionRate: d('10') }, 'COMMISSION', [
      t('vat', '20'),
      t('local', '2.5'),
    ]);
    expect(charge.taxes.map((x) => [x.taxRateId, x.amount.toFixed()])).toEqual([
      ['vat', '3.4'],
      ['local', '0.425'],
    ]);
    expect(charge.commission.toFixed()).toBe('1.7');
    const inclusive = firstCharge(0, { setupFee: d('0'), price: d('12'), commissionRate: d('0'), taxInclusive: true }, null, [
      t('vat', '20'),
    ]);
    expect([inclusive.price.toFixed(), inclusive.taxes[0].amount.toFixed()]).toEqual(['10', '2']);
  });

  it('sums per rate across fees, in the order rates first appear', () => {
    expect(sumTaxes([[{ taxRateId: 'a', amount: d('0.0004') }], [{ taxRateId: 'a', amount: d('0.0004') }]])).toEqual([
      { taxRateId: 'a', amount: d('0.0008') },
    ]);
  });

  it('a whole refund gives back exactly the tax charged; a part refund the formula on the net', () => {
    // 0.13 at 19 % inclusive: net0 0.109243..., tax 0.0208, net 0.1092; the formula on 0.1092 gives 0.0207.
    const fee = splitInclusive(d('0.13'), [t('vat', '19')]);
    expect([fee.net.toFixed(), fee.taxes[0].amount.toFixed()]).toEqual(['0.1092', '0.0208']);
    const applied = chargedTaxes([t('vat', '19')], fee.taxes);
    expect(taxesOnRefund(fee.net, fee.net, applied)[0].amount.toFixed()).toBe('0.0208');
    expect(taxesOnRefund(d('0.05'), fee.net, applied)[0].amount.toFixed()).toBe('0.0095');
  });

  it('the net a budget buys: money x 100 / (100 + S), floored to 4 places', () => {
    expect(netOfTaxes(d('1.2'), [t('vat', '20')]).toFixed()).toBe('1');
    expect(netOfTaxes(d('1.1999'), [t('vat', '20')]).toFixed()).toBe('0.9999');
    expect(netOfTaxes(d('5'), []).toFixed()).toBe('5');
  });

  it('a PAST_DUE chain planned before its boundary stays past due, changing nothing', () => {
    const pastDue = {
      status: 'PAST_DUE' as const,
      renewRetryHours: 24,
      didHoldDays: 0,
      holdsDids: false,
      activatedAt: at('2026-01-01T00:00:00Z'),
      currentPeriodStart: at('2026-01-01T00:00:00Z'),
      currentPeriodEnd: at('2026-01-02T00:00:00Z'),
      periodsCharged: 1,
      currentPeriodNumber: 1,
      billingType: 'RECURRING' as const,
      billingDays: 1,
      freeMinutes: 0,
      releaseIfNoBalance: true,
      discounts: [],
      endDate: null,
      advanceRenewHours: 2,
    };
    const level = {
      subscriptionId: 's',
      level: 0,
      accountId: 'C',
      packageId: 'p',
      price: d('5'),
      commissionRate: d('0'),
      resellerModel: null,
      taxes: [],
      taxInclusive: false,
    };
    const funds = new Map([['C', { balance: d('3'), creditLimit: d('0') }]]);
    const early = planChainRenewal(pastDue, [level], funds, at('2026-01-01T23:00:00Z'));
    expect([early.outcome.status, early.outcome.changed]).toEqual(['PAST_DUE', false]);
    const paid = planChainRenewal(
      pastDue,
      [level],
      new Map([['C', { balance: d('5'), creditLimit: d('0') }]]),
      at('2026-01-02T01:00:00Z'),
    );
    expect([paid.outcome.status, paid.outcome.periodsCharged, paid.outcome.periodStart.toISOString()]).toEqual([
      'ACTIVE',
      2,
      '2026-01-02T00:00:00.000Z',
    ]);
  });

  it('a renewal is taxed and judged on the gross', () => {
    const chainDue = {
      status: 'ACTIVE' as const,
      renewRetryHours: null,
      didHoldDays: 0,
      holdsDids: false,
      activatedAt: at('2026-01-01T00:00:00Z'),
      currentPeriodStart: at('2026-01-01T00:00:00Z'),
      currentPeriodEnd: at('2026-01-31T00:00:00Z'),
      periodsCharged: 1,
      currentPeriodNumber: 1,
      billingType: 'RECURRING' as const,
      billingDays: 30,
      freeMinutes: 0,
      releaseIfNoBalance: true,
      discounts: [],
      endDate: null,
      advanceRenewHours: 0,
    };
    const level = {
      subscriptionId: 's',
      level: 0,
      accountId: 'C',
      packageId: 'p',
      price: d('10'),
      commissionRate: d('0'),
      resellerModel: null,
      taxes: [t('vat', '20')],
      taxInclusive: false,
    };
    const rich = planChainRenewal(
      chainDue,
      [level],
      new Map([['C', { balance: d('12'), creditLimit: d('0') }]]),
      at('2026-01-31T00:00:00Z'),
    );
    expect(rich.postings.map((p) => [p.kind, p.amount.toFixed(), p.taxRateId])).toEqual([
      ['RENEWAL_FEE', '-10', undefined],
      ['TAX', '-2', 'vat'],
    ]);
    expect(rich.periods[0]).toMatchObject({ price: d('10'), gross: d('12') });
    const short = planChainRenewal(
      chainDue,
      [level],
      new Map([['C', { balance: d('11.9999'), creditLimit: d('0') }]]),
      at('2026-01-31T00:00:00Z'),
    );
    expect(short.outcome.status).toBe('RELEASED');
  });
});

describe('invoices (DOMAIN.md 9)', () => {
  const utc = { billingDay: 1, timezone: 'UTC' };
  it.each([
    // [instant, billing day, timezone, start, end]
    ['2026-11-15T12:00:00Z', 1, 'UTC', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2026-11-01T00:00:00Z', 1, 'UTC', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2026-11-14T23:59:59Z', 15, 'UTC', '2026-10-15T00:00:00.000Z', '2026-11-15T00:00:00.000Z'],
    ['2026-12-31T23:30:00Z', 1, 'Europe/Berlin', '2026-12-31T23:00:00.000Z', '2027-01-31T23:00:00.000Z'],
    ['2026-03-20T12:00:00Z', 28, 'America/New_York', '2026-02-28T05:00:00.000Z', '2026-03-28T04:00:00.000Z'],
  ])('%s with day %s in %s is [%s, %s)', (instant, billingDay, timezone, start, end) => {
    const p = periodAt(at(instant), { billingDay, timezone });
    expect([p.start.toISOString(), p.end.toISOString()]).toEqual([start, end]);
  });

  it('where the clocks skip midnight, a period runs from the first instant of the local day (America/Santiago)', () => {
    // 6 September 2026: Chile's clocks go from 00:00 to 01:00. September's period ends where October's starts.
    const sept = periodAt(at('2026-09-20T12:00:00Z'), { billingDay: 6, timezone: 'America/Santiago' });
    const oct = periodAt(at('2026-10-20T12:00:00Z'), { billingDay: 6, timezone: 'America/Santiago' });
    expect([sept.start.toISOString(), sept.end.toISOString()]).toEqual(['2026-09-06T04:00:00.000Z', '2026-10-06T03:00:00.000Z']);
    expect(oct.start.toISOString()).toBe(sept.end.toISOString());
  });

  it('an entry dated before the last invoice end goes on the period that starts there', () => {
    const last = at('2026-11-01T00:00:00Z');
    expect(periodFor(at('2026-10-20T00:00:00Z'), last, utc)).toEqual({ start: last, end: at('2026-12-01T00:00:00Z') });
    // A billing day changed to the 15th: the next period starts where the last invoice ended.
    expect(periodFor(at('2026-11-03T00:00:00Z'), last, { billingDay: 15, timezone: 'UTC' })).toEqual({
      start: last,
      end: at('2026-11-15T00:00:00Z'),
    });
  });

  const entry = (kind: string, amount: string, over: Partial<InvoiceEntry> = {}): InvoiceEntry => ({
    id: `${kind}${amount}`,
    kind,
    amount: d(amount),
    balanceAfter: d(0),
    description: null,
    createdAt: at('2026-11-10T00:00:00Z'),
    taxRateId: null,
    taxName: null,
    taxPercent: null,
    packageName: null,
    callDirection: null,
    callCount: null,
    billedSeconds: null,
    ...over,
  });

  it('plans one invoice per ended period and leaves the running one', () => {
    const entries = [
      entry('TOPUP', '1', { createdAt: at('2026-10-05T00:00:00Z') }),
      entry('TOPUP', '2', { createdAt: at('2026-11-05T00:00:00Z') }),
      entry('TOPUP', '3', { createdAt: at('2026-12-05T00:00:00Z') }),
    ];
    const plans = planInvoices(entries, null, utc, at('2026-12-10T00:00:00Z'));
    expect(plans.map((p) => [p.period.start.toISOString(), p.entries.map((e) => e.id)])).toEqual([
      ['2026-10-01T00:00:00.000Z', ['TOPUP1']],
      ['2026-11-01T00:00:00.000Z', ['TOPUP2']],
    ]);
  });

  it('the worked example: lines, taxes per rate, totals and payments', () => {
    const vat = { taxRateId: 'vat', taxName: 'VAT', taxPercent: d('20') };
    const local = { taxRateId: 'local', taxName: 'Local', taxPercent: d('2.5') };
    const totals = invoiceTotals([
      entry('TOPUP', '50'),
      entry('SETUP_FEE', '-2', { packageName: 'UK100', description: 'pkg period 1' }),
      entry('PACKAGE_FEE', '-15', { packageName: 'UK100', description: 'pkg period 1' }),
      entry('TAX', '-3.4', vat),
      entry('TAX', '-0.425', local),
      ...[1, 2, 3].flatMap((n) => [
        entry('USAGE', '-0.015', { id: `u${n}`, callDirection: 'OUTBOUND', callCount: 1, billedSeconds: 60 }),
        entry('TAX', '-0.003', { ...vat, id: `v${n}` }),
        entry('TAX', '-0.0004', { ...local, id: `l${n}` }),
      ]),
      entry('REFUND', '1', { packageName: 'UK100', description: 'pkg period 1' }),
      entry('TAX_REFUND', '0.2', vat),
    ]);
    expect(totals.lines.map((l) => [l.description, l.quantity, l.minutes, l.amount.toFixed()])).toEqual([
      ['Setup fee: UK100, period 1', 1, null, '2'],
      ['Package: UK100, period 1', 1, null, '15'],
      ['Refund: UK100, period 1', 1, null, '-1'],
      ['Outbound calls', 3, '3', '0.045'],
    ]);
    expect(totals.taxes.map((x) => [x.name, x.percent, x.amount.toFixed()])).toEqual([
      ['VAT', '20', '3.209'],
      ['Local', '2.5', '0.4262'],
    ]);
    expect([totals.subtotal, totals.taxTotal, totals.total, totals.payments].map((x) => x.toFixed())).toEqual([
      '16.045',
      '3.6352',
      '19.6802',
      '50',
    ]);
  });

  it('usage lines per direction; balances chain from the last closing, or from before the first entry', () => {
    const totals = invoiceTotals([
      entry('USAGE', '-0.5', { id: 'o', callDirection: 'OUTBOUND', callCount: 2, billedSeconds: 90 }),
      entry('USAGE', '-0.2', { id: 'i', callDirection: 'INBOUND', callCount: 1, billedSeconds: 30 }),
    ]);
    expect(totals.lines.map((l) => [l.description, l.quantity, l.minutes, l.amount.toFixed()])).toEqual([
      ['Outbound calls', 2, '1.5', '0.5'],
      ['Inbound calls', 1, '0.5', '0.2'],
    ]);
    const held = [entry('TOPUP', '10', { balanceAfter: d('15') }), entry('USAGE', '-1', { balanceAfter: d('14') })];
    expect(Object.values(invoiceBalances(held, null)).map((x) => x.toFixed())).toEqual(['5', '14']);
    expect(Object.values(invoiceBalances(held, d('7'))).map((x) => x.toFixed())).toEqual(['7', '16']);
  });

  it('numbers are the prefix and six digits', () => {
    expect(invoiceNumber('INV-', 1)).toBe('INV-000001');
    expect(invoiceNumber('R/2026/', 1234567)).toBe('R/2026/1234567');
  });
});

describe('phone numbers (DOMAIN.md 12)', () => {
  const at = (iso: string) => new Date(iso);

  it('a number is digits only: a leading + and spaces, dots, dashes and brackets are dropped; at most 15 digits', () => {
    expect(didNumber('+44 20 7000 0001')).toBe('442070000001');
    expect(didNumber('(212) 555-0001')).toBe('2125550001');
    expect(didNumber('1.212.555.0001')).toBe('12125550001');
    expect(didNumber('123456789012345')).toBe('123456789012345');
    expect(didNumber('1234567890123456')).toBeNull();
    expect(didNumber('44a0')).toBeNull();
    expect(didNumber('')).toBeNull();
    expect(didNumber('++44')).toBeNull();
  });

  it('a number qualifies with one of the allowed tags, or any number when none are given', () => {
    expect(didQualifies(['london'], ['london'])).toBe(true);
    expect(didQualifies(['london', 'tollfree'], ['tollfree', 'nyc'])).toBe(true);
    expect(didQualifies(['nyc'], ['london'])).toBe(false);
    expect(didQualifies([], ['london'])).toBe(false);
    expect(didQualifies([], [])).toBe(true);
    expect(didQualifies(['nyc'], [])).toBe(true);
  });

  it('a hold lasts whole days of 24 hours from the end; none at 0 days', () => {
    expect(didHoldUntil(at('2026-03-27T12:00:00Z'), 3)?.toISOString()).toBe('2026-03-30T12:00:00.000Z');
    expect(didHoldUntil(at('2026-03-27T12:00:00Z'), 0)).toBeNull();
  });

  it('numbers compare as numbers: shorter first, then digit by digit', () => {
    expect(['100', '10', '9', '099', '442070000001', '12125550001'].sort(compareDidNumbers)).toEqual([
      '9',
      '10',
      '099',
      '100',
      '12125550001',
      '442070000001',
    ]);
  });

  describe('a past-due chain holding numbers', () => {
    // Daily 5.00, a 48-hour retry window, numbers held 1 day; the customer has 3.00 at the boundary E.
    const E = at('2026-01-02T00:00:00Z');
    const chain = (over: Partial<RenewalChain> = {}): RenewalChain => ({
      status: 'ACTIVE',
      renewRetryHours: 48,
      didHoldDays: 1,
      holdsDids: true,
      activatedAt: at('2026-01-01T00:00:00Z'),
      currentPeriodStart: at('2026-01-01T00:00:00Z'),
      currentPeriodEnd: E,
      periodsCharged: 1,
      currentPeriodNumber: 1,
      billingType: 'RECURRING',
      billingDays: 1,
      freeMinutes: 0,
      releaseIfNoBalance: true,
      discounts: [],
      endDate: null,
      advanceRenewHours: 0,
      ...over,
    });
    const level: RenewalLevel = {
      subscriptionId: 's',
      level: 0,
      accountId: 'C',
      packageId: 'p',
      price: new Decimal('5'),
      commissionRate: new Decimal('0'),
      resellerModel: null,
      taxes: [],
      taxInclusive: false,
    };
    const short = new Map([['C', { balance: new Decimal('3'), creditLimit: new Decimal('0') }]]);
    const status = (c: RenewalChain, iso: string) => planChainRenewal(c, [level], short, at(iso)).outcome;

    it('is past due within its hold, and released when the hold ends, inside the retry window, as of the boundary', () => {
      expect(status(chain(), '2026-01-02T00:01:00Z').status).toBe('PAST_DUE');
      expect(status(chain({ status: 'PAST_DUE' }), '2026-01-02T23:59:59Z')).toMatchObject({ status: 'PAST_DUE', changed: false });
      expect(status(chain({ status: 'PAST_DUE' }), '2026-01-03T00:00:00Z')).toMatchObject({
        status: 'RELEASED',
        endedAt: E,
      });
      // A run that first sees the chain after the hold would have ended releases it at once.
      expect(status(chain(), '2026-01-03T06:00:00Z').status).toBe('RELEASED');
    });

    it('is released when the hold has ended even if it could pay now: nothing is charged', () => {
      const rich = new Map([['C', { balance: new Decimal('30'), creditLimit: new Decimal('0') }]]);
      const plan = planChainRenewal(chain({ status: 'PAST_DUE' }), [level], rich, at('2026-01-03T00:00:00Z'));
      expect(plan.outcome).toMatchObject({ status: 'RELEASED', chargedAny: false, endedAt: E, periodsCharged: 1 });
      expect(plan.postings).toEqual([]);
      // Within the hold it pays, from the boundary.
      const paid = planChainRenewal(chain({ status: 'PAST_DUE' }), [level], rich, at('2026-01-02T23:00:00Z'));
      expect(paid.outcome).toMatchObject({ status: 'ACTIVE', periodsCharged: 2 });
    });

    it('without numbers, or with a hold of 0 days, keeps its whole retry window', () => {
      expect(status(chain({ status: 'PAST_DUE', holdsDids: false }), '2026-01-03T06:00:00Z').status).toBe('PAST_DUE');
      expect(status(chain({ status: 'PAST_DUE', didHoldDays: 0 }), '2026-01-03T06:00:00Z').status).toBe('PAST_DUE');
      expect(status(chain({ status: 'PAST_DUE', holdsDids: false }), '2026-01-04T00:00:00Z').status).toBe('RELEASED');
    });

    it('a hold longer than the window changes nothing: released when the window closes', () => {
      expect(status(chain({ status: 'PAST_DUE', didHoldDays: 5 }), '2026-01-03T23:59:59Z').status).toBe('PAST_DUE');
      expect(status(chain({ status: 'PAST_DUE', didHoldDays: 5 }), '2026-01-04T00:00:00Z').status).toBe('RELEASED');
    });
  });
});
