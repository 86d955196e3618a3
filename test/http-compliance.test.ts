import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits } from 'graphql-http';
import { startServer, type TestServer } from './support/harness.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

describe('GraphQL over HTTP (graphql-http serverAudits)', () => {
  it('passes every audit with no error', async () => {
    const audits = serverAudits({ url: () => `${server.url}/graphql` });
    const results = await Promise.all(audits.map(async (audit) => ({ id: audit.id, name: audit.name, ...(await audit.fn()) })));
    const errors = results.filter((r) => r.status === 'error').map((r) => `${r.id} ${r.name}: ${r.reason}`);
    expect(errors).toEqual([]);
    expect(results.length).toBeGreaterThan(20);
  });
});

describe('caching', () => {
  it('no response of the API may be stored by a browser or a shared cache', async () => {
    const post = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    const exported = await fetch(`${server.url}/export/accounts.csv`);
    expect([post.status, get.status]).toEqual([200, 200]);
    expect([post, get, exported].map((r) => r.headers.get('cache-control'))).toEqual(['no-store', 'no-store', 'no-store']);
  });
});
