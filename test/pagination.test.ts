import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform, errorCode, sql, startServer, type TestServer } from './support/harness.js';
import { original } from './support/chain.js';
import { addAccount, topUp, type Node } from './support/tree.js';

/**
 * Every connection in the schema, walked forwards (first/after) and backwards (last/before) over lists whose
 * keys change length inside them ("9" and "10", "99" and "100" sort the other way round as text).
 */

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/**
 * Makes the next `n` rows of a table straddle a power of ten. A fresh database gets there by itself; one that
 * other test files have already written to gets its sequence moved forward (never back), so that the boundary
 * falls inside this test's rows.
 */
async function straddle(table: string, n: number): Promise<void> {
  const [{ last }] = await sql<{ last: string }>(server, `select coalesce(max(seq), 0)::text as last from ${table}`);
  const current = Number(last);
  let power = 10;
  while (power <= current + 1) power *= 10;
  if (current + n >= power) return;
  await sql(server, `select setval(pg_get_serial_sequence('${table}', 'seq'), ?)`, [power - Math.ceil(n / 2) - 1]);
}

/** A list as the database orders it: keys and seqs. */
async function rows(text: string, params: unknown[]): Promise<{ keys: string[]; seqs: string[] }> {
  const found = await sql<{ key: string; seq: string }>(server, text, params);
  return { keys: found.map((r) => r.key), seqs: found.map((r) => r.seq) };
}

const PAGE_VARS = '$first: Int, $after: String, $last: Int, $before: String';
const PAGE_ARGS = 'first: $first, after: $after, last: $last, before: $before';
const connection = (node: string) =>
  `{ edges { cursor node { ${node} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount }`;

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}
interface Conn {
  edges: { cursor: string; node: Record<string, string> }[];
  pageInfo: PageInfo;
  totalCount: number;
}

interface List {
  name: string;
  /** A query with $first, $after, $last and $before, and whatever `variables` adds. */
  query: string;
  variables: Record<string, unknown>;
  token: string;
  select: (data: any) => Conn;
  key: (node: Record<string, string>) => string;
  /** The list's rows as the database orders them (newest first for the newest-first lists). */
  expected: () => Promise<{ keys: string[]; seqs: string[] }>;
  /** Fewer rows than the cheap lists (the data costs more to make); they still cross a power of ten. */
  minimum: number;
}

async function page(list: List, args: Record<string, unknown>): Promise<Conn> {
  return list.select(await server.ok(list.query, { ...list.variables, ...args }, list.token));
}

interface Walk {
  keys: string[];
  cursors: string[];
  infos: PageInfo[];
  pages: Conn[];
}

/** Pages through a whole list, forwards from the start or backwards from the end, in pages of `size`. */
async function walk(list: List, direction: 'forward' | 'backward', size: number): Promise<Walk> {
  const pages: Conn[] = [];
  let cursor: string | null = null;
  for (;;) {
    const conn: Conn = await page(
      list,
      direction === 'forward' ? { first: size, after: cursor } : { last: size, before: cursor },
    );
    pages.push(conn);
    const more = direction === 'forward' ? conn.pageInfo.hasNextPage : conn.pageInfo.hasPreviousPage;
    if (!more) break;
    cursor = direction === 'forward' ? conn.pageInfo.endCursor : conn.pageInfo.startCursor;
    if (pages.length > 2000) throw new Error(`${list.name}: the walk does not end`);
  }
  // Backwards, the pages come last first; each still reads in the list's own order.
  const ordered = direction === 'forward' ? pages : [...pages].reverse();
  const edges = ordered.flatMap((p) => p.edges);
  return {
    keys: edges.map((e) => list.key(e.node)),
    cursors: edges.map((e) => e.cursor),
    infos: pages.map((p) => p.pageInfo),
    pages,
  };
}

