import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateAccountDocument } from './generated/graphql.js';
import { startServer, type TestServer } from './support/harness.js';
import { buildTree, topUp } from './support/tree.js';

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
});
