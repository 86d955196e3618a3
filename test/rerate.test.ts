import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { perSecondChain, rateGroup } from './support/tree.js';
import { UpdateAccountDocument } from './generated/graphql.js';

/**
 * Re-rating (DOMAIN.md 14): calls rated again with today's rates and the subscriptions active at their start,
 * each level's difference posted once as USAGE_ADJUSTMENT with its taxes, earlier ratings kept as revisions.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const DAY = 86_400_000;
const T0_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 20 * DAY;
const at = (ms: number) => new Date(T0_MS + ms).toISOString();
let n = 0;
const RATE = `mutation ($input: CallInput!) { rateCall(input: $input) { id cost } }`;
const RERATE = `mutation ($a: ID!, $from: DateTime!, $to: DateTime!) {
  rerateCalls(accountId: $a, from: $from, to: $to) { calls changed noRate adjustments { account { id } kind amount } } }`;
const CALL = `query ($id: ID!) { node(id: $id) { ... on CallRecord { cost revision charges { amount freeSeconds }
  revisions { cost revision charges { amount freeSeconds } } } } }`;
const BALANCE = `query ($id: ID!) { account(id: $id) { balance } }`;
const ASSIGN = `mutation ($input: AssignInput!) { assignPackage(input: $input) { id freeSecondsUsed } }`;

/** admin -> R -> C: C pays R's rates (44 at 0.06/min), R the admin's (44 at 0.03): per second. */
const tree = async () => {
  const t = await perSecondChain(server);
  return { ...t, gR: t.customerGroup };
};
type Tree = Awaited<ReturnType<typeof tree>>;

const rate = async (t: Tree, day: number, seconds: number) =>
  (
    await server.ok(
      RATE,
      {
        input: {
          accountId: t.c.id,
          callId: `rr-${++n}`,
          destination: '4411',
          direction: 'OUTBOUND',
          durationSeconds: seconds,
          startedAt: at(day * DAY),
        },
      },
      t.admin.token,
    )
  ).rateCall as { id: string; cost: string };
const balances = async (t: Tree) =>
  Promise.all([t.c, t.r].map(async (a) => (await server.ok(BALANCE, { id: a.id }, t.admin.token)).account.balance));
const call = async (t: Tree, id: string) => (await server.ok(CALL, { id }, t.admin.token)).node;
/** What R sold to C, from the ledger (adjustments are posted now, whatever the calls' dates). */
const sales = async (t: Tree) =>
  (
    await server.ok(
      `query ($a: ID!, $f: DateTime!, $to: DateTime!) { earnings(accountId: $a, from: $f, to: $to) { sales } }`,
      { a: t.r.id, f: new Date(Date.now() - DAY).toISOString(), to: new Date(Date.now() + DAY).toISOString() },
      t.r.token,
    )
  ).earnings.sales;

