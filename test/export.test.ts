import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdjustBalanceDocument,
  CreateRateGroupDocument,
  RateCallDocument,
  TopUpDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { createPlatform, ENGINE, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, buildTree, topUp } from './support/tree.js';

let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
  await topUp(server, tree.admin.token, tree.r1.id, '100');
  await topUp(server, tree.r1.token, tree.c1.id, '12.5');
  await topUp(server, tree.r1.token, tree.c1.id, '0.25');
  await topUp(server, tree.admin.token, tree.r2.id, '9');
  await server.ok(UpdateAccountDocument, { id: tree.c1.id, input: { name: '=HYPERLINK("x"), "quoted"' } }, tree.r1.token);
});
afterAll(() => server.close());

/**
 * A GET on a connection of its own: a kept-alive connection that the server closes for idleness just as the
 * client reuses it is reset (seen once in a loaded run), and that is not what these tests are about.
 */
function get(path: string, token?: string): Promise<{ status: number; type: string | null; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(
      `${server.url}${path}`,
      { agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, type: (res.headers['content-type'] as string | undefined) ?? null, text }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

/** A refusal: JSON with its status and code, and nothing of a CSV file. */
async function refused(path: string, token: string | undefined, status: number, code: string, field?: string) {
  const res = await get(path, token);
  expect(res.status).toBe(status);
  expect(res.type).toContain('application/json');
  const body = JSON.parse(res.text) as { errors: { message: string; extensions: { code: string; field?: string } }[] };
  expect(body.errors[0].extensions).toEqual({ code, ...(field ? { field } : {}) });
  expect(res.text).not.toContain('\r\n');
  return body.errors[0].message;
}

/** Ledger rows written straight by SQL, a second apart, the newest now; kinds alternate USAGE, USAGE, TOPUP. */
async function bulkLedger(accountId: string, n: number) {
  const em = server.app.db.orm.em.fork();
  await em.transactional(async (tx) => {
    // Without the ledger's statement trigger, which would raise an event for each row.
    await tx.execute(`set local session_replication_role = replica`);
    await tx.execute(
      `insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, created_at)
       select 'led_' || md5(a.id || ':' || g), a.id, a.path, 1, g, case when g % 3 = 0 then 'TOPUP' else 'USAGE' end,
              case when g % 1000 = 0 then '=1+' || g else 'row ' || g end, date_trunc('second', now()) - (? - g) * interval '1 second'
         from accounts a, generate_series(1, ?) g where a.id = ?`,
      [n, n, accountId],
    );
  });
}

/** The cells a spreadsheet shows after reading the file (RFC 4180: quoted cells, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

/** Rows as header -> cell records. */
async function records(path: string, token: string): Promise<Record<string, string>[]> {
  const res = await get(path, token);
  expect(res.status).toBe(200);
  const [header, ...rows] = parseCsv(res.text);
  for (const r of rows) expect(r).toHaveLength(header.length);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

describe('CSV exports', () => {
  it("accounts.csv holds exactly the caller's subtree", async () => {
    const res = await get('/export/accounts.csv', tree.r1.token);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/csv');
    const lines = res.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      'id,number,kind,name,email,parent_id,status,currency,billing_mode,balance,credit_limit,available_balance,reseller_model,created_at',
    );
    const ids = lines.slice(1).map((l) => l.split(',')[0]);
    expect(new Set(ids)).toEqual(new Set([tree.r1.id, tree.sr1.id, tree.c11.id, tree.c1.id]));
    const c1 = lines.find((l) => l.startsWith(tree.c1.id))!;
    // Formula-looking cells are neutralized and quotes escaped.
    expect(c1).toContain(`"'=HYPERLINK(""x""), ""quoted"""`);
    expect(c1).toContain(',12.75,0,12.75,');
  });

  it('ledger.csv lists one account in scope, oldest first', async () => {
    const res = await get(`/export/ledger.csv?accountId=${tree.c1.id}`, tree.r1.token);
    const rows = res.text
      .trim()
      .split('\r\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(rows.map((r) => [r[3], r[4], r[5]])).toEqual([
      ['TOPUP', '12.5', '12.5'],
      ['TOPUP', '0.25', '12.75'],
    ]);
    const own = await get('/export/ledger.csv', tree.c1.token);
    expect(own.text.trim().split('\r\n')).toHaveLength(3);
  });

  it('refuses other subtrees and anonymous callers', async () => {
    expect((await get(`/export/ledger.csv?accountId=${tree.r2.id}`, tree.r1.token)).status).toBe(404);
    expect((await get('/export/accounts.csv')).status).toBe(401);
    expect((await get('/export/accounts.csv', 'junk')).status).toBe(401);
  });

  it("dids.csv holds the root's whole inventory, and for anyone else the numbers held in its subtree", async () => {
    // A platform of its own: the numbers and purchases below must not touch the shared tree's accounts.
    const p = await createPlatform(server);
    const root = { id: p.id, token: p.token };
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C' });
    const other = await addAccount(server, root.token, { kind: 'RESELLER', name: 'Other' });
    const oc = await addAccount(server, other.token, { kind: 'CUSTOMER', name: 'Other customer' });
    for (const [by, to] of [
      [root, r],
      [r, c],
      [root, other],
      [other, oc],
    ]) {
      await topUp(server, by.token, to.id, '100');
    }
    const ADD = `mutation ($input: AddDidsInput!) { addDids(input: $input) { id number } }`;
    const london = (
      await server.ok(
        ADD,
        { input: { numbers: ['442070000010', '442070000002', '442070000003'], country: 'GB', tags: ['London', 'uk'] } },
        root.token,
      )
    ).addDids as { id: string; number: string }[];
    await server.ok(ADD, { input: { numbers: ['+1 212 555 0001'], country: 'US', tags: ['nyc'] } }, root.token);
    await server.ok(ADD, { input: { numbers: ['33100000000'] } }, root.token);
    const retired = london.find((d) => d.number === '442070000003')!;
    await server.ok(`mutation ($id: ID!) { retireDid(id: $id) { id } }`, { id: retired.id }, root.token);

    const { createPackage } = await server.ok(
      `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id } }`,
      {
        input: {
          name: 'Numbers',
          price: '1',
          didQuantity: 2,
          didHoldDays: 3,
          resellerCanResell: true,
          canBePurchased: false,
        },
      },
      root.token,
    );
    const buy = async (reseller: { token: string }, customer: { token: string }) => {
      const { optIn } = await server.ok(
        `mutation ($p: ID!) { optIn(input: { packageId: $p }) { id } }`,
        { p: createPackage.id },
        reseller.token,
      );
      const { purchasePackage } = await server.ok(
        `mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id } }`,
        { p: optIn.id },
        customer.token,
      );
      return purchasePackage.id as string;
    };
    const CLAIM = `mutation ($s: ID!, $n: String) { claimDid(subscriptionId: $s, number: $n) { id } }`;
    const cSub = await buy(r, c);
    await server.ok(CLAIM, { s: cSub, n: '442070000010' }, c.token);
    await server.ok(CLAIM, { s: cSub, n: '442070000002' }, c.token);
    const ocSub = await buy(other, oc);
    await server.ok(CLAIM, { s: ocSub, n: '12125550001' }, oc.token);
    // Ended: the number is ON_HOLD for its holder, and still in its holder's (and ancestors') file.
    await server.ok(`mutation ($id: ID!) { terminateSubscription(id: $id) { id } }`, { id: ocSub }, oc.token);

    const header = 'id,number,country,tags,status,account_id,subscription_id,assigned_at,hold_until,created_at';
    const res = await get('/export/dids.csv', root.token);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/csv');
    expect(res.text.split('\r\n')[0]).toBe(header);

    // Every cell is what the API says of the number, as text; lowest first, as numbers (11 digits before 12).
    const { dids } = await server.ok(
      `{ dids(first: 50) { edges { node { id number country tags status account { id } subscription { id } assignedAt holdUntil } } } }`,
      {},
      root.token,
    );
    type Did = {
      id: string;
      number: string;
      country: string | null;
      tags: string[];
      status: string;
      account: { id: string } | null;
      subscription: { id: string } | null;
      assignedAt: string | null;
      holdUntil: string | null;
    };
    const asCsv = (d: Did) => ({
      id: d.id,
      number: d.number,
      country: d.country ?? '',
      tags: d.tags.join(';'),
      status: d.status,
      account_id: d.account?.id ?? '',
      subscription_id: d.subscription?.id ?? '',
      assigned_at: d.assignedAt ?? '',
      hold_until: d.holdUntil ?? '',
    });
    const all = await records('/export/dids.csv', root.token);
    expect(all.map(({ created_at: _createdAt, ...rest }) => rest)).toEqual(
      (dids.edges as { node: Did }[]).map((e) => asCsv(e.node)),
    );
    // Not in the API: written as Date#toISOString would, and just now.
    for (const d of all) {
      expect(d.created_at).toBe(new Date(d.created_at).toISOString());
      expect(Date.now() - Date.parse(d.created_at)).toBeLessThan(600_000);
    }
    expect(all.map((d) => [d.number, d.status, d.tags, d.country, d.account_id])).toEqual([
      ['12125550001', 'ON_HOLD', 'nyc', 'US', oc.id],
      ['33100000000', 'AVAILABLE', '', '', ''],
      ['442070000002', 'ASSIGNED', 'london;uk', 'GB', c.id],
      ['442070000010', 'ASSIGNED', 'london;uk', 'GB', c.id],
    ]);
    const held = all.find((d) => d.status === 'ON_HOLD')!;
    expect(held).toMatchObject({ subscription_id: ocSub, assigned_at: expect.stringMatching(/Z$/) });
    // didHoldDays 3 from the termination, just after the claim.
    const holdMs = Date.parse(held.hold_until) - Date.parse(held.assigned_at);
    expect(holdMs).toBeGreaterThanOrEqual(3 * 86_400_000);
    expect(holdMs).toBeLessThan(3 * 86_400_000 + 600_000);
    expect(all.map((d) => d.id)).not.toContain(retired.id);

    // Below the root: the numbers held in the caller's subtree only, never the stock nor a sibling's.
    const numbersOf = async (token: string) => (await records('/export/dids.csv', token)).map((d) => d.number);
    expect(await numbersOf(r.token)).toEqual(['442070000002', '442070000010']);
    expect(await numbersOf(c.token)).toEqual(['442070000002', '442070000010']);
    expect(await numbersOf(other.token)).toEqual(['12125550001']);
    expect(await numbersOf(tree.admin.token)).toEqual([]);

    expect(await records('/export/dids.csv?from=9999-01-01T00:00:00Z', root.token)).toEqual([]);
    await refused('/export/dids.csv?status=ASSIGNED', root.token, 400, 'BAD_USER_INPUT', 'status');
    await refused(`/export/dids.csv?accountId=${c.id}`, root.token, 400, 'BAD_USER_INPUT', 'accountId');
  });

  describe('formula injection', () => {
    // Free text that a spreadsheet would evaluate: a leading - or + followed by a digit is still a formula.
    const DDE = `-2+3+cmd|' /C calc'!A0`;
    const LINK = '-1+HYPERLINK("http://x")';

    it('every text cell starting with = + - @ is shown with a leading quote; money stays a plain number', async () => {
      const dde = await addAccount(server, tree.r2.token, {
        kind: 'CUSTOMER',
        name: DDE,
        email: `+1+cmd-${Date.now()}@example.test`,
      });
      const link = await addAccount(server, tree.r2.token, { kind: 'CUSTOMER', name: LINK });
      await server.ok(UpdateAccountDocument, { id: link.id, input: { name: '@SUM(1+9)*cmd' } }, tree.r2.token);
      await server.ok(TopUpDocument, { input: { accountId: dde.id, amount: '20', description: DDE } }, tree.r2.token);
      await server.ok(AdjustBalanceDocument, { input: { accountId: dde.id, amount: '-12.5', description: LINK } }, tree.r2.token);
      await server.ok(AdjustBalanceDocument, { input: { accountId: dde.id, amount: '-10', description: '=1+1' } }, tree.r2.token);

      const accounts = await records('/export/accounts.csv', tree.r2.token);
      const a = accounts.find((r) => r.id === dde.id)!;
      expect(a.name).toBe(`'${DDE}`);
      expect(a.email).toBe(`'${dde.email}`);
      expect(a.balance).toBe('-2.5');
      expect(a.available_balance).toBe('-2.5');
      expect(accounts.find((r) => r.id === link.id)!.name).toBe(`'@SUM(1+9)*cmd`);
      // Cells that do not start with a formula character are left exactly as they are.
      expect(accounts.find((r) => r.id === tree.r2.id)!.name).toBe('R2');

      const ledger = await records(`/export/ledger.csv?accountId=${dde.id}`, tree.r2.token);
      expect(ledger.map((e) => [e.kind, e.amount, e.balance_after, e.description])).toEqual([
        ['TOPUP', '20', '20', `'${DDE}`],
        ['ADJUSTMENT', '-12.5', '7.5', `'${LINK}`],
        ['ADJUSTMENT', '-10', '-2.5', `'=1+1`],
      ]);
    });

    it('call ids are text, durations and costs are numbers', async () => {
      const { createRateGroup } = await server.ok(
        CreateRateGroupDocument,
        { input: { name: 'export', rates: [{ prefix: '44', ratePerMinute: '0.6' }] } },
        tree.admin.token,
      );
      const c = await addAccount(server, tree.admin.token, { kind: 'CUSTOMER', name: 'Caller' });
      await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: createRateGroup.id } }, tree.admin.token);
      await server.ok(
        RateCallDocument,
        {
          input: {
            accountId: c.id,
            callId: LINK,
            destination: '441234',
            direction: 'OUTBOUND',
            durationSeconds: 90,
            startedAt: '2026-11-20T10:00:00.000Z',
          },
        },
        tree.admin.token,
      );
      const [call] = await records(`/export/calls.csv?accountId=${c.id}`, tree.admin.token);
      expect(call).toMatchObject({
        call_id: `'${LINK}`,
        destination: '441234',
        duration_seconds: '90',
        billed_seconds: '120',
        cost: '1.2',
      });
      const [entry] = await records(`/export/ledger.csv?accountId=${c.id}`, tree.admin.token);
      expect(entry).toMatchObject({ kind: 'USAGE', amount: '-1.2', balance_after: '-1.2' });
    });
  });

  describe('streaming', () => {
    const N = 20_000;
    let big: { id: string; token: string };

    beforeAll(async () => {
      big = await addAccount(server, tree.r2.token, { kind: 'CUSTOMER', name: 'Big ledger' });
      await bulkLedger(big.id, N);
    });

    it('returns every row once, in order, with neutralised text and plain numbers', async () => {
      const rows = await records(`/export/ledger.csv?accountId=${big.id}`, tree.r2.token);
      expect(rows).toHaveLength(N);
      // balance_after is the row's number in insertion order.
      rows.forEach((r, i) => expect(r.balance_after).toBe(String(i + 1)));
      expect(new Set(rows.map((r) => r.id)).size).toBe(N);
      expect(rows[999]).toMatchObject({ description: "'=1+1000", amount: '1', balance_after: '1000' });
      expect(rows[0].description).toBe('row 1');
    });

    it('filters by from (inclusive), to (exclusive) and kind', async () => {
      const all = await records(`/export/ledger.csv?accountId=${big.id}`, tree.r2.token);
      const from = all[100].created_at;
      const to = all[200].created_at;
      const window = await records(`/export/ledger.csv?accountId=${big.id}&from=${from}&to=${to}`, tree.r2.token);
      expect(window.map((r) => r.id)).toEqual(all.slice(100, 200).map((r) => r.id));
      const topUps = await records(`/export/ledger.csv?accountId=${big.id}&kind=TOPUP&to=${to}`, tree.r2.token);
      expect(topUps.map((r) => r.id)).toEqual(
        all
          .slice(0, 200)
          .filter((r) => r.kind === 'TOPUP')
          .map((r) => r.id),
      );
      expect(topUps).toHaveLength(66);
      // An offset other than Z names the same instant.
      const plus2 = new Date(Date.parse(from)).toISOString().replace('Z', '+00:00');
      expect(
        await records(`/export/ledger.csv?accountId=${big.id}&from=${encodeURIComponent(plus2)}&to=${to}`, tree.r2.token),
      ).toHaveLength(100);

      const customers = await records('/export/accounts.csv?kind=CUSTOMER', tree.r1.token);
      expect(new Set(customers.map((r) => r.id))).toEqual(new Set([tree.c11.id, tree.c1.id]));
      expect(await records('/export/accounts.csv?from=9999-01-01T00:00:00Z', tree.r1.token)).toEqual([]);
      const calls = await records('/export/calls.csv?to=2000-01-01T00:00:00Z', tree.admin.token);
      expect(calls).toEqual([]);
    });

    it('refuses bad filters with 400 naming the field, before any CSV', async () => {
      const base = `/export/ledger.csv?accountId=${big.id}`;
      await refused(`${base}&from=yesterday`, tree.r2.token, 400, 'BAD_USER_INPUT', 'from');
      await refused(`${base}&to=2026-13-01T00:00:00Z`, tree.r2.token, 400, 'BAD_USER_INPUT', 'to');
      await refused(`${base}&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, tree.r2.token, 400, 'BAD_USER_INPUT', 'to');
      await refused(`${base}&kind=CUSTOMER`, tree.r2.token, 400, 'BAD_USER_INPUT', 'kind');
      await refused(`${base}&kind=TOPUP&kind=USAGE`, tree.r2.token, 400, 'BAD_USER_INPUT', 'kind');
      await refused('/export/accounts.csv?kind=TOPUP', tree.r2.token, 400, 'BAD_USER_INPUT', 'kind');
      await refused('/export/calls.csv?kind=USAGE', tree.r2.token, 400, 'BAD_USER_INPUT', 'kind');
      // A misspelt filter would otherwise export everything.
      await refused(`${base}&form=2026-01-01T00:00:00Z`, tree.r2.token, 400, 'BAD_USER_INPUT', 'form');
    });

    it('answers 401, 403 and 404 as JSON', async () => {
      await refused('/export/ledger.csv', undefined, 401, 'UNAUTHENTICATED');
      await refused('/export/ledger.csv', 'junk', 401, 'UNAUTHENTICATED');
      // Out of scope is as missing as unknown.
      await refused(`/export/ledger.csv?accountId=${big.id}`, tree.r1.token, 404, 'NOT_FOUND');
      await refused('/export/calls.csv?accountId=acc_missing', tree.r1.token, 404, 'NOT_FOUND');
      const { createApiKey } = await server.ok(
        `mutation { createApiKey(name: "switch", scopes: [RATING]) { secret } }`,
        {},
        tree.admin.token,
      );
      await refused('/export/accounts.csv', createApiKey.secret, 403, 'FORBIDDEN');
    });

    it('stops reading when the client goes away, and gives its connection back', async () => {
      // More than the socket buffers between server and client hold, or the server may finish before it can tell.
      const huge = await addAccount(server, tree.r2.token, { kind: 'CUSTOMER', name: 'Huge ledger' });
      await bulkLedger(huge.id, 150_000);
      // A connection of its own (node:http, no agent): the bulk insert outlasts the server's keep-alive, and a
      // pooled socket it has just closed would fail the request.
      await new Promise<void>((resolve, reject) => {
        const req = httpGet(
          `${server.url}/export/ledger.csv?accountId=${huge.id}`,
          { agent: false, headers: { authorization: `Bearer ${tree.r2.token}` } },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      });

      let stopped: { rows: number } | undefined;
      for (let i = 0; i < 100 && !stopped; i++) {
        stopped = server.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'export stopped: the client closed the connection');
        if (!stopped) await new Promise((r) => setTimeout(r, 50));
      }
      expect(stopped).toBeDefined();
      expect(stopped!.rows).toBeLessThan(150_000);
      if (ENGINE === 'postgresql') {
        const pool = (
          server.app.db.orm.em.getConnection().getKnex().client as {
            pool: { numUsed(): number; free: { resource: { processID: number } }[] };
          }
        ).pool;
        expect(pool.numUsed()).toBe(0);
        // This server's own sessions only: other test files share the database, mid-transaction.
        const pids = pool.free.map((f) => f.resource.processID);
        expect(pids.length).toBeGreaterThan(0);
        const open = await sql<{ n: number }>(
          server,
          `select count(*)::int as n from pg_stat_activity where pid = any(?::int[]) and state like 'idle in transaction%'`,
          [`{${pids.join(',')}}`],
        );
        expect(open[0].n).toBe(0);
      }
      // On PGlite, with its one connection, any export left open would hold this one up.
      expect(await records(`/export/ledger.csv?accountId=${big.id}&kind=TOPUP`, tree.r2.token)).toHaveLength(Math.floor(N / 3));
    });
  });
});
