import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { UpdateAccountDocument } from './generated/graphql.js';
import { ENGINE, errorCode, sql, startServer, type TestServer } from './support/harness.js';
import { perSecondChain, topUp } from './support/tree.js';

/**
 * Call admission (DOMAIN.md 14): call leases (startCall, ended by rating, endCall or expiry) holding funds and
 * counting against maxConcurrentCalls, minimumBalanceToCall and allowNegativeMargin, with their reason codes.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const START = `mutation ($input: StartCallInput!) { startCall(input: $input) { allowed maxDurationSeconds reason reasonCode } }`;
const END = `mutation ($a: ID!, $c: String!) { endCall(accountId: $a, callId: $c) }`;
const RATE = `mutation ($input: CallInput!) { rateCall(input: $input) { cost } }`;
const AUTHORIZE = `query ($a: ID!, $d: String!) {
  authorizeCall(accountId: $a, destination: $d, direction: OUTBOUND) { allowed maxDurationSeconds reasonCode } }`;
const OPEN = `query ($id: ID!) { account(id: $id) { openCalls { callId destination maxDurationSeconds account { id } expiresAt } } }`;

/** admin -> R -> customers: C pays R's rates (44 and 33 at 0.06/min), R the admin's (44 at 0.03, 33 at 0.10). */
async function tree(customers = 1, via: TestServer = server) {
  const t = await perSecondChain(via, {
    reseller: { '44': '0.03', '33': '0.10' },
    customer: { '44': '0.06', '33': '0.06' },
    customers,
  });
  await topUp(via, t.admin.token, t.r.id, '1000');
  return t;
}

