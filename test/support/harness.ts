import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { print, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import pg from 'pg';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { systemEm } from '../../src/db/orm.js';
import { createApp, type App } from '../../src/server.js';

export const ENGINE: 'postgresql' | 'pglite' = inject('databaseUrl') ? 'postgresql' : 'pglite';

export interface GqlResult<T> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; field?: string } & Record<string, unknown> }[];
}

export interface TestServer {
  app: App;
  url: string;
  logs: string[];
  gql<T = any, V = Record<string, unknown>>(
    doc: TypedDocumentNode<T, V> | DocumentNode | string,
    variables?: V,
    token?: string,
  ): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = any, V = Record<string, unknown>>(
    doc: TypedDocumentNode<T, V> | DocumentNode | string,
    variables?: V,
    token?: string,
  ): Promise<T>;
  close(): Promise<void>;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const databaseUrl = inject('databaseUrl') || undefined;
  return loadConfig({ JWT_SECRET: 'test-secret-test-secret-test-secret', LOG_LEVEL: 'info' } as NodeJS.ProcessEnv, {
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    dataDir: 'memory://',
    dbPoolMax: 20,
    renewalIntervalMs: 0,
    invoiceIntervalMs: 0,
    webhookIntervalMs: 0,
    ...overrides,
  });
}

/** A real server on an ephemeral port, with its JSON log lines captured for assertions. */
export async function startServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      const lines = String(chunk).split('\n').filter(Boolean);
      logs.push(...lines);
      // TEST_LOGS=1 shows the server's errors while debugging a failing test.
      if (process.env.TEST_LOGS) for (const l of lines) if (JSON.parse(l).level >= 50) process.stderr.write(`${l}\n`);
      cb();
    },
  });
  const config = testConfig(overrides);
  const app = await createApp(config, pino({ level: config.logLevel, redact: ['authorization'] }, sink));
  const url = await app.listen();

  const gql: TestServer['gql'] = async (doc, variables, token) => {
    const query = typeof doc === 'string' ? doc : print(doc);
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GqlResult<any>;
  };
  const ok: TestServer['ok'] = async (doc, variables, token) => {
    const result = await gql(doc, variables, token);
    if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data as any;
  };
  return { app, url, logs, gql, ok, close: () => app.close() };
}

/**
 * A PostgreSQL database of its own (undefined on PGlite, where every server has one): for a test that needs an
 * empty database, or whose scheduler works across platforms and would otherwise renew or invoice other test
 * files' accounts under them.
 */
export async function ownDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const adminUrl = inject('adminDatabaseUrl');
  if (!adminUrl) return undefined;
  const name = `trellis_own_${Date.now()}_${randomUUID().slice(0, 8)}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

export function unique(prefix = 'u'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A separate platform: its own root ADMIN, as operator tooling would create it. Returns the admin's token. */
export async function createPlatform(
  server: TestServer,
  currency = 'USD',
): Promise<{ token: string; id: string; email: string }> {
  const email = `${unique('admin')}@example.test`;
  const em = systemEm(server.app.db.orm);
  const root = await em.transactional((tx) =>
    server.app.services.accounts.createRoot(tx, { name: 'Platform admin', email, password: 'root-password', currency }),
  );
  return { token: server.app.services.auth.sign(root.id), id: root.id, email };
}

export const errorCode = (result: GqlResult<unknown>) => result.errors?.[0]?.extensions?.code;

/** Direct SQL as the connecting (superuser) role, for checks the API must not be able to make. */
export async function sql<T = Record<string, unknown>>(server: TestServer, text: string, params: unknown[] = []): Promise<T[]> {
  return systemEm(server.app.db.orm).execute(text, params) as Promise<T[]>;
}

/** Accounts of a platform whose balance is not the sum of their ledger entries: none, ever (DOMAIN.md 2). */
export async function ledgerMismatches(server: TestServer, rootId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>(
    server,
    `select a.id from accounts a
      where a.root_id = ? and a.balance <> (select coalesce(sum(amount), 0) from ledger_entries l where l.account_id = a.id)`,
    [rootId],
  );
  return rows.map((r) => r.id);
}

export { pg };
