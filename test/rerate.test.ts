import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRateGroupDocument, UpdateAccountDocument, type RateInput } from './generated/graphql.js';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, type Node } from './support/tree.js';

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

async function group(token: string, rates: RateInput[]) {
  const { createRateGroup } = await server.ok(CreateRateGroupDocument, { input: { name: `g-${Math.random()}`, rates } }, token);
  return createRateGroup.id as string;
}

/** admin -> R -> C: C pays R's group (44 at 0.06/min), R the admin's (44 at 0.03): per second. */
async function tree() {
  const p = await createPlatform(server);
  const admin: Node = { id: p.id, token: p.token, email: p.email };
  const r = await addAccount(server, admin.token, { kind: 'RESELLER' });
  const c = await addAccount(server, r.token, { kind: 'CUSTOMER' });
  const perSecond = (ratePerMinute: string): RateInput[] => [{ prefix: '44', ratePerMinute, initialIncrement: 1, increment: 1 }];
  const gAdmin = await group(admin.token, perSecond('0.03'));
  const gR = await group(r.token, perSecond('0.06'));
  await server.ok(UpdateAccountDocument, { id: r.id, input: { rateGroupId: gAdmin } }, admin.token);
  await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: gR } }, r.token);
  return { admin, r, c, gR };
}
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
    expect(await balances(t)).toEqual(['-0.12', '-0.06']);
    // A minute free to 44, sold by the admin and resold by R, assigned from day 0 with its calls rated again.
    const p0 = await original(server, t.admin.token, {
      price: '0',
      freeMinutes: 1,
      destinations: ['44'],
      activationPolicy: 'ALLOW_IF_INSUFFICIENT',
    });
    const p1 = await optIn(server, t.r.token, p0);
    const { assignPackage } = await server.ok(
      ASSIGN,
      { input: { accountId: t.c.id, packageId: p1, startAt: at(0), rerate: true } },
      t.r.token,
    );
    // The earlier call takes the minute at both levels; the later one stays paid.
    expect(await balances(t)).toEqual(['-0.06', '-0.03']);
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
    expect(used.map((u) => u.used)).toEqual([60, 60]);
    const kinds = await sql<{ kind: string; amount: string }>(
      server,
      `select kind, amount::text from ledger_entries where account_id = ? and kind = 'USAGE_ADJUSTMENT'`,
      [t.c.id],
    );
    expect(kinds).toEqual([{ kind: 'USAGE_ADJUSTMENT', amount: '0.060000' }]);
    // Running it again finds the pool used by those very calls: nothing changes.
    const again = (await server.ok(RERATE, { a: t.c.id, from: at(0), to: at(10 * DAY) }, t.admin.token)).rerateCalls;
    expect(again).toMatchObject({ calls: 2, changed: 0, adjustments: [] });
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