let n = 0;
const callId = () => `lease-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const start = (s: TestServer, token: string, accountId: string, id: string, destination = '4411') =>
  s.ok(START, { input: { accountId, callId: id, destination, direction: 'OUTBOUND' } }, token).then((r) => r.startCall);

describe('call leases (DOMAIN.md 14)', () => {
  it('hold what their call may cost until it is rated or ended; the same call id again takes nothing more', async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '1');
    const first = callId();
    // 1.00 at 0.06/min: 1000 s, all of it held.
    expect(await start(server, t.admin.token, t.c.id, first)).toEqual({
      allowed: true,
      maxDurationSeconds: 1000,
      reason: null,
      reasonCode: null,
    });
    expect(await start(server, t.admin.token, t.c.id, first)).toMatchObject({ allowed: true, maxDurationSeconds: 1000 });
    const { account } = await server.ok(OPEN, { id: t.c.id }, t.r.token);
    expect(account.openCalls).toMatchObject([
      { callId: first, destination: '4411', maxDurationSeconds: 1000, account: { id: t.c.id } },
    ]);
    const second = callId();
    expect(await start(server, t.admin.token, t.c.id, second)).toMatchObject({
      allowed: false,
      reasonCode: 'INSUFFICIENT_FUNDS',
    });
    expect((await server.ok(AUTHORIZE, { a: t.c.id, d: '4411' }, t.admin.token)).authorizeCall).toMatchObject({
      allowed: false,
      reasonCode: 'INSUFFICIENT_FUNDS',
    });
    // The call ends after 300 s: rated 0.30, its lease gone; 0.70 is free again.
    const { rateCall } = await server.ok(
      RATE,
      {
        input: {
          accountId: t.c.id,
          callId: first,
          destination: '4411',
          direction: 'OUTBOUND',
          durationSeconds: 300,
          startedAt: new Date().toISOString(),
        },
      },
      t.admin.token,
    );
    expect(rateCall.cost).toBe('0.3');
    expect((await server.ok(OPEN, { id: t.c.id }, t.r.token)).account.openCalls).toEqual([]);
    expect(await start(server, t.admin.token, t.c.id, second)).toMatchObject({ allowed: true, maxDurationSeconds: 700 });
    // A call that never connected: endCall frees its hold.
    expect((await server.ok(END, { a: t.c.id, c: second }, t.admin.token)).endCall).toBe(true);
    expect((await server.ok(END, { a: t.c.id, c: second }, t.admin.token)).endCall).toBe(false);
    expect((await server.ok(AUTHORIZE, { a: t.c.id, d: '4411' }, t.admin.token)).authorizeCall.maxDurationSeconds).toBe(700);
  });

  it("a switch's own limit on a call caps what its lease allows and holds", async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '1');
    const capped = (id: string, maxDurationSeconds: number) =>
      server
        .ok(
          START,
          { input: { accountId: t.c.id, callId: id, destination: '4411', direction: 'OUTBOUND', maxDurationSeconds } },
          t.admin.token,
        )
        .then((r) => r.startCall);
    // 300 s of the 1000 the balance pays: 0.30 held, 0.70 left for the next call.
    expect(await capped(callId(), 300)).toMatchObject({ allowed: true, maxDurationSeconds: 300 });
    expect(await capped(callId(), 5000)).toMatchObject({ allowed: true, maxDurationSeconds: 700 });
    expect(await start(server, t.admin.token, t.c.id, callId())).toMatchObject({
      allowed: false,
      reasonCode: 'INSUFFICIENT_FUNDS',
    });
    const bad = await server.gql(
      START,
      { input: { accountId: t.c.id, callId: callId(), destination: '4411', direction: 'OUTBOUND', maxDurationSeconds: 0 } },
      t.admin.token,
    );
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });

  it('open leases count against spend limits as if spent', async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '100');
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { dailySpendLimit: '1' } }, t.r.token);
    // 1.00 a day at 0.06/min: 1000 s, held against the limit until the call is rated.
    expect(await start(server, t.admin.token, t.c.id, callId())).toMatchObject({ allowed: true, maxDurationSeconds: 1000 });
    expect(await start(server, t.admin.token, t.c.id, callId())).toMatchObject({ allowed: false, reasonCode: 'LIMIT_REACHED' });
  });

  it('a start for a call already rated answers, but opens no lease', async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '1');
    const id = callId();
    await server.ok(
      RATE,
      {
        input: {
          accountId: t.c.id,
          callId: id,
          destination: '4411',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt: new Date().toISOString(),
        },
      },
      t.admin.token,
    );
    expect(await start(server, t.admin.token, t.c.id, id)).toMatchObject({ allowed: true });
    expect((await server.ok(OPEN, { id: t.c.id }, t.r.token)).account.openCalls).toEqual([]);
  });

  it('hold funds at every level: a reseller’s money held for one customer’s call lowers the next customer’s', async () => {
    const t = await tree(2);
    // R is left 0.06 (an adjustment by the admin) after funding its customers with 10.00 each.
    await topUp(server, t.r.token, t.cs[0].id, '10');
    await topUp(server, t.r.token, t.cs[1].id, '10');
    const [{ balance }] = await sql<{ balance: string }>(server, `select balance::text from accounts where id = ?`, [t.r.id]);
    await server.ok(
      `mutation ($a: ID!, $x: Money!) { adjustBalance(input: { accountId: $a, amount: $x }) { id } }`,
      { a: t.r.id, x: new Decimal('0.06').minus(balance).toFixed() },
      t.admin.token,
    );
    // R can pay 120 s at 0.03: the first customer's call takes all of it.
    expect(await start(server, t.admin.token, t.cs[0].id, callId())).toMatchObject({ allowed: true, maxDurationSeconds: 120 });
    expect(await start(server, t.admin.token, t.cs[1].id, callId())).toMatchObject({
      allowed: false,
      reasonCode: 'INSUFFICIENT_FUNDS',
    });
  });

  it('maxConcurrentCalls: a burst of starts through two instances opens exactly as many leases as allowed', async () => {
    const second = ENGINE === 'postgresql' ? await startServer() : server;
    try {
      const t = await tree(2);
      // Each lease holds its call's longest cost (a week at most: 604.80 here, 302.40 at R): funds for them all.
      await topUp(server, t.admin.token, t.r.id, '100000');
      await topUp(server, t.r.token, t.cs[0].id, '10000');
      await topUp(server, t.r.token, t.cs[1].id, '10000');
      await server.ok(UpdateAccountDocument, { id: t.c.id, input: { maxConcurrentCalls: 3 } }, t.r.token);
      const via = (i: number) => (i % 2 ? second : server);
      const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => start(via(i), t.admin.token, t.c.id, callId())));
      expect(burst.filter((b) => b.allowed)).toHaveLength(3);
      expect(new Set(burst.filter((b) => !b.allowed).map((b) => b.reasonCode))).toEqual(new Set(['CONCURRENCY_LIMIT']));
      const [{ count }] = await sql<{ count: string }>(
        server,
        `select count(*)::text as count from call_leases where account_id = ?`,
        [t.c.id],
      );
      expect(count).toBe('3');

      // A reseller's cap counts its whole subtree: 2 calls at once across both customers.
      await server.ok(UpdateAccountDocument, { id: t.c.id, input: { maxConcurrentCalls: null } }, t.r.token);
      await server.ok(UpdateAccountDocument, { id: t.r.id, input: { maxConcurrentCalls: 5 } }, t.admin.token);
      const more = await Promise.all(
        Array.from({ length: 10 }, (_, i) => start(via(i), t.admin.token, t.cs[i % 2].id, callId())),
      );
      // 3 open already: 2 more.
      expect(more.filter((b) => b.allowed)).toHaveLength(2);
    } finally {
      if (second !== server) await second.close();
    }
  });

  it('expire after CALL_LEASE_SECONDS, for switches that crash', async () => {
    const short = await startServer({ callLeaseSeconds: 1 });
    try {
      const t = await tree(1, short);
      await topUp(short, t.r.token, t.c.id, '100');
      await short.ok(UpdateAccountDocument, { id: t.c.id, input: { maxConcurrentCalls: 1 } }, t.r.token);
      expect(await start(short, t.admin.token, t.c.id, callId())).toMatchObject({ allowed: true });
      expect(await start(short, t.admin.token, t.c.id, callId())).toMatchObject({ reasonCode: 'CONCURRENCY_LIMIT' });
      await new Promise((r) => setTimeout(r, 1500));
      expect((await short.ok(OPEN, { id: t.c.id }, t.r.token)).account.openCalls).toEqual([]);
      expect(await start(short, t.admin.token, t.c.id, callId())).toMatchObject({ allowed: true });
    } finally {
      await short.close();
    }
  });

  it('only the platform starts and ends calls', async () => {
    const t = await tree();
    const asReseller = await server.gql(
      START,
      { input: { accountId: t.c.id, callId: 'x', destination: '4411', direction: 'OUTBOUND' } },
      t.r.token,
    );
    expect(errorCode(asReseller)).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(END, { a: t.c.id, c: 'x' }, t.r.token))).toBe('FORBIDDEN');
  });
});

describe('admission settings (DOMAIN.md 14)', () => {
  it('minimumBalanceToCall: a call must leave it; at it or below, BELOW_MINIMUM_BALANCE', async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '1');
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { minimumBalanceToCall: '0.40' } }, t.r.token);
    const authorize = async () => (await server.ok(AUTHORIZE, { a: t.c.id, d: '4411' }, t.admin.token)).authorizeCall;
    // 0.60 to spend at 0.06/min: 600 s.
    expect(await authorize()).toEqual({ allowed: true, maxDurationSeconds: 600, reasonCode: null });
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { minimumBalanceToCall: '1' } }, t.r.token);
    expect(await authorize()).toEqual({ allowed: false, maxDurationSeconds: 0, reasonCode: 'BELOW_MINIMUM_BALANCE' });
    const { account } = await server.ok(
      `query ($id: ID!) { account(id: $id) { minimumBalanceToCall maxConcurrentCalls allowNegativeMargin } }`,
      { id: t.c.id },
      t.r.token,
    );
    expect(account).toEqual({ minimumBalanceToCall: '1', maxConcurrentCalls: null, allowNegativeMargin: true });
  });

  it('allowNegativeMargin false refuses a call a reseller above would pay more for than it charges', async () => {
    const t = await tree();
    await topUp(server, t.r.token, t.c.id, '10');
    const authorize = async (d: string) => (await server.ok(AUTHORIZE, { a: t.c.id, d }, t.admin.token)).authorizeCall;
    // 33: R pays 0.10/min and charges C 0.06. Allowed by default.
    expect(await authorize('3311')).toMatchObject({ allowed: true });
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { allowNegativeMargin: false } }, t.r.token);
    expect(await authorize('3311')).toEqual({ allowed: false, maxDurationSeconds: 0, reasonCode: 'NEGATIVE_MARGIN' });
    expect(await authorize('4411')).toMatchObject({ allowed: true });
    // The customer may not change its own admission settings.
    const self = await server.gql(UpdateAccountDocument, { id: t.c.id, input: { allowNegativeMargin: true } }, t.c.token);
    expect(errorCode(self)).toBe('FORBIDDEN');
  });

  it('refuses a maxConcurrentCalls that is not a whole number from 0', async () => {
    const t = await tree();
    const bad = await server.gql(UpdateAccountDocument, { id: t.c.id, input: { maxConcurrentCalls: -1 } }, t.r.token);
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });
});
