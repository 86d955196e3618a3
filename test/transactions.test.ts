import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountDocument, OffersDocument, OptInDocument, PurchasePackageDocument } from './generated/graphql.js';
import { errorCode, sql, startServer, type TestServer } from './support/harness.js';
import { beginScopedTransaction, executeBound } from '../src/db/orm.js';
import { SCOPE_FILTER } from '../src/entities/index.js';
import { optIn, original } from './support/chain.js';
import { addAccount, buildTree, topUp } from './support/tree.js';
import { connect, query } from './support/ws.js';

/** How a request's transaction behaves when parts of it fail: what a client is told must be what happened. */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

describe('one request, several mutations', () => {
  it("a rejected mutation's half-made changes are not committed with its successful siblings", async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER', name: 'Before' });
    const result = await server.gql(
      `mutation($id: ID!) {
        a: updateAccount(id: $id, input: { name: "Renamed" }) { name }
        b: updateAccount(id: $id, input: { name: "SNEAKY", creditLimit: "5" }) { name }
      }`,
      { id: c.id },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'creditLimit' });
    const [row] = await sql<{ name: string; credit_limit: string }>(
      server,
      'select name, credit_limit::text from accounts where id = ?',
      [c.id],
    );
    expect(row).toEqual({ name: 'Renamed', credit_limit: '0.000000' });
  });

  it('fields read after a mutation see what it wrote', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const data = await server.ok(
      `mutation($id: ID!) {
        a: topUp(input: { accountId: $id, amount: "10" }) { balanceAfter account { balance } }
        b: topUp(input: { accountId: $id, amount: "5" }) { balanceAfter account { balance } }
      }`,
      { id: c.id },
      tree.r1.token,
    );
    expect(data).toEqual({
      a: { balanceAfter: '10', account: { balance: '10' } },
      b: { balanceAfter: '15', account: { balance: '15' } },
    });
  });

  it('an unexpected database error after a successful mutation fails the whole request, and nothing is kept', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const original = server.app.services.balances.ledger;
    server.app.services.balances.ledger = async (ctx) => {
      await ctx.em.execute('select 1 / 0');
      throw new Error('unreachable');
    };
    try {
      const result = await server.gql(
        `mutation($id: ID!) { topUp(input: { accountId: $id, amount: "5" }) { balanceAfter account { ledger { totalCount } } } }`,
        { id: c.id },
        tree.r1.token,
      );
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      server.app.services.balances.ledger = original;
    }
    const [row] = await sql<{ balance: string; n: string }>(
      server,
      'select balance::text, (select count(*)::text from ledger_entries where account_id = a.id) as n from accounts a where id = ?',
      [c.id],
    );
    expect(row).toEqual({ balance: '0.000000', n: '0' });
    // The server still serves requests afterwards (no connection left holding locks).
    await topUp(server, tree.r1.token, c.id, '1');
    expect((await server.ok(AccountDocument, { id: c.id }, tree.r1.token)).account!.balance).toBe('1');
  });
});

describe('input the database could not store', () => {
  it('refuses NUL characters with BAD_USER_INPUT', async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tree.r1.token}` },
      body: JSON.stringify({
        query: 'mutation($n: String!) { createAccount(input: { kind: CUSTOMER, name: $n }) { id } }',
        variables: { n: 'a\u0000b' },
      }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a balance pushed out of range without a server error', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    await topUp(server, tree.r1.token, c.id, '99999999999999');
    const again = await server.gql(
      'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "99999999999999" }) { id } }',
      { id: c.id },
      tree.r1.token,
    );
    expect(errorCode(again)).toBe('INVALID_STATE');
    expect((await server.ok(AccountDocument, { id: c.id }, tree.r1.token)).account!.balance).toBe('99999999999999');
  });

  it('refuses a cursor past the range of a row number', async () => {
    const after = Buffer.from('c:9999999999999999999').toString('base64url');
    const result = await server.gql('query($a: String) { accounts(after: $a) { totalCount } }', { a: after }, tree.r1.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});

describe('a chain is sold only while every package up it is', () => {
  it('archiving the original withdraws every clone below it from offers, opt-ins and purchases', async () => {
    const p0 = await original(server, tree.admin.token, { price: '4' });
    const p1 = await optIn(server, tree.r1.token, p0, { price: '5' });
    const offered = async (token: string) =>
      (await server.ok(OffersDocument, { first: 500 }, token)).offers.edges.map((e) => e.node.id);
    expect(await offered(tree.c1.token)).toContain(p1);
    expect(await offered(tree.sr1.token)).toContain(p1);
    await server.ok('mutation($id: ID!) { setPackageStatus(id: $id, status: ARCHIVED) { id } }', { id: p0 }, tree.admin.token);
    expect(await offered(tree.c1.token)).not.toContain(p1);
    expect(await offered(tree.sr1.token)).not.toContain(p1);
    expect(errorCode(await server.gql(OptInDocument, { input: { packageId: p1 } }, tree.sr1.token))).toBe('NOT_FOUND');
    // Buying it by id says why: the package exists, but its chain is not sellable now.
    expect(errorCode(await server.gql(PurchasePackageDocument, { input: { packageId: p1 } }, tree.c1.token))).toBe(
      'INVALID_STATE',
    );
  });
});

describe('graphql-ws enforces the same cost limit', () => {
  it('refuses an over-expensive query', async () => {
    const { client, acked } = connect(server.url, `Bearer ${tree.r1.token}`);
    await acked;
    const result = await query(
      client,
      '{ accounts(first: 500) { edges { node { children(first: 500) { edges { node { id } } } } } } }',
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/too expensive/);
    await client.dispose();
  });
});

describe('a request statement runs only inside its scoped transaction', () => {
  it('after the commit, and without a transaction, a read is refused instead of running as the connecting user', async () => {
    const em = server.app.db.orm.em.fork();
    em.setFilterParams(SCOPE_FILTER, { path: `/${tree.admin.id}/` });
    await expect(executeBound(em, 'select 1 as one', [])).rejects.toThrow(/outside its transaction/);
    await beginScopedTransaction(em, `/${tree.admin.id}/`);
    const trx = em.getTransactionContext();
    expect(await executeBound(em, 'select 1 as one', [])).toEqual([{ one: 1 }]);
    await em.commit();
    // A resolver still running when the response's commit went out holds the ended transaction.
    em.setTransactionContext(trx);
    await expect(executeBound(em, 'select 1 as one', [])).rejects.toThrow(/already complete/);
    em.resetTransactionContext();
    await expect(executeBound(em, 'select ? as one', [undefined])).rejects.toThrow(/undefined parameter/);
  });
});
