import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssignPackageDocument, CreateRateGroupDocument, UpdateAccountDocument } from './generated/graphql.js';
import { ENGINE, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, buildTree, topUp } from './support/tree.js';

/**
 * Queries run by a plan when they have one (PLANNED_READS), otherwise compiled by graphql-jit (COMPILED_QUERIES),
 * both the default; graphql-js is the reference. Three servers on one database, the default, one compiling only
 * and one on graphql-js alone, must answer every document alike: data, errors, their codes, paths and locations.
 * PostgreSQL only, where servers can share a database; the whole suite runs with both on both engines.
 */
let planned: TestServer;
let compiled: TestServer;
let reference: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;
let customer: string;
let customerToken: string;
let entry: string;
let pkg: string;
let subscription: string;

beforeAll(async () => {
  if (ENGINE === 'pglite') return;
  [planned, compiled, reference] = await Promise.all([
    startServer(),
    startServer({ plannedReads: false }),
    startServer({ compiledQueries: false, plannedReads: false }),
  ]);
  tree = await buildTree(compiled);
  const { createRateGroup } = await compiled.ok(
    CreateRateGroupDocument,
    { input: { name: 'x', rates: [{ prefix: '44', ratePerMinute: '0.0125' }] } },
    tree.r1.token,
  );
  pkg = await original(compiled, tree.r1.token, { price: '0' });
  const clone = await optIn(compiled, tree.sr1.token, pkg);
  const c = await addAccount(compiled, tree.sr1.token, { kind: 'CUSTOMER', name: 'Ann' });
  customer = c.id;
  customerToken = c.token;
  subscription = (await compiled.ok(AssignPackageDocument, { input: { accountId: c.id, packageId: clone } }, tree.sr1.token))
    .assignPackage.id;
  entry = (await topUp(compiled, tree.sr1.token, c.id, '12.50')).topUp.id;
  // Text JSON must escape, a postpaid account with a credit limit and settings, and a deleted one.
  await addAccount(compiled, tree.sr1.token, {
    kind: 'CUSTOMER',
    name: 'Zoë "Q" \\ 100%_日本',
    billingMode: 'POSTPAID',
    creditLimit: '250.125',
    lowBalanceThreshold: '0.000001',
    maxConcurrentCalls: 3,
    country: 'DE',
  });
  const gone = await addAccount(compiled, tree.sr1.token, { kind: 'RESELLER', name: 'gone' });
  await compiled.ok(`mutation ($id: ID!) { deleteAccount(id: $id) { id } }`, { id: gone.id }, tree.sr1.token);
  await compiled.ok(UpdateAccountDocument, { id: tree.sr1.id, input: { rateGroupId: createRateGroup.id } }, tree.r1.token);
});
afterAll(async () => {
  if (ENGINE === 'pglite') return;
  await Promise.all([planned.close(), compiled.close(), reference.close()]);
});

