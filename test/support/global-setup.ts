import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * One fresh PostgreSQL database per test run (unless the run targets the embedded PGlite engine), dropped at
 * the end. Test files share it; each builds its own platform (root admin), which is how tenants separate anyway.
 */
export default async function setup(project: TestProject) {
  if (process.env.TRELLIS_TEST_DB === 'pglite') {
    project.provide('databaseUrl', '');
    return;
  }
  const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `trellis_test_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
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
