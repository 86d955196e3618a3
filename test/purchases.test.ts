import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountSubscriptionsDocument,
  AssignPackageDocument,
  BalanceDocument,
  EarningsDocument,
  LedgerDocument,
  OptOutDocument,
  PackageSubscriptionDocument,
  PurchasePackageDocument,
  TerminateSubscriptionDocument,
} from './generated/graphql.js';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const DAY = 86_400_000;
const WIDE = { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };

async function platform() {
  const p = await createPlatform(server);
  return { id: p.id, token: p.token, email: p.email } as Node;
}
async function balance(node: Node, viewer: Node) {
  return (await server.ok(BalanceDocument, { id: node.id }, viewer.token)).account!.balance;
}
async function balances(viewer: Node, ...nodes: Node[]) {
  return Promise.all(nodes.map((n) => balance(n, viewer)));
}
async function earnings(node: Node, viewer: Node = node) {
  return (await server.ok(EarningsDocument, { accountId: node.id, ...WIDE }, viewer.token)).earnings;
}
async function ledgerKinds(node: Node, viewer: Node = node) {
  const { account } = await server.ok(LedgerDocument, { id: node.id }, viewer.token);
  return account!.ledger.edges.map((e) => [e.node.kind, e.node.amount]).reverse();
}

describe('DOMAIN.md worked examples', () => {
  it('margin: C 34.00, R2 87.00, R1 89.00, the admin untouched', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const r2 = await addAccount(server, r1.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const c = await addAccount(server, r2.token, { kind: 'CUSTOMER' });
    const uk100 = await original(server, admin.token, {
      name: 'UK100',
      price: '10.00',
      setupFee: '1.00',
      freeMinutes: 100,
      destinations: ['44'],
      billingDays: 30,
    });
    const p1 = await optIn(server, r1.token, uk100, { price: '12.00', setupFee: '1.00' });
    const p2 = await optIn(server, r2.token, p1, { price: '15.00', setupFee: '1.00' });
    await topUp(server, admin.token, r1.id, '100');
    await topUp(server, r1.token, r2.id, '100');
    await topUp(server, r2.token, c.id, '50');

    const before = Date.now();
    const { purchasePackage: sub } = await server.ok(PurchasePackageDocument, { input: { packageId: p2 } }, c.token);
    expect(await balances(admin, c, r2, r1)).toEqual(['34', '87', '89']);
    expect(await balance(admin, admin)).toBe('0');

    expect(sub).toMatchObject({
      status: 'ACTIVE',
      periodsCharged: 1,
      freeSecondsTotal: 6000,
      freeSecondsUsed: 0,
      endedAt: null,
      account: { id: c.id },
      package: { id: p2 },
    });
    const start = Date.parse(sub.currentPeriodStart);
    expect(start).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(sub.currentPeriodEnd) - start).toBe(30 * DAY);
    expect(sub.activatedAt).toBe(sub.currentPeriodStart);

    expect(await ledgerKinds(c)).toEqual([
      ['TOPUP', '50'],
      ['SETUP_FEE', '-1'],
      ['PACKAGE_FEE', '-15'],
    ]);
    expect(await ledgerKinds(r2)).toEqual([
      ['TOPUP', '100'],
      ['SETUP_FEE', '-1'],
      ['PACKAGE_FEE', '-12'],
    ]);
    expect(await ledgerKinds(r1)).toEqual([
      ['TOPUP', '100'],
      ['SETUP_FEE', '-1'],
      ['PACKAGE_FEE', '-10'],
    ]);

    expect(await earnings(r2)).toEqual({ sales: '16', costs: '13', commissions: '0', margin: '3' });
    expect(await earnings(r1)).toEqual({ sales: '13', costs: '11', commissions: '0', margin: '2' });
    expect(await earnings(admin)).toEqual({ sales: '11', costs: '0', commissions: '0', margin: '11' });

    // Each account sees its own level only.
    const cSubs = await server.ok(AccountSubscriptionsDocument, { id: c.id }, c.token);
    expect(cSubs.account!.subscriptions.edges.map((e) => e.node.package.id)).toEqual([p2]);
    const r2Subs = await server.ok(AccountSubscriptionsDocument, { id: r2.id }, r2.token);
    expect(r2Subs.account!.subscriptions.edges.map((e) => e.node.package.id)).toEqual([p1]);
    const r1Subs = await server.ok(AccountSubscriptionsDocument, { id: r1.id }, r1.token);
    expect(r1Subs.account!.subscriptions.edges.map((e) => e.node.package.id)).toEqual([uk100]);
    const upstreamId = r2Subs.account!.subscriptions.edges[0].node.id;
    expect((await server.ok(PackageSubscriptionDocument, { id: upstreamId }, c.token)).packageSubscription).toBeNull();
    expect((await server.ok(PackageSubscriptionDocument, { id: upstreamId }, r1.token)).packageSubscription?.id).toBe(upstreamId);
    expect((await server.ok(PackageSubscriptionDocument, { id: sub.id }, r2.token)).packageSubscription?.id).toBe(sub.id);
  });

  it('commission: C 10.00, R1 41.00 with a separate COMMISSION entry', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const c = await addAccount(server, r1.token, { kind: 'CUSTOMER' });
    const pkg = await original(server, admin.token, { price: '10.00', commissionRate: '10' });
    const clone = await optIn(server, r1.token, pkg);
    await topUp(server, admin.token, r1.id, '50');
    await topUp(server, r1.token, c.id, '20');
    await server.ok(PurchasePackageDocument, { input: { packageId: clone } }, c.token);
    expect(await balances(admin, c, r1)).toEqual(['10', '41']);
    expect(await ledgerKinds(r1)).toEqual([
      ['TOPUP', '50'],
      ['PACKAGE_FEE', '-10'],
      ['COMMISSION', '1'],
    ]);
    expect(await earnings(r1)).toEqual({ sales: '10', costs: '10', commissions: '1', margin: '1' });
    expect(await earnings(admin)).toEqual({ sales: '9', costs: '0', commissions: '0', margin: '9' });
  });

  it.each([
    ['FULL', '0'],
    ['UTILIZED_DAYS', '21'],
    ['UTILIZED_MINUTES', '11.2'],
    ['HIGHEST_UTILIZATION', '11.2'],
  ] as const)('termination example, %s refunds %s of 28.00', async (chargeType, refund) => {
    const admin = await platform();
    const c = await addAccount(server, admin.token, { kind: 'CUSTOMER' });
    const pkg = await original(server, admin.token, {
      price: '28.00',
      setupFee: '5',
      billingDays: 28,
      freeMinutes: 100,
      chargeType,
      canBePurchased: false,
    });
    await topUp(server, admin.token, c.id, '100');
    const start = new Date(Date.now() - 10 * DAY);
    const { assignPackage: sub } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: c.id, packageId: pkg, startAt: start.toISOString() } },
      admin.token,
    );
    expect(sub.currentPeriodStart).toBe(start.toISOString());
    expect(await balance(c, admin)).toBe('67');
    // 60 of the 100 free minutes used (what rating will record).
    await sql(server, 'update package_subscriptions set free_seconds_used = 3600 where id = ?', [sub.id]);
    const at = new Date(start.getTime() + 6 * DAY + 3_600_000);
    const { terminateSubscription } = await server.ok(
      TerminateSubscriptionDocument,
      { id: sub.id, at: at.toISOString() },
      admin.token,
    );
    expect(terminateSubscription).toMatchObject({ status: 'TERMINATED', endedAt: at.toISOString() });
    const expected = (67 + Number(refund)).toString();
    expect(await balance(c, admin)).toBe(expected);
    if (refund !== '0') expect((await ledgerKinds(c, admin)).at(-1)).toEqual(['REFUND', refund]);
    else expect((await ledgerKinds(c, admin)).at(-1)?.[0]).toBe('PACKAGE_FEE');
  });
});

