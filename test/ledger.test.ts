import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemEm } from '../src/db/orm.js';
import { DomainError } from '../src/errors.js';
import { FloorNotMet, post, type Posting } from '../src/ledger/post.js';
import { Decimal } from '../src/money.js';
import { ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, buildTree, topUp, type Node } from './support/tree.js';

let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;
beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

const money = (s: string) => new Decimal(s);
const balanceOf = async (id: string) =>
  new Decimal(
    (await sql<{ balance: string }>(server, 'select balance::text as balance from accounts where id = ?', [id]))[0].balance,
  ).toFixed();
const entriesOf = async (id: string) =>
  sql<{ amount: string; balance_after: string; kind: string }>(
    server,
    'select amount::text, balance_after::text, kind from ledger_entries where account_id = ? order by seq',
    [id],
  );
const postAll = (postings: Posting[], floors?: Map<string, Decimal>) =>
  systemEm(server.app.db.orm).transactional((em) => post(em, postings, { floors }));

async function freshCustomer(): Promise<Node> {
  const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
  await topUp(server, tree.r1.token, c.id, '100');
  return c;
}

describe('the posting engine', () => {
  it('moves several accounts at once and writes each entry with its exact running balance, in posting order', async () => {
    const a = await freshCustomer();
    const b = await freshCustomer();
    const written = await postAll([
      { accountId: a.id, amount: money('-10'), kind: 'PACKAGE_FEE' },
      { accountId: b.id, amount: money('-2.5'), kind: 'USAGE' },
      { accountId: a.id, amount: money('1.25'), kind: 'COMMISSION' },
      { accountId: a.id, amount: money('0'), kind: 'SETUP_FEE' },
      { accountId: a.id, amount: money('-0.0001'), kind: 'USAGE' },
    ]);
    expect(written.map((e) => [e.accountId, e.kind, e.balanceAfter.toFixed()])).toEqual([
      [a.id, 'PACKAGE_FEE', '90'],
      [b.id, 'USAGE', '97.5'],
      [a.id, 'COMMISSION', '91.25'],
      [a.id, 'USAGE', '91.2499'],
    ]);
    expect(written.map((e) => BigInt(e.seq))).toEqual([...written.map((e) => BigInt(e.seq))].sort((x, y) => (x < y ? -1 : 1)));
    expect(await balanceOf(a.id)).toBe('91.2499');
    expect(await balanceOf(b.id)).toBe('97.5');
    expect((await entriesOf(a.id)).map((e) => new Decimal(e.balance_after).toFixed())).toEqual(['100', '90', '91.25', '91.2499']);
    expect(await ledgerMismatches(server, tree.admin.id)).toEqual([]);
  });

  it('checks floors under its lock and writes nothing when one is not met', async () => {
    const a = await freshCustomer();
    const b = await freshCustomer();
    const attempt = postAll(
      [
        { accountId: a.id, amount: money('-60'), kind: 'PACKAGE_FEE' },
        { accountId: b.id, amount: money('-150'), kind: 'PACKAGE_FEE' },
      ],
      new Map([
        [a.id, money('60')],
        [b.id, money('150')],
      ]),
    );
    await expect(attempt).rejects.toBeInstanceOf(FloorNotMet);
    await expect(attempt).rejects.toMatchObject({ accountId: b.id });
    expect(await balanceOf(a.id)).toBe('100');
    expect(await entriesOf(b.id)).toHaveLength(1);
  });

  it('refuses, under its lock, an account that must be open and was deleted, and a ceiling reached', async () => {
    const a = await freshCustomer();
    const b = await freshCustomer();
    await sql(server, `update accounts set status = 'DELETED' where id = ?`, [b.id]);
    const charge = [{ accountId: a.id, amount: money('-1'), kind: 'PACKAGE_FEE' as const }];
    await expect(
      systemEm(server.app.db.orm).transactional((em) => post(em, charge, { open: [a.id, b.id] })),
    ).rejects.toMatchObject({ name: 'AccountClosed', accountId: b.id });
    await expect(
      systemEm(server.app.db.orm).transactional((em) => post(em, charge, { ceilings: new Map([[a.id, money('100')]]) })),
    ).rejects.toMatchObject({ name: 'StaleBalance', kind: 'ceiling', accountId: a.id });
    expect(await balanceOf(a.id)).toBe('100');
    await systemEm(server.app.db.orm).transactional((em) => post(em, charge, { ceilings: new Map([[a.id, money('100.01')]]) }));
    expect(await balanceOf(a.id)).toBe('99');
  });

  it('refuses a balance out of range as INVALID_STATE', async () => {
    const a = await freshCustomer();
    const attempt = postAll([{ accountId: a.id, amount: money('99999999999999'), kind: 'ADJUSTMENT' }]);
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
    await expect(attempt).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await balanceOf(a.id)).toBe('100');
  });

  it('is the only code that writes ledger entries or moves a balance', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk('src');
    const writers = files.filter((file) => {
      const text = readFileSync(file, 'utf8').toLowerCase().replace(/\s+/g, ' ');
      return /insert into ledger_entries|update ledger_entries|update accounts [a-z]* ?set [^`]*balance =/.test(text);
    });
    expect(writers.map((f) => f.replaceAll('\\', '/'))).toEqual(['src/ledger/post.ts']);
  });
});
