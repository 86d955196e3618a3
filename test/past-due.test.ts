// Past-due renewals (DOMAIN.md 10): the worked example, to the digit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, topUp } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  // Endpoints on this machine are allowed (never called: the delivery worker is off), to read what they get.
  server = await startServer({ webhookAllowPrivate: true });
});
afterAll(async () => server?.close());

const HOUR = 3_600_000;
const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed released expired pastDue } }`;
const SUB = `query ($id: ID!) { packageSubscription(id: $id) { status periodsCharged currentPeriodStart currentPeriodEnd endedAt freeSecondsUsed freeSecondsTotal } }`;
const BALANCE = `query ($id: ID!) { account(id: $id) { balance } }`;

/** Daily package 5.00 with a 24-hour retry window; the customer holds 3.00 after activation (DOMAIN.md 10). */
async function example(packageInput: Record<string, unknown> = {}) {
  const root = await createPlatform(server);
  const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
  await topUp(server, root.token, c.id, '8');
  const { createPackage } = await server.ok(
    `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id renewRetryHours } }`,
    {
      input: {
        name: 'Daily',
        price: '5',
        billingDays: 1,
        releaseIfNoBalance: true,
        renewRetryHours: 24,
        freeMinutes: 10,
        ...packageInput,
      },
    },
    root.token,
  );
  // Backdated so that T + 25 h is within runRenewals' reach (a day ahead of now).
  const activatedAt = new Date(Date.now() - 47 * HOUR);
  const { assignPackage } = await server.ok(
    `mutation ($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }`,
    { a: c.id, p: createPackage.id, s: activatedAt.toISOString() },
    root.token,
  );
  const T = new Date(assignPackage.currentPeriodEnd).getTime();
  const run = async (at: number) => (await server.ok(RUN, { at: new Date(at).toISOString() }, root.token)).runRenewals;
  const sub = async () => (await server.ok(SUB, { id: assignPackage.id }, root.token)).packageSubscription;
  const balance = async () => (await server.ok(BALANCE, { id: c.id }, root.token)).account.balance;
  return { root, c, id: assignPackage.id, T, run, sub, balance };
}

describe('past-due renewals (DOMAIN.md 10)', () => {
  it('PAST_DUE at the period end, charged for the period from the old boundary once funds arrive', async () => {
    const { root, c, T, run, sub, balance } = await example();
    expect(await balance()).toBe('3');
    // Before the boundary nothing happens, even though the renewal cannot be paid.
    expect(await run(T - 60_000)).toEqual({ renewed: 0, released: 0, expired: 0, pastDue: 0 });
    expect(await run(T + 60_000)).toEqual({ renewed: 0, released: 0, expired: 0, pastDue: 1 });
    expect(await sub()).toMatchObject({ status: 'PAST_DUE', periodsCharged: 1, endedAt: null });
    expect(await balance()).toBe('3');
    // Tried again by every run: still short, nothing changes.
    expect(await run(T + HOUR)).toEqual({ renewed: 0, released: 0, expired: 0, pastDue: 0 });
    await topUp(server, root.token, c.id, '2');
    expect(await run(T + 2 * HOUR)).toEqual({ renewed: 1, released: 0, expired: 0, pastDue: 0 });
    expect(await sub()).toMatchObject({
      status: 'ACTIVE',
      periodsCharged: 2,
      currentPeriodStart: new Date(T).toISOString(),
      currentPeriodEnd: new Date(T + 24 * HOUR).toISOString(),
      freeSecondsUsed: 0,
      freeSecondsTotal: 600,
    });
    expect(await balance()).toBe('0');
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });

  it('RELEASED with endedAt at the boundary when the window ends unpaid; nothing charged', async () => {
    const { root, T, run, sub, balance } = await example();
    const { createWebhookEndpoint } = await server.ok(
      `mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:9/hook", events: [SUBSCRIPTION_PAST_DUE, SUBSCRIPTION_RELEASED] }) { endpoint { id } } }`,
      {},
      root.token,
    );
    expect((await run(T + 60_000)).pastDue).toBe(1);
    expect(await run(T + 25 * HOUR)).toEqual({ renewed: 0, released: 1, expired: 0, pastDue: 0 });
    expect(await sub()).toMatchObject({ status: 'RELEASED', endedAt: new Date(T).toISOString() });
    expect(await balance()).toBe('3');
    // The root's endpoint was told of both, in order.
    const { webhookDeliveries } = await server.ok(
      `query ($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { type status } } } }`,
      { e: createWebhookEndpoint.endpoint.id },
      root.token,
    );
    expect(webhookDeliveries.edges.map((e: { node: { type: string } }) => e.node.type)).toEqual([
      'SUBSCRIPTION_RELEASED',
      'SUBSCRIPTION_PAST_DUE',
    ]);
  });

  it('released at once without a retry window, as before', async () => {
    const { T, run, sub } = await example({ renewRetryHours: null });
    expect(await run(T + 60_000)).toEqual({ renewed: 0, released: 1, expired: 0, pastDue: 0 });
    expect((await sub()).status).toBe('RELEASED');
  });

  it('a past-due chain draws no free seconds, and terminating it refunds nothing', async () => {
    const { root, c, id, T, run, sub, balance } = await example();
    await run(T + 60_000);
    const { createRateGroup } = await server.ok(
      `mutation { createRateGroup(input: { name: "R", rates: [{ prefix: "44", ratePerMinute: "0.1" }] }) { id } }`,
      {},
      root.token,
    );
    await server.ok(
      `mutation ($id: ID!, $g: ID!) { updateAccount(id: $id, input: { rateGroupId: $g }) { id } }`,
      { id: c.id, g: createRateGroup.id },
      root.token,
    );
    // A call inside the unpaid period: the package's 10 free minutes do not cover it.
    const { rateCall } = await server.ok(
      `mutation ($input: CallInput!) { rateCall(input: $input) { cost charges { freeSeconds } } }`,
      {
        input: {
          accountId: c.id,
          callId: 'in-past-due',
          destination: '4420',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt: new Date(T + HOUR).toISOString(),
        },
      },
      root.token,
    );
    expect(rateCall).toEqual({ cost: '0.1', charges: [{ freeSeconds: 0 }] });
    const { terminateSubscription } = await server.ok(
      `mutation ($id: ID!) { terminateSubscription(id: $id) { status } }`,
      { id },
      root.token,
    );
    expect(terminateSubscription.status).toBe('TERMINATED');
    expect(await balance()).toBe('2.9');
    expect((await sub()).status).toBe('TERMINATED');
  });

  it('renewRetryHours needs releaseIfNoBalance, and is at least 1', async () => {
    const root = await createPlatform(server);
    const create = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id } }`;
    const without = await server.gql(create, { input: { name: 'X', price: '1', renewRetryHours: 24 } }, root.token);
    expect(without.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'renewRetryHours' });
    const zero = await server.gql(
      create,
      { input: { name: 'X', price: '1', releaseIfNoBalance: true, renewRetryHours: 0 } },
      root.token,
    );
    expect(errorCode(zero)).toBe('BAD_USER_INPUT');
  });
});

describe('pending activations (DOMAIN.md 10)', () => {
  const PURCHASE = `mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id status periodsCharged } }`;
  const pendingPackage = async (token: string, input: Record<string, unknown> = {}) =>
    (
      await server.ok(
        `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id } }`,
        { input: { name: 'Later', price: '5', activationPolicy: 'PENDING_IF_INSUFFICIENT', resellerCanResell: true, ...input } },
        token,
      )
    ).createPackage.id;

  it('a purchase the buyer cannot pay waits PENDING, uncharged, and activates at the top-up that pays it', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    await topUp(server, root.token, c.id, '2');
    const { purchasePackage } = await server.ok(PURCHASE, { p: await pendingPackage(root.token, { freeMinutes: 5 }) }, c.token);
    expect(purchasePackage).toMatchObject({ status: 'PENDING', periodsCharged: 0 });
    const balance = async () => (await server.ok(BALANCE, { id: c.id }, root.token)).account.balance;
    expect(await balance()).toBe('2');
    await topUp(server, root.token, c.id, '1');
    expect((await server.ok(SUB, { id: purchasePackage.id }, root.token)).packageSubscription.status).toBe('PENDING');
    const before = Date.now();
    await topUp(server, root.token, c.id, '2');
    const { packageSubscription } = await server.ok(SUB, { id: purchasePackage.id }, root.token);
    expect(packageSubscription).toMatchObject({ status: 'ACTIVE', periodsCharged: 1, freeSecondsTotal: 300 });
    // Its first period starts when it was paid, not when it was bought.
    expect(new Date(packageSubscription.currentPeriodStart).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(await balance()).toBe('0');
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });

  it('a reseller level short keeps the chain PENDING; a renewal run activates it once the reseller can pay', async () => {
    const root = await createPlatform(server);
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R', billingMode: 'POSTPAID', creditLimit: '0' });
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C' });
    await topUp(server, r.token, c.id, '10');
    const source = await pendingPackage(root.token);
    const { optIn } = await server.ok(
      `mutation ($p: ID!) { optIn(input: { packageId: $p, price: "8", canBePurchased: true }) { id } }`,
      { p: source },
      r.token,
    );
    const { purchasePackage } = await server.ok(PURCHASE, { p: optIn.id }, c.token);
    expect(purchasePackage.status).toBe('PENDING');
    // Credit, not a top-up: nothing triggers at once; the next renewal run finds the funds.
    await server.ok(
      `mutation ($id: ID!) { updateAccount(id: $id, input: { creditLimit: "20" }) { id } }`,
      { id: r.id },
      root.token,
    );
    const { runRenewals } = await server.ok(RUN, { at: new Date().toISOString() }, root.token);
    expect(runRenewals).toMatchObject({ renewed: 0, pastDue: 0 });
    expect((await server.ok(SUB, { id: purchasePackage.id }, root.token)).packageSubscription.status).toBe('ACTIVE');
    expect((await server.ok(BALANCE, { id: c.id }, root.token)).account.balance).toBe('2');
    expect((await server.ok(BALANCE, { id: r.id }, root.token)).account.balance).toBe('-5');
  });

  it('a pending chain waits while its package is archived or its buyer deleted, and holds up nothing else', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    const gone = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'Gone' });
    const archived = await pendingPackage(root.token);
    const { purchasePackage } = await server.ok(PURCHASE, { p: archived }, c.token);
    await server.ok(PURCHASE, { p: await pendingPackage(root.token) }, gone.token);
    await server.ok(`mutation ($id: ID!) { setPackageStatus(id: $id, status: ARCHIVED) { id } }`, { id: archived }, root.token);
    await server.ok(`mutation ($id: ID!) { deleteAccount(id: $id) { id } }`, { id: gone.id }, root.token);
    // The top-up goes through and charges nothing: an archived package is not sold.
    await topUp(server, root.token, c.id, '10');
    expect((await server.ok(SUB, { id: purchasePackage.id }, root.token)).packageSubscription.status).toBe('PENDING');
    expect((await server.ok(BALANCE, { id: c.id }, root.token)).account.balance).toBe('10');
    // Runs go on whatever pending chains there are.
    const { runRenewals } = await server.ok(
      `mutation ($at: DateTime!) { runRenewals(asOf: $at) { activated } }`,
      { at: new Date().toISOString() },
      root.token,
    );
    expect(runRenewals.activated).toBe(0);
  });

  it('a PENDING chain is cancelled by terminating it, with nothing refunded', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    const { purchasePackage } = await server.ok(PURCHASE, { p: await pendingPackage(root.token, { minimumDays: 30 }) }, c.token);
    const { terminateSubscription } = await server.ok(
      `mutation ($id: ID!) { terminateSubscription(id: $id) { status periodsCharged } }`,
      { id: purchasePackage.id },
      c.token,
    );
    expect(terminateSubscription).toEqual({ status: 'TERMINATED', periodsCharged: 0 });
    await topUp(server, root.token, c.id, '10');
    expect((await server.ok(BALANCE, { id: c.id }, root.token)).account.balance).toBe('10');
  });
});

describe('exactly once under races', () => {
  it('two renewers, the mutation and top-ups racing over past-due and pending chains charge each period once', async () => {
    const root = await createPlatform(server);
    const HOURS = 24;
    const { createPackage: daily } = await server.ok(
      `mutation { createPackage(input: { name: "D", price: "5", billingDays: 1, releaseIfNoBalance: true, renewRetryHours: ${HOURS} }) { id } }`,
      {},
      root.token,
    );
    const pending = (
      await server.ok(
        `mutation { createPackage(input: { name: "P", price: "5", activationPolicy: PENDING_IF_INSUFFICIENT }) { id } }`,
        {},
        root.token,
      )
    ).createPackage.id;
    const customers = await Promise.all(Array.from({ length: 20 }, () => addAccount(server, root.token, { kind: 'CUSTOMER' })));
    const start = new Date(Date.now() - 47 * HOUR).toISOString();
    const pendingSubs: string[] = [];
    for (const c of customers) {
      await topUp(server, root.token, c.id, '6');
      await server.ok(
        `mutation ($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id } }`,
        { a: c.id, p: daily.id, s: start },
        root.token,
      );
      // 1.00 left: the pending package (5.00) waits.
      const { assignPackage } = await server.ok(
        `mutation ($a: ID!, $p: ID!) { assignPackage(input: { accountId: $a, packageId: $p }) { id status } }`,
        { a: c.id, p: pending },
        root.token,
      );
      expect(assignPackage.status).toBe('PENDING');
      pendingSubs.push(assignPackage.id);
    }
    const T = Date.now() - 23 * HOUR;
    expect((await server.ok(RUN, { at: new Date(T + 60_000).toISOString() }, root.token)).runRenewals.pastDue).toBe(20);
    // Each customer gets 9.00: enough for the past-due renewal (5) or the pending package (5), not both... and
    // then 1.00 more arrives for half of them, so those can pay both.
    const at = new Date(T + HOUR).toISOString();
    const em = () => server.app.db.orm.em.fork() as never;
    const raced = await Promise.all([
      server.gql(RUN, { at }, root.token),
      ...customers.map((c, i) => topUp(server, root.token, c.id, i % 2 === 0 ? '9' : '4')),
      server.app.services.renewals.runAll(em(), new Date(at), { rootPath: `/${root.id}/` }),
      server.app.services.renewals.runAll(em(), new Date(at), { rootPath: `/${root.id}/` }),
    ]);
    expect((raced[0] as { errors?: unknown }).errors).toBeUndefined();
    await server.ok(RUN, { at }, root.token);
    // Every chain charged at most once per period; balances match the ledger; nothing charged twice.
    const [{ twice }] = await sql<{ twice: number }>(
      server,
      `select count(*)::int as twice from (
         select l.subscription_id, l.kind, l.description from ledger_entries l join accounts a on a.id = l.account_id
          where a.root_id = ? and l.kind in ('RENEWAL_FEE', 'PACKAGE_FEE') group by 1, 2, 3 having count(*) > 1) x`,
      [root.id],
    );
    expect(twice).toBe(0);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
    // 1.00 + 9.00 = 10.00 pays both (5 + 5); 1.00 + 4.00 = 5.00 pays one of them.
    for (const [i, c] of customers.entries()) {
      const { account } = await server.ok(BALANCE, { id: c.id }, root.token);
      expect(account.balance).toBe('0');
      const { packageSubscription } = await server.ok(SUB, { id: pendingSubs[i] }, root.token);
      if (i % 2 === 0) expect(packageSubscription.status).toBe('ACTIVE');
    }
  });
});
