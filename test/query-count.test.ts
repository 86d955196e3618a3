import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssignPackageDocument, CreateRateGroupDocument, RateCallDocument } from './generated/graphql.js';
import { ENGINE, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, buildTree, topUp } from './support/tree.js';

/** A page of accounts with their parents and subscriptions costs the same statements whatever its size. */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;
let calledCustomer: string;
let calledReseller: string;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
  const reseller = tree.r2;
  const pkg = await original(server, reseller.token, {
    price: '0',
    didQuantity: 1,
    limits: [{ kind: 'VOLUME', patterns: ['44'], amount: '600' }],
  });
  await server.ok(
    `mutation ($n: [String!]!) { addDids(input: { numbers: $n, tags: ["qc"] }) { id } }`,
    { n: Array.from({ length: 20 }, (_, i) => `4420700${100 + i}`) },
    tree.admin.token,
  );
  for (let i = 0; i < 30; i++) {
    const c = await addAccount(server, reseller.token, { kind: 'CUSTOMER' });
    if (i % 2) await server.ok(AssignPackageDocument, { input: { accountId: c.id, packageId: pkg } }, reseller.token);
  }
  // A tree two levels deep under one sub-reseller's siblings: 4 sub-resellers with 3 customers each, each
  // sub-reseller paying by a rate group of its own.
  for (let i = 0; i < 4; i++) {
    const { createRateGroup } = await server.ok(
      CreateRateGroupDocument,
      { input: { name: `qc-${i}`, rates: [{ prefix: '44', ratePerMinute: '0.01' }] } },
      reseller.token,
    );
    const sub = await addAccount(server, reseller.token, { kind: 'RESELLER', name: `sub ${i}`, rateGroupId: createRateGroup.id });
    // Every sub-reseller alike: a clone of the reseller's package, a top-up, and customers subscribed to the clone.
    const clone = await optIn(server, sub.token, pkg);
    await topUp(server, reseller.token, sub.id, '5');
    for (let j = 0; j < 3; j++) {
      const c = await addAccount(server, sub.token, { kind: 'CUSTOMER' });
      const { assignPackage } = await server.ok(
        AssignPackageDocument,
        { input: { accountId: c.id, packageId: clone } },
        sub.token,
      );
      await topUp(server, sub.token, c.id, '1');
      await server.ok(`mutation ($s: ID!) { claimDid(subscriptionId: $s) { id } }`, { s: assignPackage.id }, sub.token);
    }
  }
  // Calls of a customer of a reseller: two levels charged, each by its parent's rate group.
  const group = async (token: string, name: string) =>
    (await server.ok(CreateRateGroupDocument, { input: { name, rates: [{ prefix: '44', ratePerMinute: '0.01' }] } }, token))
      .createRateGroup.id as string;
  const seller = await addAccount(server, tree.admin.token, {
    kind: 'RESELLER',
    rateGroupId: await group(tree.admin.token, 'qc-a'),
  });
  calledCustomer = (await addAccount(server, seller.token, { kind: 'CUSTOMER', rateGroupId: await group(seller.token, 'qc-r') }))
    .id;
  calledReseller = seller.id;
  await topUp(server, tree.admin.token, seller.id, '10');
  await topUp(server, seller.token, calledCustomer, '10');
  for (let i = 0; i < 4; i++) {
    await server.ok(
      RateCallDocument,
      {
        input: {
          accountId: calledCustomer,
          callId: `qc-${i}`,
          destination: '4420',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt: new Date(Date.now() - 3_600_000).toISOString(),
        },
      },
      tree.admin.token,
    );
  }
  // The seller's rate for its customer changes and the calls are rated again: each has a revision to list.
  const sellersGroup = (
    await server.ok(`query ($id: ID!) { account(id: $id) { rateGroup { id } } }`, { id: calledCustomer }, seller.token)
  ).account.rateGroup.id;
  await server.ok(
    `mutation ($g: ID!) { upsertRates(rateGroupId: $g, rates: [{ prefix: "44", ratePerMinute: "0.02" }]) { id } }`,
    { g: sellersGroup },
    seller.token,
  );
  await server.ok(
    `mutation ($a: ID!, $f: DateTime!, $t: DateTime!) { rerateCalls(accountId: $a, from: $f, to: $t) { changed } }`,
    { a: calledCustomer, f: new Date(Date.now() - 7_200_000).toISOString(), t: new Date().toISOString() },
    tree.admin.token,
  );
});
afterAll(() => server.close());