describe('activation policy', () => {
  async function chain(policy: 'DENY_IF_INSUFFICIENT' | 'ALLOW_IF_INSUFFICIENT') {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER' });
    const r2 = await addAccount(server, r1.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const c = await addAccount(server, r2.token, { kind: 'CUSTOMER', billingMode: 'POSTPAID', creditLimit: '5' });
    const p0 = await original(server, admin.token, { price: '10', setupFee: '2', activationPolicy: policy });
    // The rate R1 gives its COMMISSION sub-resellers.
    const p1 = await optIn(server, r1.token, p0, { price: '15', setupFee: '2', commissionRate: '20' });
    const p2 = await optIn(server, r2.token, p1);
    return { admin, r1, r2, c, p2 };
  }

  it('DENY: a customer short of funds gets INSUFFICIENT_FUNDS at level 0 and nothing moves', async () => {
    const { admin, r1, r2, c, p2 } = await chain('DENY_IF_INSUFFICIENT');
    await topUp(server, admin.token, r1.id, '100');
    await topUp(server, r1.token, r2.id, '100');
    await topUp(server, r2.token, c.id, '11.99'); // available 16.99 < 17
    const result = await server.gql(PurchasePackageDocument, { input: { packageId: p2 } }, c.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INSUFFICIENT_FUNDS', level: 0 });
    expect(await balances(admin, c, r2, r1)).toEqual(['11.99', '100', '100']);
    const [{ n }] = await sql<{ n: string }>(
      server,
      `select count(*)::text as n from package_subscriptions where package_id = ?`,
      [p2],
    );
    expect(n).toBe('0');
  });

  it('DENY: a reseller short of funds names its level; every balance is untouched', async () => {
    const { admin, r1, r2, c, p2 } = await chain('DENY_IF_INSUFFICIENT');
    await topUp(server, admin.token, r1.id, '11.99'); // R1 owes 12 to the admin
    await topUp(server, r1.token, r2.id, '100');
    await topUp(server, r2.token, c.id, '100');
    const result = await server.gql(PurchasePackageDocument, { input: { packageId: p2 } }, c.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INSUFFICIENT_FUNDS', level: 2 });
    expect(await balances(admin, c, r2, r1)).toEqual(['100', '100', '11.99']);
    expect((await ledgerKinds(c, admin)).map((k) => k[0])).toEqual(['TOPUP']);
  });

  it('ALLOW: every charge goes through, below the credit limit if need be', async () => {
    const { admin, r1, r2, c, p2 } = await chain('ALLOW_IF_INSUFFICIENT');
    await server.ok(PurchasePackageDocument, { input: { packageId: p2 } }, c.token);
    // C pays 17 (R2's COMMISSION clone sells at R1's 15 + 2); R2 pays 17 and gets 20% of 17; R1 pays 12.
    expect(await balances(admin, c, r2, r1)).toEqual(['-17', '-13.6', '-12']);
    expect(await earnings(r2)).toEqual({ sales: '17', costs: '17', commissions: '3.4', margin: '3.4' });
    expect(await earnings(r1, admin)).toEqual({ sales: '13.6', costs: '12', commissions: '0', margin: '1.6' });
  });
});

describe('purchase rules', () => {
  let admin: Node;
  let r1: Node;
  let c: Node;
  let pkg: string;
  let hidden: string;
  beforeAll(async () => {
    admin = await platform();
    r1 = await addAccount(server, admin.token, { kind: 'RESELLER' });
    c = await addAccount(server, r1.token, { kind: 'CUSTOMER' });
    const p0 = await original(server, admin.token, { price: '5', billingType: 'MONTHLY' });
    pkg = await optIn(server, r1.token, p0, { price: '6' });
    const h0 = await original(server, admin.token, { price: '1', billingType: 'ONE_TIME', billingDays: 7 });
    hidden = await optIn(server, r1.token, h0, { canBePurchased: false });
    await topUp(server, admin.token, r1.id, '1000');
    await topUp(server, r1.token, c.id, '1000');
  });

  it('an idempotency key charges once and replays the subscription', async () => {
    const input = { packageId: pkg, idempotencyKey: 'buy-1' };
    const a = await server.ok(PurchasePackageDocument, { input }, c.token);
    const b = await server.ok(PurchasePackageDocument, { input }, c.token);
    expect(b.purchasePackage.id).toBe(a.purchasePackage.id);
    expect(await balance(c, r1)).toBe('994');
    const other = await server.gql(PurchasePackageDocument, { input: { packageId: hidden, idempotencyKey: 'buy-1' } }, c.token);
    expect(errorCode(other)).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('a customer cannot buy what is not purchasable; an ancestor can assign it, backdated', async () => {
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: hidden } }, c.token))).toBe('NOT_FOUND');
    const start = '2026-10-01T08:30:00.000Z';
    const { assignPackage } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: c.id, packageId: hidden, startAt: start } },
      admin.token,
    );
    expect(assignPackage).toMatchObject({ currentPeriodStart: start, currentPeriodEnd: '2026-10-08T08:30:00.000Z' });
    const future = await server.gql(
      AssignPackageDocument,
      { input: { accountId: c.id, packageId: hidden, startAt: '2099-01-01T00:00:00Z' } },
      admin.token,
    );
    expect(future.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'startAt' });
  });

  it('MONTHLY periods end on the activation day, clamped to the month end', async () => {
    const { assignPackage } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: c.id, packageId: pkg, startAt: '2026-01-31T23:15:00.000Z' } },
      r1.token,
    );
    expect(assignPackage.currentPeriodEnd).toBe('2026-02-28T23:15:00.000Z');
  });

  it('refuses: a reseller buying, assigning to oneself or to a reseller, other currencies, foreign packages', async () => {
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: pkg } }, r1.token))).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(AssignPackageDocument, { input: { accountId: r1.id, packageId: pkg } }, r1.token))).toBe(
      'FORBIDDEN',
    );
    const sub = await addAccount(server, r1.token, { kind: 'RESELLER' });
    const toReseller = await server.gql(AssignPackageDocument, { input: { accountId: sub.id, packageId: pkg } }, r1.token);
    expect(toReseller.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'accountId' });
    const eur = await addAccount(server, r1.token, { kind: 'CUSTOMER', currency: 'EUR' });
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: pkg } }, eur.token))).toBe(
      'CURRENCY_MISMATCH',
    );
    const stranger = await addAccount(server, admin.token, { kind: 'CUSTOMER' });
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: pkg } }, stranger.token))).toBe('NOT_FOUND');
    expect(
      errorCode(await server.gql(AssignPackageDocument, { input: { accountId: stranger.id, packageId: pkg } }, r1.token)),
    ).toBe('NOT_FOUND');
  });

  it('an upstream package that is no longer active stops sales downstream', async () => {
    const p0 = await original(server, admin.token, { price: '2' });
    const clone = await optIn(server, r1.token, p0, { price: '3' });
    await server.ok('mutation($id: ID!) { setPackageStatus(id: $id, status: DISABLED) { id } }', { id: p0 }, admin.token);
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: clone } }, c.token))).toBe('INVALID_STATE');
  });
});

