import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssignPackageDocument, CreateRateGroupDocument } from './generated/graphql.js';
import { startServer, type TestServer } from './support/harness.js';
import { original } from './support/chain.js';
import { addAccount, buildTree } from './support/tree.js';

/** A page of accounts with their parents and subscriptions costs the same statements whatever its size. */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
  const reseller = tree.r2;
  const pkg = await original(server, reseller.token, { price: '0' });
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
    for (let j = 0; j < 3; j++) await addAccount(server, sub.token, { kind: 'CUSTOMER' });
  }
});
afterAll(() => server.close());

async function statementsFor(query: string): Promise<number> {
  const knex = server.app.db.orm.em.getConnection().getKnex();
  let n = 0;
  const count = () => n++;
  knex.on('query', count);
  try {
    await server.ok(query, {}, tree.r2.token);
  } finally {
    knex.off('query', count);
  }
  return n;
}

describe('SQL statements per request', () => {
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
});
