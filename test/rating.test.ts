import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssignPackageDocument,
  AuthorizeCallDocument,
  BalanceDocument,
  CallsDocument,
  CreateRateGroupDocument,
  RateCallDocument,
  RateCallsDocument,
  UpdateAccountDocument,
  type CallInput,
  type RateInput,
} from './generated/graphql.js';
import { Decimal } from 'decimal.js';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

// Calls are rated only within 400 days of their start and never ahead (DOMAIN.md 5), so instants are relative to
// now: packages start at P0 (40 days back, at a whole hour), so a 30-day period has ended 10 days ago.
const DAY = 86_400_000;
const P0_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 40 * DAY;
const at = (ms: number) => new Date(P0_MS + ms).toISOString();
const P0 = at(0);
const START = at(19 * DAY);
let seq = 0;
const call = (accountId: string, destination: string, durationSeconds: number, extra: Partial<CallInput> = {}): CallInput => ({
  accountId,
  callId: `call-${++seq}-${Math.random().toString(36).slice(2, 8)}`,
  destination,
  direction: 'OUTBOUND',
  durationSeconds,
  startedAt: START,
  ...extra,
});

async function group(token: string, rates: RateInput[]) {
  const { createRateGroup } = await server.ok(CreateRateGroupDocument, { input: { name: `g-${Math.random()}`, rates } }, token);
  return createRateGroup.id;
}

/**
 * admin -> R1 -> R2 -> C, each paying its parent's rate group:
 *   R1 pays the admin's: 44 at 0.02 (60/60), 4420 at 0.01, inbound 44 at 0.005
 *   R2 pays R1's: 44 at 0.03 + 0.01 connection (30/6)
 *   C pays R2's: 44 at 0.06 (60/60)
 */
async function tree() {
  const p = await createPlatform(server);
  const admin: Node = { id: p.id, token: p.token, email: p.email };
  const r1 = await addAccount(server, admin.token, { kind: 'RESELLER' });
  const r2 = await addAccount(server, r1.token, { kind: 'RESELLER' });
  const c = await addAccount(server, r2.token, { kind: 'CUSTOMER' });
  const gAdmin = await group(admin.token, [
    { prefix: '44', ratePerMinute: '0.02' },
    { prefix: '4420', ratePerMinute: '0.01' },
    { prefix: '44', ratePerMinute: '0.005', direction: 'INBOUND' },
  ]);
  const gR1 = await group(r1.token, [
    { prefix: '44', ratePerMinute: '0.03', connectionFee: '0.01', initialIncrement: 30, increment: 6 },
  ]);
  const gR2 = await group(r2.token, [{ prefix: '44', ratePerMinute: '0.06' }]);
  await server.ok(UpdateAccountDocument, { id: r1.id, input: { rateGroupId: gAdmin } }, admin.token);
  await server.ok(UpdateAccountDocument, { id: r2.id, input: { rateGroupId: gR1 } }, r1.token);
  await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: gR2 } }, r2.token);
  return { admin, r1, r2, c };
}

type Tree = Awaited<ReturnType<typeof tree>>;
async function balances(t: Tree) {
  const read = async (n: Node) => (await server.ok(BalanceDocument, { id: n.id }, t.admin.token)).account!.balance;
  return [await read(t.c), await read(t.r2), await read(t.r1)];
}

