import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * Chooses the engine for this run from TRELLIS_TEST_DB:
 *   postgres  a fresh database on TEST_PG_URL's server (default 127.0.0.1:5432), dropped at the end;
 *   pglite    every test server gets its own in-memory embedded database;
 *   auto      (default) postgres when that server answers, else pglite, so `npm test` works anywhere.
 * Test files share the PostgreSQL database; each builds its own platform (root admin), which is how tenants
 * separate anyway.
 */
export default async function setup(project: TestProject) {
  const mode = process.env.TRELLIS_TEST_DB ?? 'auto';
  const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!['auto', 'postgres', 'pglite'].includes(mode)) throw new Error(`TRELLIS_TEST_DB must be auto, postgres or pglite`);

  let admin: pg.Client | undefined;
  if (mode !== 'pglite') {
    admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await admin.connect();
    } catch (error) {
      if (mode === 'postgres')
        throw new Error(`TRELLIS_TEST_DB=postgres but ${adminUrl} is unreachable: ${error}`, { cause: error });
      admin = undefined;
    }
  }
  if (!admin) {
    console.log('[trellis tests] engine: embedded PGlite (in memory)');
    project.provide('databaseUrl', '');
    project.provide('adminDatabaseUrl', '');
    return;
  }

  const name = `trellis_test_${Date.now()}_${process.pid}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  console.log(`[trellis tests] engine: PostgreSQL, fresh database ${name}`);
  project.provide('databaseUrl', url.toString());
  project.provide('adminDatabaseUrl', adminUrl);

  return async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
  }
}
