import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdjustBalanceDocument,
  CreateRateGroupDocument,
  RateCallDocument,
  TopUpDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { startServer, type TestServer } from './support/harness.js';
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

async function get(path: string, token?: string) {
  const res = await fetch(`${server.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
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
    expect(lines[0]).toBe('id,number,kind,name,email,parent_id,status,currency,billing_mode,balance,credit_limit,available_balance,reseller_model,created_at');
    const ids = lines.slice(1).map((l) => l.split(',')[0]);
    expect(new Set(ids)).toEqual(new Set([tree.r1.id, tree.sr1.id, tree.c11.id, tree.c1.id]));
    const c1 = lines.find((l) => l.startsWith(tree.c1.id))!;
    // Formula-looking cells are neutralized and quotes escaped.
    expect(c1).toContain(`"'=HYPERLINK(""x""), ""quoted"""`);
    expect(c1).toContain(',12.75,0,12.75,');
  });

  it('ledger.csv lists one account in scope, oldest first', async () => {
    const res = await get(`/export/ledger.csv?accountId=${tree.c1.id}`, tree.r1.token);
    const rows = res.text.trim().split('\r\n').slice(1).map((l) => l.split(','));
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

  describe('formula injection', () => {
    // Free text that a spreadsheet would evaluate: a leading - or + followed by a digit is still a formula.
    const DDE = `-2+3+cmd|' /C calc'!A0`;
    const LINK = '-1+HYPERLINK("http://x")';

    it('every text cell starting with = + - @ is shown with a leading quote; money stays a plain number', async () => {
      const dde = await addAccount(server, tree.r2.token, { kind: 'CUSTOMER', name: DDE, email: `+1+cmd-${Date.now()}@example.test` });
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
        CreateRateGroupDocument, { input: { name: 'export', rates: [{ prefix: '44', ratePerMinute: '0.6' }] } }, tree.admin.token,
      );
      const c = await addAccount(server, tree.admin.token, { kind: 'CUSTOMER', name: 'Caller' });
      await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: createRateGroup.id } }, tree.admin.token);
      await server.ok(RateCallDocument, {
        input: { accountId: c.id, callId: LINK, destination: '441234', direction: 'OUTBOUND', durationSeconds: 90, startedAt: '2026-11-20T10:00:00.000Z' },
      }, tree.admin.token);
      const [call] = await records(`/export/calls.csv?accountId=${c.id}`, tree.admin.token);
      expect(call).toMatchObject({ call_id: `'${LINK}`, destination: '441234', duration_seconds: '90', billed_seconds: '120', cost: '1.2' });
      const [entry] = await records(`/export/ledger.csv?accountId=${c.id}`, tree.admin.token);
      expect(entry).toMatchObject({ kind: 'USAGE', amount: '-1.2', balance_after: '-1.2' });
    });
  });
});
