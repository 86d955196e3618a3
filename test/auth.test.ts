import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  type GraphQLInputType,
} from 'graphql';
import { createSchema } from '../src/graphql/schema.js';
import {
  ApiKeysDocument,
  CreateAccountDocument,
  CreateApiKeyDocument,
  LoginDocument,
  MeDocument,
  RevokeApiKeyDocument,
  TopUpDocument,
} from './generated/graphql.js';
import { errorCode, sql, startServer, unique, type TestServer } from './support/harness.js';
import { buildTree } from './support/tree.js';
import { connect, query } from './support/ws.js';

const SECRET = 'test-secret-test-secret-test-secret';
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;
let email: string;
let accountId: string;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
  email = `${unique('login')}@example.test`;
  const { createAccount } = await server.ok(
    CreateAccountDocument,
    { input: { kind: 'RESELLER', name: 'Login Co', email, password: 'correct horse battery' } },
    tree.admin.token,
  );
  accountId = createAccount.id;
});
afterAll(() => server.close());

describe('login', () => {
  it('returns a working HS256 JWT with exp, iss and aud', async () => {
    const { login } = await server.ok(LoginDocument, { email: email.toUpperCase(), password: 'correct horse battery' });
    expect(login.account).toMatchObject({ id: accountId, kind: 'RESELLER', email });
    const decoded = jwt.decode(login.token, { complete: true })!;
    expect(decoded.header.alg).toBe('HS256');
    expect(decoded.payload).toMatchObject({ sub: accountId, iss: 'trellis', aud: 'trellis-api' });
    expect((decoded.payload as jwt.JwtPayload).exp).toBeGreaterThan(Date.now() / 1000);
    expect((await server.ok(MeDocument, {}, login.token)).me.id).toBe(accountId);
  });

  it('a wrong password and an unknown email fail the same way', async () => {
    const wrong = await server.gql(LoginDocument, { email, password: 'nope' });
    const unknown = await server.gql(LoginDocument, { email: 'nobody@example.test', password: 'nope' });
    expect(errorCode(wrong)).toBe('UNAUTHENTICATED');
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
  });

  it('stores only a salted argon2 hash', async () => {
    const [row] = await sql<{ password_hash: string }>(server, 'select password_hash from accounts where id = ?', [accountId]);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain('correct horse');
  });

  it('the login response can read the logged-in account in scope', async () => {
    const result = await server.ok(
      `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { account { id children { totalCount } } } }`,
      {
        e: email,
        p: 'correct horse battery',
      },
    );
    expect(result.login.account).toEqual({ id: accountId, children: { totalCount: 0 } });
  });
});

describe('tokens', () => {
  const sign = (claims: object, options: jwt.SignOptions, secret = SECRET) => jwt.sign(claims, secret, options);
  const base = { subject: '', issuer: 'trellis', audience: 'trellis-api', expiresIn: '1h' } as const;

  it.each([
    [
      'expired',
      () => sign({ exp: Math.floor(Date.now() / 1000) - 10 }, { subject: accountId, issuer: 'trellis', audience: 'trellis-api' }),
    ],
    ['wrong issuer', () => sign({}, { ...base, subject: accountId, issuer: 'someone-else' })],
    ['wrong audience', () => sign({}, { ...base, subject: accountId, audience: 'other-api' })],
    ['wrong secret', () => sign({}, { ...base, subject: accountId }, 'another-secret-another-secret')],
    ['HS512 instead of HS256', () => sign({}, { ...base, subject: accountId, algorithm: 'HS512' })],
    ['alg none', () => sign({}, { ...base, subject: accountId, algorithm: 'none' }, undefined as unknown as string)],
    ['no expiry', () => sign({}, { subject: accountId, issuer: 'trellis', audience: 'trellis-api' })],
    ['unknown account', () => sign({}, { ...base, subject: 'acc_00000000000000000000000000000000' })],
    ['a subject that is no account id', () => sign({}, { ...base, subject: "acc_1' or true --?" })],
    ['garbage', () => 'not.a.token'],
  ])('rejects a token with %s as UNAUTHENTICATED (HTTP 401)', async (_label, make) => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${make()}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(body.data ?? null).toBeNull();
  });

  it('a token verified by earlier requests still ends when it expires', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const token = sign({ exp }, { subject: accountId, issuer: 'trellis', audience: 'trellis-api' });
    const ask = () =>
      fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ me { id } }' }),
      }).then((r) => r.status);
    expect([await ask(), await ask()]).toEqual([200, 200]);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 200));
    expect(await ask()).toBe(401);
  });

  it('no credentials at all: UNAUTHENTICATED from any protected field', async () => {
    expect(errorCode(await server.gql(MeDocument))).toBe('UNAUTHENTICATED');
  });

  it('every query and mutation but login refuses a caller without credentials', async () => {
    const schema = await createSchema();
    const calls: [string, string][] = [];
    for (const [kind, type] of [
      ['query', schema.getQueryType()!],
      ['mutation', schema.getMutationType()!],
    ] as const) {
      for (const field of Object.values(type.getFields())) {
        if (field.name === 'login') continue;
        const args = field.args.filter((a) => isNonNullType(a.type)).map((a) => `${a.name}: ${literalFor(a.type)}`);
        // A scalar answer (endCall's Boolean) takes no selection.
        const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
        calls.push([field.name, `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`]);
      }
    }
    expect(calls.length).toBeGreaterThan(30);
    const answers = await Promise.all(calls.map(async ([name, doc]) => [name, errorCode(await server.gql(doc))]));
    expect(answers.filter(([, code]) => code !== 'UNAUTHENTICATED')).toEqual([]);
  });
});

