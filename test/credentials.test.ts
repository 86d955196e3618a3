import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { CreateAccountDocument, MeDocument, UpdateAccountDocument } from './generated/graphql.js';
import { credentialSql } from '../src/accounts/credentials.js';
import { systemEm } from '../src/db/orm.js';
import { costError } from '../src/graphql/limits.js';
import { createSchema } from '../src/graphql/schema.js';
import { ENGINE, errorCode, sql, startServer, unique, type TestServer } from './support/harness.js';
import { addAccount, buildTree, topUp } from './support/tree.js';
import { listen, until } from './support/ws.js';

/** DOMAIN.md 1: what each credential may do, and that every one of them ends when it should. */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

const PASSWORD = 'a long and private passphrase';
const BALANCE = 'subscription { balanceChanged { delta } }';

// Every test file logs in from 127.0.0.1, on one shared database: this one's attempts come from an address of
// its own in the loopback range, so the per-address count is this file's alone.
const ADDRESS = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;

/** A login over plain HTTP from `from`. */
function login(email: string, password: string, target = server, from = ADDRESS) {
  const body = JSON.stringify({
    query: 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }',
    variables: { e: email, p: password },
  });
  return new Promise<{ status: number; retryAfter: string | undefined; token?: string; error?: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request(
        `${target.url}/graphql`,
        { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => {
            const parsed = JSON.parse(text) as {
              data?: { login: { token: string } } | null;
              errors?: { extensions: Record<string, unknown> }[];
            };
            resolve({
              status: res.statusCode!,
              retryAfter: res.headers['retry-after'] as string | undefined,
              token: parsed.data?.login.token,
              error: parsed.errors?.[0]?.extensions,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

/** A customer under R1 that can log in. */
async function loginAccount(parentToken = tree.r1.token) {
  const email = `${unique('login')}@example.test`;
  const { createAccount } = await server.ok(
    CreateAccountDocument,
    { input: { kind: 'CUSTOMER', name: 'Login', email, password: PASSWORD } },
    parentToken,
  );
  const { token } = await login(email, PASSWORD);
  return { id: createAccount.id as string, email, token: token! };
}

async function key(token: string, scopes: string[]) {
  const { createApiKey } = await server.ok(
    'mutation($s: [ApiKeyScope!]) { createApiKey(name: "k", scopes: $s) { secret apiKey { id scopes } } }',
    { s: scopes },
    token,
  );
  return createApiKey as { secret: string; apiKey: { id: string; scopes: string[] } };
}

const call = (accountId: string, extra: Record<string, unknown> = {}) => ({
  accountId,
  callId: unique('call'),
  destination: '447700900123',
  direction: 'OUTBOUND',
  durationSeconds: 60,
  startedAt: new Date().toISOString(),
  ...extra,
});
const RATE = 'mutation($input: CallInput!) { rateCall(input: $input) { id } }';

describe('API key scopes', () => {
  it('a key is FULL unless told otherwise, and shows its scopes', async () => {
    const full = await key(tree.r1.token, []).catch(() => null);
    expect(full).toBeNull();
    const { createApiKey } = await server.ok(
      'mutation { createApiKey(name: "default") { apiKey { scopes } } }',
      {},
      tree.r1.token,
    );
    expect(createApiKey.apiKey.scopes).toEqual(['FULL']);
  });

  it('READ_ONLY reads and subscribes, and changes nothing', async () => {
    const { secret } = await key(tree.r1.token, ['READ_ONLY']);
    expect((await server.ok(MeDocument, {}, secret)).me.id).toBe(tree.r1.id);
    expect(
      errorCode(
        await server.gql(
          'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1" }) { id } }',
          { id: tree.c1.id },
          secret,
        ),
      ),
    ).toBe('FORBIDDEN');
    const watch = await listen(server.url, secret, BALANCE);
    await topUp(server, tree.r1.token, tree.c1.id, '1');
    await until(() => watch.received.length === 1);
    await watch.client.dispose();
  });

  it('RATING rates and authorizes calls for the root, and does nothing else', async () => {
    const g = (
      await server.ok(
        'mutation { createRateGroup(input: { name: "switch", rates: [{ prefix: "44", ratePerMinute: "0.01" }] }) { id } }',
        {},
        tree.admin.token,
      )
    ).createRateGroup.id;
    await server.ok(UpdateAccountDocument, { id: tree.r2.id, input: { rateGroupId: g } }, tree.admin.token);
    const { secret } = await key(tree.admin.token, ['RATING']);
    const rated = await server.gql(RATE, { input: call(tree.r2.id) }, secret);
    expect(rated.errors).toBeUndefined();
    const asked = await server.ok(
      'query($id: ID!) { authorizeCall(accountId: $id, destination: "447700900123", direction: OUTBOUND) { allowed reason } }',
      { id: tree.r2.id },
      secret,
    );
    expect(asked.authorizeCall).toEqual({ allowed: false, reason: 'INSUFFICIENT_FUNDS' });
    // The switch's other calls: leases and re-rating.
    const started = await server.ok(
      'mutation($id: ID!) { startCall(input: { accountId: $id, callId: "k-1", destination: "447700900123", direction: OUTBOUND }) { reasonCode } }',
      { id: tree.r2.id },
      secret,
    );
    expect(started.startCall).toEqual({ reasonCode: 'INSUFFICIENT_FUNDS' });
    expect(
      (await server.ok('mutation($id: ID!) { endCall(accountId: $id, callId: "k-1") }', { id: tree.r2.id }, secret)).endCall,
    ).toBe(false);
    const rerated = await server.ok(
      'mutation($id: ID!, $f: DateTime!, $t: DateTime!) { rerateCalls(accountId: $id, from: $f, to: $t) { calls changed } }',
      { id: tree.r2.id, f: new Date(Date.now() - 86_400_000).toISOString(), t: new Date(Date.now() + 60_000).toISOString() },
      secret,
    );
    expect(rerated.rerateCalls).toEqual({ calls: 1, changed: 0 });
    expect(errorCode(await server.gql('{ accounts { totalCount } }', {}, secret))).toBe('FORBIDDEN');
    expect(
      errorCode(
        await server.gql(
          'mutation($id: ID!) { adjustBalance(input: { accountId: $id, amount: "5" }) { id } }',
          { id: tree.r2.id },
          secret,
        ),
      ),
    ).toBe('FORBIDDEN');
    // Even mixed into a rating request, another field refuses the whole operation.
    expect(
      errorCode(
        await server.gql(
          `mutation($input: CallInput!) { rateCall(input: $input) { id } topUp(input: { accountId: "${tree.r2.id}", amount: "1" }) { id } }`,
          { input: call(tree.r2.id) },
          secret,
        ),
      ),
    ).toBe('FORBIDDEN');
  });

  it('a FULL key cannot mint or revoke keys, nor change a password or an email', async () => {
    const { secret, apiKey } = await key(tree.r1.token, ['FULL']);
    expect(errorCode(await server.gql('mutation { createApiKey(name: "minted") { secret } }', {}, secret))).toBe('FORBIDDEN');
    expect(errorCode(await server.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: apiKey.id }, secret))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { password: PASSWORD } }, secret))).toBe(
      'FORBIDDEN',
    );
    expect(
      errorCode(
        await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { email: `${unique('e')}@example.test` } }, secret),
      ),
    ).toBe('FORBIDDEN');
    // What its creator may do otherwise, it may.
    expect(
      errorCode(await server.gql(UpdateAccountDocument, { id: tree.c1.id, input: { name: 'Renamed by key' } }, secret)),
    ).toBeUndefined();
  });
});