describe('rating at every level', () => {
  it('rates each level with its own group, increments and connection fee, and records every charge', async () => {
    const t = await tree();
    const { rateCall } = await server.ok(RateCallDocument, { input: call(t.c.id, '447700900123', 95) }, t.admin.token);
    // C: 120 s at 0.06 = 0.12; R2: 30 + 11 x 6 = 96 s at 0.03 + 0.01 = 0.058; R1: 120 s at 0.02 = 0.04.
    expect(rateCall).toMatchObject({ durationSeconds: 95, billedSeconds: 120, cost: '0.12', account: { id: t.c.id } });
    expect(rateCall.charges).toEqual([
      { amount: '0.12', freeSeconds: 0, billedSeconds: 120, account: { id: t.c.id }, subscription: null },
      { amount: '0.058', freeSeconds: 0, billedSeconds: 96, account: { id: t.r2.id }, subscription: null },
      { amount: '0.04', freeSeconds: 0, billedSeconds: 120, account: { id: t.r1.id }, subscription: null },
    ]);
    expect(await balances(t)).toEqual(['-0.12', '-0.058', '-0.04']);
    const [{ kinds }] = await sql<{ kinds: string }>(
      server,
      `select string_agg(kind || ' ' || amount::text, ',') as kinds from ledger_entries where account_id = ?`,
      [t.c.id],
    );
    expect(kinds).toBe('USAGE -0.120000');
  });

  it('longest prefix wins per level; a 0-second call costs nothing anywhere', async () => {
    const t = await tree();
    const { rateCall } = await server.ok(RateCallDocument, { input: call(t.c.id, '442079460000', 60) }, t.admin.token);
    expect(rateCall.charges.map((c) => c.amount)).toEqual(['0.06', '0.04', '0.01']);
    const zero = await server.ok(RateCallDocument, { input: call(t.c.id, '442079460000', 0) }, t.admin.token);
    expect(zero.rateCall.charges.map((c) => [c.amount, c.billedSeconds])).toEqual([
      ['0', 0],
      ['0', 0],
      ['0', 0],
    ]);
  });

  it('an inbound call uses inbound rates, and costs nothing where there is none', async () => {
    const t = await tree();
    const { rateCall } = await server.ok(
      RateCallDocument,
      { input: call(t.c.id, '447700900123', 120, { direction: 'INBOUND' }) },
      t.admin.token,
    );
    expect(rateCall.charges.map((c) => c.amount)).toEqual(['0', '0', '0.01']);
  });

  it('NO_RATE at any level charges nobody and records nothing', async () => {
    const t = await tree();
    // 33 has no rate at any level.
    const nowhere = await server.gql(RateCallDocument, { input: call(t.c.id, '33123456', 60) }, t.admin.token);
    expect(nowhere.errors?.[0]?.extensions).toMatchObject({ code: 'NO_RATE', level: 0 });
    // A rate at C's and R2's level but not at R1's: still refused.
    await server.ok(
      'mutation($g: ID!) { upsertRates(rateGroupId: $g, rates: [{ prefix: "1", ratePerMinute: "1" }]) { id } }',
      {
        g: (await server.ok('query($id: ID!) { account(id: $id) { rateGroup { id } } }', { id: t.c.id }, t.r2.token)).account
          .rateGroup.id,
      },
      t.r2.token,
    );
    await server.ok(
      'mutation($g: ID!) { upsertRates(rateGroupId: $g, rates: [{ prefix: "1", ratePerMinute: "1" }]) { id } }',
      {
        g: (await server.ok('query($id: ID!) { account(id: $id) { rateGroup { id } } }', { id: t.r2.id }, t.r1.token)).account
          .rateGroup.id,
      },
      t.r1.token,
    );
    const upper = await server.gql(RateCallDocument, { input: call(t.c.id, '12125550000', 60) }, t.admin.token);
    expect(upper.errors?.[0]?.extensions).toMatchObject({ code: 'NO_RATE', level: 2 });
    expect(await balances(t)).toEqual(['0', '0', '0']);
    const [{ n }] = await sql<{ n: string }>(server, 'select count(*)::text as n from calls where account_id = ?', [t.c.id]);
    expect(n).toBe('0');
  });

  it('the same call id twice returns the first record and charges once', async () => {
    const t = await tree();
    const input = call(t.c.id, '447700900123', 61);
    const first = await server.ok(RateCallDocument, { input }, t.admin.token);
    const again = await server.ok(RateCallDocument, { input: { ...input, durationSeconds: 999 } }, t.admin.token);
    expect(again.rateCall.id).toBe(first.rateCall.id);
    expect(again.rateCall.durationSeconds).toBe(61);
    const batch = await server.ok(RateCallsDocument, { input: [input, call(t.c.id, '447700900123', 60), input] }, t.admin.token);
    expect(batch.rateCalls.map((r) => r.id)).toEqual([first.rateCall.id, batch.rateCalls[1].id, first.rateCall.id]);
    // 61 s: 0.12 / 0.01 + 66 s at 0.03 = 0.043 / 0.04; 60 s: 0.06 / 0.04 / 0.02.
    expect(await balances(t)).toEqual(['-0.18', '-0.083', '-0.06']);
  });

  it('keeps any call id exactly as sent, quotes, backslashes, braces and all', async () => {
    const t = await tree();
    const odd = ['a"b', 'back\\slash', '{x,y}', "it's NULL", 'é 漢字 ✓', ' padded '.trim(), 'NULL'];
    const { rateCalls } = await server.ok(
      RateCallsDocument,
      { input: odd.map((callId) => call(t.c.id, '447700900123', 60, { callId })) },
      t.admin.token,
    );
    expect(rateCalls.map((r) => r.callId)).toEqual(odd);
    const stored = await sql<{ call_id: string }>(server, `select call_id from calls where account_id = ? order by seq`, [
      t.c.id,
    ]);
    expect(stored.map((r) => r.call_id)).toEqual(odd);
    // Each is recognised when sent again.
    const again = await server.ok(
      RateCallsDocument,
      { input: odd.map((callId) => call(t.c.id, '447700900123', 60, { callId })) },
      t.admin.token,
    );
    expect(again.rateCalls.map((r) => r.id)).toEqual(rateCalls.map((r) => r.id));
  });

  it('call ids belong to the account: a sibling subtree may reuse one, and concurrent retries charge once', async () => {
    const t = await tree();
    const twin = await addAccount(server, t.r2.token, { kind: 'CUSTOMER' });
    const gR2 = (await server.ok('query($id: ID!) { account(id: $id) { rateGroup { id } } }', { id: t.c.id }, t.r2.token)).account
      .rateGroup.id;
    await server.ok(UpdateAccountDocument, { id: twin.id, input: { rateGroupId: gR2 } }, t.r2.token);
    const a = await server.ok(RateCallDocument, { input: call(t.c.id, '447700900123', 60, { callId: 'cdr-1' }) }, t.admin.token);
    const b = await server.ok(RateCallDocument, { input: call(twin.id, '447700900123', 60, { callId: 'cdr-1' }) }, t.admin.token);
    expect(b.rateCall.id).not.toBe(a.rateCall.id);
    expect(b.rateCall.cost).toBe('0.06');
    const batch = Array.from({ length: 20 }, (_, i) => call(t.c.id, '447700900123', 60, { callId: `retry-${i}` }));
    const results = await Promise.all(
      Array.from({ length: 4 }, () => server.gql(RateCallsDocument, { input: batch }, t.admin.token)),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect(new Set(results.map((r) => JSON.stringify(r.data!.rateCalls.map((c: { id: string }) => c.id)))).size).toBe(1);
    expect((await balances(t))[0]).toBe('-1.26');
  });

  it('calls lists newest first; levels above the viewer show no account', async () => {
    const t = await tree();
    await server.ok(
      RateCallsDocument,
      { input: [call(t.c.id, '447700900123', 10), call(t.c.id, '447700900124', 20)] },
      t.admin.token,
    );
    const byR2 = await server.ok(CallsDocument, { accountId: t.c.id }, t.r2.token);
    expect(byR2.calls.totalCount).toBe(2);
    expect(byR2.calls.edges.map((e) => e.node.durationSeconds)).toEqual([20, 10]);
    expect(byR2.calls.edges[0].node.charges.map((c) => c.account?.id ?? null)).toEqual([t.c.id, t.r2.id, null]);
    const byC = await server.ok(CallsDocument, { accountId: t.c.id }, t.c.token);
    expect(byC.calls.edges[0].node.charges.map((c) => c.account?.id ?? null)).toEqual([t.c.id, null, null]);
    const stranger = await addAccount(server, t.admin.token, { kind: 'RESELLER' });
    expect(errorCode(await server.gql(CallsDocument, { accountId: t.c.id }, stranger.token))).toBe('NOT_FOUND');
    // Another platform's switch cannot see the account; resellers and customers cannot rate at all.
    const otherPlatform = await createPlatform(server);
    expect(errorCode(await server.gql(RateCallDocument, { input: call(t.c.id, '447700900123', 5) }, otherPlatform.token))).toBe(
      'NOT_FOUND',
    );
    expect(errorCode(await server.gql(RateCallDocument, { input: call(t.c.id, '447700900123', 5) }, stranger.token))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await server.gql(RateCallDocument, { input: call(t.c.id, '447700900123', 5) }, t.c.token))).toBe(
      'FORBIDDEN',
    );
  });

  it("exports an account's calls as CSV, in scope only", async () => {
    const t = await tree();
    await server.ok(RateCallsDocument, { input: [call(t.c.id, '447700900123', 95, { callId: 'cdr-1' })] }, t.admin.token);
    const res = await fetch(`${server.url}/export/calls.csv?accountId=${t.c.id}`, {
      headers: { authorization: `Bearer ${t.r2.token}` },
    });
    const lines = (await res.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,call_id,account_id,started_at,destination,direction,duration_seconds,billed_seconds,cost');
    expect(lines.slice(1).map((l) => l.split(',').slice(1))).toEqual([
      ['cdr-1', t.c.id, START, '447700900123', 'OUTBOUND', '95', '120', '0.12'],
    ]);
    const stranger = await addAccount(server, t.admin.token, { kind: 'RESELLER' });
    expect(
      (
        await fetch(`${server.url}/export/calls.csv?accountId=${t.c.id}`, {
          headers: { authorization: `Bearer ${stranger.token}` },
        })
      ).status,
    ).toBe(404);
  });

  it('names a bad call in a batch and rates none of it', async () => {
    const t = await tree();
    const result = await server.gql(
      RateCallsDocument,
      { input: [call(t.c.id, '4477', 5), call(t.c.id, '44x', 5)] },
      t.admin.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[1].destination' });
    expect(await balances(t)).toEqual(['0', '0', '0']);
  });
});

describe('free minutes', () => {
  /** UK package at every level (price 0): 10 free minutes to 44, outbound. */
  async function covered(extra: Record<string, unknown> = {}) {
    const t = await tree();
    const p0 = await original(server, t.admin.token, { price: '0', freeMinutes: 10, destinations: ['44'], ...extra });
    const p1 = await optIn(server, t.r1.token, p0);
    const p2 = await optIn(server, t.r2.token, p1);
    const { assignPackage: sub } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: t.c.id, packageId: p2, startAt: P0 } },
      t.r2.token,
    );
    return { ...t, sub };
  }

  it('covers each level from its own subscription in the chain, then spills into paid time', async () => {
    const t = await covered();
    const first = await server.ok(RateCallDocument, { input: call(t.c.id, '447700900123', 95) }, t.admin.token);
    expect(first.rateCall.charges.map((c) => [c.amount, c.freeSeconds])).toEqual([
      ['0', 120],
      ['0', 96],
      ['0', 120],
    ]);
    expect(first.rateCall.charges[0].subscription).toEqual({ id: t.sub.id });
    // R2 sees its own upstream subscription; C does not.
    const mine = await server.ok(CallsDocument, { accountId: t.c.id }, t.c.token);
    expect(mine.calls.edges[0].node.charges.map((c) => c.subscription?.id ?? null)).toEqual([t.sub.id, null, null]);

    // 500 s: C bills 540 with 480 left (60 paid); R2 bills 504 with 504 left (nothing paid, no connection fee);
    // R1 bills 540 with 480 left (60 paid).
    const spill = await server.ok(RateCallDocument, { input: call(t.c.id, '447700900123', 500) }, t.admin.token);
    expect(spill.rateCall.charges.map((c) => [c.amount, c.freeSeconds, c.billedSeconds])).toEqual([
      ['0.06', 480, 540],
      ['0', 504, 504],
      ['0.02', 480, 540],
    ]);
    const [{ used }] = await sql<{ used: string }>(
      server,
      "select string_agg(free_seconds_used::text, ',' order by level) as used from package_subscriptions where chain_id = ?",
      [t.sub.id],
    );
    expect(used).toBe('600,600,600');
    expect(await balances(t)).toEqual(['-0.06', '0', '-0.02']);
  });

  it('does not cover other directions, other destinations, or calls outside the period', async () => {
    const t = await covered();
    const inbound = await server.ok(
      RateCallDocument,
      { input: call(t.c.id, '447700900123', 60, { direction: 'INBOUND' }) },
      t.admin.token,
    );
    expect(inbound.rateCall.charges.map((c) => c.freeSeconds)).toEqual([0, 0, 0]);
    const late = await server.ok(
      RateCallDocument,
      { input: call(t.c.id, '447700900123', 60, { startedAt: at(35 * DAY) }) },
      t.admin.token,
    );
    expect(late.rateCall.charges.map((c) => c.freeSeconds)).toEqual([0, 0, 0]);
    const early = await server.ok(
      RateCallDocument,
      { input: call(t.c.id, '447700900123', 60, { startedAt: at(-1000) }) },
      t.admin.token,
    );
    expect(early.rateCall.charges.map((c) => c.freeSeconds)).toEqual([0, 0, 0]);
  });

  it("chooses the longest pattern, then priority, then the earlier period end; a reseller's own package covers only its customers", async () => {
    const t = await tree();
    const buy = async (spec: Record<string, unknown>, startAt: string) => {
      const pkg = await original(server, t.r2.token, { price: '0', freeMinutes: 1, ...spec });
      const { assignPackage } = await server.ok(
        AssignPackageDocument,
        { input: { accountId: t.c.id, packageId: pkg, startAt } },
        t.r1.token,
      );
      return assignPackage.id;
    };
    const broadLowPriority = await buy({ destinations: ['44'], priority: 2, billingDays: 30 }, P0);
    const broadHighLate = await buy({ destinations: ['44'], priority: 1, billingDays: 30 }, at(DAY));
    const broadHighEarly = await buy({ destinations: ['44'], priority: 1, billingDays: 30 }, P0);
    const narrow = await buy({ destinations: ['447'], priority: 9, billingDays: 30 }, P0);
    const used = async (destination: string) =>
      (await server.ok(RateCallDocument, { input: call(t.c.id, destination, 60) }, t.admin.token)).rateCall.charges[0]
        .subscription?.id;
    expect(await used('447700900123')).toBe(narrow);
    expect(await used('447700900123')).toBe(broadHighEarly);
    expect(await used('441234')).toBe(broadHighLate);
    expect(await used('441234')).toBe(broadLowPriority);
    const last = await server.ok(RateCallDocument, { input: call(t.c.id, '441234', 60) }, t.admin.token);
    // All used up: C pays; R2's own packages never cover R2, which pays its rate on every call.
    expect(last.rateCall.charges.map((c) => [c.amount, c.freeSeconds])).toEqual([
      ['0.06', 0],
      ['0.04', 0],
      ['0.02', 0],
    ]);
    expect((await balances(t))[1]).toBe('-0.2');
  });
});

