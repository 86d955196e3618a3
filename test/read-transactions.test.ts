import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sql, { raw } from 'sql-template-tag';
import { beginWith, commitWith, type Em } from '../src/db/orm.js';
import { ENGINE, startServer, type TestServer } from './support/harness.js';
import { addAccount, buildTree, topUp } from './support/tree.js';

/**
 * How a read opens its transaction: authenticated, scoped and READ ONLY as it begins, in one round trip on
 * PostgreSQL, without ever holding a pooled connection while it waits for another.
 */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

/** What each statement prepared on the server's connections is, by name, from the first request on. */
const prepared = new Map<string, string>();

beforeAll(async () => {
  server = await startServer();
  server.app.db.orm.em
    .getConnection()
    .getKnex()
    .on('query', (q: { sql: string }) => {
      for (const m of q.sql.matchAll(/PREPARE (trellis_\w+) AS (.*?);\n(?=EXECUTE \1)/gs)) prepared.set(m[1], m[2]);
    });
  tree = await buildTree(server);
});

/** The statements a simple query ran by name (EXECUTE), as they were prepared. */
const executed = (text: string) => [...text.matchAll(/EXECUTE (trellis_\w+)/g)].map((m) => prepared.get(m[1]) ?? m[1]);
afterAll(() => server.close());

/** Runs `fn` with the text of every statement `target` sends meanwhile, as knex reports them. */
async function recording<T>(target: TestServer, fn: (sent: string[]) => Promise<T>): Promise<T> {
  const knex = target.app.db.orm.em.getConnection().getKnex();
  const sent: string[] = [];
  const seen = (q: { sql: string }) => sent.push(q.sql);
  knex.on('query', seen);
  try {
    return await fn(sent);
  } finally {
    knex.off('query', seen);
  }
}

async function statementsOf(query: string, token: string): Promise<{ sql: string[]; data: unknown }> {
  return recording(server, async (sql) => ({ sql, data: await server.ok(query, {}, token) }));
}

/** A server of its own with a small pool, and a tree on it. */
async function withSmallPool(
  overrides: Parameters<typeof startServer>[0],
  fn: (small: TestServer, t: Awaited<ReturnType<typeof buildTree>>) => Promise<void>,
): Promise<void> {
  const small = await startServer({ dbPoolMax: 2, ...overrides });
  try {
    await fn(small, await buildTree(small));
  } finally {
    await small.close();
  }
}

const post = (url: string, token: string, body: unknown) =>
  fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