describe('rating is a platform operation (DOMAIN.md 5)', () => {
  it("a reseller cannot post calls, not even with a RATING key of its own; the root's key can", async () => {
    const own = await key(tree.r1.token, ['RATING']);
    for (const credential of [tree.r1.token, own.secret, tree.sr1.token]) {
      expect(errorCode(await server.gql(RATE, { input: call(tree.c1.id) }, credential))).toBe('FORBIDDEN');
    }
    const [{ n }] = await sql<{ n: number }>(server, 'select count(*)::int as n from calls where account_id = ?', [tree.c1.id]);
    expect(n).toBe(0);
  });

  it.each([
    ['more than 400 days ago', -401 * 86_400_000],
    ['more than 5 minutes ahead', 6 * 60_000],
    ['in year 9999', Date.UTC(9999, 0, 1) - Date.now()],
  ])('refuses a call started %s', async (_label, offset) => {
    const result = await server.gql(
      RATE,
      { input: call(tree.r2.id, { startedAt: new Date(Date.now() + offset).toISOString() }) },
      tree.admin.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[0].startedAt' });
  });
});

describe('passwords', () => {
  it.each([
    ['shorter than 10 characters', 'abc123xyz'],
    ['a well-known password', 'password123'],
    ['another well-known one, in capitals', 'QWERTYUIOP'],
  ])('refuses one %s', async (_label, password) => {
    const result = await server.gql(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'P', email: `${unique('p')}@example.test`, password } },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
  });

  it('refuses the email as the password', async () => {
    const email = `${unique('same')}@example.test`;
    const result = await server.gql(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'P', email, password: email } },
      tree.r1.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
  });

  it("changing one's own password needs the current one, and ends every token issued before", async () => {
    const me = await loginAccount();
    const change = (input: Record<string, unknown>) => server.gql(UpdateAccountDocument, { id: me.id, input }, me.token);
    expect((await change({ password: 'a brand new passphrase' })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'currentPassword',
    });
    expect(
      (await change({ password: 'a brand new passphrase', currentPassword: 'not my password' })).errors?.[0]?.extensions,
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currentPassword' });
    expect(errorCode(await server.gql(MeDocument, {}, me.token))).toBeUndefined();
    expect((await change({ password: 'a brand new passphrase', currentPassword: PASSWORD })).errors).toBeUndefined();
    expect(errorCode(await server.gql(MeDocument, {}, me.token))).toBe('UNAUTHENTICATED');
    expect((await login(me.email, PASSWORD)).error?.code).toBe('UNAUTHENTICATED');
    const fresh = await login(me.email, 'a brand new passphrase');
    expect((await server.ok(MeDocument, {}, fresh.token)).me.id).toBe(me.id);
  });

  it("an ancestor's reset of a password ends the account's tokens too", async () => {
    const child = await loginAccount();
    await server.ok(UpdateAccountDocument, { id: child.id, input: { password: 'set by the reseller now' } }, tree.r1.token);
    expect(errorCode(await server.gql(MeDocument, {}, child.token))).toBe('UNAUTHENTICATED');
  });
});

