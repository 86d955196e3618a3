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
