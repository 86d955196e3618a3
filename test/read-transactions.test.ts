import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginWith, commitWith, type Em } from '../src/db/orm.js';
import { ENGINE, startServer, type TestServer } from './support/harness.js';
import { buildTree } from './support/tree.js';

/**
 * How a read opens its transaction: authenticated, scoped and READ ONLY as it begins, in one round trip on
 * PostgreSQL, without ever holding a pooled connection while it waits for another.
 */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

async function statementsOf(query: string, token: string): Promise<{ sql: string[]; data: unknown }> {
  const knex = server.app.db.orm.em.getConnection().getKnex();
  const sql: string[] = [];
  const seen = (q: { sql: string }) => sql.push(q.sql);
  knex.on('query', seen);
  try {
    return { sql, data: await server.ok(query, {}, token) };
  } finally {
    knex.off('query', seen);
  }
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
    expect(sql[0]).toMatch(/^BEGIN;/);
    expect(sql[0]).toContain(`set_config('trellis.scope_path'`);
    expect(sql[0]).toContain(`set_config('transaction_read_only', 'on', true)`);
    expect(sql[1]).toMatch(/^COMMIT/);
  });

  it.skipIf(ENGINE === 'pglite')(
    'a page of accounts with their parents is one statement, sent with the COMMIT: PostgreSQL builds the answer',
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
      expect(sql).toHaveLength(2);
      expect(sql[1]).toMatch(/^select json_build_object\('accounts'.*;\nCOMMIT$/s);
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
              await beginWith(em, ['select pg_sleep(0.05)']);
              await expect(commitWith(em, 'select 1/0')).rejects.toThrow(/division by zero/);
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