describe('a read', () => {
  it.skipIf(ENGINE === 'pglite')('begins, authenticates and takes its scope in one round trip, then commits', async () => {
    const { sql, data } = await statementsOf('{ me { id name } }', tree.r1.token);
    expect(data).toEqual({ me: { id: tree.r1.id, name: 'R1' } });
    // The caller's own row, read with the credential, answers `me`.
    expect(sql).toHaveLength(2);
    expect(sql[0]).toMatch(new RegExp(`^BEGIN;\\n(PREPARE .*)?EXECUTE trellis_\\w+\\('${tree.r1.id}'\\);\\n`, 's'));
    const [credential, role] = executed(sql[0]);
    expect(credential).toContain(`trellis_set_scope(path) from accounts where id = $1`);
    expect(role).toContain(`set_config('role', 'trellis_app', true)`);
    expect(role).toContain(`set_config('transaction_read_only', 'on', true)`);
    expect(sql[1]).toMatch(/^COMMIT/);
  });

  it.skipIf(ENGINE === 'pglite')(
    'a page of accounts with their parents is one statement, sent with its credential, scope and COMMIT: PostgreSQL builds the answer',
    async () => {
      const { sql, data } = await statementsOf(
        '{ accounts(first: 10) { totalCount edges { node { id name parent { id name } } } } }',
        tree.r1.token,
      );
      const nodes = (data as { accounts: { edges: { node: { id: string; parent: { id: string } } }[] } }).accounts.edges.map(
        (e) => e.node,
      );
      expect(nodes.map((n) => [n.id, n.parent.id])).toEqual([
        [tree.sr1.id, tree.r1.id],
        [tree.c11.id, tree.sr1.id],
        [tree.c1.id, tree.r1.id],
      ]);
      // The token has been seen before: its credential travels with the answer, in one round trip.
      expect(sql).toHaveLength(1);
      expect(sql[0]).toMatch(/^BEGIN;\n.*;\nCOMMIT$/s);
      const [credential, role, answer] = executed(sql[0]);
      expect(credential).toContain(`trellis_set_scope(path) from accounts where id = $1`);
      expect(role).toContain(`set_config('transaction_read_only', 'on', true)`);
      expect(answer).toMatch(/^select json_build_object\('accounts'/);
    },
  );

  it.skipIf(ENGINE === 'pglite')(
    "an instance reads a token's credential on its own the first time it sees the token, then with the answer",
    async () => {
      const other = await startServer();
      try {
        const page = '{ accounts(first: 5) { totalCount } }';
        await recording(other, async (sent) => {
          const first = await other.ok(page, {}, tree.r1.token);
          expect(sent).toHaveLength(2);
          expect(sent[0]).toMatch(/^BEGIN;\n/);
          expect(sent[1]).toMatch(/COMMIT$/);
          sent.length = 0;
          expect(await other.ok(page, {}, tree.r1.token)).toEqual(first);
          expect(sent).toHaveLength(1);
        });
      } finally {
        await other.close();
      }
    },
  );

  it.skipIf(ENGINE === 'pglite')(
    'a last statement sent with the COMMIT that fails is rolled back before its connection is reused',
    async () => {
      await withSmallPool({}, async (small, t) => {
        const page = '{ accounts(first: 1) { totalCount } me { id } }';
        const before = (await small.ok(page, {}, t.r1.token)).accounts.totalCount;
        expect(before).toBeGreaterThan(0);
        // Two at once hold both of the pool's connections: each serves a failed statement, twice.
        for (let round = 0; round < 2; round++) {
          await Promise.all(
            [0, 1].map(async () => {
              const em = small.app.db.orm.em.fork() as Em;
              await beginWith(em, [sql`select pg_sleep(0.05)`]);
              await expect(commitWith(em, sql`select 1/0`)).rejects.toThrow(/division by zero/);
            }),
          );
        }
        // Each connection is back, outside any transaction.
        for (let i = 0; i < 4; i++) {
          const ok = await small.ok(page, {}, t.r1.token);
          expect(ok.accounts.totalCount).toBe(before);
          expect(ok.me.id).toBe(t.r1.id);
        }
      });
    },
  );

  it.skipIf(ENGINE === 'pglite')(
    "a read's statement is prepared once per connection, and forgotten with every other when its transaction fails",
    async () => {
      const small = await startServer({ dbPoolMax: 2 });
      // One of the two connections held throughout: every statement below meets the other's session.
      const holder = small.app.db.orm.em.fork() as Em;
      await beginWith(holder, [sql`select 1`]);
      try {
        const last = async (statement: ReturnType<typeof sql>) => {
          const em = small.app.db.orm.em.fork() as Em;
          await beginWith(em, [sql`select 1`]);
          return commitWith(em, statement);
        };
        await recording(small, async (sent) => {
          const answer = sql`select ${'a'}::text || ${'b'} as ab, ${41} + 1 as n`;
          expect(await last(answer)).toEqual([{ ab: 'ab', n: 42 }]);
          expect(sent.at(-1)).toMatch(
            /^PREPARE trellis_\w+ AS select \$1::text \|\| \$2 as ab, \$3 \+ 1 as n;\nEXECUTE trellis_\w+\('a', 'b', \(41\)\);\nCOMMIT$/,
          );
          expect(await last(sql`select ${'x'}::text || ${'y'} as ab, ${1} + 1 as n`)).toEqual([{ ab: 'xy', n: 2 }]);
          expect(sent.at(-1)).toMatch(/^EXECUTE trellis_\w+\('x', 'y', \(1\)\);\nCOMMIT$/);
          // Prepared, then failed as it ran: rolled back, and the connection's prepared statements all dropped,
          // so the same statement is prepared again (were it still known, PREPARE would fail as a duplicate).
          for (let i = 0; i < 2; i++) {
            await expect(last(sql`select 1 / ${0} as q`)).rejects.toThrow(/division by zero/);
            expect(sent.at(-2)).toMatch(/^PREPARE trellis_\w+ AS select 1 \/ \$1 as q;\nEXECUTE/);
            expect(sent.at(-1)).toBe('ROLLBACK;\nDEALLOCATE ALL');
          }
          expect(await last(answer)).toEqual([{ ab: 'ab', n: 42 }]);
          expect(sent.at(-1)).toMatch(/^PREPARE trellis_\w+ AS select/);
          expect(await last(answer)).toEqual([{ ab: 'ab', n: 42 }]);
          expect(sent.at(-1)).toMatch(/^EXECUTE/);
          // Past 100 statements on one connection, the others are sent with their values written in.
          for (let i = 0; i < 100; i++) expect(await last(sql`select ${raw(String(i))} + ${1} as n`)).toEqual([{ n: i + 1 }]);
          expect(await last(sql`select ${"it's past"}::text as w`)).toEqual([{ w: "it's past" }]);
          expect(sent.at(-1)).toBe(`select 'it''s past'::text as w;\nCOMMIT`);
          expect(await last(answer)).toEqual([{ ab: 'ab', n: 42 }]);
          expect(sent.at(-1)).toMatch(/^EXECUTE/);
        });
      } finally {
        await commitWith(holder, sql`select 1`);
        await small.close();
      }
    },
  );

  it('an API key read still notes the key as used, and its scopes apply', async () => {
    const { createApiKey: rating } = await server.ok(
      'mutation { createApiKey(name: "rating", scopes: [RATING]) { secret } }',
      {},
      tree.c1.token,
    );
    const refused = await server.gql('{ me { id } }', {}, rating.secret);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { createApiKey } = await server.ok(
      'mutation { createApiKey(name: "ro", scopes: [READ_ONLY]) { secret apiKey { id } } }',
      {},
      tree.c1.token,
    );
    expect(await server.ok('{ me { id } }', {}, createApiKey.secret)).toEqual({ me: { id: tree.c1.id } });
    const { apiKeys } = await server.ok('{ apiKeys { edges { node { id lastUsedAt } } } }', {}, tree.c1.token);
    expect(
      apiKeys.edges.find((e: { node: { id: string } }) => e.node.id === createApiKey.apiKey.id).node.lastUsedAt,
    ).not.toBeNull();
  });

  it('login keeps working with a valid token in the header (a mutation reads the credential on its own)', async () => {
    const result = await server.gql(
      'mutation($e: String!) { login(email: $e, password: "root-password") { account { id } } }',
      { e: tree.admin.email },
      tree.r1.token,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ login: { account: { id: tree.admin.id } } });
  });
});

