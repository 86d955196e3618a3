import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountDocument,
  AccountsDocument,
  AdjustBalanceDocument,
  ChildrenDocument,
  DeleteAccountDocument,
  LedgerDocument,
  NodeDocument,
  TopUpDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { errorCode, sql, startServer, type TestServer } from './support/harness.js';
import { buildTree, topUp } from './support/tree.js';

/**
 * The same probes run twice: against the normal server, and against one whose application scope filter is
 * switched off, so that only PostgreSQL row-level security stands between a caller and other subtrees.
 */
describe.each([
  ['application filter and row-level security', false],
  ['row-level security alone (application filter off)', true],
])('scope with %s', (_label, disableAppScope) => {
  let server: TestServer;
  let tree: Awaited<ReturnType<typeof buildTree>>;

  beforeAll(async () => {
    server = await startServer({ unsafeDisableAppScope: disableAppScope });
    tree = await buildTree(server);
    await topUp(server, tree.admin.token, tree.r2.id, '100');
    await topUp(server, tree.r2.token, tree.c2.id, '40');
    await topUp(server, tree.admin.token, tree.r1.id, '10');
  });
  afterAll(() => server.close());

  it('a reseller lists only its own subtree', async () => {
    const { accounts } = await server.ok(AccountsDocument, { first: 500 }, tree.r1.token);
    const ids = accounts.edges.map((e) => e.node.id);
    expect(new Set(ids)).toEqual(new Set([tree.sr1.id, tree.c11.id, tree.c1.id]));
    expect(accounts.totalCount).toBe(3);
  });

  it('ids from a sibling subtree or another platform look exactly like missing ones', async () => {
    for (const id of [tree.r2.id, tree.c2.id, tree.admin.id, tree.otherCustomer.id, tree.otherAdmin.id]) {
      expect((await server.ok(AccountDocument, { id }, tree.r1.token)).account).toBeNull();
      expect((await server.ok(NodeDocument, { id }, tree.r1.token)).node).toBeNull();
    }
    const missing = 'acc_00000000000000000000000000000000';
    const foreign = await server.gql(UpdateAccountDocument, { id: tree.c2.id, input: { name: 'x' } }, tree.r1.token);
    const absent = await server.gql(UpdateAccountDocument, { id: missing, input: { name: 'x' } }, tree.r1.token);
    expect(foreign.errors?.[0]).toEqual(absent.errors?.[0]);
    expect(errorCode(foreign)).toBe('NOT_FOUND');
  });

  it('nothing outside the subtree can be changed', async () => {
    expect(errorCode(await server.gql(TopUpDocument, { input: { accountId: tree.c2.id, amount: '5' } }, tree.r1.token))).toBe(
      'NOT_FOUND',
    );
    expect(
      errorCode(await server.gql(AdjustBalanceDocument, { input: { accountId: tree.r2.id, amount: '-5' } }, tree.r1.token)),
    ).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(DeleteAccountDocument, { id: tree.otherCustomer.id }, tree.r1.token))).toBe('NOT_FOUND');
    const [c2] = await sql<{ balance: string; name: string; status: string }>(
      server,
      'select balance::text, name, status from accounts where id = ?',
      [tree.c2.id],
    );
    expect(c2).toEqual({ balance: '40.000000', name: 'C2', status: 'ACTIVE' });
  });

  it("another subtree's ledger is invisible, and a customer sees only itself", async () => {
    expect((await server.ok(LedgerDocument, { id: tree.c2.id }, tree.r1.token)).account).toBeNull();
    const mine = await server.ok(AccountsDocument, {}, tree.c1.token);
    expect(mine.accounts.totalCount).toBe(0);
    const own = await server.ok(LedgerDocument, { id: tree.c1.id }, tree.c1.token);
    expect(own.account!.id).toBe(tree.c1.id);
    expect((await server.ok(AccountDocument, { id: tree.r1.id }, tree.c1.token)).account).toBeNull();
  });

  it('an ancestor sees the whole subtree below it, but not beside it', async () => {
    const { account } = await server.ok(ChildrenDocument, { id: tree.sr1.id }, tree.r1.token);
    expect(account!.children.edges.map((e) => e.node.id)).toEqual([tree.c11.id]);
    const { accounts } = await server.ok(AccountsDocument, { first: 500 }, tree.admin.token);
    const ids = accounts.edges.map((e) => e.node.id);
    expect(ids).toEqual(expect.arrayContaining([tree.r1.id, tree.sr1.id, tree.c11.id, tree.c1.id, tree.r2.id, tree.c2.id]));
    expect(ids).not.toContain(tree.otherCustomer.id);
    expect(ids).not.toContain(tree.otherAdmin.id);
  });

  it("packages and rate groups: a sibling's are invisible, a customer never reaches its reseller's source", async () => {
    const original = await server.ok(
      'mutation { createPackage(input: { name: "Base", price: "10", resellerCanResell: true }) { id } }',
      {},
      tree.admin.token,
    );
    const clone = await server.ok(
      'mutation($id: ID!) { optIn(input: { packageId: $id, price: "12" }) { id } }',
      { id: original.createPackage.id },
      tree.r1.token,
    );
    const group = await server.ok(
      'mutation { createRateGroup(input: { name: "R1 deck", rates: [{ prefix: "1", ratePerMinute: "0.1" }] }) { id } }',
      {},
      tree.r1.token,
    );
    const probe = 'query($id: ID!) { node(id: $id) { id ... on Package { source { id } } } }';
    expect((await server.ok(probe, { id: clone.optIn.id }, tree.r2.token)).node).toBeNull();
    expect((await server.ok(probe, { id: group.createRateGroup.id }, tree.r2.token)).node).toBeNull();
    expect((await server.ok(probe, { id: clone.optIn.id }, tree.c1.token)).node).toEqual({ id: clone.optIn.id, source: null });
    expect((await server.ok(probe, { id: original.createPackage.id }, tree.c1.token)).node).toBeNull();
    expect((await server.ok(probe, { id: clone.optIn.id }, tree.r1.token)).node).toEqual({
      id: clone.optIn.id,
      source: { id: original.createPackage.id },
    });
    const others = await server.ok('{ rateGroups { totalCount } offers { totalCount } }', {}, tree.r2.token);
    expect(others.rateGroups.totalCount).toBe(0);
    expect(
      errorCode(
        await server.gql(
          'mutation($id: ID!) { updatePackage(id: $id, input: { name: "x" }) { id } }',
          { id: clone.optIn.id },
          tree.r2.token,
        ),
      ),
    ).toBe('NOT_FOUND');
  });

  it('a ledger entry id from another subtree resolves to null', async () => {
    const { account } = await server.ok(LedgerDocument, { id: tree.c2.id }, tree.r2.token);
    const entryId = account!.ledger.edges[0].node.id;
    expect((await server.ok(NodeDocument, { id: entryId }, tree.r2.token)).node).toMatchObject({
      __typename: 'LedgerEntry',
      amount: '40',
    });
    expect((await server.ok(NodeDocument, { id: entryId }, tree.r1.token)).node).toBeNull();
    expect((await server.ok(NodeDocument, { id: entryId }, tree.otherAdmin.token)).node).toBeNull();
  });
});