describe('credentials end at once', () => {
  it('a suspension ends the tokens of the account and of its subtree, for good: reactivation needs a new login', async () => {
    const reseller = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    const email = `${unique('sub')}@example.test`;
    await server.ok(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'Sub', email, password: PASSWORD } },
      reseller.token,
    );
    const below = await login(email, PASSWORD);
    await server.ok(UpdateAccountDocument, { id: reseller.id, input: { status: 'SUSPENDED' } }, tree.admin.token);
    expect(errorCode(await server.gql(MeDocument, {}, reseller.token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, below.token!))).toBe('UNAUTHENTICATED');
    await server.ok(UpdateAccountDocument, { id: reseller.id, input: { status: 'ACTIVE' } }, tree.admin.token);
    expect(errorCode(await server.gql(MeDocument, {}, reseller.token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, below.token!))).toBe('UNAUTHENTICATED');
    expect((await login(email, PASSWORD)).token).toBeDefined();
  });

  it("checking a credential reads its account's ancestors by their ids, never every account of every platform", async () => {
    // The plan, with sequential scans priced out: a check that can only scan the table still shows one.
    const plan = await systemEm(server.app.db.orm).transactional(async (tx) => {
      await tx.execute('set local enable_seqscan = off');
      const statement = credentialSql({ via: 'token', accountId: tree.c1.id, version: 0 }, { scope: true });
      const rows = await tx.execute<Record<string, string>[]>(`explain ${statement.sql}`, statement.values as unknown[]);
      return rows.map((r) => Object.values(r)[0]).join('\n');
    });
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toMatch(/Index (Only )?Scan/);
  });

  it('a deletion ends the tokens and keys of the account', async () => {
    const customer = await loginAccount();
    const { secret } = await key(customer.token, ['FULL']);
    await server.ok('mutation($id: ID!) { deleteAccount(id: $id) { id } }', { id: customer.id }, tree.r1.token);
    expect(errorCode(await server.gql(MeDocument, {}, customer.token))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(MeDocument, {}, secret))).toBe('UNAUTHENTICATED');
  });

  // The default re-check interval (10 s) is far longer than these waits: only the push can end them in time.
  it('a revoked key, a password change and a suspension end open subscriptions at once, with no event in between', async () => {
    const owner = await loginAccount();
    const { secret, apiKey } = await key(owner.token, ['READ_ONLY']);
    const byKey = await listen(server.url, secret, BALANCE);
    const byToken = await listen(server.url, owner.token, BALANCE);
    await server.ok('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: apiKey.id }, owner.token);
    await until(() => byKey.errors.length === 1);
    expect(byKey.errors[0][0].extensions.code).toBe('UNAUTHENTICATED');
    expect(byToken.errors).toEqual([]);
    await server.ok(
      UpdateAccountDocument,
      { id: owner.id, input: { password: 'another long passphrase', currentPassword: PASSWORD } },
      owner.token,
    );
    await until(() => byToken.errors.length === 1);
    expect(byToken.errors[0][0].extensions.code).toBe('UNAUTHENTICATED');
    await topUp(server, tree.r1.token, owner.id, '2');
    await new Promise((r) => setTimeout(r, 200));
    expect(byKey.received).toEqual([]);
    expect(byToken.received).toEqual([]);

    const reseller = await addAccount(server, tree.admin.token, { kind: 'RESELLER' });
    const customer = await addAccount(server, reseller.token, { kind: 'CUSTOMER' });
    const below = await listen(server.url, customer.token, BALANCE);
    await server.ok(UpdateAccountDocument, { id: reseller.id, input: { status: 'SUSPENDED' } }, tree.admin.token);
    await until(() => below.errors.length === 1);
    expect(below.errors[0][0].extensions.code).toBe('UNAUTHENTICATED');
    await Promise.all([byKey.client.dispose(), byToken.client.dispose(), below.client.dispose()]);
  });

  it.skipIf(ENGINE === 'pglite')('a revocation through one instance ends a subscription held by another', async () => {
    const other = await startServer();
    try {
      const owner = await loginAccount();
      const { secret, apiKey } = await key(owner.token, ['READ_ONLY']);
      const watch = await listen(other.url, secret, BALANCE);
      await server.ok('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: apiKey.id }, owner.token);
      await until(() => watch.errors.length === 1);
      expect(watch.errors[0][0].extensions.code).toBe('UNAUTHENTICATED');
      await watch.client.dispose();
    } finally {
      await other.close();
    }
  });
});

