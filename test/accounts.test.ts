import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountDocument,
  AccountsDocument,
  ChildrenDocument,
  CreateAccountDocument,
  DeleteAccountDocument,
  LoginDocument,
  MeDocument,
  NodeDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { errorCode, startServer, unique, type TestServer } from './support/harness.js';
import { addAccount, buildTree } from './support/tree.js';

let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

describe('createAccount', () => {
  it('creates a reseller under the caller with defaults and a unique 10-digit number', async () => {
    const email = `${unique('r')}@Example.TEST`;
    const { createAccount } = await server.ok(
      CreateAccountDocument,
      { input: { kind: 'RESELLER', name: '  Acme Telecom ', email, password: 'long-enough-pw' } },
      tree.admin.token,
    );
    expect(createAccount).toMatchObject({
      kind: 'RESELLER',
      name: 'Acme Telecom',
      email: email.toLowerCase(),
      status: 'ACTIVE',
      currency: 'USD',
      billingMode: 'PREPAID',
      balance: '0',
      creditLimit: '0',
      availableBalance: '0',
      resellerModel: 'MARGIN',
      lowBalanceThreshold: null,
      parent: { id: tree.admin.id },
    });
    expect(createAccount.number).toMatch(/^[1-9][0-9]{9}$/);
    // The new account can log in with its password.
    const login = await server.ok(LoginDocument, { email, password: 'long-enough-pw' });
    expect(login.login.account.id).toBe(createAccount.id);
  });

  it('numbers are unique across many accounts', async () => {
    const parent = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    const numbers = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { createAccount } = await server.ok(
        CreateAccountDocument,
        { input: { kind: 'CUSTOMER', name: `N${i}` } },
        parent.token,
      );
      numbers.add(createAccount.number);
    }
    expect(numbers.size).toBe(20);
  });

  it('creates a postpaid customer under a descendant with a credit limit, currency and threshold', async () => {
    const { createAccount } = await server.ok(
      CreateAccountDocument,
      {
        input: {
          parentId: tree.sr1.id,
          kind: 'CUSTOMER',
          name: 'Postpaid Co',
          currency: 'eur',
          billingMode: 'POSTPAID',
          creditLimit: '250.50',
          lowBalanceThreshold: '10',
          dailySpendLimit: '5',
          monthlySpendLimit: '100',
        },
      },
      tree.r1.token,
    );
    expect(createAccount).toMatchObject({
      currency: 'EUR',
      billingMode: 'POSTPAID',
      creditLimit: '250.5',
      availableBalance: '250.5',
      lowBalanceThreshold: '10',
      dailySpendLimit: '5',
      monthlySpendLimit: '100',
      resellerModel: null,
      parent: { id: tree.sr1.id },
    });
  });

  it("defaults the currency to the parent's", async () => {
    const eurReseller = await addAccount(server, tree.admin.token, { kind: 'RESELLER', currency: 'EUR' });
    const { createAccount } = await server.ok(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'Child' } },
      eurReseller.token,
    );
    expect(createAccount.currency).toBe('EUR');
  });

  it.each([
    [{ kind: 'CUSTOMER', name: '' }, 'name'],
    [{ kind: 'CUSTOMER', name: 'x', email: 'not-an-email' }, 'email'],
    [{ kind: 'CUSTOMER', name: 'x', currency: 'XYZ' }, 'currency'],
    [{ kind: 'CUSTOMER', name: 'x', creditLimit: '10' }, 'creditLimit'],
    [{ kind: 'CUSTOMER', name: 'x', billingMode: 'POSTPAID', creditLimit: '-1' }, 'creditLimit'],
    [{ kind: 'CUSTOMER', name: 'x', resellerModel: 'MARGIN' }, 'resellerModel'],
    [{ kind: 'ADMIN', name: 'x' }, 'kind'],
    [{ kind: 'CUSTOMER', name: 'x', password: 'long-enough-pw' }, 'email'],
    [{ kind: 'CUSTOMER', name: 'x', email: 'short@pw.test', password: 'short' }, 'password'],
    [{ kind: 'CUSTOMER', name: 'x', lowBalanceThreshold: '-5' }, 'lowBalanceThreshold'],
  ] as const)('refuses %j with BAD_USER_INPUT naming %s', async (input, field) => {
    const result = await server.gql(CreateAccountDocument, { input: input as any }, tree.r1.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(result.data).toBeNull();
  });

  it('refuses a customer as parent, and customers creating accounts', async () => {
    const underCustomer = await server.gql(
      CreateAccountDocument,
      { input: { parentId: tree.c1.id, kind: 'CUSTOMER', name: 'x' } },
      tree.r1.token,
    );
    expect(underCustomer.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'parentId' });
    const byCustomer = await server.gql(CreateAccountDocument, { input: { kind: 'CUSTOMER', name: 'x' } }, tree.c1.token);
    expect(errorCode(byCustomer)).toBe('FORBIDDEN');
  });

  it('refuses a duplicate email with ALREADY_EXISTS, whatever the case', async () => {
    const result = await server.gql(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'dup', email: tree.c1.email.toUpperCase() } },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'ALREADY_EXISTS', field: 'email' });
  });

  it("cannot place an account under a parent outside the caller's scope", async () => {
    const result = await server.gql(
      CreateAccountDocument,
      { input: { parentId: tree.r2.id, kind: 'CUSTOMER', name: 'intruder' } },
      tree.r1.token,
    );
    expect(errorCode(result)).toBe('NOT_FOUND');
    const children = await server.ok(ChildrenDocument, { id: tree.r2.id }, tree.admin.token);
    expect(children.account!.children.edges.map((e) => e.node.name)).not.toContain('intruder');
  });

  it('requires authentication', async () => {
    const result = await server.gql(CreateAccountDocument, { input: { kind: 'CUSTOMER', name: 'x' } });
    expect(errorCode(result)).toBe('UNAUTHENTICATED');
  });
});

