import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TopUpDocument } from './generated/graphql.js';
import { startServer, type TestServer } from './support/harness.js';
import { buildTree, topUp } from './support/tree.js';
import { connect, listen, query, until, wsUrl } from './support/ws.js';

/**
 * What an anonymous or careless client can send, and what it gets: every request is refused early and cheaply
 * (400, BAD_USER_INPUT), a bad operation on a WebSocket fails alone, and nothing grows without bound.
 */
let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

async function post(body: unknown, token?: string, target = server) {
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] },
  };
}

const unexpected = (s: TestServer) => s.logs.filter((l) => /unexpected error|Unexpected error processing/.test(l));

describe('documents too large to be worth reading', () => {
  // About 360 KB each, sent without credentials: the shapes that held the event loop for seconds.
  const attacks: Record<string, string> = {
    'thousands of repeated directives': `{ me ${'@include(if: true) '.repeat(19_000)}{ id } }`,
    '19,000 fragments': `{ me { id } } ${Array.from({ length: 19_000 }, (_, i) => `fragment F${i} on Account { id }`).join(' ')}`,
    '20,000 unknown fields': `{ me { ${Array.from({ length: 20_000 }, (_, i) => `f${i}`).join(' ')} } }`,
  };

  it.each(Object.keys(attacks))(
    'refuses %s for its length before reading it, with one error and no internal failure',
    async (name) => {
      const res = await post({ query: attacks[name] });
      expect(res.status).toBe(400);
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.body.errors![0].message).toMatch(/longer than 100000 characters/);
    },
  );

  it.each([
    ['too many tokens', `{ me { ${Array.from({ length: 2500 }, (_, i) => `f${i}`).join(' ')} } }`, /more than 2000 tokens/],
    // Comments are not tokens to graphql-js, and a block string is split line by line: both count as lines.
    ['thousands of comment lines', `${'#\n'.repeat(5000)}{ me { id } }`, /more than 2000 lines/],
    ['a block string of thousands of lines', `{ me { name(x: """${'\n'.repeat(5000)}""") } }`, /more than 2000 lines/],
    ['lines ended by carriage returns', `${'#\r'.repeat(5000)}{ me { id } }`, /more than 2000 lines/],
  ])('refuses a short document with %s', async (_label, query, message) => {
    const res = await post({ query });
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toMatch(message);
  });

  it('accepts a query written on Windows, one line per field', async () => {
    const res = await post({ query: `{\r\n me {\r\n${'  id\r\n'.repeat(5)} }\r\n}` }, tree.r1.token);
    expect(res.body.errors).toBeUndefined();
  });

  it('keeps answering /healthz while such requests arrive together', async () => {
    const [health, ...refused] = await Promise.all([
      fetch(`${server.url}/healthz`).then((r) => r.status),
      ...Object.values(attacks).flatMap((q) => [post({ query: q }), post({ query: q })]),
    ]);
    expect(health).toBe(200);
    expect(refused.map((r) => r.status)).toEqual(Array(6).fill(400));
  });

  it('refuses a field repeated hundreds of times within the token limit before validation compares the copies', async () => {
    const res = await post({ query: `{ ${'me { parent { id } } '.repeat(140)} }` }, tree.r1.token);
    expect(res.status).toBe(400);
    expect(res.body.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(res.body.errors![0].message).toMatch(/"me" is selected 140 times/);
  });

  it('refuses the same through fragments spread side by side', async () => {
    const spreads = Array.from({ length: 60 }, (_, i) => `...F${i}`).join(' ');
    const fragments = Array.from({ length: 60 }, (_, i) => `fragment F${i} on Account { id }`).join(' ');
    const res = await post({ query: `{ me { ${spreads} } } ${fragments}` }, tree.r1.token);
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toMatch(/"id" is selected 60 times/);
  });

  it('counts a fragment reached first through another one as fully as anywhere else', async () => {
    // Z is spread directly and through 29 wrappers: 300 copies of "parent" in one selection set.
    const wrappers = Array.from({ length: 29 }, (_, i) => `fragment X${i} on Account { ...Z }`).join(' ');
    const spreads = Array.from({ length: 29 }, (_, i) => `...X${i}`).join(' ');
    const res = await post({
      query: `{ me { ...Z ${spreads} } } fragment Z on Account { ${'parent { id } '.repeat(10)} } ${wrappers}`,
    });
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toMatch(/"parent" is selected 300 times/);
  });

  it('refuses more directives than the limit', async () => {
    const res = await post({ query: `{ me ${'@include(if: true) '.repeat(60)}{ id } }` }, tree.r1.token);
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toMatch(/directives limit of 50/i);
  });

  it('stops validating after ten errors', async () => {
    const res = await post({ query: `{ me { ${Array.from({ length: 300 }, (_, i) => `f${i}`).join(' ')} } }` }, tree.r1.token);
    expect(res.status).toBe(400);
    expect(res.body.errors!.length).toBeLessThanOrEqual(11);
    expect(res.body.errors!.every((e) => e.extensions?.code === 'BAD_USER_INPUT')).toBe(true);
  });

  it('names the field of each bad literal', async () => {
    const res = await post(
      {
        query: `mutation { a: topUp(input: { accountId: "${tree.c1.id}", amount: 5 }) { id } b: topUp(input: { accountId: true, amount: "1" }) { id } }`,
      },
      tree.r1.token,
    );
    expect(res.status).toBe(400);
    expect(res.body.errors!.map((e) => e.extensions?.field).sort()).toEqual(['accountId', 'amount']);
  });
});