describe('termination', () => {
  it('refunds every level by its own price and reverses commission in proportion; never the setup fee', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const r2 = await addAccount(server, r1.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const c = await addAccount(server, r2.token, { kind: 'CUSTOMER' });
    const p0 = await original(server, admin.token, {
      price: '30',
      setupFee: '3',
      billingDays: 30,
      chargeType: 'UTILIZED_DAYS',
      minimumDays: 2,
    });
    const p1 = await optIn(server, r1.token, p0, { price: '40', setupFee: '4', commissionRate: '10' });
    const p2 = await optIn(server, r2.token, p1);
    for (const [token, id] of [
      [admin.token, r1.id],
      [r1.token, r2.id],
      [r2.token, c.id],
    ] as const)
      await topUp(server, token, id, '100');
    const start = new Date(Date.now() - 20 * DAY);
    const { assignPackage: sub } = await server.ok(
      AssignPackageDocument,
      { input: { accountId: c.id, packageId: p2, startAt: start.toISOString() } },
      r1.token,
    );
    // C: -44; R2: -44 + 4.4 commission; R1: -33.
    expect(await balances(admin, c, r2, r1)).toEqual(['56', '60.4', '67']);

    const early = await server.gql(
      TerminateSubscriptionDocument,
      { id: sub.id, at: new Date(start.getTime() + DAY).toISOString() },
      admin.token,
    );
    expect(errorCode(early)).toBe('MINIMUM_TERM');
    // Only the platform admin may backdate: anyone else's past instant would set everyone's refund.
    const backdated = await server.gql(
      TerminateSubscriptionDocument,
      { id: sub.id, at: new Date(start.getTime() + 3 * DAY).toISOString() },
      c.token,
    );
    expect(backdated.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'at' });
    const byReseller = await server.gql(
      TerminateSubscriptionDocument,
      { id: sub.id, at: new Date(start.getTime() + 3 * DAY).toISOString() },
      r1.token,
    );
    expect(byReseller.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'at' });

    // 9.5 days in: 10 used days of 30, so two thirds of each level's price comes back.
    const at = new Date(start.getTime() + 9.5 * DAY);
    await server.ok(TerminateSubscriptionDocument, { id: sub.id, at: at.toISOString() }, admin.token);
    // C gets 26.6667 of 40; R2 gets 26.6667 and gives back 10% of it (2.6667); R1 gets 20 of 30.
    expect(await balances(admin, c, r2, r1)).toEqual(['82.6667', '84.4', '87']);
    expect((await ledgerKinds(r2, r1)).slice(-2)).toEqual([
      ['REFUND', '26.6667'],
      ['COMMISSION_REVERSAL', '-2.6667'],
    ]);
    expect(await earnings(r2)).toEqual({ sales: '17.3333', costs: '17.3333', commissions: '1.7333', margin: '1.7333' });

    const subs = await server.ok(AccountSubscriptionsDocument, { id: r2.id, status: 'TERMINATED' }, r1.token);
    expect(subs.account!.subscriptions.edges[0].node).toMatchObject({ status: 'TERMINATED', endedAt: at.toISOString() });
    expect(errorCode(await server.gql(TerminateSubscriptionDocument, { id: sub.id }, c.token))).toBe('INVALID_STATE');
  });

  it('a sibling cannot terminate; opt-out waits until no subscription uses the clone', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER' });
    const r2 = await addAccount(server, admin.token, { kind: 'RESELLER' });
    const c = await addAccount(server, r1.token, { kind: 'CUSTOMER' });
    const p0 = await original(server, admin.token, { price: '0' });
    const clone = await optIn(server, r1.token, p0);
    const { purchasePackage: sub } = await server.ok(PurchasePackageDocument, { input: { packageId: clone } }, c.token);
    expect(errorCode(await server.gql(TerminateSubscriptionDocument, { id: sub.id }, r2.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(OptOutDocument, { packageId: clone }, r1.token))).toBe('INVALID_STATE');
    await server.ok(TerminateSubscriptionDocument, { id: sub.id }, r1.token);
    expect((await server.ok(OptOutDocument, { packageId: clone }, r1.token)).optOut.status).toBe('ARCHIVED');
    // The customer still sees its (terminated) subscription and the package it was for.
    const mine = await server.ok(PackageSubscriptionDocument, { id: sub.id }, c.token);
    expect(mine.packageSubscription).toMatchObject({ status: 'TERMINATED', package: { id: clone } });
  });
});