describe('login throttling', () => {
  it('refuses an email after 10 failures, right password included, with 429 and Retry-After', async () => {
    const target = await loginAccount();
    for (let i = 0; i < 10; i++) expect((await login(target.email, `wrong guess ${i}`)).error?.code).toBe('UNAUTHENTICATED');
    const blocked = await login(target.email, PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.error?.code).toBe('RATE_LIMITED');
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    expect(blocked.error?.retryAfter).toBe(Number(blocked.retryAfter));
    // Another account from the same address still logs in.
    const bystander = await loginAccount();
    expect((await login(bystander.email, PASSWORD)).token).toBeDefined();
  });

  it('counts guesses sent all at once: no more than 10 are checked', async () => {
    const target = await loginAccount();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => login(target.email, `parallel guess ${i}`)));
    const codes = results.map((r) => r.error?.code);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED').length).toBeLessThanOrEqual(10);
    expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(20);
  });

  it('throttles guesses of the current password made with a stolen token', async () => {
    const me = await loginAccount();
    const change = (currentPassword: string) =>
      server.gql(UpdateAccountDocument, { id: me.id, input: { password: 'a brand new passphrase', currentPassword } }, me.token);
    for (let i = 0; i < 10; i++)
      expect((await change(`guess number ${i}`)).errors?.[0]?.extensions?.field).toBe('currentPassword');
    expect((await change(PASSWORD)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(errorCode(await server.gql(MeDocument, {}, me.token))).toBeUndefined();
  });

  it('a right password clears the failures of its email', async () => {
    const target = await loginAccount();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 6; i++) await login(target.email, `wrong guess ${i}`);
      expect((await login(target.email, PASSWORD)).token).toBeDefined();
    }
  });

  it('refuses a client address after its failures across many emails', async () => {
    const strict = await startServer({ loginFailuresPerAddress: 5 });
    const guesser = ADDRESS.replace(/\.\d+$/, '.1');
    try {
      for (let i = 0; i < 5; i++)
        expect((await login(`${unique('nobody')}@example.test`, 'whatever it is', strict, guesser)).error?.code).toBe(
          'UNAUTHENTICATED',
        );
      const blocked = await login(`${unique('nobody')}@example.test`, 'whatever it is', strict, guesser);
      expect(blocked.status).toBe(429);
      expect(blocked.error?.code).toBe('RATE_LIMITED');
      // Another address is not held back.
      expect(
        (await login(`${unique('nobody')}@example.test`, 'whatever it is', strict, ADDRESS.replace(/\.\d+$/, '.254'))).error
          ?.code,
      ).toBe('UNAUTHENTICATED');
    } finally {
      await strict.close();
    }
  });

  it.skipIf(ENGINE === 'pglite')('counts failures across instances', async () => {
    const other = await startServer();
    try {
      const target = await loginAccount();
      for (let i = 0; i < 10; i++) await login(target.email, `wrong guess ${i}`, i % 2 ? other : server);
      expect((await login(target.email, PASSWORD, other)).error?.code).toBe('RATE_LIMITED');
    } finally {
      await other.close();
    }
  });
});