describe('bad variables over HTTP', () => {
  it.each([
    ['a string for Int', 'query($n: Int) { accounts(first: $n) { totalCount } }', { n: 'abc' }, 'n'],
    ['a number for Money', TopUpDocument, { input: { accountId: 'x', amount: 5 } }, 'amount'],
    ['null for a required Money', TopUpDocument, { input: { accountId: 'x', amount: null } }, 'amount'],
    ['a missing required variable', 'query($id: ID!) { account(id: $id) { id } }', {}, 'id'],
  ])('%s is 400 BAD_USER_INPUT naming the field', async (_label, doc, variables, field) => {
    const before = unexpected(server).length;
    const result = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tree.r1.token}` },
      body: JSON.stringify({ query: typeof doc === 'string' ? doc : (await import('graphql')).print(doc), variables }),
    });
    const body = (await result.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(result.status).toBe(400);
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(unexpected(server).length).toBe(before);
  });
});

describe('graphql-ws', () => {
  it('answers a bad variable or an invalid document with an error for that operation and keeps the socket open', async () => {
    const watch = await listen(server.url, tree.r1.token, 'subscription { balanceChanged { delta } }');
    const badVariable = await query(watch.client, 'query($n: Int) { accounts(first: $n) { totalCount } }', { n: 'abc' });
    expect(badVariable.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'n' });
    const badId = await query(watch.client, 'subscription($id: ID) { balanceChanged(accountId: $id) { delta } }', { id: true });
    expect(badId.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    const invalid = await query(watch.client, '{ me { nope } }');
    expect(invalid.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const unparsable = await query(watch.client, '{ me { ');
    expect(unparsable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const tooLarge = await query(watch.client, `{ me { ${Array.from({ length: 3000 }, (_, i) => `f${i}`).join(' ')} } }`);
    expect(tooLarge.errors?.[0]?.message).toMatch(/more than 2000 tokens/);
    // The subscription started first is still alive on the same socket.
    await topUp(server, tree.r1.token, tree.c1.id, '1.5');
    await until(() => watch.received.length === 1);
    expect(watch.received[0].balanceChanged.delta).toBe('1.5');
    expect(watch.errors).toEqual([]);
    await watch.client.dispose();
  });

  it('closes a socket whose frame is larger than the body limit, before authentication', async () => {
    const socket = new WebSocket(wsUrl(server.url), 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send('x'.repeat(2 * 1024 * 1024));
    expect(await closed).toBe(1009);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('caps subscriptions per connection and per account', async () => {
    const capped = await startServer({ wsMaxSubscriptionsPerConnection: 2, wsMaxSubscriptionsPerAccount: 3 });
    try {
      const t = await buildTree(capped);
      const first = connect(capped.url, `Bearer ${t.r1.token}`);
      await first.acked;
      const errors: unknown[][] = [];
      const start = (client: typeof first.client) =>
        client.subscribe(
          { query: 'subscription { balanceChanged { delta } }' },
          { next: () => undefined, error: (e) => errors.push(e as unknown[]), complete: () => undefined },
        );
      start(first.client);
      start(first.client);
      start(first.client);
      await until(() => errors.length === 1);
      expect((errors[0][0] as { message: string }).message).toMatch(/per connection/);
      const second = connect(capped.url, `Bearer ${t.r1.token}`);
      await second.acked;
      start(second.client);
      start(second.client);
      await until(() => errors.length === 2);
      expect((errors[1][0] as { message: string }).message).toMatch(/per account/);
      // Another account is not held back by this one.
      const other = await listen(capped.url, t.r2.token, 'subscription { balanceChanged { delta } }');
      expect(other.errors).toEqual([]);
      await Promise.all([first.client.dispose(), second.client.dispose(), other.client.dispose()]);
    } finally {
      await capped.close();
    }
  });

  it('caps queries running at once on one connection; the socket and later queries go on', async () => {
    const capped = await startServer({ wsMaxRunningOperations: 2 });
    try {
      const t = await buildTree(capped);
      const { client, acked } = connect(capped.url, `Bearer ${t.r1.token}`);
      await acked;
      // Sent in one go: the first two are admitted before either has finished.
      const results = await Promise.all(Array.from({ length: 6 }, () => query(client, '{ accounts(first: 50) { totalCount } }')));
      const refused = results.filter((r) => r.errors?.[0]?.message?.includes('at once per connection'));
      expect(results.length - refused.length).toBeGreaterThanOrEqual(2);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((r) => r.errors![0].extensions.code === 'BAD_USER_INPUT')).toBe(true);
      // Once they are done, the connection takes more.
      expect((await query(client, '{ me { id } }')).data).toEqual({ me: { id: t.r1.id } });
      await client.dispose();
    } finally {
      await capped.close();
    }
  });

  it('cuts off a client that stops reading instead of buffering for it without bound', async () => {
    const slow = await startServer({ wsMaxBufferedBytes: 256 * 1024, wsMaxRunningOperations: 1000 });
    try {
      const t = await buildTree(slow);
      const socket = new WebSocket(wsUrl(slow.url), 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const acked = new Promise((resolve) => socket.once('message', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.r1.token}` } }));
      await acked;
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      // Stop reading, then ask for far more than the socket buffers hold: the schema, 200 times.
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const introspection =
        '{ __schema { types { name description fields { name description args { name description } type { name kind ofType { name kind } } } } } }';
      for (let i = 0; i < 200; i++)
        socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: introspection } }));
      await until(() => slow.logs.some((l) => l.includes('does not read')), 20_000);
      (socket as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await closed).toBe(1006);
      // Everyone else is served as before.
      const other = connect(slow.url, `Bearer ${t.r1.token}`);
      await other.acked;
      expect((await query(other.client, '{ me { id } }')).data).toEqual({ me: { id: t.r1.id } });
      await other.client.dispose();
    } finally {
      await slow.close();
    }
  }, 60_000);
});