describe('row-level security in the database itself', () => {
  let server: TestServer;
  let tree: Awaited<ReturnType<typeof buildTree>>;

  beforeAll(async () => {
    server = await startServer();
    tree = await buildTree(server);
  });
  afterAll(() => server.close());

  /** Runs statements in one transaction as the application role with the given scope, then rolls back. */
  async function asAppRole<T>(scope: string | null, statements: string[]): Promise<T[][]> {
    const em = server.app.db.orm.em.fork();
    const results: T[][] = [];
    await em.begin();
    try {
      await em.execute(`select set_config('role', 'trellis_app', true)`);
      if (scope !== null) await em.execute(`select trellis_set_scope(?)`, [scope]);
      for (const statement of statements) results.push((await em.execute(statement)) as T[]);
    } finally {
      await em.rollback();
    }
    return results;
  }

  it('the rows exist (the superuser sees them) but the application role sees only its scope', async () => {
    const [{ path }] = await sql<{ path: string }>(server, 'select path from accounts where id = ?', [tree.r1.id]);
    const all = await sql(server, 'select id from accounts where id in (?, ?)', [tree.c1.id, tree.c2.id]);
    expect(all).toHaveLength(2);
    const [rows] = await asAppRole<{ id: string }>(path, [
      `select id from accounts where id in ('${tree.c1.id}', '${tree.c2.id}')`,
    ]);
    expect(rows.map((r) => r.id)).toEqual([tree.c1.id]);
  });

  it('a scope sees exactly the paths that begin with it, whatever its last character', async () => {
    // One snapshot for every read: other test files add accounts to this database meanwhile.
    const em = server.app.db.orm.em.fork();
    await em.begin();
    try {
      await em.execute('set transaction isolation level repeatable read');
      const paths = (await em.execute<{ path: string }[]>('select path from accounts')).map((r) => r.path);
      const scopes = [
        '/',
        ...[tree.admin.id, tree.r1.id, tree.sr1.id, tree.c1.id, tree.otherAdmin.id].map((id) =>
          paths.find((p) => p.endsWith(`/${id}/`))!,
        ),
      ];
      // And cut short: a scope is an account's path in practice, but the policy must not depend on its slash.
      for (const scope of [...scopes]) if (scope.length > 2) scopes.push(scope.slice(0, -1), scope.slice(0, -3));
      await em.execute(`select set_config('role', 'trellis_app', true)`);
      // As the server sets a scope (its bound with it), and as a transaction that set the path alone does (an
      // instance of the version before the bound, during a rolling deploy): the policy then computes the bound.
      const setters = {
        trellis_set_scope: (scope: string) => em.execute(`select trellis_set_scope(?)`, [scope]),
        'the path alone': async (scope: string) => {
          await em.execute(
            `select set_config('trellis.scope_start', '', true), set_config('trellis.scope_end', '', true),
              set_config('trellis.scope_path', ?, true)`,
            [scope],
          );
        },
      };
      for (const [how, set] of Object.entries(setters)) {
        for (const scope of scopes) {
          await set(scope);
          const seen = await em.execute<{ path: string }[]>('select path from accounts');
          expect(seen.map((r) => r.path).sort(), `${scope} (${how})`).toEqual(paths.filter((p) => p.startsWith(scope)).sort());
        }
      }
      // Switched within one transaction (withPlatformScope widens and narrows so): the bounds follow the path.
      const [wide, narrow] = [scopes[1], scopes[2]];
      await setters.trellis_set_scope(wide);
      await setters.trellis_set_scope(narrow);
      const seen = await em.execute<{ path: string }[]>('select path from accounts');
      expect(seen.map((r) => r.path).sort()).toEqual(paths.filter((p) => p.startsWith(narrow)).sort());
      const [bounds] = await em.execute<{ start: string; end: string }[]>(
        `select current_setting('trellis.scope_start') as start, current_setting('trellis.scope_end') as end`,
      );
      expect(bounds).toEqual({ start: narrow, end: `${narrow.slice(0, -1)}0` });
    } finally {
      await em.rollback();
    }
  });

  it('the policy is starts_with exactly, for any scope and path, set by trellis_set_scope or by the path alone', async () => {
    // Accounts' paths are ASCII ids between slashes; the policy must not depend on that.
    const scopes = ['', '/', '/a/', '/a/b/', '/a', '/a/b', '/a/é/', '/a/b\u007f/', '/ü', '/a/\u{1f600}/', '/a/\u07ff'];
    const paths = new Set<string>(['', '/', '0', '/0/']);
    for (const scope of scopes) {
      const chars = [...scope];
      const last = chars.length ? chars[chars.length - 1].codePointAt(0)! : 0x2f;
      const head = chars.slice(0, -1).join('');
      for (const tail of ['', 'x/', '0', '/', 'é', '\u{10ffff}']) paths.add(scope + tail);
      for (const c of [last - 1, last + 1, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x1f600])
        if (c > 0) paths.add(head + String.fromCodePoint(c));
      paths.add(head);
    }
    const em = server.app.db.orm.em.fork();
    await em.begin();
    try {
      for (const set of [
        'select trellis_set_scope(?)',
        `select set_config('trellis.scope_start', '', true), set_config('trellis.scope_end', '', true), set_config('trellis.scope_path', ?, true)`,
      ]) {
        for (const scope of scopes) {
          await em.execute(set, [scope]);
          // starts_with says '' begins every path; an empty scope is no scope, and matches nothing.
          const wrong = await em.execute<{ p: string }[]>(
            `select p from jsonb_array_elements_text(?::jsonb) p where trellis_in_scope(p) is distinct from (? <> '' and starts_with(p, ?))`,
            [JSON.stringify([...paths]), scope, scope],
          );
          expect(wrong, `${JSON.stringify(scope)} set by ${set.slice(7, 24)}`).toEqual([]);
        }
      }
    } finally {
      await em.rollback();
    }
  });

  it('the scope is written only by trellis_set_scope, which sets the bounds the policy reads with it', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const writers = [...files('src'), ...files('migrations')].filter((f) =>
      /set_config\(\s*'trellis\.scope_(path|start|end)'/.test(readFileSync(f, 'utf8')),
    );
    expect(writers).toEqual([join('migrations', 'Migration20261206000000_scope_end.ts')]);
  });

  it('a scope is read through the path indexes, not by scanning every platform', async () => {
    const [{ path }] = await sql<{ path: string }>(server, 'select path from accounts where id = ?', [tree.r1.id]);
    const plans = await asAppRole<Record<string, string>>(path, [
      'set local enable_seqscan = off',
      'explain select id from accounts',
      'explain select id from ledger_entries order by seq',
    ]);
    const text = (rows: Record<string, string>[]) => rows.map((r) => Object.values(r)[0]).join('\n');
    expect(text(plans[1])).toMatch(/Index Cond: .*path ~>=~/);
    expect(text(plans[1])).not.toMatch(/Seq Scan/);
    expect(text(plans[2])).toMatch(/Index Cond: .*owner_path ~>=~/);
  });

  it('a transaction that forgot to set its scope sees nothing at all', async () => {
    const [accounts, ledger] = await asAppRole<{ n: string }>(null, [
      'select count(*)::text as n from accounts',
      'select count(*)::text as n from ledger_entries',
    ]);
    expect(accounts[0].n).toBe('0');
    expect(ledger[0].n).toBe('0');
  });

  it('the application role cannot write outside its scope, nor rewrite the ledger', async () => {
    const [{ path }] = await sql<{ path: string }>(server, 'select path from accounts where id = ?', [tree.r1.id]);
    const [updated] = await asAppRole<{ id: string }>(path, [
      `update accounts set name = 'x' where id = '${tree.c2.id}' returning id`,
    ]);
    expect(updated).toEqual([]);
    await expect(asAppRole(path, [`update ledger_entries set amount = 0`])).rejects.toThrow(/permission denied/);
    await expect(asAppRole(path, [`delete from ledger_entries`])).rejects.toThrow(/permission denied/);
  });
});
