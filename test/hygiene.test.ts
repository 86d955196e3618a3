import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopUpDocument } from './generated/graphql.js';
import { errorCode, startServer, type TestServer } from './support/harness.js';
import { addAccount, buildTree } from './support/tree.js';

let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;
let customer: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
  customer = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
});
afterAll(() => server.close());

async function post(body: unknown, headers: Record<string, string> = {}, target = server) {
  // The production server may be a separate embedded database where this tree's accounts do not exist.
  const auth: Record<string, string> = target === server ? { authorization: `Bearer ${tree.r1.token}` } : {};
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, requestId: res.headers.get('x-request-id') };
}

describe('money inputs', () => {
  it.each(['1e5', '1.1234567', '12.', '.5', '1,5', 'abc', ' 5', '0x10', '+5', 'Infinity', 'NaN', '100000000000000'])(
    'refuses "%s" in a variable with BAD_USER_INPUT naming the field',
    async (amount) => {
      const result = await server.gql(TopUpDocument, { input: { accountId: customer.id, amount } }, tree.r1.token);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
    },
  );

  it('refuses a JSON number in a variable', async () => {
    const result = await server.gql(
      TopUpDocument,
      { input: { accountId: customer.id, amount: 5 as unknown as string } },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
  });

  it.each(['5', '5.5', '"1e3"', '"1.1234567"'])(
    'refuses the literal %s with BAD_USER_INPUT naming the field',
    async (literal) => {
      const result = await server.gql(
        `mutation { topUp(input: { accountId: "${customer.id}", amount: ${literal} }) { id } }`,
        {},
        tree.r1.token,
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
    },
  );

  it('accepts six decimals and negative values where allowed', async () => {
    const result = await server.ok(
      `mutation($id: ID!) { a: topUp(input: { accountId: $id, amount: "1.123456" }) { balanceAfter } b: adjustBalance(input: { accountId: $id, amount: "-0.123456" }) { balanceAfter } }`,
      { id: customer.id },
      tree.r1.token,
    );
    expect(result).toEqual({ a: { balanceAfter: '1.123456' }, b: { balanceAfter: '1' } });
  });
});

describe('errors', () => {
  it('masks unexpected failures and logs them with the request id', async () => {
    const original = server.app.services.accounts.me;
    server.app.services.accounts.me = async () => {
      throw new Error('connection string postgres://secret@db leaked');
    };
    try {
      const res = await post({ query: '{ me { id } }' }, { 'x-request-id': 'req-mask-test' });
      expect(res.body.errors).toEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 3 }],
          path: ['me'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ]);
      expect(JSON.stringify(res.body)).not.toContain('secret');
      expect(res.requestId).toBe('req-mask-test');
      const logged = server.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === 'req-mask-test' && l.level === 50);
      expect(logged?.err?.message).toContain('leaked');
    } finally {
      server.app.services.accounts.me = original;
    }
  });

  it('every error code a client sees comes from the table', async () => {
    const results = await Promise.all([
      post({ query: '{ nope }' }),
      post({ query: '{ me { id ' }),
      post({ query: 'query($n: Int) { me { id } }', variables: { n: 'x' } }),
      post({ query: '{ me { id } }' }, { authorization: 'Bearer junk' }),
    ]);
    for (const r of results) {
      expect(['BAD_USER_INPUT', 'UNAUTHENTICATED']).toContain(r.body.errors[0].extensions.code);
    }
  });

  it('never logs tokens or passwords', async () => {
    await post({ query: 'mutation { login(email: "x@y.z", password: "hunter2-password") { token } }' });
    const joined = server.logs.join('\n');
    expect(joined).not.toContain(tree.r1.token);
    expect(joined).not.toContain('hunter2-password');
  });
});

describe('limits', () => {
  it('refuses queries deeper than the depth limit', async () => {
    let selection = 'id';
    for (let i = 0; i < 14; i++) selection = `children(first: 1) { edges { node { ${selection} } } }`;
    const res = await post({ query: `{ me { ${selection} } }` });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/depth/);
  });

  it('refuses too many aliases', async () => {
    const fields = Array.from({ length: 40 }, (_, i) => `a${i}: me { id }`).join(' ');
    const res = await post({ query: `{ ${fields} }` });
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/aliases/i);
  });

  it('refuses queries whose cost exceeds the limit', async () => {
    const res = await post({
      query: '{ accounts(first: 500) { edges { node { children(first: 500) { edges { node { id name } } } } } } }',
    });
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/too expensive/);
  });

  it('costs one document afresh for each set of variables', async () => {
    const query = 'query($n: Int) { accounts(first: $n) { edges { node { children(first: $n) { edges { node { id } } } } } } }';
    for (const [n, refused] of [
      [2, false],
      [500, true],
      [2, false],
      [500, true],
    ] as const) {
      const res = await post({ query, variables: { n } });
      expect(res.body.errors?.[0]?.message ?? null, `first: ${n}`).toEqual(
        refused ? expect.stringMatching(/too expensive/) : null,
      );
    }
  });

  it('answers 413 to a body over 1 MB', async () => {
    const res = await post({ query: '{ me { id } }', variables: { pad: 'x'.repeat(1_100_000) } });
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('does not batch', async () => {
    const res = await post([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(tree.r1.id);
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await post('{"query": ');
    expect(res.status).toBe(400);
  });
});

describe('production mode', () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startServer({ production: true });
  });
  afterAll(() => prod.close());

  it('gives no "Did you mean" suggestions and no introspection', async () => {
    const typo = await post({ query: '{ me { nam } }' }, {}, prod);
    expect(typo.body.errors[0].message).not.toMatch(/Did you mean/);
    const dev = await post({ query: '{ me { nam } }' });
    expect(dev.body.errors[0].message).toMatch(/Did you mean/);
    const introspection = await post({ query: '{ __schema { types { name } } }' }, {}, prod);
    expect(introspection.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(errorCode(await prod.gql('{ me { id } }'))).toBe('UNAUTHENTICATED');
  });
});

describe('DateTime inputs', () => {
  it.each(['0000-06-01T00:00:00Z', '+010000-01-01T00:00:00Z'])('refuses %s with BAD_USER_INPUT', async (at) => {
    const result = await server.gql(
      'query($id: ID!, $f: DateTime!) { earnings(accountId: $id, from: $f, to: "2030-01-01T00:00:00Z") { sales } }',
      { id: tree.r1.id, f: at },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