describe('reading the tree', () => {
  it('me returns the caller', async () => {
    const { me } = await server.ok(MeDocument, {}, tree.r1.token);
    // The parent is above the caller's scope, so it reads as null.
    expect(me).toMatchObject({ id: tree.r1.id, kind: 'RESELLER', parent: null });
  });

  it('a customer sees itself but not its parent', async () => {
    const { me } = await server.ok(MeDocument, {}, tree.c1.token);
    expect(me.id).toBe(tree.c1.id);
    expect(me.parent).toBeNull();
  });

  it('accounts lists descendants only, with kind, status and search filters and totalCount', async () => {
    const all = await server.ok(AccountsDocument, {}, tree.r1.token);
    const names = all.accounts.edges.map((e) => e.node.name);
    expect(names).toEqual(expect.arrayContaining(['SR1', 'C11', 'C1']));
    expect(names).not.toContain('R1');
    expect(names).not.toContain('C2');
    expect(all.accounts.totalCount).toBe(all.accounts.edges.length);

    const resellers = await server.ok(AccountsDocument, { kind: 'RESELLER' }, tree.r1.token);
    expect(resellers.accounts.edges.map((e) => e.node.name)).toEqual(['SR1']);

    const byName = await server.ok(AccountsDocument, { search: 'c11' }, tree.r1.token);
    expect(byName.accounts.edges.map((e) => e.node.id)).toEqual([tree.c11.id]);
    const byEmail = await server.ok(AccountsDocument, { search: tree.c1.email.slice(0, 14) }, tree.r1.token);
    expect(byEmail.accounts.edges.map((e) => e.node.id)).toEqual([tree.c1.id]);
    const { account } = await server.ok(AccountDocument, { id: tree.c1.id }, tree.r1.token);
    const byNumber = await server.ok(AccountsDocument, { search: account!.number }, tree.r1.token);
    expect(byNumber.accounts.edges.map((e) => e.node.id)).toEqual([tree.c1.id]);
    // Wildcards in a search are literal.
    const wildcard = await server.ok(AccountsDocument, { search: '%' }, tree.r1.token);
    expect(wildcard.accounts.totalCount).toBe(0);
  });

  it('lists show every field exactly as the account itself does', async () => {
    const parent = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    await server.ok(
      CreateAccountDocument,
      {
        input: {
          kind: 'RESELLER',
          name: 'Full',
          email: `full-${Date.now()}@example.test`,
          billingMode: 'POSTPAID',
          creditLimit: '25.5',
          resellerModel: 'COMMISSION',
          lowBalanceThreshold: '3',
          dailySpendLimit: '7.25',
          monthlySpendLimit: '100',
          currency: 'EUR',
        },
      },
      parent.token,
    );
    await server.ok(CreateAccountDocument, { input: { kind: 'CUSTOMER', name: 'Plain' } }, parent.token);
    const fields = `id number kind name email status currency billingMode balance creditLimit availableBalance
      lowBalanceThreshold resellerModel dailySpendLimit monthlySpendLimit createdAt parent { id }`;
    const { accounts } = await server.ok(`{ accounts { edges { node { ${fields} } } } }`, {}, parent.token);
    const { account } = await server.ok(
      `query($id: ID!) { account(id: $id) { children { edges { node { ${fields} } } } } }`,
      { id: parent.id },
      parent.token,
    );
    const listed = accounts.edges.map((e: any) => e.node);
    expect(listed).toHaveLength(2);
    expect(account.children.edges.map((e: any) => e.node)).toEqual(listed);
    for (const node of listed) {
      expect(
        (await server.ok(`query($id: ID!) { account(id: $id) { ${fields} } }`, { id: node.id }, parent.token)).account,
      ).toEqual(node);
    }
    expect(listed[0]).toMatchObject({
      creditLimit: '25.5',
      availableBalance: '25.5',
      lowBalanceThreshold: '3',
      dailySpendLimit: '7.25',
      resellerModel: 'COMMISSION',
    });
  });

  it('pages through a connection with cursors', async () => {
    const parent = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    for (let i = 0; i < 7; i++) {
      await server.ok(CreateAccountDocument, { input: { kind: 'CUSTOMER', name: `P${i}` } }, parent.token);
    }
    const seen: string[] = [];
    let after: string | null | undefined = null;
    let pages = 0;
    for (;;) {
      const { accounts } = await server.ok(AccountsDocument, { first: 3, after }, parent.token);
      expect(accounts.totalCount).toBe(7);
      seen.push(...accounts.edges.map((e) => e.node.name));
      pages++;
      if (!accounts.pageInfo.hasNextPage) break;
      after = accounts.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6']);

    const children = await server.ok(ChildrenDocument, { id: parent.id, first: 2 }, parent.token);
    expect(children.account!.children.totalCount).toBe(7);
    expect(children.account!.children.edges).toHaveLength(2);
    expect(children.account!.children.pageInfo.hasNextPage).toBe(true);

    const bad = await server.gql(AccountsDocument, { after: 'bm9wZQ' }, parent.token);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    const tooMany = await server.gql(AccountsDocument, { first: 501 }, parent.token);
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('children filters by kind', async () => {
    const { account } = await server.ok(ChildrenDocument, { id: tree.r1.id, kind: 'CUSTOMER' }, tree.admin.token);
    expect(account!.children.edges.map((e) => e.node.name)).toEqual(['C1']);
  });

  it('node resolves any type by id, in scope only', async () => {
    const { node } = await server.ok(NodeDocument, { id: tree.c11.id }, tree.sr1.token);
    expect(node).toMatchObject({ __typename: 'Account', id: tree.c11.id, name: 'C11' });
    expect((await server.ok(NodeDocument, { id: tree.c2.id }, tree.sr1.token)).node).toBeNull();
    expect((await server.ok(NodeDocument, { id: 'garbage' }, tree.sr1.token)).node).toBeNull();
  });
});

describe('updateAccount', () => {
  it('an ancestor updates limits, mode, status and thresholds', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const { updateAccount } = await server.ok(
      UpdateAccountDocument,
      { id: c.id, input: { billingMode: 'POSTPAID', creditLimit: '75', lowBalanceThreshold: '5', name: 'Renamed' } },
      tree.admin.token,
    );
    expect(updateAccount).toMatchObject({
      billingMode: 'POSTPAID',
      creditLimit: '75',
      availableBalance: '75',
      lowBalanceThreshold: '5',
      name: 'Renamed',
    });
    const cleared = await server.ok(
      UpdateAccountDocument,
      { id: c.id, input: { lowBalanceThreshold: null, billingMode: 'PREPAID' } },
      tree.r1.token,
    );
    expect(cleared.updateAccount).toMatchObject({ lowBalanceThreshold: null, billingMode: 'PREPAID', creditLimit: '0' });
  });

  it('an account edits its own name and threshold but not what its parent sets', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const own = await server.ok(UpdateAccountDocument, { id: c.id, input: { name: 'Mine', lowBalanceThreshold: '3' } }, c.token);
    expect(own.updateAccount).toMatchObject({ name: 'Mine', lowBalanceThreshold: '3' });
    for (const input of [
      { creditLimit: '1000', billingMode: 'POSTPAID' },
      { status: 'ACTIVE' },
      { dailySpendLimit: '1' },
    ] as const) {
      const result = await server.gql(UpdateAccountDocument, { id: c.id, input }, c.token);
      expect(errorCode(result)).toBe('FORBIDDEN');
    }
    const { account } = await server.ok(AccountDocument, { id: c.id }, tree.r1.token);
    expect(account).toMatchObject({ creditLimit: '0', billingMode: 'PREPAID', dailySpendLimit: null });
  });

  it('suspension locks the account and its subtree out; after reactivation keys work again, tokens need a new login', async () => {
    const r = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER' });
    const key = (await server.ok('mutation { createApiKey(name: "pos") { secret } }', {}, c.token)).createApiKey.secret;
    await server.ok(UpdateAccountDocument, { id: r.id, input: { status: 'SUSPENDED' } }, tree.admin.token);
    expect(errorCode(await server.gql(MeDocument, {}, r.token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, c.token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, key))).toBe('UNAUTHENTICATED');
    await server.ok(UpdateAccountDocument, { id: r.id, input: { status: 'ACTIVE' } }, tree.admin.token);
    expect((await server.ok(MeDocument, {}, key)).me.id).toBe(c.id);
    expect(errorCode(await server.gql(MeDocument, {}, c.token))).toBe('UNAUTHENTICATED');
  });

  it('refuses bad values with the field named, and foreign ids as NOT_FOUND', async () => {
    const r = await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { creditLimit: '5' } }, tree.r1.token);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'creditLimit' });
    const s = await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { status: 'DELETED' } }, tree.r1.token);
    expect(s.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'status' });
    const m = await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { resellerModel: 'COMMISSION' } }, tree.r1.token);
    expect(m.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'resellerModel' });
    const foreign = await server.gql(UpdateAccountDocument, { id: tree.c2.id, input: { name: 'pwned' } }, tree.r1.token);
    expect(errorCode(foreign)).toBe('NOT_FOUND');
    const { account } = await server.ok(AccountDocument, { id: tree.c2.id }, tree.admin.token);
    expect(account!.name).toBe('C2');
  });
});