describe('batches', () => {
  it('a batch rates exactly like the same calls one by one', async () => {
    const a = await tree();
    const b = await tree();
    for (const t of [a, b]) {
      const p0 = await original(server, t.admin.token, { price: '0', freeMinutes: 3, destinations: ['4420'] });
      const p1 = await optIn(server, t.r1.token, p0);
      const p2 = await optIn(server, t.r2.token, p1);
      await server.ok(AssignPackageDocument, { input: { accountId: t.c.id, packageId: p2, startAt: P0 } }, t.r2.token);
    }
    const spec = Array.from({ length: 40 }, (_, i) => ({
      destination: i % 3 ? '442079460000' : '447700900123',
      duration: (i * 37) % 200,
    }));
    const batch = await server.ok(
      RateCallsDocument,
      { input: spec.map((s, i) => call(a.c.id, s.destination, s.duration, { callId: `x${i}` })) },
      a.admin.token,
    );
    const single = [];
    for (const [i, s] of spec.entries()) {
      single.push(
        (
          await server.ok(
            RateCallDocument,
            { input: call(b.c.id, s.destination, s.duration, { callId: `x${i}` }) },
            b.admin.token,
          )
        ).rateCall,
      );
    }
    const shape = (r: (typeof single)[number]) => r.charges.map((c) => [c.amount, c.freeSeconds, c.billedSeconds]);
    expect(batch.rateCalls.map(shape)).toEqual(single.map(shape));
    expect(await balances(a)).toEqual(await balances(b));
    // One USAGE entry per account for the batch; one per call one by one.
    const [{ n }] = await sql<{ n: string }>(
      server,
      `select count(*)::text as n from ledger_entries where account_id = ? and kind = 'USAGE'`,
      [a.c.id],
    );
    expect(Number(n)).toBe(1);
  });

  it('concurrent rating on one customer and on siblings under the same resellers: exact balances, no deadlock', async () => {
    const t = await tree();
    const siblings = [
      t.c,
      ...(await Promise.all(Array.from({ length: 3 }, () => addAccount(server, t.r2.token, { kind: 'CUSTOMER' })))),
    ];
    const gR2 = (await server.ok('query($id: ID!) { account(id: $id) { rateGroup { id } } }', { id: t.c.id }, t.r2.token)).account
      .rateGroup.id;
    for (const s of siblings.slice(1))
      await server.ok(UpdateAccountDocument, { id: s.id, input: { rateGroupId: gR2 } }, t.r2.token);
    await topUp(server, t.r2.token, t.c.id, '100');
    const requests = [
      ...Array.from({ length: 10 }, () =>
        server.gql(RateCallDocument, { input: call(t.c.id, '447700900123', 60) }, t.admin.token),
      ),
      ...siblings.flatMap((s) =>
        Array.from({ length: 3 }, () =>
          server.gql(
            RateCallsDocument,
            { input: Array.from({ length: 25 }, () => call(s.id, '447700900123', 60)) },
            t.admin.token,
          ),
        ),
      ),
    ];
    const results = await Promise.all(requests);
    expect(results.filter((r) => r.errors)).toEqual([]);
    const calls = 10 + siblings.length * 75;
    // Every call is 60 s: C pays 0.06, R2 0.04 (0.01 + 0.03) and R1 0.02 a call.
    const [c, r2, r1] = await balances(t);
    expect(c).toBe(new Decimal(100).minus(new Decimal('0.06').times(10 + 75)).toFixed());
    expect(r2).toBe(new Decimal('-0.04').times(calls).toFixed());
    expect(r1).toBe(new Decimal('-0.02').times(calls).toFixed());
    expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
    const [{ charged }] = await sql<{ charged: string }>(
      server,
      `select coalesce(sum(amount), 0)::text as charged from call_charges where account_id = ?`,
      [t.r1.id],
    );
    expect(new Decimal(charged).eq(new Decimal('0.02').times(calls))).toBe(true);
    // Charge rows carry no foreign keys (they are the hot path); every one still has its call and its account,
    // and every call has exactly one charge per level.
    const [integrity] = await sql<{ orphans: string; incomplete: string }>(
      server,
      `select (select count(*) from call_charges cc
                where not exists (select 1 from calls c where c.id = cc.call_id)
                   or not exists (select 1 from accounts a where a.id = cc.account_id))::text as orphans,
              (select count(*) from calls c where c.account_id = any(?::text[])
                  and (select count(*) from call_charges cc where cc.call_id = c.id) <> 3)::text as incomplete`,
      [`{${siblings.map((s) => s.id).join(',')}}`],
    );
    expect(integrity).toEqual({ orphans: '0', incomplete: '0' });
  });
});

