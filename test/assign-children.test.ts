// Mandatory packages and assignToChildren (DOMAIN.md 13: "apply to existing customers").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const ASSIGN_ALL = `mutation ($p: ID!, $g: ID) { assignToChildren(packageId: $p, rateGroupId: $g) { assigned pending skipped } }`;
const CREATE = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id mandatory } }`;
const SUBS = `query ($id: ID!) { account(id: $id) { balance subscriptions { edges { node { id status package { id } } } } } }`;

async function platform() {
  const p = await createPlatform(server);
  return { id: p.id, token: p.token, email: p.email } as Node;
}

async function customers(parent: Node, n: number, extra: Record<string, unknown> = {}): Promise<Node[]> {
  const made: Node[] = [];
  for (let i = 0; i < n; i += 20) {
    made.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(20, n - i) }, (_, j) =>
          addAccount(server, parent.token, { kind: 'CUSTOMER', name: `K${i + j}`, ...extra }),
        ),
      )),
    );
  }
  return made;
}

const liveChains = async (packageId: string) =>
  (
    await sql<{ account_id: string; n: number }>(
      server,
      `select account_id, count(*)::int as n from package_subscriptions
        where package_id = ? and level = 0 and status in ('ACTIVE', 'PENDING') group by account_id`,
      [packageId],
    )
  ).map((r) => r.n);

async function statements(run: () => Promise<unknown>): Promise<number> {
  const knex = server.app.db.orm.em.getConnection().getKnex();
  let n = 0;
  const count = () => n++;
  knex.on('query', count);
  try {
    await run();
  } finally {
    knex.off('query', count);
  }
  return n;
}

describe('assignToChildren', () => {
  it('assigns every direct child customer that can pay, through a reseller chain; again, only those still without', async () => {
    const root = await platform();
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    await topUp(server, root.token, r.id, '100');
    const { createPackage: original } = await server.ok(
      CREATE,
      { input: { name: 'Line', price: '2', resellerCanResell: true } },
      root.token,
    );
    const { optIn } = await server.ok(
      `mutation ($p: ID!) { optIn(input: { packageId: $p, price: "3" }) { id } }`,
      { p: original.id },
      r.token,
    );
    const payers = await customers(r, 6);
    const broke = await customers(r, 2);
    for (const c of payers) await topUp(server, r.token, c.id, '10');
    // A grandchild is not a direct child: it is left alone.
    const sub = await addAccount(server, r.token, { kind: 'RESELLER', name: 'SR' });
    const grandchild = await addAccount(server, sub.token, { kind: 'CUSTOMER', name: 'G' });

    expect((await server.ok(ASSIGN_ALL, { p: optIn.id }, r.token)).assignToChildren).toEqual({
      assigned: 6,
      pending: 0,
      skipped: 2,
    });
    const after = await server.ok(SUBS, { id: payers[0].id }, r.token);
    expect(after.account.balance).toBe('7');
    expect(after.account.subscriptions.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual(['ACTIVE']);
    // R paid 2.00 per chain to the root, and was paid 3.00 by each customer.
    expect((await server.ok(SUBS, { id: r.id }, root.token)).account.balance).toBe(String(100 - 6 * 2));
    expect((await server.ok(SUBS, { id: broke[0].id }, r.token)).account.subscriptions.edges).toEqual([]);
    expect((await server.ok(SUBS, { id: grandchild.id }, r.token)).account.subscriptions.edges).toEqual([]);

    // Idempotent: nobody gets a second chain; those who can pay now are assigned.
    expect((await server.ok(ASSIGN_ALL, { p: optIn.id }, r.token)).assignToChildren).toEqual({
      assigned: 0,
      pending: 0,
      skipped: 2,
    });
    await topUp(server, r.token, broke[0].id, '3');
    expect((await server.ok(ASSIGN_ALL, { p: optIn.id }, r.token)).assignToChildren).toEqual({
      assigned: 1,
      pending: 0,
      skipped: 1,
    });
    expect((await liveChains(optIn.id)).every((n) => n === 1)).toBe(true);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);

    // Only the owner's own packages: not its parent's, not another's.
    expect(errorCode(await server.gql(ASSIGN_ALL, { p: original.id }, r.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(ASSIGN_ALL, { p: optIn.id }, sub.token))).toBe('NOT_FOUND');
  });

  it('only the customers on a rate group, when one is given; PENDING chains under PENDING_IF_INSUFFICIENT', async () => {
    const root = await platform();
    const { createRateGroup } = await server.ok(
      `mutation { createRateGroup(input: { name: "gold", rates: [{ prefix: "44", ratePerMinute: "0.01" }] }) { id } }`,
      {},
      root.token,
    );
    const gold = await customers(root, 3, { rateGroupId: createRateGroup.id });
    await customers(root, 2);
    const { createPackage } = await server.ok(
      CREATE,
      { input: { name: 'Gold line', price: '1', activationPolicy: 'PENDING_IF_INSUFFICIENT' } },
      root.token,
    );
    await topUp(server, root.token, gold[0].id, '1');
    expect((await server.ok(ASSIGN_ALL, { p: createPackage.id, g: createRateGroup.id }, root.token)).assignToChildren).toEqual({
      assigned: 1,
      pending: 2,
      skipped: 0,
    });
    const statuses = await sql<{ status: string }>(
      server,
      `select status from package_subscriptions where package_id = ? order by status`,
      [createPackage.id],
    );
    expect(statuses.map((s) => s.status)).toEqual(['ACTIVE', 'PENDING', 'PENDING']);
    // A top-up activates a pending one, as for any PENDING chain; a new run assigns nobody twice.
    await topUp(server, root.token, gold[1].id, '1');
    expect((await server.ok(ASSIGN_ALL, { p: createPackage.id, g: createRateGroup.id }, root.token)).assignToChildren).toEqual({
      assigned: 0,
      pending: 0,
      skipped: 0,
    });
    expect((await server.ok(SUBS, { id: gold[1].id }, root.token)).account.balance).toBe('0');
  });

  it('costs the same statements for 5 customers as for 100 (set-based), and two calls at once assign each customer once', async () => {
    const small = await platform();
    const large = await platform();
    await customers(small, 5, { creditLimit: '100', billingMode: 'POSTPAID' });
    await customers(large, 100, { creditLimit: '100', billingMode: 'POSTPAID' });
    const pkg = async (root: Node) =>
      (await server.ok(CREATE, { input: { name: 'Bulk', price: '1.5' } }, root.token)).createPackage.id;
    const [pSmall, pLarge] = [await pkg(small), await pkg(large)];
    const few = await statements(() => server.ok(ASSIGN_ALL, { p: pSmall }, small.token));
    const many = await statements(() => server.ok(ASSIGN_ALL, { p: pLarge }, large.token));
    expect(many).toBe(few);
    expect((await liveChains(pLarge)).length).toBe(100);

    const racing = await platform();
    await customers(racing, 40, { creditLimit: '100', billingMode: 'POSTPAID' });
    const p = await pkg(racing);
    const results = await Promise.all([1, 2, 3].map(() => server.ok(ASSIGN_ALL, { p }, racing.token)));
    expect(results.reduce((sum, r) => sum + r.assignToChildren.assigned, 0)).toBe(40);
    const chains = await liveChains(p);
    expect(chains).toHaveLength(40);
    expect(chains.every((n) => n === 1)).toBe(true);
    expect(await ledgerMismatches(server, racing.id)).toEqual([]);
  });
});

describe('mandatory packages', () => {
  it('are assigned to every new direct child customer, and only the owner or above may end them', async () => {
    const root = await platform();
    const { createPackage: mandatory } = await server.ok(
      CREATE,
      { input: { name: 'Line rental', price: '0', mandatory: true } },
      root.token,
    );
    expect(mandatory.mandatory).toBe(true);
    const { createPackage: optional } = await server.ok(CREATE, { input: { name: 'Extra', price: '0' } }, root.token);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'New' });
    const subs = (await server.ok(SUBS, { id: c.id }, root.token)).account.subscriptions.edges;
    expect(subs.map((e: { node: { status: string; package: { id: string } } }) => [e.node.package.id, e.node.status])).toEqual([
      [mandatory.id, 'ACTIVE'],
    ]);
    // A reseller is not a customer: it gets none.
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    expect((await server.ok(SUBS, { id: r.id }, root.token)).account.subscriptions.edges).toEqual([]);

    const TERMINATE = `mutation ($id: ID!) { terminateSubscription(id: $id) { status } }`;
    expect(errorCode(await server.gql(TERMINATE, { id: subs[0].node.id }, c.token))).toBe('FORBIDDEN');
    const { purchasePackage } = await server.ok(
      `mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id } }`,
      { p: optional.id },
      c.token,
    );
    expect((await server.ok(TERMINATE, { id: purchasePackage.id }, c.token)).terminateSubscription.status).toBe('TERMINATED');
    expect((await server.ok(TERMINATE, { id: subs[0].node.id }, root.token)).terminateSubscription.status).toBe('TERMINATED');
  });

  it('a mandatory clone whose source is disabled upstream does not stop its owner creating customers', async () => {
    const root = await platform();
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    const { createPackage } = await server.ok(
      CREATE,
      { input: { name: 'Base', price: '0', resellerCanResell: true } },
      root.token,
    );
    await server.ok(
      `mutation ($p: ID!) { optIn(input: { packageId: $p, mandatory: true }) { id } }`,
      { p: createPackage.id },
      r.token,
    );
    await server.ok(
      `mutation ($id: ID!) { setPackageStatus(id: $id, status: DISABLED) { id } }`,
      { id: createPackage.id },
      root.token,
    );
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'Still created' });
    expect((await server.ok(SUBS, { id: c.id }, r.token)).account.subscriptions.edges).toEqual([]);
  });

  it('a mandatory package a new customer cannot pay (DENY_IF_INSUFFICIENT) is left out, for assignToChildren later', async () => {
    const root = await platform();
    const { createPackage } = await server.ok(CREATE, { input: { name: 'Paid line', price: '4', mandatory: true } }, root.token);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'Broke' });
    expect((await server.ok(SUBS, { id: c.id }, root.token)).account.subscriptions.edges).toEqual([]);
    const funded = await addAccount(server, root.token, {
      kind: 'CUSTOMER',
      name: 'Funded',
      creditLimit: '10',
      billingMode: 'POSTPAID',
    });
    expect((await server.ok(SUBS, { id: funded.id }, root.token)).account).toMatchObject({ balance: '-4' });
    await topUp(server, root.token, c.id, '4');
    expect((await server.ok(ASSIGN_ALL, { p: createPackage.id }, root.token)).assignToChildren).toEqual({
      assigned: 1,
      pending: 0,
      skipped: 0,
    });
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });
});