describe('every connection, both ways', () => {
  const lists: List[] = [];
  let admin: Node;
  let reseller: Node;
  let customer: Node;
  let second: Node;
  let group: string;

  beforeAll(async () => {
    const p = await createPlatform(server);
    admin = { id: p.id, token: p.token, email: p.email };

    // Accounts: the admin's descendants (103) and the reseller's children (100).
    await straddle('accounts', 104);
    reseller = await addAccount(server, admin.token, { kind: 'RESELLER' });
    customer = await addAccount(server, admin.token, { kind: 'CUSTOMER', lowBalanceThreshold: '10' });
    second = await addAccount(server, admin.token, { kind: 'CUSTOMER' });
    for (let i = 0; i < 101; i++) await addAccount(server, reseller.token, { kind: 'CUSTOMER', name: `Customer ${i}` });

    // Ledger (107 entries with the top-up and the calls below) and alerts (15): each pair of changes dips
    // below the threshold once.
    await straddle('ledger_entries', 107);
    await straddle('alerts', 15);
    const change = (amount: string) =>
      server.ok(
        'mutation($input: BalanceChangeInput!) { adjustBalance(input: $input) { id } }',
        { input: { accountId: customer.id, amount } },
        admin.token,
      );
    for (let i = 0; i < 15; i++) {
      await topUp(server, admin.token, customer.id, '15');
      await change('-15');
    }
    for (let i = 0; i < 75; i++) await topUp(server, admin.token, customer.id, '1');

    // Rates (105 in one group), rate groups (102), calls (105).
    await straddle('rates', 105);
    const rates = Array.from({ length: 105 }, (_, i) => ({ prefix: `44${String(i).padStart(3, '0')}`, ratePerMinute: '0.01' }));
    const created = await server.ok(
      'mutation($input: CreateRateGroupInput!) { createRateGroup(input: $input) { id } }',
      { input: { name: 'Deck', rates } },
      admin.token,
    );
    group = created.createRateGroup.id;
    await straddle('rate_groups', 101);
    for (let i = 0; i < 101; i++) {
      await server.ok(
        'mutation($input: CreateRateGroupInput!) { createRateGroup(input: $input) { id } }',
        { input: { name: `Group ${i}`, rates: [] } },
        admin.token,
      );
    }
    await server.ok(
      'mutation($id: ID!, $input: UpdateAccountInput!) { updateAccount(id: $id, input: $input) { id } }',
      { id: customer.id, input: { rateGroupId: group } },
      admin.token,
    );
    await topUp(server, admin.token, customer.id, '100');
    await straddle('calls', 105);
    const calls = rates.map((r, i) => ({
      accountId: customer.id,
      callId: `paging-${customer.id}-${i}`,
      destination: `${r.prefix}123456`,
      direction: 'OUTBOUND',
      durationSeconds: 60,
      startedAt: new Date(Date.now() - 86_400_000).toISOString(),
    }));
    // Rating is a platform operation: the root admin's.
    await server.ok('mutation($input: [CallInput!]!) { rateCalls(input: $input) { id } }', { input: calls }, admin.token);

    // Packages: 101 owned by the admin, all of them the customer's offers.
    await straddle('packages', 101);
    const packages: string[] = [];
    for (let i = 0; i < 101; i++) packages.push(await original(server, admin.token, { name: `Package ${i}`, price: '0' }));

    // Subscriptions: the customer holds 30, the second customer 3 (for the batched lists of many accounts).
    await straddle('package_subscriptions', 30);
    const assign = (accountId: string, packageId: string) =>
      server.ok(
        'mutation($input: AssignInput!) { assignPackage(input: $input) { id } }',
        { input: { accountId, packageId } },
        admin.token,
      );
    for (const pkg of packages.slice(0, 30)) await assign(customer.id, pkg);
    for (const pkg of packages.slice(0, 3)) await assign(second.id, pkg);

    // API keys (101), the customer's own.
    await straddle('api_keys', 101);
    for (let i = 0; i < 101; i++) {
      await server.ok('mutation($name: String!) { createApiKey(name: $name) { secret } }', { name: `key ${i}` }, customer.token);
    }

    // Tax rates (101), the admin's own.
    await straddle('tax_rates', 101);
    for (let i = 0; i < 101; i++) {
      await server.ok(
        'mutation($input: CreateTaxRateInput!) { createTaxRate(input: $input) { id } }',
        { input: { name: `Tax ${i}`, percent: '1' } },
        admin.token,
      );
    }
    // Invoices (30 months of them), written as issued ones are: the paging is what is tested here.
    await straddle('invoices', 30);
    for (let i = 0; i < 30; i++) {
      const start = new Date(Date.UTC(2020, i, 1)).toISOString();
      const end = new Date(Date.UTC(2020, i + 1, 1)).toISOString();
      const path = (await sql<{ path: string }>(server, 'select path from accounts where id = ?', [customer.id]))[0].path;
      await sql(
        server,
        `insert into invoices (id, issuer_id, account_id, owner_path, sequence_number, number, status, period_start,
                               period_end, issued_at, due_at, currency, timezone, lines, taxes, subtotal, tax_total, total,
                               payments, opening_balance, closing_balance, issuer_details, customer_details)
         values (?, ?, ?, ?, ?, ?, 'FINALIZED', ?, ?, ?, ?, 'USD', 'UTC', '[]', '[]', 0, 0, 0, 0, 0, 0, '{}', '{}')`,
        [`inv_${String(i).padStart(32, '0')}`, admin.id, customer.id, path, i + 1, `INV-${i}`, start, end, end, end],
      );
    }
    await sql(server, `insert into invoice_sequences (issuer_id, last_number) values (?, 30)`, [admin.id]);

    // Webhook endpoints (101), the second customer's own; the last one's deliveries (30), one per top-up. A public
    // address passes the SSRF guard without DNS; no worker runs here, so nothing is sent.
    await straddle('webhook_endpoints', 101);
    let hook = '';
    for (let i = 0; i < 101; i++) {
      hook = (
        await server.ok(
          'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }',
          { input: { url: `http://93.184.215.14/hook/${i}`, events: i === 100 ? ['BALANCE_CHANGED'] : ['ALERT_RAISED'] } },
          second.token,
        )
      ).createWebhookEndpoint.endpoint.id;
    }
    await straddle('webhook_deliveries', 30);
    for (let i = 0; i < 30; i++) await topUp(server, admin.token, second.id, '1');

    // Numbers (60): 4 digits and 10, so that their seqs (numbers ordered as numbers) change length; the
    // customer's subscription qualifies for every one.
    await server.ok(
      'mutation($n: [String!]!) { addDids(input: { numbers: $n }) { id } }',
      { n: Array.from({ length: 60 }, (_, i) => (i < 30 ? `44${i + 10}` : `44207${i + 10000}`)) },
      admin.token,
    );
    const { createPackage } = await server.ok(
      'mutation { createPackage(input: { name: "Numbers", price: "0", didQuantity: 1 }) { id } }',
      {},
      admin.token,
    );
    const { purchasePackage } = await server.ok(
      'mutation($p: ID!) { purchasePackage(input: { packageId: $p }) { id } }',
      { p: createPackage.id },
      customer.token,
    );

    const id = (n: Record<string, string>) => n.id;
    const byId = (table: string, where: string, order: 'asc' | 'desc', params: unknown[]) => () =>
      rows(`select id as key, seq::text as seq from ${table} where ${where} order by ${table}.seq ${order}`, params);
    lists.push(
      {
        name: 'accounts',
        query: `query(${PAGE_VARS}) { accounts(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: admin.token,
        select: (d) => d.accounts,
        key: id,
        expected: byId('accounts', `root_id = ? and id <> ? and status <> 'DELETED'`, 'asc', [admin.id, admin.id]),
        minimum: 101,
      },
      {
        name: 'children',
        query: `query(${PAGE_VARS}, $id: ID!) { account(id: $id) { children(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: { id: reseller.id },
        token: admin.token,
        select: (d) => d.account.children,
        key: id,
        expected: byId('accounts', 'parent_id = ?', 'asc', [reseller.id]),
        minimum: 101,
      },
      {
        name: 'ledger',
        query: `query(${PAGE_VARS}, $id: ID!) { account(id: $id) { ledger(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: { id: customer.id },
        token: admin.token,
        select: (d) => d.account.ledger,
        key: id,
        expected: byId('ledger_entries', 'account_id = ?', 'desc', [customer.id]),
        minimum: 101,
      },
      {
        name: 'alerts',
        query: `query(${PAGE_VARS}, $id: ID) { alerts(${PAGE_ARGS}, accountId: $id) ${connection('id')} }`,
        variables: { id: customer.id },
        token: admin.token,
        select: (d) => d.alerts,
        key: id,
        expected: byId('alerts', 'account_id = ?', 'desc', [customer.id]),
        minimum: 15,
      },
      {
        name: 'calls',
        query: `query(${PAGE_VARS}, $id: ID!) { calls(${PAGE_ARGS}, accountId: $id) ${connection('id')} }`,
        variables: { id: customer.id },
        token: admin.token,
        select: (d) => d.calls,
        key: id,
        expected: byId('calls', 'account_id = ?', 'desc', [customer.id]),
        minimum: 101,
      },
      {
        name: 'rateGroups',
        query: `query(${PAGE_VARS}) { rateGroups(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: admin.token,
        select: (d) => d.rateGroups,
        key: id,
        expected: byId('rate_groups', 'starts_with(owner_path, (select path from accounts where id = ?))', 'asc', [admin.id]),
        minimum: 101,
      },
      {
        name: 'rates',
        query: `query(${PAGE_VARS}, $id: ID!) { node(id: $id) { ... on RateGroup { rates(${PAGE_ARGS}) ${connection('prefix direction')} } } }`,
        variables: { id: group },
        token: admin.token,
        select: (d) => d.node.rates,
        key: (n) => `${n.prefix}/${n.direction}`,
        expected: () =>
          rows(
            `select prefix || '/' || direction as key, seq::text as seq from rates where rate_group_id = ? order by rates.seq`,
            [group],
          ),
        minimum: 101,
      },
      {
        name: 'ownedPackages',
        query: `query(${PAGE_VARS}, $id: ID!) { account(id: $id) { ownedPackages(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: { id: admin.id },
        token: admin.token,
        select: (d) => d.account.ownedPackages,
        key: id,
        expected: byId('packages', 'owner_id = ?', 'asc', [admin.id]),
        minimum: 101,
      },
      {
        name: 'offers',
        query: `query(${PAGE_VARS}) { offers(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: customer.token,
        select: (d) => d.offers,
        key: id,
        expected: byId('packages', 'owner_id = ?', 'asc', [admin.id]),
        minimum: 101,
      },
      {
        name: 'subscriptions',
        query: `query(${PAGE_VARS}, $id: ID!) { account(id: $id) { subscriptions(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: { id: customer.id },
        token: admin.token,
        select: (d) => d.account.subscriptions,
        key: id,
        expected: byId('package_subscriptions', 'account_id = ?', 'asc', [customer.id]),
        minimum: 30,
      },
      {
        name: 'apiKeys',
        query: `query(${PAGE_VARS}, $id: ID) { apiKeys(${PAGE_ARGS}, accountId: $id) ${connection('id')} }`,
        variables: { id: customer.id },
        token: customer.token,
        select: (d) => d.apiKeys,
        key: id,
        expected: byId('api_keys', 'account_id = ?', 'desc', [customer.id]),
        minimum: 101,
      },
      {
        name: 'taxRates',
        query: `query(${PAGE_VARS}) { taxRates(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: admin.token,
        select: (d) => d.taxRates,
        key: id,
        expected: byId('tax_rates', 'owner_id = ?', 'asc', [admin.id]),
        minimum: 101,
      },
      {
        name: 'invoices',
        query: `query(${PAGE_VARS}, $id: ID!) { account(id: $id) { invoices(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: { id: customer.id },
        token: admin.token,
        select: (d) => d.account.invoices,
        key: id,
        expected: byId('invoices', 'account_id = ?', 'desc', [customer.id]),
        minimum: 30,
      },
      {
        name: 'issuedInvoices',
        query: `query(${PAGE_VARS}) { me { issuedInvoices(${PAGE_ARGS}) ${connection('id')} } }`,
        variables: {},
        token: admin.token,
        select: (d) => d.me.issuedInvoices,
        key: id,
        expected: byId('invoices', 'issuer_id = ?', 'desc', [admin.id]),
        minimum: 30,
      },
      {
        name: 'webhookEndpoints',
        query: `query(${PAGE_VARS}) { webhookEndpoints(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: second.token,
        select: (d) => d.webhookEndpoints,
        key: id,
        expected: byId('webhook_endpoints', 'owner_id = ?', 'asc', [second.id]),
        minimum: 101,
      },
      {
        name: 'webhookDeliveries',
        query: `query(${PAGE_VARS}, $id: ID!) { webhookDeliveries(endpointId: $id, ${PAGE_ARGS}) ${connection('id')} }`,
        variables: { id: hook },
        token: second.token,
        select: (d) => d.webhookDeliveries,
        key: id,
        expected: byId('webhook_deliveries', 'endpoint_id = ?', 'desc', [hook]),
        minimum: 30,
      },
      {
        name: 'dids',
        query: `query(${PAGE_VARS}) { dids(${PAGE_ARGS}) ${connection('id')} }`,
        variables: {},
        token: admin.token,
        select: (d) => d.dids,
        key: id,
        expected: byId('dids', 'root_id = ? and retired_at is null', 'asc', [admin.id]),
        minimum: 60,
      },
      {
        name: 'availableDids',
        query: `query(${PAGE_VARS}, $s: ID!) { availableDids(subscriptionId: $s, ${PAGE_ARGS}) ${connection('id')} }`,
        variables: { s: purchasePackage.id },
        token: customer.token,
        select: (d) => d.availableDids,
        key: id,
        expected: byId('dids', "root_id = ? and status = 'AVAILABLE'", 'asc', [admin.id]),
        minimum: 60,
      },
    );
  }, 300_000);

  it('covers every connection field of the schema', async () => {
    const schema = await server.ok('{ __schema { types { name fields { name type { name kind ofType { name } } } } } }');
    const fields = new Set<string>();
    for (const t of schema.__schema.types) {
      for (const f of t.fields ?? []) {
        const type = f.type.kind === 'NON_NULL' ? f.type.ofType.name : f.type.name;
        if (type?.endsWith('Connection') && !t.name.startsWith('__')) fields.add(f.name);
      }
    }
    expect([...fields].sort()).toEqual(lists.map((l) => l.name).sort());
  });

  it('has data whose keys change length inside every list', async () => {
    for (const list of lists) {
      const { keys, seqs } = await list.expected();
      expect(keys.length, list.name).toBeGreaterThanOrEqual(list.minimum);
      const lengths = new Set(seqs.map((s) => s.length));
      expect(lengths.size, `${list.name} seqs ${seqs[0]}..${seqs.at(-1)}`).toBeGreaterThan(1);
    }
    // On a database of their own, the biggest lists start in single digits and cross 99/100 as well.
    for (const name of ['accounts', 'children', 'ledger']) {
      const seqs = (await lists.find((l) => l.name === name)!.expected()).seqs.map(Number);
      if (Math.min(...seqs) < 10) expect(Math.max(...seqs), name).toBeGreaterThanOrEqual(100);
    }
  });

  it.each([
    ['forward', 7],
    ['backward', 7],
    ['forward', 1],
    ['backward', 1],
  ] as const)(
    'walks %s in pages of %i: every row once, in the list order',
    async (direction, size) => {
      for (const list of lists) {
        const { keys: expected } = await list.expected();
        // Pages of one are many requests: the short lists are enough for those.
        if (size === 1 && expected.length > 40) continue;
        const w = await walk(list, direction, size);
        expect(w.keys, `${list.name} ${direction}`).toEqual(expected);
        expect(new Set(w.cursors).size, `${list.name} cursors`).toBe(expected.length);
        expect(w.pages.length, list.name).toBe(Math.ceil(expected.length / size));
        // Every page: its cursors are its first and last edges', and it is full but for the last one reached.
        for (const [i, p] of w.pages.entries()) {
          expect(p.pageInfo.startCursor).toBe(p.edges[0]?.cursor ?? null);
          expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
          expect(p.totalCount).toBe(expected.length);
          if (i < w.pages.length - 1) expect(p.edges).toHaveLength(size);
        }
        // The flags at both ends, and in between.
        const [first, final] = [w.infos[0], w.infos.at(-1)!];
        if (direction === 'forward') {
          expect(first, `${list.name} first page`).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
          expect(final, `${list.name} last page`).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
        } else {
          expect(first, `${list.name} last page`).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
          expect(final, `${list.name} first page`).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
        }
        for (const info of w.infos.slice(1, -1))
          expect(info, list.name).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
      }
    },
    300_000,
  );

  it('gives the same pages both ways, and the whole list in one page either way', async () => {
    for (const list of lists) {
      const { keys: expected } = await list.expected();
      const all = await page(list, { first: 500 });
      const fromEnd = await page(list, { last: 500 });
      for (const conn of [all, fromEnd]) {
        expect(
          conn.edges.map((e) => list.key(e.node)),
          list.name,
        ).toEqual(expected);
        expect(conn.pageInfo, list.name).toMatchObject({ hasPreviousPage: false, hasNextPage: false });
      }
      expect(fromEnd.edges.map((e) => e.cursor)).toEqual(all.edges.map((e) => e.cursor));
      // The 10 rows before the k-th are the same, whichever way they are asked for.
      const cursors = all.edges.map((e) => e.cursor);
      const k = Math.min(59, cursors.length - 5);
      const back = await page(list, { last: 10, before: cursors[k] });
      expect(
        back.edges.map((e) => e.cursor),
        list.name,
      ).toEqual(cursors.slice(k - 10, k));
      expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
      const forth = await page(list, { first: 10, after: cursors[k - 11] });
      expect(
        forth.edges.map((e) => e.cursor),
        list.name,
      ).toEqual(cursors.slice(k - 10, k));
      expect(forth.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
      // Between two cursors: the rows strictly between them, from either end.
      const between = { after: cursors[9], before: cursors[20] };
      expect(
        (await page(list, between)).edges.map((e) => e.cursor),
        list.name,
      ).toEqual(cursors.slice(10, 20));
      expect((await page(list, { ...between, first: 3 })).edges.map((e) => e.cursor)).toEqual(cursors.slice(10, 13));
      const tail = await page(list, { ...between, last: 3 });
      expect(tail.edges.map((e) => e.cursor)).toEqual(cursors.slice(17, 20));
      expect(tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
      // An empty page still says what lies either side.
      const none = await page(list, { first: 0, after: cursors[4] });
      expect(none.edges).toEqual([]);
      expect(none.pageInfo).toEqual({ hasPreviousPage: true, hasNextPage: true, startCursor: null, endCursor: null });
    }
  }, 300_000);

  it('pages the subscriptions of many accounts at once from either end', async () => {
    const { keys: mine } = await lists.find((l) => l.name === 'subscriptions')!.expected();
    const theirs = (
      await sql<{ id: string }>(server, 'select id from package_subscriptions where account_id = ? order by seq', [second.id])
    ).map((r) => r.id);
    const data = await server.ok(
      `query($id: ID!) { account(id: $id) { children(first: 10) { edges { node { id
        tail: subscriptions(last: 2) ${connection('id')}
        head: subscriptions(first: 2) ${connection('id')} } } } } }`,
      { id: admin.id },
      admin.token,
    );
    const byAccount = new Map<string, { tail: Conn; head: Conn }>(
      data.account.children.edges.map((e: any) => [e.node.id, e.node]),
    );
    const ids = (c: Conn) => c.edges.map((e) => e.node.id);
    expect(ids(byAccount.get(customer.id)!.tail)).toEqual(mine.slice(-2));
    expect(ids(byAccount.get(customer.id)!.head)).toEqual(mine.slice(0, 2));
    expect(byAccount.get(customer.id)!.tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    expect(ids(byAccount.get(second.id)!.tail)).toEqual(theirs.slice(-2));
    expect(byAccount.get(second.id)!.tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    expect(ids(byAccount.get(reseller.id)!.tail)).toEqual([]);
    expect(byAccount.get(reseller.id)!.tail.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: false });
  });
});

describe('page arguments', () => {
  let admin: Node;
  const ACCOUNTS = `query(${PAGE_VARS}) { accounts(${PAGE_ARGS}) ${connection('id')} }`;

  beforeAll(async () => {
    const p = await createPlatform(server);
    admin = { id: p.id, token: p.token, email: p.email };
    for (let i = 0; i < 55; i++) await addAccount(server, admin.token, { kind: 'CUSTOMER' });
  });

  const field = (r: { errors?: { extensions?: { field?: string } }[] }) => r.errors?.[0]?.extensions?.field;

  it('pages 50 rows from the start when given neither first nor last', async () => {
    const { accounts } = await server.ok(ACCOUNTS, {}, admin.token);
    expect(accounts.edges).toHaveLength(50);
    expect(accounts.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it("keeps the contract's default of 50 for first, which gives way to last when first is not asked for", async () => {
    const schema = await server.ok('{ __type(name: "Query") { fields { name args { name defaultValue } } } }', {}, admin.token);
    const accountsArgs = schema.__type.fields.find((f: { name: string }) => f.name === 'accounts').args;
    expect(accountsArgs.find((a: { name: string }) => a.name === 'first').defaultValue).toBe('50');
    const all = (await server.ok('{ accounts(first: 500) { edges { node { id } } } }', {}, admin.token)).accounts.edges;
    const tail = (
      await server.ok('{ accounts(last: 3) { edges { node { id } } pageInfo { hasPreviousPage } } }', {}, admin.token)
    ).accounts;
    expect(tail.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(
      all.slice(-3).map((e: { node: { id: string } }) => e.node.id),
    );
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    expect(field(await server.gql('{ accounts(first: 50, last: 3) { totalCount } }', {}, admin.token))).toBe('last');
  });

  it('counts the whole list on an empty page past its end, and through a fragment', async () => {
    const all = (await server.ok('{ accounts(first: 500) { totalCount pageInfo { endCursor } } }', {}, admin.token)).accounts;
    const past = (
      await server.ok(
        'query($after: String) { accounts(first: 5, after: $after) { ...Counted edges { node { id } } } } fragment Counted on AccountConnection { totalCount }',
        { after: all.pageInfo.endCursor },
        admin.token,
      )
    ).accounts;
    expect(past.edges).toEqual([]);
    expect(past.totalCount).toBe(all.totalCount);
    expect(all.totalCount).toBeGreaterThan(0);
  });

  it('refuses first with last, naming last', async () => {
    const result = await server.gql(ACCOUNTS, { first: 5, last: 5 }, admin.token);
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(field(result)).toBe('last');
  });

  it.each([
    ['first', { first: 501 }],
    ['first', { first: -1 }],
    ['last', { last: 501 }],
    ['last', { last: -1 }],
    ['after', { after: 'bm9wZQ' }],
    ['before', { last: 5, before: 'bm9wZQ' }],
    ['before', { before: Buffer.from('c:99999999999999999999').toString('base64url') }],
  ])('refuses a bad %s, naming it', async (name, args) => {
    const result = await server.gql(ACCOUNTS, args, admin.token);
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(field(result)).toBe(name);
  });

  it('counts last like first in the query cost', async () => {
    const nested = (arg: string) =>
      `{ accounts(${arg}: 500) { edges { node { children(${arg}: 500) { edges { node { id } } } } } } }`;
    const [byFirst, byLast] = await Promise.all([
      server.gql(nested('first'), {}, admin.token),
      server.gql(nested('last'), {}, admin.token),
    ]);
    expect(errorCode(byFirst)).toBe('BAD_USER_INPUT');
    expect(errorCode(byLast)).toBe('BAD_USER_INPUT');
    expect(byLast.errors?.[0]?.message).toBe(byFirst.errors?.[0]?.message);
  });
});