async function statementsFor(query: string, token = tree.r2.token): Promise<number> {
  const knex = server.app.db.orm.em.getConnection().getKnex();
  let n = 0;
  const count = () => n++;
  knex.on('query', count);
  try {
    await server.ok(query, {}, token);
  } finally {
    knex.off('query', count);
  }
  return n;
}

describe('SQL statements per request', () => {
  it('a tree of accounts with a plan is one statement whatever its depth, sent with its credential, BEGIN and COMMIT', async () => {
    const tree2 = `{ account(id: "${tree.r2.id}") { children(first: 10) { totalCount edges { node { id name
      children(first: 20) { totalCount pageInfo { hasNextPage } edges { cursor node { id name balance parent { id name } } } } } } } } }`;
    const page = `{ accounts(first: 50) { totalCount edges { node { id name balance availableBalance parent { id name } } } } }`;
    // PostgreSQL: BEGIN, the credential with the scope, the answer and COMMIT in one round trip (the token has
    // been seen before). PGlite: each on its own.
    const expected = ENGINE === 'pglite' ? 5 : 1;
    expect(await statementsFor(tree2)).toBe(expected);
    expect(await statementsFor(page)).toBe(expected);
    // Without a plan (the executor's path), the same tree costs a statement per list level.
    expect(
      await statementsFor(tree2.replace('node { id name', 'node { id name subscriptions(first: 1) { totalCount }')),
    ).toBeGreaterThan(4);
  });

  it('do not grow with the page size', async () => {
    const page = (first: number) => `{ accounts(first: ${first}) { totalCount edges { node { id balance parent { id name }
      subscriptions(first: 3) { totalCount edges { node { id status package { id name source { id } } } } } } } } }`;
    const small = await statementsFor(page(3));
    const large = await statementsFor(page(31));
    expect(large).toBe(small);
    // The packages of the subscriptions: one statement for them, one for their terms.
    expect(large).toBeLessThanOrEqual(11);
  });

  it('children and ledgers, at two depths, cost one statement per list level whatever the number of parents', async () => {
    const shape = (first: number) => `{ account(id: "${tree.r2.id}") {
      children(first: ${first}, kind: RESELLER) { totalCount pageInfo { hasNextPage }
        edges { node { id name rateGroup { id name } rate(destination: "442071") { prefix } children(first: 20) { totalCount pageInfo { hasNextPage hasPreviousPage }
          edges { node { id name balance parent { id name } ledger(first: 2) { totalCount edges { node { id amount } } } } } }
        ledger(first: 2) { edges { node { id kind } } } } } } } }`;
    const one = await statementsFor(shape(1));
    const four = await statementsFor(shape(4));
    expect(four).toBe(one);
    // rate: the groups' versions, and for decks not yet held their sizes and rates (three statements at most).
    expect(four).toBeLessThanOrEqual(17);
    type Tree = {
      account: {
        children: {
          edges: {
            node: {
              rateGroup: { name: string } | null;
              rate: { prefix: string } | null;
              children: { totalCount: number; edges: unknown[] };
            };
          }[];
        };
      };
    };
    const subs = ((await server.ok(shape(4), {}, tree.r2.token)) as Tree).account.children.edges;
    expect(
      subs.map((e) => [e.node.rateGroup?.name, e.node.rate?.prefix, e.node.children.totalCount, e.node.children.edges.length]),
    ).toEqual([
      ['qc-0', '44', 3, 3],
      ['qc-1', '44', 3, 3],
      ['qc-2', '44', 3, 3],
      ['qc-3', '44', 3, 3],
    ]);
  });

  // Every connection and object field an account has, on every account of two list levels (the second as deep
  // as the depth limit lets it go).
  const EVERY_ACCOUNT_FIELD = `id name balance parent { id name }
    ledger(first: 2) { totalCount pageInfo { hasNextPage } edges { node { id amount account { id } } } }
    rateGroup { id name owner { id name } rates(first: 2) { totalCount edges { node { prefix ratePerMinute } } } rateFor(destination: "4420") { prefix } }
    rate(destination: "4420") { prefix }
    subscriptions(first: 2) { totalCount edges { node { id status account { id } package { id name owner { id name } source { id owner { id } } limits { id } } dids { number } limitUsage { total used limit { id kind } } } } }
    ownedPackages(first: 2) { totalCount edges { node { id name owner { id } limits { id amount } source { id name owner { id name } } } } }
    dids(first: 2) { totalCount edges { node { number status account { id } subscription { id } } } }
    openCalls { callId account { id } }`;
  const EVERY_ACCOUNT_FIELD_SHALLOW = `id name balance parent { id name }
    ledger(first: 2) { totalCount edges { node { id account { id } } } }
    rateGroup { id owner { id } rates(first: 2) { totalCount edges { node { prefix } } } rateFor(destination: "4420") { prefix } }
    rate(destination: "4420") { prefix }
    subscriptions(first: 2) { totalCount edges { node { id account { id } package { id limits { id } } dids { number } limitUsage { used limit { id } } } } }
    ownedPackages(first: 2) { totalCount edges { node { id owner { id } limits { id } source { id } } } }
    dids(first: 2) { totalCount edges { node { number subscription { id } } } }
    openCalls { callId }`;

  it('every connection and object field of an account, at two depths, costs the same for one parent as for four', async () => {
    const shape = (
      first: number,
    ) => `{ accounts(first: ${first}, kind: RESELLER) { totalCount edges { node { ${EVERY_ACCOUNT_FIELD}
      children(first: 5) { totalCount pageInfo { hasNextPage } edges { node { ${EVERY_ACCOUNT_FIELD_SHALLOW} } } } } } } }`;
    const one = await statementsFor(shape(1));
    const four = await statementsFor(shape(4));
    expect(four).toBe(one);
    type Level = {
      node: {
        ledger: { totalCount: number };
        rateGroup: { owner: { id: string }; rates: { totalCount: number } } | null;
        subscriptions: {
          edges: { node: { package: { id: string }; dids: { number: string }[]; limitUsage: { used: string }[] } }[];
        };
        dids: { totalCount: number; edges: { node: { subscription: { id: string } } }[] };
        ownedPackages: { edges: { node: { id: string; limits: { id: string }[]; source: { owner: { id: string } } | null } }[] };
        children: { edges: Level[] };
      };
    };
    const subs = ((await server.ok(shape(4), {}, tree.r2.token)) as { accounts: { edges: Level[] } }).accounts.edges;
    // The lists are not empty: each sub-reseller has a rate group with a rate, a clone of the reseller's package and
    // a top-up; each of its customers a subscription to that clone and a top-up.
    expect(subs).toHaveLength(4);
    for (const { node } of subs) {
      expect(node.rateGroup?.owner.id).toBe(tree.r2.id);
      expect(node.rateGroup?.rates.totalCount).toBe(1);
      expect(node.ledger.totalCount).toBe(1);
      expect(node.ownedPackages.edges.map((e) => e.node.source?.owner.id)).toEqual([tree.r2.id]);
      // The clone shows its original's limit.
      expect(node.ownedPackages.edges[0].node.limits).toHaveLength(1);
      expect(node.children.edges).toHaveLength(3);
      for (const c of node.children.edges) {
        expect(c.node.ledger.totalCount).toBe(1);
        expect(c.node.subscriptions.edges.map((e) => e.node.package.id)).toEqual([node.ownedPackages.edges[0].node.id]);
        // Each customer holds one number, through that subscription.
        expect(c.node.subscriptions.edges[0].node.dids).toHaveLength(1);
        expect(c.node.subscriptions.edges[0].node.limitUsage.map((u) => u.used)).toEqual(['0']);
        expect(c.node.dids.totalCount).toBe(1);
      }
    }
    expect(four).toBeLessThanOrEqual(40);
  });

  it('rate groups with their owners, rates and lookups cost the same for one group as for four', async () => {
    const shape = (first: number) => `{ rateGroups(first: ${first}) { edges { node { id owner { id name }
      rates(first: 3) { totalCount edges { node { prefix } } } rateFor(destination: "4420") { prefix } } } } }`;
    expect(await statementsFor(shape(4))).toBe(await statementsFor(shape(1)));
  });

  it('calls with their charges, their accounts and subscriptions cost the same for one call as for four', async () => {
    const shape = (first: number) => `{ calls(accountId: "${calledCustomer}", first: ${first}) { totalCount edges { node {
      id revision account { id name } charges { amount bundleAmount account { id name } subscription { id package { id } } }
      revisions { revision charges { amount } } } } } }`;
    const one = await statementsFor(shape(1), tree.admin.token);
    const four = await statementsFor(shape(4), tree.admin.token);
    expect(four).toBe(one);
    const { calls } = (await server.ok(shape(4), {}, tree.admin.token)) as {
      calls: { edges: { node: { charges: { account: { id: string } }[]; revisions: { revision: number }[] } }[] };
    };
    expect(calls.edges.map((e) => e.node.revisions.map((r) => r.revision))).toEqual([[0], [0], [0], [0]]);
    expect(calls.edges.map((e) => e.node.charges.map((c) => c.account.id))).toEqual(
      Array.from({ length: 4 }, () => [calledCustomer, calledReseller]),
    );
  });
});