describe('connections', () => {
  it('a read Apollo refuses before running it (variables not an object) gives back the connection its credential took', async () => {
    await withSmallPool({}, async (small, t) => {
      for (let i = 0; i < 6; i++) {
        const res = await post(small.url, t.r1.token, { query: '{ me { id } }', variables: 'none' });
        expect(res.status).toBe(400);
      }
      expect(await small.ok('{ me { id } }', {}, t.r1.token)).toEqual({ me: { id: t.r1.id } });
    });
  });

  it('a read whose client leaves before Apollo refuses it gives back its connection', async () => {
    await withSmallPool({}, async (small, t) => {
      const { port } = new URL(small.url);
      const body = JSON.stringify({ query: '{ me { id } }', variables: 'none' });
      for (let i = 0; i < 6; i++) {
        await new Promise<void>((resolve) => {
          const socket = connect(Number(port), '127.0.0.1', () => {
            socket.end(
              `POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${t.r1.token}\r\n` +
                `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
            );
            socket.destroy();
            resolve();
          });
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await small.ok('{ me { id } }', {}, t.r1.token)).toEqual({ me: { id: t.r1.id } });
    });
  });

  it.skipIf(ENGINE === 'pglite')(
    "reads holding every pooled connection still take their budget's next lease (it has connections of its own)",
    async () => {
      // Leases of 20 points: a burst of 40 requests needs several while every pooled connection is held by a read.
      await withSmallPool({ requestBudget: 2_000 }, async (small, t) => {
        const statuses = await Promise.all(
          Array.from({ length: 40 }, () => post(small.url, t.c1.token, { query: '{ me { id } }' }).then((r) => r.status)),
        );
        expect(statuses).toEqual(Array.from({ length: 40 }, () => 200));
      });
    },
    30_000,
  );
});

describe('a credential read with the answer', () => {
  const PAGE = '{ accounts(first: 5) { totalCount edges { node { id name balance } } } }';
  /** A planned read of the caller's own row beside a page. */
  const MINE = `{ me { id balance } accounts(first: 5) { totalCount } }`;
  const refusal = async (target: TestServer, token: string, query: string) => {
    const res = await post(target.url, token, { query });
    const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    return { status: res.status, code: body.errors?.[0]?.extensions?.code, data: body.data };
  };
  const readsOf = (id: string) => [
    PAGE,
    `{ account(id: "${id}") { id name children(first: 5) { totalCount } } }`,
    '{ me { id } }',
    '{ accounts(first: 2) { edges { node { id ledger(first: 1) { totalCount } } } } }',
  ];

  /** A second instance on the same database (PostgreSQL; on PGlite every server has a database of its own). */
  const secondInstance = async () => (ENGINE === 'pglite' ? server : startServer());

  it('ends on every instance the moment the account or an ancestor is suspended, whatever the read', async () => {
    const other = await secondInstance();
    try {
      const reseller = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
      const customer = await addAccount(server, reseller.token, { kind: 'CUSTOMER' });
      // Both instances have seen both tokens hold, with every kind of read.
      for (const target of [server, other])
        for (const who of [reseller, customer]) for (const query of readsOf(who.id)) await target.ok(query, {}, who.token);
      await server.ok(
        'mutation($id: ID!) { updateAccount(id: $id, input: { status: SUSPENDED }) { id } }',
        { id: reseller.id },
        tree.admin.token,
      );
      for (const target of [other, server])
        for (const who of [reseller, customer])
          for (const query of readsOf(who.id))
            expect(await refusal(target, who.token, query)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: undefined });
    } finally {
      if (other !== server) await other.close();
    }
  });

  it.skipIf(ENGINE === 'pglite')(
    'a token found not to hold is not trusted again: its next read is refused before its document runs',
    async () => {
      const customer = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
      await server.ok(PAGE, {}, customer.token);
      await server.ok(
        'mutation($id: ID!) { updateAccount(id: $id, input: { status: SUSPENDED }) { id } }',
        { id: customer.id },
        tree.r1.token,
      );
      await recording(server, async (sent) => {
        // Taken on trust: the answer travelled with the credential, and was thrown away.
        expect(await refusal(server, customer.token, PAGE)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: undefined });
        expect(sent).toHaveLength(1);
        expect(executed(sent[0])).toHaveLength(3);
        sent.length = 0;
        // Not again: the credential alone, refused (no answer computed), then rolled back.
        expect(await refusal(server, customer.token, PAGE)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: undefined });
        expect(sent.map((q) => executed(q).length)).toEqual([2, 0]);
        expect(sent[1]).toBe('ROLLBACK');
      });
    },
  );

  it("ends when the account's tokens do (a password set by an ancestor), and a new token reads again", async () => {
    const other = await secondInstance();
    try {
      const customer = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
      await topUp(server, tree.r1.token, customer.id, '2.50');
      const before = await server.ok(MINE, {}, customer.token);
      expect(before.me.balance).toBe('2.5');
      for (const target of [server, other]) expect(await target.ok(MINE, {}, customer.token)).toEqual(before);
      await server.ok(
        'mutation($id: ID!) { updateAccount(id: $id, input: { password: "set by the reseller now" }) { id } }',
        { id: customer.id },
        tree.r1.token,
      );
      for (const target of [other, server])
        for (const query of readsOf(customer.id))
          expect(await refusal(target, customer.token, query)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: undefined });
      const fresh = server.app.services.auth.sign(customer.id, 1);
      for (const target of [other, server]) expect(await target.ok(MINE, {}, fresh)).toEqual(before);
    } finally {
      if (other !== server) await other.close();
    }
  });
});