describe('authorizeCall', () => {
  it('answers the longest duration every level can pay, free seconds, and spend limits', async () => {
    const t = await tree();
    await topUp(server, t.admin.token, t.r1.id, '10');
    await topUp(server, t.r1.token, t.r2.id, '10');
    await topUp(server, t.r2.token, t.c.id, '1');
    const ask = async () =>
      (
        await server.ok(
          AuthorizeCallDocument,
          { accountId: t.c.id, destination: '447700900123', direction: 'OUTBOUND' },
          t.r1.token,
        )
      ).authorizeCall;
    // C's 1.00 buys 1000 s at 0.06, whole minutes: 960 s. R2 and R1 can pay far more.
    expect(await ask()).toEqual({ allowed: true, maxDurationSeconds: 960, reason: null });
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { dailySpendLimit: '0.12' } }, t.r2.token);
    expect(await ask()).toEqual({ allowed: true, maxDurationSeconds: 120, reason: null });
    await server.ok(
      RateCallDocument,
      { input: call(t.c.id, '447700900123', 100, { startedAt: new Date().toISOString() }) },
      t.admin.token,
    );
    expect(await ask()).toEqual({ allowed: false, maxDurationSeconds: 0, reason: 'LIMIT_REACHED' });
    // The same reason as an enum, for clients that switch on it.
    const code = async (destination: string) =>
      (
        await server.ok(
          `query ($a: ID!, $d: String!) { authorizeCall(accountId: $a, destination: $d, direction: OUTBOUND) { reason reasonCode } }`,
          { a: t.c.id, d: destination },
          t.r1.token,
        )
      ).authorizeCall;
    expect(await code('447700900123')).toEqual({ reason: 'LIMIT_REACHED', reasonCode: 'LIMIT_REACHED' });
    expect(await code('3312345')).toEqual({ reason: 'NO_RATE', reasonCode: 'NO_RATE' });
    await server.ok(UpdateAccountDocument, { id: t.c.id, input: { dailySpendLimit: null } }, t.r2.token);
    expect(await code('447700900123')).toEqual({ reason: null, reasonCode: null });
    await server.ok(UpdateAccountDocument, { id: t.r2.id, input: { monthlySpendLimit: '0.09' } }, t.r1.token);
    // R2 paid 0.061 for the 100 s call (30 + 12 x 6 = 102 s): 0.029 of its 0.09 is left, which buys
    // (0.029 - 0.01) x 60 / 0.03 = 38 s, so 36 s in its 30/6 increments.
    expect(await ask()).toEqual({ allowed: true, maxDurationSeconds: 36, reason: null });
    expect(
      (await server.ok(AuthorizeCallDocument, { accountId: t.c.id, destination: '3312345', direction: 'OUTBOUND' }, t.r1.token))
        .authorizeCall,
    ).toEqual({ allowed: false, maxDurationSeconds: 0, reason: 'NO_RATE' });
  });

  it('counts free seconds and refuses when nothing can be paid', async () => {
    const t = await tree();
    const p0 = await original(server, t.admin.token, { price: '0', freeMinutes: 2, destinations: ['44'] });
    const p1 = await optIn(server, t.r1.token, p0);
    const p2 = await optIn(server, t.r2.token, p1);
    const ask = async () =>
      (
        await server.ok(
          AuthorizeCallDocument,
          { accountId: t.c.id, destination: '447700900123', direction: 'OUTBOUND' },
          t.r1.token,
        )
      ).authorizeCall;
    expect(await ask()).toEqual({ allowed: false, maxDurationSeconds: 0, reason: 'INSUFFICIENT_FUNDS' });
    await server.ok(AssignPackageDocument, { input: { accountId: t.c.id, packageId: p2 } }, t.r2.token);
    // 120 free seconds at every level, no money anywhere: 120 s (R2: 30 + 15 x 6 = 120).
    expect(await ask()).toEqual({ allowed: true, maxDurationSeconds: 120, reason: null });
    const stranger = await addAccount(server, t.admin.token, { kind: 'RESELLER' });
    expect(
      errorCode(
        await server.gql(AuthorizeCallDocument, { accountId: t.c.id, destination: '44', direction: 'OUTBOUND' }, stranger.token),
      ),
    ).toBe('NOT_FOUND');
    // The answer reflects the resellers' balances above the customer: it is not for the customer to ask.
    expect(
      errorCode(
        await server.gql(AuthorizeCallDocument, { accountId: t.c.id, destination: '44', direction: 'OUTBOUND' }, t.c.token),
      ),
    ).toBe('FORBIDDEN');
    // A long answer is capped at the longest call rating accepts (a week).
    await topUp(server, t.admin.token, t.r1.id, '100000');
    await topUp(server, t.r1.token, t.r2.id, '100000');
    await topUp(server, t.r2.token, t.c.id, '100000');
    expect((await ask()).maxDurationSeconds).toBe(604800);
  });
});