describe('rerateCalls (DOMAIN.md 14)', () => {
  it('a rate fixed up and back down: each level adjusted once per run, revisions kept, a run with nothing new changes nothing', async () => {
    const t = await tree();
    const first = await rate(t, 5, 60);
    await rate(t, 6, 30);
    expect(await balances(t)).toEqual(['-0.09', '-0.045']);

    const setRate = (ratePerMinute: string) =>
      server.ok(
        `mutation ($g: ID!, $r: [RateInput!]!) { upsertRates(rateGroupId: $g, rates: $r) { id } }`,
        { g: t.gR, r: [{ prefix: '44', ratePerMinute, initialIncrement: 1, increment: 1 }] },
        t.r.token,
      );
    await setRate('0.12');
    const up = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    // C's two calls now cost 0.12 + 0.06: 0.09 more, once; R's level did not change.
    expect(up).toEqual({
      calls: 2,
      changed: 2,
      noRate: 0,
      adjustments: [{ account: { id: t.c.id }, kind: 'USAGE_ADJUSTMENT', amount: '-0.09' }],
    });
    expect(await balances(t)).toEqual(['-0.18', '-0.045']);
    // A reseller's earnings count the adjustment as a sale, like the usage it corrects.
    expect(await sales(t)).toBe('0.18');
    expect(await call(t, first.id)).toEqual({
      cost: '0.12',
      revision: 1,
      charges: [
        { amount: '0.12', freeSeconds: 0 },
        { amount: '0.03', freeSeconds: 0 },
      ],
      revisions: [
        {
          cost: '0.06',
          revision: 0,
          charges: [
            { amount: '0.06', freeSeconds: 0 },
            { amount: '0.03', freeSeconds: 0 },
          ],
        },
      ],
    });

    // Nothing changed since: nothing posted, no revision.
    const again = (await server.ok(RERATE, { a: t.r.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(again).toEqual({ calls: 2, changed: 0, noRate: 0, adjustments: [] });

    await setRate('0.06');
    const down = (await server.ok(RERATE, { a: t.r.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(down.adjustments).toEqual([{ account: { id: t.c.id }, kind: 'USAGE_ADJUSTMENT', amount: '0.09' }]);
    expect(await balances(t)).toEqual(['-0.09', '-0.045']);
    expect(await sales(t)).toBe('0.09');
    expect((await call(t, first.id)).revisions.map((r: { cost: string }) => r.cost)).toEqual(['0.06', '0.12']);
    expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
  });

  it('only calls started in [from, to), and only from the platform', async () => {
    const t = await tree();
    await rate(t, 5, 60);
    await rate(t, 9, 60);
    const report = (await server.ok(RERATE, { a: t.c.id, from: at(5 * DAY), to: at(9 * DAY) }, t.admin.token)).rerateCalls;
    expect(report.calls).toBe(1);
    expect(errorCode(await server.gql(RERATE, { a: t.c.id, from: at(0), to: at(DAY) }, t.r.token))).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(RERATE, { a: t.c.id, from: at(DAY), to: at(0) }, t.admin.token))).toBe('BAD_USER_INPUT');
  });

  it('a backdated package with rerate turns paid minutes free at every level of its chain, in call order', async () => {
    const t = await tree();
    const early = await rate(t, 5, 60);
    const late = await rate(t, 6, 60);
    const nextPeriod = await rate(t, 12, 60);
    expect(await balances(t)).toEqual(['-0.18', '-0.09']);
    // A minute free to 44, sold by the admin and resold by R, assigned from day 0 with its calls rated again.
    const p0 = await original(server, t.admin.token, {
      price: '0',
      billingDays: 10,
      freeMinutes: 1,
      destinations: ['44'],
      activationPolicy: 'ALLOW_IF_INSUFFICIENT',
    });
    const p1 = await optIn(server, t.r.token, p0);
    // Re-rating prices the levels above the assigner: the platform's to ask for.
    const byReseller = await server.gql(
      ASSIGN,
      { input: { accountId: t.c.id, packageId: p1, startAt: at(0), rerate: true } },
      t.r.token,
    );
    expect(errorCode(byReseller)).toBe('FORBIDDEN');
    const { assignPackage } = await server.ok(
      ASSIGN,
      { input: { accountId: t.c.id, packageId: p1, startAt: at(0), rerate: true } },
      t.admin.token,
    );
    // The earlier call takes the first period's minute at both levels; the later one stays paid. The chain's
    // second period (from day 10) is charged first, so the call on day 12 takes its minute.
    expect(await balances(t)).toEqual(['-0.06', '-0.03']);
    expect((await call(t, nextPeriod.id)).charges).toEqual([
      { amount: '0', freeSeconds: 60 },
      { amount: '0', freeSeconds: 60 },
    ]);
    expect((await call(t, early.id)).charges).toEqual([
      { amount: '0', freeSeconds: 60 },
      { amount: '0', freeSeconds: 60 },
    ]);
    expect((await call(t, late.id)).revision).toBe(0);
    const used = await sql<{ used: number }>(
      server,
      `select free_seconds_used as used from package_subscriptions where chain_id = ? order by level`,
      [assignPackage.id],
    );
    // Caught up to its third period (from day 20, now), in which nothing was called yet.
    expect(used.map((u) => u.used)).toEqual([0, 0]);
    const kinds = await sql<{ kind: string; amount: string }>(
      server,
      `select kind, amount::text from ledger_entries where account_id = ? and kind = 'USAGE_ADJUSTMENT'`,
      [t.c.id],
    );
    expect(kinds).toEqual([{ kind: 'USAGE_ADJUSTMENT', amount: '0.120000' }]);
    // Running it again finds the pool used by those very calls: nothing changes.
    const again = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(15 * DAY) }, t.admin.token)).rerateCalls;
    expect(again).toMatchObject({ calls: 3, changed: 0, adjustments: [] });
    expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
  });

  it('a call no level may rate today keeps its rating and what it drew from its pool', async () => {
    const t = await tree();
    const p0 = await original(server, t.admin.token, { price: '0', freeMinutes: 1, destinations: ['44'] });
    const p1 = await optIn(server, t.r.token, p0);
    const { assignPackage } = await server.ok(ASSIGN, { input: { accountId: t.c.id, packageId: p1, startAt: at(0) } }, t.r.token);
    const covered = await rate(t, 5, 60);
    // C moves to a group of R's without 44: its call there has no rate at C's level today.
    const other = await rateGroup(server, t.r.token, [{ prefix: '33', ratePerMinute: '0.06' }]);
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { rateGroupId: other } }, t.r.token);
    const report = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(report).toEqual({ calls: 1, changed: 0, noRate: 1, adjustments: [] });
    expect((await call(t, covered.id)).charges[0]).toEqual({ amount: '0', freeSeconds: 60 });
    const [{ used }] = await sql<{ used: number }>(
      server,
      `select free_seconds_used as used from package_subscriptions where id = ?`,
      [assignPackage.id],
    );
    expect(used).toBe(60);
  });

  it('a past period keeps the allowance its calls had, carried seconds included: a re-run changes nothing', async () => {
    const t = await tree();
    const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed } }`;
    const p0 = await original(server, t.admin.token, {
      price: '0',
      billingDays: 5,
      limits: [{ kind: 'VOLUME', patterns: ['44'], amount: '100', carryOver: true }],
    });
    const p1 = await optIn(server, t.r.token, p0);
    await server.ok(ASSIGN, { input: { accountId: t.c.id, packageId: p1, startAt: at(0) } }, t.r.token);
    await rate(t, 1, 30); // period 1: 30 of 100, 70 carried
    await server.ok(RUN, { at: at(5 * DAY + 60_000) }, t.admin.token);
    const big = await rate(t, 6, 150); // period 2: 150 of 170, all covered
    expect((await call(t, big.id)).charges[0]).toEqual({ amount: '0', freeSeconds: 150 });
    await server.ok(RUN, { at: new Date().toISOString() }, t.admin.token);
    const report = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(report).toEqual({ calls: 2, changed: 0, noRate: 0, adjustments: [] });
  });

  it('waits for live rating of the same account, and the pool counts every draw of both', async () => {
    const t = await tree();
    const p0 = await original(server, t.admin.token, { price: '0', freeMinutes: 10, destinations: ['44'] });
    const p1 = await optIn(server, t.r.token, p0);
    const { assignPackage } = await server.ok(ASSIGN, { input: { accountId: t.c.id, packageId: p1, startAt: at(0) } }, t.r.token);
    for (let i = 0; i < 5; i++) await rate(t, 5, 50);
    const live = Array.from({ length: 20 }, (_, i) => ({
      accountId: t.c.id,
      callId: `live-${++n}`,
      destination: '4411',
      direction: 'OUTBOUND',
      durationSeconds: 30 + i,
      startedAt: at(6 * DAY),
    }));
    await Promise.all([
      server.ok(RERATE, { a: t.c.id, from: at(0), to: at(6 * DAY) }, t.admin.token),
      server.ok(`mutation ($c: [CallInput!]!) { rateCalls(input: $c) { id } }`, { c: live.slice(0, 10) }, t.admin.token),
      server.ok(RERATE, { a: t.r.id, from: at(0), to: at(7 * DAY) }, t.admin.token),
      server.ok(`mutation ($c: [CallInput!]!) { rateCalls(input: $c) { id } }`, { c: live.slice(10) }, t.admin.token),
    ]);
    const [row] = await sql<{ used: number; drawn: number }>(
      server,
      `select s.free_seconds_used as used,
              (select coalesce(sum(free_seconds), 0)::int from call_charges where subscription_id = s.id) as drawn
         from package_subscriptions s where s.id = ?`,
      [assignPackage.id],
    );
    expect(row.used).toBe(row.drawn);
    expect(row.used).toBeLessThanOrEqual(600);
    expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
  });

  it('taxes follow the difference: more usage more tax, less usage a tax refund', async () => {
    const t = await tree();
    const { createTaxRate } = await server.ok(
      `mutation { createTaxRate(input: { name: "VAT", percent: "20" }) { id } }`,
      {},
      t.r.token,
    );
    await server.ok(
      `mutation ($a: ID!, $ids: [ID!]!) { setAccountTaxes(accountId: $a, taxRateIds: $ids) { id } }`,
      { a: t.c.id, ids: [createTaxRate.id] },
      t.r.token,
    );
    await rate(t, 5, 100); // 0.10 + 0.02 tax
    await server.ok(
      `mutation ($g: ID!, $r: [RateInput!]!) { upsertRates(rateGroupId: $g, rates: $r) { id } }`,
      { g: t.gR, r: [{ prefix: '44', ratePerMinute: '0.03', initialIncrement: 1, increment: 1 }] },
      t.r.token,
    );
    const report = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(report.adjustments).toEqual([
      { account: { id: t.c.id }, kind: 'USAGE_ADJUSTMENT', amount: '0.05' },
      { account: { id: t.c.id }, kind: 'TAX_REFUND', amount: '0.01' },
    ]);
    expect((await balances(t))[0]).toBe('-0.06');
  });
});