describe('request budgets', () => {
  it('a credential that spends its budget of query cost is refused with 429 until the window passes; others are not', async () => {
    const tight = await startServer({ requestBudget: 300 });
    try {
      const t = await buildTree(tight);
      const ask = (token: string) =>
        fetch(`${tight.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ accounts(first: 20) { edges { node { id name } } } }' }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await ask(t.r1.token)).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      const refused = await ask(t.r1.token);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe(
        'RATE_LIMITED',
      );
      expect((await ask(t.r2.token)).status).toBe(200);
      // The same budget on graphql-ws: the operation is refused, the socket stays.
      const watch = await listen(tight.url, t.r1.token, BALANCE);
      expect(watch.errors[0]?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      await watch.client.dispose();
    } finally {
      await tight.close();
    }
  });

  it.skipIf(ENGINE === 'pglite')('a burst of requests on one instance takes one lease, not one each', async () => {
    const one = await startServer({ requestBudget: 20_000 });
    try {
      const t = await buildTree(one);
      const ask = () =>
        fetch(`${one.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.c1.token}` },
          body: JSON.stringify({ query: '{ me { id } }' }),
        }).then((r) => r.status);
      expect(await Promise.all(Array.from({ length: 16 }, ask))).toEqual(Array.from({ length: 16 }, () => 200));
      const [row] = await sql<{ points: number }>(one, 'select points from rate_limits where key = ?', [
        `budget:account:${t.c1.id}`,
      ]);
      expect(row.points).toBe(200);
    } finally {
      await one.close();
    }
  });

  it.skipIf(ENGINE === 'pglite')(
    "two instances spending one credential's budget together never pass it, and refuse at most a lease each early",
    async () => {
      // A budget of 20,000 is taken in leases of 200, by requests costing less than a lease.
      const [a, b] = await Promise.all([startServer({ requestBudget: 20_000 }), startServer({ requestBudget: 20_000 })]);
      try {
        const t = await buildTree(a);
        const query = '{ accounts(first: 20) { edges { node { id name } } } }';
        const { cost } = costError(await createSchema(), parse(query), {}, undefined, 1_000_000);
        expect(cost).toBeLessThan(200);
        const body = JSON.stringify({ query });
        const ask = (server: TestServer) =>
          fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${t.r1.token}` },
            body,
          }).then((r) => r.status);
        let accepted = 0;
        let refusedBoth = false;
        for (let i = 0; i < 400 && !refusedBoth; i += 2) {
          const statuses = await Promise.all([ask(a), ask(b)]);
          accepted += statuses.filter((s) => s === 200).length;
          expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
          refusedBoth = statuses.every((s) => s === 429);
        }
        expect(refusedBoth).toBe(true);
        expect(accepted).toBeLessThanOrEqual(Math.floor(20_000 / cost));
        expect(accepted).toBeGreaterThanOrEqual(Math.floor((20_000 - 2 * 200) / cost));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  );
});
