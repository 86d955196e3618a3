import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { AssignPackageDocument } from './generated/graphql.js';
import { ENGINE, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { perSecondChain, topUp, type Node } from './support/tree.js';

/**
 * Limits and usage counters (DOMAIN.md 13): VOLUME and MONEY pools on exact and prefix patterns, VOLUME before
 * MONEY at every level of the chain, in-bundle rates, carry-over at renewal, reject-when-exhausted in
 * authorizeCall, LimitUsage, and pools under concurrent rating.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const DAY = 86_400_000;
const T0_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 100 * DAY;
const at = (ms: number) => new Date(T0_MS + ms).toISOString();
let seq = 0;
const call = (accountId: string, destination: string, durationSeconds: number, startedAt: string) => ({
  accountId,
  callId: `pool-${++seq}-${Math.random().toString(36).slice(2, 8)}`,
  destination,
  direction: 'OUTBOUND',
  durationSeconds,
  startedAt,
});

const RATE = `mutation ($input: CallInput!) {
  rateCall(input: $input) { cost charges { amount bundleAmount freeSeconds billedSeconds } } }`;
const RATE_MANY = `mutation ($input: [CallInput!]!) { rateCalls(input: $input) { id } }`;
const USAGE = `query ($id: ID!) { packageSubscription(id: $id) {
  limitUsage { limit { id kind patterns amount inBundleRatePerMinute carryOver rejectWhenExhausted } total used carriedOver } } }`;
const AUTHORIZE = `query ($a: ID!, $d: String!) {
  authorizeCall(accountId: $a, destination: $d, direction: OUTBOUND) { allowed maxDurationSeconds reason reasonCode } }`;
const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed } }`;
const BALANCE = `query ($id: ID!) { account(id: $id) { balance } }`;

/** admin -> R -> C. C pays R's rates (44 and 33 at 0.06/min), R the admin's (44 and 33 at 0.03): per second. */
const tree = () => perSecondChain(server, { reseller: { '44': '0.03', '33': '0.03' }, customer: { '44': '0.06', '33': '0.06' } });
type Tree = Awaited<ReturnType<typeof tree>>;

/** A package of the admin's with these terms, opted into by R and assigned to C from `startAt`. */
async function subscribe(t: Tree, terms: Record<string, unknown>, startAt = at(0)) {
  const p0 = await original(server, t.admin.token, { price: '0', ...terms });
  const p1 = await optIn(server, t.r.token, p0);
  const { assignPackage } = await server.ok(
    AssignPackageDocument,
    { input: { accountId: t.c.id, packageId: p1, startAt } },
    t.r.token,
  );
  return assignPackage.id as string;
}

async function usage(subscriptionId: string, token: string) {
  const { packageSubscription } = await server.ok(USAGE, { id: subscriptionId }, token);
  return packageSubscription.limitUsage.map(
    (u: { limit: { kind: string }; total: string; used: string; carriedOver: string }) => [
      u.limit.kind,
      u.total,
      u.used,
      u.carriedOver,
    ],
  );
}

const balance = async (t: Tree, n: Node) => (await server.ok(BALANCE, { id: n.id }, t.admin.token)).account.balance;

describe('pools at every level (DOMAIN.md 13)', () => {
  it('an exact pattern beats a prefix; VOLUME (free or in-bundle) first, then MONEY for the rest, then the balance', async () => {
    const t = await tree();
    const sub = await subscribe(t, {
      limits: [
        { kind: 'VOLUME', patterns: ['44'], amount: '120' },
        { kind: 'MONEY', patterns: ['44'], amount: '1' },
        { kind: 'VOLUME', patterns: ['447700900123$'], amount: '60', inBundleRatePerMinute: '0.01' },
      ],
    });
    const rate = async (destination: string, seconds: number) =>
      (await server.ok(RATE, { input: call(t.c.id, destination, seconds, at(5 * DAY)) }, t.admin.token)).rateCall;

    // C: 60 s in the exact bundle at 0.01 (0.01) + 30 s at 0.06 (0.03) = 0.04, paid by the money pool.
    // R: 60 s at 0.01 + 30 s at 0.03 = 0.025, paid by its own money pool in the chain.
    expect((await rate('447700900123', 90)).charges).toEqual([
      { amount: '0', bundleAmount: '0.04', freeSeconds: 60, billedSeconds: 90 },
      { amount: '0', bundleAmount: '0.025', freeSeconds: 60, billedSeconds: 90 },
    ]);
    // The exact bundle is empty: the prefix pool covers the number, free.
    expect((await rate('447700900123', 60)).charges.map((c: { freeSeconds: number }) => c.freeSeconds)).toEqual([60, 60]);
    // 60 s left free; 140 s at 0.06 = 0.14 (R: at 0.03 = 0.07) from the money pools.
    expect((await rate('441234', 200)).charges).toEqual([
      { amount: '0', bundleAmount: '0.14', freeSeconds: 60, billedSeconds: 200 },
      { amount: '0', bundleAmount: '0.07', freeSeconds: 60, billedSeconds: 200 },
    ]);
    // No seconds left: 1000 s at 0.06 = 1.00, of which the pool pays its last 0.82; R's 0.50 fits in its 0.905.
    const last = await rate('441234', 1000);
    expect(last.charges).toEqual([
      { amount: '0.18', bundleAmount: '0.82', freeSeconds: 0, billedSeconds: 1000 },
      { amount: '0', bundleAmount: '0.5', freeSeconds: 0, billedSeconds: 1000 },
    ]);
    expect(last.cost).toBe('0.18');
    expect([await balance(t, t.c), await balance(t, t.r)]).toEqual(['-0.18', '0']);
    expect(await usage(sub, t.r.token)).toEqual([
      ['VOLUME', '120', '120', '0'],
      ['MONEY', '1', '1', '0'],
      ['VOLUME', '60', '60', '0'],
    ]);
    // Numbers no pool covers are charged as usual.
    expect((await rate('331234', 60)).charges.map((c: { amount: string }) => c.amount)).toEqual(['0.06', '0.03']);
    expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
  });

  it('VOLUME pools come before MONEY pools whatever the priority; free minutes are one VOLUME pool', async () => {
    const t = await tree();
    await subscribe(t, { priority: 1, limits: [{ kind: 'MONEY', patterns: ['44'], amount: '5' }] });
    await subscribe(t, { priority: 9, freeMinutes: 1, destinations: ['44'] });
    const rate = async (seconds: number) =>
      (await server.ok(RATE, { input: call(t.c.id, '4411', seconds, at(DAY)) }, t.admin.token)).rateCall.charges[0];
    expect(await rate(60)).toMatchObject({ amount: '0', bundleAmount: '0', freeSeconds: 60 });
    expect(await rate(120)).toMatchObject({ amount: '0', bundleAmount: '0.12', freeSeconds: 0 });
  });

  it('carries the unused part of the own allowance, never what was carried; a period without calls carries it all', async () => {
    const t = await tree();
    const sub = await subscribe(t, {
      billingDays: 30,
      limits: [
        { kind: 'VOLUME', patterns: ['44'], amount: '100', carryOver: true },
        { kind: 'VOLUME', patterns: ['33'], amount: '100' },
      ],
    });
    const rate = (destination: string, seconds: number, day: number) =>
      server.ok(RATE, { input: call(t.c.id, destination, seconds, at(day * DAY)) }, t.admin.token);
    await rate('4411', 30, 5);
    await rate('3311', 30, 5);
    expect(await usage(sub, t.c.token)).toEqual([
      ['VOLUME', '100', '30', '0'],
      ['VOLUME', '100', '30', '0'],
    ]);
    await server.ok(RUN, { at: at(31 * DAY) }, t.admin.token);
    // 70 unused: period 2 has 170, of which 70 carried; the other limit starts again at 100.
    expect(await usage(sub, t.c.token)).toEqual([
      ['VOLUME', '170', '0', '70'],
      ['VOLUME', '100', '0', '0'],
    ]);
    await rate('4411', 150, 35);
    await server.ok(RUN, { at: at(61 * DAY) }, t.admin.token);
    // 20 left of 170: all of it own allowance (at most 100 carries, and never the 70 carried before).
    expect(await usage(sub, t.c.token)).toEqual([
      ['VOLUME', '120', '0', '20'],
      ['VOLUME', '100', '0', '0'],
    ]);
    // Period 3 passes without a call: its own 100 carries whole into period 4.
    await server.ok(RUN, { at: at(91 * DAY) }, t.admin.token);
    expect(await usage(sub, t.c.token)).toEqual([
      ['VOLUME', '200', '0', '100'],
      ['VOLUME', '100', '0', '0'],
    ]);
    const { rateCall } = await rate('4411', 200, 95);
    expect(rateCall.charges[0]).toMatchObject({ freeSeconds: 200, amount: '0' });
  });

  it('rejectWhenExhausted: authorizeCall allows what is left, then refuses BUNDLE_EXHAUSTED; a completed call is still rated', async () => {
    const t = await tree();
    await topUp(server, t.admin.token, t.r.id, '100');
    await topUp(server, t.r.token, t.c.id, '10');
    await subscribe(
      t,
      { limits: [{ kind: 'VOLUME', patterns: ['44'], amount: '120', rejectWhenExhausted: true }] },
      at(95 * DAY),
    );
    const authorize = async (d: string) => (await server.ok(AUTHORIZE, { a: t.c.id, d }, t.admin.token)).authorizeCall;
    expect(await authorize('4411')).toEqual({ allowed: true, maxDurationSeconds: 120, reason: null, reasonCode: null });
    await server.ok(RATE, { input: call(t.c.id, '4411', 100, new Date().toISOString()) }, t.admin.token);
    expect((await authorize('4411')).maxDurationSeconds).toBe(20);
    // The switch let a call run 30 s: 20 covered, 10 charged at 0.06.
    const { rateCall } = await server.ok(RATE, { input: call(t.c.id, '4411', 30, new Date().toISOString()) }, t.admin.token);
    expect(rateCall.charges[0]).toMatchObject({ freeSeconds: 20, amount: '0.01' });
    expect(await authorize('4411')).toEqual({
      allowed: false,
      maxDurationSeconds: 0,
      reason: 'BUNDLE_EXHAUSTED',
      reasonCode: 'BUNDLE_EXHAUSTED',
    });
    // Numbers the pool does not cover are judged on the balance alone: 9.99 at 0.06 buys 9990 s.
    expect(await authorize('3311')).toMatchObject({ allowed: true, maxDurationSeconds: 9990 });
  });

  it('rejectWhenExhausted: an empty capped pool refuses its numbers even when another pool has seconds, and names itself', async () => {
    const t = await tree();
    await subscribe(t, { limits: [{ kind: 'VOLUME', patterns: ['44'], amount: '0', rejectWhenExhausted: true }] }, at(95 * DAY));
    await subscribe(t, { limits: [{ kind: 'VOLUME', patterns: ['4411'], amount: '600' }] }, at(95 * DAY));
    // C has no balance at all: the empty bundle is the reason, not the funds.
    const { authorizeCall } = await server.ok(AUTHORIZE, { a: t.c.id, d: '4411' }, t.admin.token);
    expect(authorizeCall).toEqual({
      allowed: false,
      maxDurationSeconds: 0,
      reason: 'BUNDLE_EXHAUSTED',
      reasonCode: 'BUNDLE_EXHAUSTED',
    });
  });

  it('rejectWhenExhausted on a MONEY pool: at most what its amount pays for', async () => {
    const t = await tree();
    await topUp(server, t.admin.token, t.r.id, '100');
    await topUp(server, t.r.token, t.c.id, '10');
    await subscribe(
      t,
      { limits: [{ kind: 'MONEY', patterns: ['44'], amount: '0.10', rejectWhenExhausted: true }] },
      at(95 * DAY),
    );
    // 0.10 at 0.06/min: 100 s.
    const { authorizeCall } = await server.ok(AUTHORIZE, { a: t.c.id, d: '4411' }, t.admin.token);
    expect(authorizeCall).toMatchObject({ allowed: true, maxDurationSeconds: 100 });
  });
});

describe('package limits', () => {
  const CREATE = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) {
    id limits { id kind patterns amount inBundleRatePerMinute carryOver rejectWhenExhausted } } }`;
  const UPDATE = `mutation ($id: ID!, $input: UpdatePackageInput!) { updatePackage(id: $id, input: $input) {
    id limits { id kind patterns amount } } }`;

  it('are listed in order, keep their id at their place and kind, and are shared by clones but not changed there', async () => {
    const t = await tree();
    const { createPackage } = await server.ok(
      CREATE,
      {
        input: {
          name: 'Bundle',
          price: '5',
          resellerCanResell: true,
          limits: [
            {
              kind: 'VOLUME',
              patterns: [' 44 ', '447700900123$'],
              amount: '600',
              inBundleRatePerMinute: '0.01',
              carryOver: true,
            },
            { kind: 'MONEY', amount: '2.50', rejectWhenExhausted: true },
          ],
        },
      },
      t.admin.token,
    );
    const [volume, money] = createPackage.limits;
    expect(createPackage.limits).toEqual([
      {
        id: volume.id,
        kind: 'VOLUME',
        patterns: ['44', '447700900123$'],
        amount: '600',
        inBundleRatePerMinute: '0.01',
        carryOver: true,
        rejectWhenExhausted: false,
      },
      {
        id: money.id,
        kind: 'MONEY',
        patterns: [],
        amount: '2.5',
        inBundleRatePerMinute: '0',
        carryOver: false,
        rejectWhenExhausted: true,
      },
    ]);
    const clone = await optIn(server, t.r.token, createPackage.id);
    const seen = await server.ok(`query ($id: ID!) { package(id: $id) { limits { id } } }`, { id: clone }, t.r.token);
    expect(seen.package.limits).toEqual([{ id: volume.id }, { id: money.id }]);
    const onClone = await server.gql(UPDATE, { id: clone, input: { limits: [] } }, t.r.token);
    expect(errorCode(onClone)).toBe('BAD_USER_INPUT');

    const { updatePackage } = await server.ok(
      UPDATE,
      {
        id: createPackage.id,
        input: {
          limits: [
            { kind: 'VOLUME', amount: '900' },
            { kind: 'VOLUME', amount: '60' },
          ],
        },
      },
      t.admin.token,
    );
    // Same place and kind: same limit, new amount. A new kind at a place is a new limit.
    expect(updatePackage.limits[0]).toEqual({ id: volume.id, kind: 'VOLUME', patterns: [], amount: '900' });
    expect(updatePackage.limits[1].id).not.toBe(money.id);
  });

  it('a new amount applies from the next period; a limit added mid-period starts now, in full', async () => {
    const t = await tree();
    const p0 = await original(server, t.admin.token, {
      price: '0',
      billingDays: 30,
      limits: [{ kind: 'VOLUME', patterns: ['44'], amount: '100' }],
    });
    const p1 = await optIn(server, t.r.token, p0);
    const { assignPackage } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: t.c.id, packageId: p1, startAt: at(50 * DAY) } },
      t.r.token,
    );
    await server.ok(
      UPDATE,
      {
        id: p0,
        input: {
          limits: [
            { kind: 'VOLUME', patterns: ['44'], amount: '50' },
            { kind: 'VOLUME', patterns: ['33'], amount: '30', carryOver: true },
          ],
        },
      },
      t.admin.token,
    );
    expect(await usage(assignPackage.id, t.r.token)).toEqual([
      ['VOLUME', '100', '0', '0'],
      ['VOLUME', '30', '0', '0'],
    ]);
    await server.ok(RUN, { at: at(81 * DAY) }, t.admin.token);
    expect(await usage(assignPackage.id, t.r.token)).toEqual([
      ['VOLUME', '50', '0', '0'],
      ['VOLUME', '60', '0', '30'],
    ]);
  });

  it.each([
    [{ kind: 'VOLUME', amount: '1.5' }, 'limits[0].amount'],
    [{ kind: 'MONEY', amount: 'ten' }, 'limits[0].amount'],
    [{ kind: 'MONEY', amount: '0.12345' }, 'limits[0].amount'], // money has 4 places
    [{ kind: 'VOLUME', amount: '60', patterns: ['44x'] }, 'limits[0].patterns'],
    [{ kind: 'VOLUME', amount: '60', patterns: ['$'] }, 'limits[0].patterns'],
    [{ kind: 'MONEY', amount: '1', inBundleRatePerMinute: '0.01' }, 'limits[0].inBundleRatePerMinute'],
    [{ kind: 'VOLUME', amount: '60', inBundleRatePerMinute: '-1' }, 'limits[0].inBundleRatePerMinute'],
  ])('refuses %j (%s)', async (limit, field) => {
    const t = await tree();
    const result = await server.gql(CREATE, { input: { name: 'Bad', price: '1', limits: [limit] } }, t.admin.token);
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.field).toBe(field);
  });
});

/** A seeded generator, so that a failing case can be run again. */
function rng(seed: number) {
  let x = seed * 2654435761;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: T[]) => xs[Math.floor(next() * xs.length)],
  };
}

describe('pools under concurrent rating (property)', () => {
  /** On PostgreSQL the batches go through two instances on one database; PGlite is one process's. */
  let instances: TestServer[];
  beforeAll(async () => {
    instances = ENGINE === 'postgresql' ? [server, await startServer()] : [server];
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).slice(1).map((s) => s.close()));
  });

  it.each([1, 2, 3])(
    'seed %i: no pool gives more than its allowance, each charge is its rule, balances are their ledgers',
    async (seed) => {
      const r = rng(seed);
      const t = await perSecondChain(server, {
        reseller: { '44': '0.03', '33': '0.03' },
        customer: { '44': '0.06', '33': '0.06' },
        customers: 3,
      });
      const customers = t.cs;
      const p0 = await original(server, t.admin.token, {
        price: '0',
        limits: [
          { kind: 'VOLUME', patterns: ['44'], amount: String(r.int(100, 2000)) },
          { kind: 'MONEY', patterns: ['44', '33'], amount: `${r.int(0, 3)}.${r.int(10, 99)}` },
          { kind: 'VOLUME', patterns: ['4411$'], amount: String(r.int(0, 300)), inBundleRatePerMinute: '0.01' },
        ],
      });
      const p1 = await optIn(server, t.r.token, p0);
      for (const c of customers) {
        await server.ok(AssignPackageDocument, { input: { accountId: c.id, packageId: p1, startAt: at(0) } }, t.r.token);
      }
      // Each customer: 6 batches of 10 calls, all sent at once.
      const batches = customers.flatMap((c) =>
        Array.from({ length: 6 }, () =>
          Array.from({ length: 10 }, () => call(c.id, r.pick(['4411', '4412', '331', '441']), r.int(0, 120), at(10 * DAY))),
        ),
      );
      await Promise.all(batches.map((input) => server.ok(RATE_MANY, { input }, t.admin.token)));

      const pools = await sql<{ total: string; used: string; drawn: string }>(
        server,
        `select u.total::text, u.used::text,
              (case when l.kind = 'VOLUME'
                    then (select coalesce(sum(free_seconds), 0) from call_charges c where c.subscription_id = u.subscription_id and c.limit_id = l.id)
                    else (select coalesce(sum(money_amount), 0) from call_charges c where c.money_subscription_id = u.subscription_id and c.money_limit_id = l.id)
               end)::text as drawn
         from subscription_limits u join package_limits l on l.id = u.limit_id
        where l.terms_id = (select terms_id from packages where id = ?)`,
        [p0],
      );
      expect(pools).toHaveLength(customers.length * 2 * 3);
      for (const p of pools) {
        expect(Number(p.used)).toBeLessThanOrEqual(Number(p.total));
        // What the counters say was used is exactly what the calls' charges drew.
        expect(Number(p.used)).toBe(Number(p.drawn));
      }
      // Each charge: seconds not covered at the level's rate, covered ones at the exact pool's in-bundle rate (0.01)
      // or free, and the whole paid by the money pool and the balance together.
      const charges = await sql<{ level: number; billed: number; free: number; exact: boolean; amount: string; money: string }>(
        server,
        `select c.level, c.billed_seconds as billed, c.free_seconds as free, coalesce(l.patterns = '{4411$}', false) as exact,
              c.amount::text as amount, c.money_amount::text as money
         from call_charges c join calls k on k.id = c.call_id left join package_limits l on l.id = c.limit_id
        where k.account_id = any(?::text[])`,
        [`{${customers.map((c) => c.id).join(',')}}`],
      );
      expect(charges).toHaveLength(customers.length * 60 * 2);
      for (const c of charges) {
        // Exact decimals, rounded half-up to 4 places as DOMAIN.md 5 says.
        const perMinute = new Decimal(c.level === 0 ? '0.06' : '0.03');
        const expected = perMinute
          .times(c.billed - c.free)
          .plus(c.exact ? new Decimal('0.01').times(c.free) : 0)
          .div(60)
          .toDecimalPlaces(4, Decimal.ROUND_HALF_UP);
        expect(new Decimal(c.amount).plus(c.money).toFixed()).toBe(expected.toFixed());
      }
      expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
    },
  );
});