/** A value of an input type that passes validation: what the resolver would do with it does not matter here. */
function literalFor(type: GraphQLInputType): string {
  const named = getNamedType(type);
  const one = (): string => {
    if (isEnumType(named)) return named.getValues()[0].name;
    if (isInputObjectType(named)) {
      const fields = Object.values(named.getFields()).filter((f) => isNonNullType(f.type));
      return `{ ${fields.map((f) => `${f.name}: ${literalFor(f.type)}`).join(', ')} }`;
    }
    const scalars: Record<string, string> = {
      Int: '1',
      Float: '1',
      Boolean: 'true',
      DateTime: '"2026-01-01T00:00:00Z"',
      Money: '"1"',
    };
    return scalars[named.name] ?? '"acc_00000000000000000000000000000000"';
  };
  const inner = isNonNullType(type) ? type.ofType : type;
  return isListType(inner) ? `[${one()}]` : one();
}

describe('API keys', () => {
  it('shows the secret once, stores a hash, acts as the caller, tracks lastUsedAt, and can be revoked', async () => {
    const { createApiKey } = await server.ok(CreateApiKeyDocument, { name: 'billing-sync' }, tree.r1.token);
    const { secret, apiKey } = createApiKey;
    expect(secret).toMatch(/^trk_[A-Za-z0-9_-]{40,}$/);
    expect(apiKey).toMatchObject({ name: 'billing-sync', lastUsedAt: null, revokedAt: null });

    const [stored] = await sql<{ key_hash: string }>(server, 'select key_hash from api_keys where id = ?', [apiKey.id]);
    expect(stored.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.key_hash).not.toContain(secret);
    const listed = await server.ok(ApiKeysDocument, {}, tree.r1.token);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const me = await server.ok(MeDocument, {}, secret);
    expect(me.me.id).toBe(tree.r1.id);
    await server.ok(TopUpDocument, { input: { accountId: tree.c1.id, amount: '1' } }, secret);
    const used = await server.ok(ApiKeysDocument, {}, tree.r1.token);
    expect(used.apiKeys.edges[0].node.lastUsedAt).not.toBeNull();

    const { revokeApiKey } = await server.ok(RevokeApiKeyDocument, { id: apiKey.id }, tree.r1.token);
    expect(revokeApiKey.revokedAt).not.toBeNull();
    expect(errorCode(await server.gql(MeDocument, {}, secret))).toBe('UNAUTHENTICATED');
  });

  it("an ancestor may list and revoke a descendant's keys; a sibling may not", async () => {
    const { createApiKey } = await server.ok(CreateApiKeyDocument, { name: 'c1-key' }, tree.c1.token);
    expect(errorCode(await server.gql(RevokeApiKeyDocument, { id: createApiKey.apiKey.id }, tree.r2.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(ApiKeysDocument, { accountId: tree.c1.id }, tree.r2.token))).toBeUndefined();
    expect((await server.ok(ApiKeysDocument, { accountId: tree.c1.id }, tree.r2.token)).apiKeys.totalCount).toBe(0);
    expect((await server.ok(ApiKeysDocument, { accountId: tree.c1.id }, tree.r1.token)).apiKeys.totalCount).toBe(1);
    await server.ok(RevokeApiKeyDocument, { id: createApiKey.apiKey.id }, tree.r1.token);
    expect(errorCode(await server.gql(MeDocument, {}, createApiKey.secret))).toBe('UNAUTHENTICATED');
  });

  it('an unknown key is UNAUTHENTICATED', async () => {
    expect(errorCode(await server.gql(MeDocument, {}, 'trk_doesnotexist'))).toBe('UNAUTHENTICATED');
  });
});

describe('graphql-ws authentication', () => {
  it('accepts a valid token in connection_init and runs operations in the caller scope', async () => {
    const { client, acked } = connect(server.url, `Bearer ${tree.r1.token}`);
    await acked;
    const result = await query(client, '{ me { id } accounts { totalCount } }');
    expect(result.data).toEqual({ me: { id: tree.r1.id }, accounts: { totalCount: 3 } });
    const foreign = await query(client, 'query($id: ID!) { account(id: $id) { id } }', { id: tree.c2.id });
    expect(foreign.data).toEqual({ account: null });
    await client.dispose();
  });

  it('accepts an API key in connection_init', async () => {
    const { createApiKey } = await server.ok(CreateApiKeyDocument, { name: 'ws' }, tree.r2.token);
    const { client, acked } = connect(server.url, `Bearer ${createApiKey.secret}`);
    await acked;
    expect((await query(client, '{ me { id } }')).data).toEqual({ me: { id: tree.r2.id } });
    await client.dispose();
  });

  it.each([
    ['a bad token', 'Bearer nope.nope.nope'],
    [
      'a token signed with another secret',
      () =>
        `Bearer ${jwt.sign({}, 'x'.repeat(40), { subject: tree.r1.id, issuer: 'trellis', audience: 'trellis-api', expiresIn: '1h' })}`,
    ],
    ['no token', undefined],
    ['a non-string token', 42],
  ])('closes the socket with 4403 for %s', async (_label, auth) => {
    const { client, closed } = connect(server.url, typeof auth === 'function' ? auth() : auth);
    const { code } = await closed;
    expect(code).toBe(4403);
    await client.dispose();
  });
});