describe('deleteAccount', () => {
  it('soft-deletes: status DELETED, hidden from lists unless asked for, no more logins', async () => {
    const email = `${unique('gone')}@example.test`;
    const { createAccount } = await server.ok(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'Gone Ltd', email, password: 'long-enough-pw' } },
      tree.r2.token,
    );
    const token = server.app.services.auth.sign(createAccount.id);
    const { deleteAccount } = await server.ok(DeleteAccountDocument, { id: createAccount.id }, tree.r2.token);
    expect(deleteAccount).toEqual({ id: createAccount.id, status: 'DELETED' });

    const listed = await server.ok(AccountsDocument, {}, tree.r2.token);
    expect(listed.accounts.edges.map((e) => e.node.id)).not.toContain(createAccount.id);
    const deleted = await server.ok(AccountsDocument, { status: 'DELETED' }, tree.r2.token);
    expect(deleted.accounts.edges.map((e) => e.node.id)).toEqual([createAccount.id]);
    // The data is kept and still readable by the parent.
    expect((await server.ok(AccountDocument, { id: createAccount.id }, tree.r2.token)).account).toMatchObject({
      name: 'Gone Ltd',
      status: 'DELETED',
    });

    expect(errorCode(await server.gql(LoginDocument, { email, password: 'long-enough-pw' }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: createAccount.id }, tree.r2.token))).toBe('INVALID_STATE');
  });

  it('refuses to delete an account with live children, itself, or a foreign one', async () => {
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: tree.sr1.id }, tree.r1.token))).toBe('INVALID_STATE');
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: tree.r1.id }, tree.r1.token))).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: tree.c2.id }, tree.r1.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: tree.c1.id }, tree.c1.token))).toBe('FORBIDDEN');
  });
});