describe.skipIf(ENGINE === 'pglite')('planned and compiled queries answer as graphql-js does', () => {
  const documents: [string, RegExp, () => { query: string; variables?: Record<string, unknown>; token: string }][] = [
    [
      'a tree with every account field, aliases, fragments and directives',
      /^(?=.*"balanceAfter":"12.5")(?=.*"source":\{"id":"pkg_)(?=.*"rates":\{"edges":\[\{"node":\{"prefix":"44")/s,
      () => ({
        token: tree.r1.token,
        query: `query T($id: ID!, $withLedger: Boolean = true, $n: Int) {
          account(id: $id) { ...A children(first: $n) { totalCount pageInfo { hasNextPage endCursor }
            edges { cursor node { ...A } } } }
        }
        fragment A on Account { __typename id name balance availableBalance kind status parent { id name }
          ledger(first: 2) @include(if: $withLedger) { totalCount edges { node { id kind amount balanceAfter account { id } } } }
          rateGroup { id name owner { id } rates(first: 2) { edges { node { prefix ratePerMinute } } } }
          subscriptions(first: 2) @skip(if: false) { totalCount edges { node { id status package { id name price owner { id } source { id } } } } }
          ownedPackages(first: 2) { totalCount edges { node { id name price source { id name } } } } }`,
        variables: { id: tree.sr1.id, n: 10 },
      }),
    ],
    [
      'a page walked backwards',
      /"hasPreviousPage":true/,
      () => ({
        token: tree.r1.token,
        query: '{ accounts(last: 2) { edges { cursor node { id name } } pageInfo { hasPreviousPage } } }',
      }),
    ],
    [
      'node(id) of every kind, through inline fragments',
      /"PackageSubscription".*"missing":null/,
      () => ({
        token: tree.sr1.token,
        query: `query($ids: ID!, $e: ID!, $p: ID!, $s: ID!) {
          a: node(id: $ids) { __typename id ... on Account { name } }
          e: node(id: $e) { __typename ... on LedgerEntry { amount account { id } } }
          p: node(id: $p) { __typename ... on Package { name owner { id name } } }
          s: node(id: $s) { __typename ... on PackageSubscription { status account { id } } }
          missing: node(id: "acc_00000000000000000000000000000000") { id } }`,
        variables: { ids: customer, e: entry, p: pkg, s: subscription },
      }),
    ],
    [
      'a field of a parent outside the scope: FORBIDDEN with its path, the rest of the answer kept',
      /"path":\["offers","edges",0,"node","owner","balance"\].*"FORBIDDEN"/,
      () => ({ token: customerToken, query: '{ offers(first: 5) { edges { node { id name owner { id name balance } } } } }' }),
    ],
    [
      'a refused page size: BAD_USER_INPUT naming the argument',
      /"BAD_USER_INPUT","field":"first"/,
      () => ({ token: tree.r1.token, query: '{ accounts(first: -1) { edges { node { id } } } }' }),
    ],
    [
      'first and last together',
      /"BAD_USER_INPUT","field":"last"/,
      () => ({ token: tree.r1.token, query: '{ accounts(first: 1, last: 1) { edges { node { id } } } }' }),
    ],
    [
      'a DateTime written in the document beside one given as a variable',
      /"earnings":\{"sales":"0"/,
      () => ({
        token: tree.r1.token,
        query:
          'query($f: DateTime!) { earnings(accountId: "' +
          tree.sr1.id +
          '", from: $f, to: "2100-01-01T00:00:00Z") { sales costs margin } }',
        variables: { f: '2000-01-01T00:00:00Z' },
      }),
    ],
    [
      'a planned tree: every column, aliases, fragments, directives, __typename, counts and pageInfo at three depths',
      /"name":"Zoë .{1,12}100%_日本".*"billingMode":"POSTPAID".*"creditLimit":"250.125".*"lowBalanceThreshold":"0.000001"/s,
      () => ({
        token: tree.r1.token,
        query: `query T($id: ID!, $deep: Boolean!, $n: Int, $kind: AccountKind) {
          __typename
          top: account(id: $id) { __typename ...Every parent { id name parent { id } }
            kids: children(first: $n, kind: $kind) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
              edges { __typename cursor node { ...Every number parent { name }
                children(first: 5) @include(if: $deep) { totalCount edges { node { ...Every parent { id } } } }
                none: children(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage startCursor endCursor } } } } }
            children(first: 1) @skip(if: $deep) { totalCount } }
          me { id name balance }
          missing: account(id: "acc_00000000000000000000000000000000") { id }
        }
        fragment Every on Account { id number kind name email status currency billingMode balance creditLimit
          availableBalance lowBalanceThreshold resellerModel dailySpendLimit monthlySpendLimit minimumBalanceToCall
          maxConcurrentCalls allowNegativeMargin timezone billingDay paymentTermsDays invoicePrefix companyName
          addressLine1 addressLine2 city region postalCode country taxNumber notificationEmail createdAt
          ... on Account { name alias: name } }`,
        variables: { id: tree.r1.id, deep: true, n: 10, kind: null },
      }),
    ],
    [
      'a planned page: filters, a search with LIKE wildcards, deleted accounts only when asked for',
      /"all":\{"totalCount":\d+.*"counted":\{"totalCount":\d+\},"quoted":\{"totalCount":1.*"odd":\{"totalCount":0\},"deleted":\{"totalCount":1,"edges":\[\{"node":\{"name":"gone","status":"DELETED"/s,
      () => ({
        token: tree.sr1.token,
        query: `{ all: accounts { totalCount edges { node { name status } } }
          resellers: accounts(kind: RESELLER, first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } }
          found: accounts(search: "100%_") { totalCount edges { node { name } } }
          wild: accounts(search: "%") { totalCount }
          counted: accounts(first: 5) { totalCount }
          quoted: accounts(search: "\\"Q\\" \\\\ 100%_日") { totalCount edges { node { name } } }
          odd: accounts(search: "?'") { totalCount }
          deleted: accounts(status: DELETED) { totalCount edges { node { name status } } } }`,
      }),
    ],
    [
      'me, whose parent is outside the scope: null',
      /^\{"data":\{"me":\{"id":"acc_\w+","parent":null,"children":\{"totalCount":\d+/,
      () => ({
        token: tree.sr1.token,
        query:
          '{ me { id parent { id } children(first: 2) { totalCount edges { node { id } } } } accounts(first: 1) { totalCount } }',
      }),
    ],
    [
      'a directive whose variable is sent as null: BAD_USER_INPUT before anything runs',
      /^\{"errors":\[\{"message":"Argument \\"if\\" of non-null type \\"Boolean!\\" must not be null\.","extensions":\{"code":"BAD_USER_INPUT"\}\}\]\}$/,
      () => ({
        token: tree.r1.token,
        query: `query ($v: Boolean = true) { account(id: "acc_00000000000000000000000000000000") { name @include(if: $v) }
          accounts(first: 1) { totalCount } }`,
        variables: { v: null },
      }),
    ],
    [
      'a cursor that is not one: BAD_USER_INPUT naming it',
      /"BAD_USER_INPUT","field":"after"/,
      () => ({ token: tree.r1.token, query: '{ accounts(first: 2, after: "bm9wZQ") { totalCount edges { node { id } } } }' }),
    ],
    [
      'a page too large, inside a tree',
      /"BAD_USER_INPUT","field":"first"/,
      () => ({
        token: tree.r1.token,
        query: `{ account(id: "${tree.r1.id}") { id children(first: 501) { totalCount } } }`,
      }),
    ],
    [
      'children walked backwards, and before a cursor',
      /"hasPreviousPage":true/,
      () => ({
        token: tree.r1.token,
        query: `{ account(id: "${tree.sr1.id}") { last: children(last: 2) { pageInfo { hasPreviousPage hasNextPage } edges { cursor node { name } } }
          before: children(before: "YzoxMDAwMDAwMA") { totalCount edges { node { name } } } } }`,
      }),
    ],
    [
      'first given by a variable beside last',
      /"BAD_USER_INPUT","field":"last"/,
      () => ({
        token: tree.r1.token,
        query: 'query ($f: Int) { accounts(first: $f, last: 1) { edges { node { id } } } }',
        variables: { f: 2 },
      }),
    ],
    [
      'an account outside the scope: null, like a missing one',
      /^\{"data":\{"account":null\}\}$/,
      () => ({ token: tree.r2.token, query: `{ account(id: "${tree.r1.id}") { id } }` }),
    ],
  ];

  for (const [name, expected, make] of documents) {
    it(name, async () => {
      const { query, variables, token } = make();
      const [plan, fast, slow] = await Promise.all([
        planned.gql(query, variables, token),
        compiled.gql(query, variables, token),
        reference.gql(query, variables, token),
      ]);
      expect(fast).toEqual(slow);
      // Key order too: a planned answer's JSON is PostgreSQL's text.
      expect(JSON.stringify(plan)).toBe(JSON.stringify(slow));
      expect(JSON.stringify(fast)).toMatch(expected);
    });
  }

  it('a list walked page by page after its cursors', async () => {
    const walk = async (server: TestServer) => {
      const pages: unknown[] = [];
      let after: string | null = null;
      for (let i = 0; i < 20; i++) {
        const result: { data: { accounts: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } } } = await server.gql(
          `query ($after: String) { accounts(first: 2, after: $after) { totalCount
              pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id name } } } }`,
          { after },
          tree.r1.token,
        );
        pages.push(result);
        if (!result.data.accounts.pageInfo.hasNextPage) break;
        after = result.data.accounts.pageInfo.endCursor;
      }
      return pages;
    };
    const [plan, slow] = await Promise.all([walk(planned), walk(reference)]);
    expect(plan.length).toBeGreaterThan(2);
    expect(JSON.stringify(plan)).toBe(JSON.stringify(slow));
  });

  it('a document with a plan under some variables and not under others answers both ways alike', async () => {
    const query = `query ($deep: Boolean!) { accounts(first: 3) { totalCount edges { node { id name
      ledger(first: 1) @include(if: $deep) { totalCount } } } } }`;
    for (const deep of [false, true, false]) {
      const [plan, slow] = await Promise.all([
        planned.gql(query, { deep }, tree.r1.token),
        reference.gql(query, { deep }, tree.r1.token),
      ]);
      expect(JSON.stringify(plan)).toBe(JSON.stringify(slow));
      expect(plan.data.accounts.edges.length).toBe(3);
    }
  });
});

describe.skipIf(ENGINE === 'pglite')('a plan made once serves every caller', () => {
  it('the same documents and variables sent by callers in different subtrees answer each with its own rows', async () => {
    const documents = [
      '{ me { id name } accounts(first: 5) { totalCount edges { node { id name parent { id } } } } }',
      `query ($n: Int) { accounts(first: $n, search: "C") { totalCount edges { node { id name } } } }`,
      `{ account(id: "${tree.c1.id}") { id name parent { id name } } }`,
    ];
    const callers = [tree.r1, tree.sr1, tree.r2, tree.c1, tree.otherAdmin, tree.r1];
    for (const query of documents) {
      for (const caller of callers) {
        const [plan, slow] = await Promise.all([
          planned.gql(query, { n: 3 }, caller.token),
          reference.gql(query, { n: 3 }, caller.token),
        ]);
        expect(JSON.stringify(plan), `${caller.id}: ${query}`).toBe(JSON.stringify(slow));
      }
    }
    // Not vacuous: the callers do see different rows.
    const seen = await Promise.all(callers.map((c) => planned.ok(documents[0], {}, c.token)));
    expect(new Set(seen.map((s) => JSON.stringify(s))).size).toBe(callers.length - 1);
  });
});

describe.skipIf(ENGINE === 'pglite')('planned ledgers', () => {
  it('a ledger walked page by page, newest first, answers as graphql-js does, and by one statement', async () => {
    const owner = await addAccount(compiled, tree.sr1.token, { kind: 'CUSTOMER', name: 'Ledger "L" \\ 100%_台' });
    for (const [i, amount] of ['10', '0.5', '3.125', '7'].entries()) {
      await compiled.ok(
        'mutation($input: BalanceChangeInput!) { topUp(input: $input) { id } }',
        { input: { accountId: owner.id, amount, description: i % 2 ? `top-up "${i}" \\ é` : null } },
        tree.sr1.token,
      );
    }
    await compiled.ok(
      'mutation($input: BalanceChangeInput!) { adjustBalance(input: $input) { id } }',
      { input: { accountId: owner.id, amount: '-1.25', description: 'correction' } },
      tree.sr1.token,
    );
    const query = `query ($id: ID!, $after: String) { account(id: $id) { id name ledger(first: 2, after: $after) { totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { __typename id kind amount balanceAfter description createdAt account { id name balance parent { id name } } } } } } }`;
    const walk = async (server: TestServer) => {
      const pages: { data: { account: { ledger: { pageInfo: { hasNextPage: boolean; endCursor: string } } } } }[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page = await server.gql(query, { id: owner.id, after }, tree.sr1.token);
        pages.push(page);
        if (!page.data.account.ledger.pageInfo.hasNextPage) break;
        after = page.data.account.ledger.pageInfo.endCursor;
      }
      return pages;
    };
    const knex = planned.app.db.orm.em.getConnection().getKnex();
    let statements = 0;
    const count = () => statements++;
    knex.on('query', count);
    let plan;
    try {
      plan = await walk(planned);
    } finally {
      knex.off('query', count);
    }
    const slow = await walk(reference);
    expect(plan).toHaveLength(3);
    expect(JSON.stringify(plan)).toBe(JSON.stringify(slow));
    expect(plan[0].data.account.ledger).toMatchObject({
      totalCount: 5,
      edges: [{ node: { kind: 'ADJUSTMENT', amount: '-1.25', balanceAfter: '19.375' } }, { node: { amount: '7' } }],
    });
    // One round trip per page: the credential, the answer and COMMIT together.
    expect(statements).toBe(3);
    // In a list, every account's own ledger.
    const list = `{ account(id: "${tree.sr1.id}") { children(first: 50) { edges { node { id ledger(first: 1) { totalCount
      edges { node { amount account { id } } } } } } } } }`;
    const [a, b] = await Promise.all([planned.gql(list, {}, tree.r1.token), reference.gql(list, {}, tree.r1.token)]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).toContain('"amount":"-1.25"');
  });
});