describe('a four-level mixed chain', () => {
  it('charges each level by its parent, commissions to COMMISSION levels, and reconciles earnings', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const r2 = await addAccount(server, r1.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const r3 = await addAccount(server, r2.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const c = await addAccount(server, r3.token, { kind: 'CUSTOMER' });
    const p0 = await original(server, admin.token, { price: '7.33', setupFee: '0.5', commissionRate: '12.5' });
    const p1 = await optIn(server, r1.token, p0, { commissionRate: '99' }); // follows 7.33 + 0.5
    const p2 = await optIn(server, r2.token, p1, { price: '9.99', setupFee: '0.75', commissionRate: '7' });
    const p3 = await optIn(server, r3.token, p2); // follows 9.99 + 0.75
    for (const [token, id] of [
      [admin.token, r1.id],
      [r1.token, r2.id],
      [r2.token, r3.id],
      [r3.token, c.id],
    ] as const) {
      await topUp(server, token, id, '50');
    }
    await server.ok(PurchasePackageDocument, { input: { packageId: p3 } }, c.token);
    // C pays 10.74; R3 pays 10.74 and earns 7% = 0.7518; R2 pays 7.83; R1 pays 7.83 and earns 12.5% = 0.9788 (0.97875 half-up).
    expect(await balances(admin, c, r3, r2, r1)).toEqual(['39.26', '40.0118', '42.17', '43.1488']);
    expect(await earnings(r3)).toEqual({ sales: '10.74', costs: '10.74', commissions: '0.7518', margin: '0.7518' });
    expect(await earnings(r2)).toEqual({ sales: '9.9882', costs: '7.83', commissions: '0', margin: '2.1582' });
    expect(await earnings(r1)).toEqual({ sales: '7.83', costs: '7.83', commissions: '0.9788', margin: '0.9788' });
    expect(await earnings(admin)).toEqual({ sales: '6.8512', costs: '0', commissions: '0', margin: '6.8512' });
  });
});

describe('concurrency', () => {
  it('siblings buying at once through the same resellers: no deadlock, exact balances', async () => {
    const admin = await platform();
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
    const r2 = await addAccount(server, r1.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const p0 = await original(server, admin.token, { price: '3', setupFee: '1', commissionRate: '10' });
    const p1 = await optIn(server, r1.token, p0, { commissionRate: '5' });
    const p2 = await optIn(server, r2.token, p1, { price: '5', setupFee: '1' });
    const customers = await Promise.all(Array.from({ length: 12 }, () => addAccount(server, r2.token, { kind: 'CUSTOMER' })));
    await topUp(server, admin.token, r1.id, '1000');
    await topUp(server, r1.token, r2.id, '1000');
    await Promise.all(customers.map((c) => topUp(server, r2.token, c.id, '100')));

    const results = await Promise.all([
      ...customers.flatMap((c) => [
        server.gql(PurchasePackageDocument, { input: { packageId: p2 } }, c.token),
        server.gql(PurchasePackageDocument, { input: { packageId: p2 } }, c.token),
      ]),
      ...Array.from({ length: 6 }, () =>
        server.gql('mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1" }) { id } }', { id: r2.id }, r1.token),
      ),
    ]);
    expect(results.filter((r) => r.errors)).toEqual([]);
    const n = customers.length * 2;
    // Each purchase: C pays 6; R2 pays 4 (R1's COMMISSION clone follows 3 + 1); R1 pays 4 and earns 10% = 0.4.
    expect(await balances(admin, r2, r1)).toEqual([String(1000 + 6 - 4 * n), String(1000 - 3.6 * n)]);
    for (const c of customers) expect(await balance(c, r2)).toBe('88');
    expect(await ledgerMismatches(server, admin.id)).toEqual([]);
  });
});
