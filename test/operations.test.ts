import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createPlatform, ENGINE, startServer, unique } from './support/harness.js';
import { connect, query } from './support/ws.js';

const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;
const problemsOf = (vars: Record<string, string>): string[] => {
  try {
    loadConfig(env(vars));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  it('refuses bad values, naming every bad variable at once', () => {
    const problems = problemsOf({ JWT_TTL: 'abc', PORT: 'x', BODY_LIMIT: 'zz', DB_POOL_MAX: '-1', LOG_LEVEL: 'loud' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['BODY_LIMIT', 'DB_POOL_MAX', 'JWT_TTL', 'LOG_LEVEL', 'PORT']);
    expect(problems.find((p) => p.startsWith('JWT_TTL'))).toContain('"abc"');
    expect(problemsOf({ DATABASE_URL: 'mysql://x' })).toEqual(['DATABASE_URL: must be a postgres:// URL']);
    expect(problemsOf({ CORS_ORIGINS: 'https://a.example/path' })[0]).toMatch(/^CORS_ORIGINS:/);
    expect(problemsOf({ MIGRATE_ON_START: 'perhaps' })[0]).toMatch(/^MIGRATE_ON_START:/);
  });

  it('keeps every default, treats empty as unset, and reads a bare JWT_TTL as seconds', () => {
    const c = loadConfig(env({ PORT: '', JWT_TTL: '60' }));
    expect(c).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      dataDir: './data',
      jwtTtl: '60s',
      bodyLimitBytes: 1024 * 1024,
      corsOrigins: '*',
    });
    expect(c).toMatchObject({
      migrateOnStart: true,
      drainDelayMs: 0,
      metricsToken: undefined,
      renewalIntervalMs: 60_000,
      rateCacheMaxRates: 500_000,
    });
    expect(loadConfig(env({ JWT_TTL: '15m' })).jwtTtl).toBe('15m');
    expect(loadConfig(env({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' })).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
  });

  it('in production, refuses to start without JWT_SECRET, with the default admin password, or with CORS open to all', () => {
    expect(problemsOf({ NODE_ENV: 'production' }).map((p) => p.split(':')[0])).toEqual(['JWT_SECRET', 'ADMIN_PASSWORD']);
    expect(
      problemsOf({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), ADMIN_PASSWORD: 'admin' }).map((p) => p.split(':')[0]),
    ).toEqual(['ADMIN_PASSWORD']);
    const ok = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), ADMIN_PASSWORD: 'a long password' };
    expect(problemsOf({ ...ok, CORS_ORIGINS: '*' }).map((p) => p.split(':')[0])).toEqual(['CORS_ORIGINS']);
    const c = loadConfig(env(ok));
    expect(c.production).toBe(true);
    expect(c.corsOrigins).toEqual([]);
  });
});

describe('CORS', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });

  it('answers preflights from allowed origins before CSRF prevention, and only those', async () => {
    const server = await startServer({ corsOrigins: ['https://console.example'] });
    try {
      const allowed = await preflight(server.url, 'https://console.example');
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example');
      expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
      expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');

      const refused = await preflight(server.url, 'https://evil.example');
      expect(refused.status).toBe(204);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();

      const post = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { origin: 'https://console.example', 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(post.status).toBe(200);
      expect(post.headers.get('access-control-allow-origin')).toBe('https://console.example');
      expect(post.headers.get('access-control-expose-headers')).toContain('x-request-id');
      // Apollo's CSRF prevention still refuses a simple GET without a preflight header.
      const simple = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { origin: 'https://console.example' },
      });
      expect(simple.status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('is open to any origin by default outside production, closed when the list is empty', async () => {
    const open = await startServer();
    const closed = await startServer({ corsOrigins: [] });
    try {
      expect(open.app.config.corsOrigins).toBe('*');
      expect((await preflight(open.url, 'http://localhost:5173')).headers.get('access-control-allow-origin')).toBe('*');
      const refused = await preflight(closed.url, 'http://localhost:5173');
      expect(refused.status).toBe(204);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await Promise.all([open.close(), closed.close()]);
    }
  });
});

describe('health, metrics and access logs', () => {
  it('/livez and /readyz answer 200 with every check; /healthz keeps its meaning', async () => {
    const server = await startServer();
    try {
      const live = await fetch(`${server.url}/livez`);
      expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await fetch(`${server.url}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([
        200,
        { status: 'ready', checks: { database: 'ok', role: 'ok', events: 'ok' } },
      ]);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('/readyz answers 503 while draining, still serving requests, then the server stops', async () => {
    const server = await startServer({ drainDelayMs: 1500 });
    const closing = server.close();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).status).toBe('draining');
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    expect((await server.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    await closing;
    await expect(fetch(`${server.url}/livez`)).rejects.toThrow();
  });

  it.skipIf(ENGINE !== 'postgresql')(
    '/readyz answers 503 and the log names the GRANT when the database user lacks the request role',
    async () => {
      const role = unique('trellis_nogrant').replace(/-/g, '_');
      const dbUrl = inject('databaseUrl');
      const admin = new pg.Client({ connectionString: dbUrl });
      await admin.connect();
      // A user who can do everything the service does for itself, but was never granted the request role:
      // what a deployment gets when another user ran the migrations.
      await admin.query(`create role ${role} login bypassrls`);
      await admin.query(`grant usage, create on schema public to ${role}`);
      await admin.query(`grant all on all tables in schema public to ${role}`);
      await admin.query(`grant all on all sequences in schema public to ${role}`);
      const url = new URL(dbUrl);
      url.username = role;
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      try {
        server = await startServer({ databaseUrl: url.toString() });
        const grant = `GRANT trellis_app TO ${role};`;
        expect(server.logs.some((l) => JSON.parse(l).level === 50 && l.includes(grant))).toBe(true);
        const ready = await fetch(`${server.url}/readyz`);
        expect(ready.status).toBe(503);
        const body = await ready.json();
        expect(body.status).toBe('unavailable');
        expect(body.checks.role).toContain(grant);
        expect((await fetch(`${server.url}/livez`)).status).toBe(200);

        await admin.query(grant);
        expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
        expect(server.logs.some((l) => JSON.parse(l).msg === 'ready again')).toBe(true);
      } finally {
        await server?.close();
        await admin.query(`drop owned by ${role}`);
        await admin.query(`drop role ${role}`);
        await admin.end();
      }
    },
  );

  it('/metrics counts operations by name and code, timings, sockets, subscriptions and the pool', async () => {
    const server = await startServer();
    try {
      await server.gql('query Ping { __typename }');
      await server.gql('query Ping { __typename }');
      await server.gql('query Nope { nope }');
      const platform = await createPlatform(server);
      expect((await server.ok('query Page { accounts(first: 1) { totalCount } }', {}, platform.token)).accounts.totalCount).toBe(
        0,
      );
      const login = await server.gql(
        'mutation Login { login(email: "nobody@example.test", password: "wrong-password") { token } }',
      );
      const code = login.errors![0].extensions!.code;
      const { client, acked } = connect(server.url, `Bearer ${platform.token}`);
      await acked;
      client.subscribe(
        { query: 'subscription { balanceChanged { delta } }' },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
      await waitFor(async () => /trellis_graphql_subscriptions 1/.test(await (await fetch(`${server.url}/metrics`)).text()));
      expect((await query(client, 'query WsPing { __typename }')).data).toEqual({ __typename: 'Query' });

      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('trellis_graphql_operations_total{operation="Ping",code="OK"} 2');
      // A document that fails validation never resolves its operation, so its name is not known.
      expect(text).toContain('trellis_graphql_operations_total{operation="anonymous",code="BAD_USER_INPUT"} 1');
      expect(text).toContain(`trellis_graphql_operations_total{operation="Login",code="${code}"} 1`);
      expect(text).toContain('trellis_graphql_operations_total{operation="WsPing",code="OK"} 1');
      expect(text).toContain('trellis_graphql_operation_duration_seconds_count{operation="Ping"} 2');
      // `{ __typename }` has no plan to take (nothing of the database in it); a page of accounts has one.
      expect(text).toContain('trellis_graphql_query_executions_total{path="resolved"} 2');
      expect(text).toContain('trellis_graphql_query_executions_total{path="planned"} 1');
      expect(text).toMatch(/trellis_http_request_duration_seconds_count\{route="\/graphql",method="POST",status="200"\} \d+/);
      expect(text).toContain('trellis_websocket_connections 1');
      expect(text).toContain('trellis_graphql_subscriptions 1');
      expect(text).toMatch(/trellis_db_pool_connections\{state="max"\} (1|20)\n/);
      expect(text).toMatch(/trellis_db_pool_connections\{state="used"\} \d+/);
      expect(text).toContain('process_cpu_user_seconds_total');
      await client.dispose();
    } finally {
      await server.close();
    }
  });

  it.skipIf(ENGINE !== 'pglite')(
    "/metrics counts renewal runs (on PGlite: a scheduler on the shared PostgreSQL test database would renew other files' chains)",
    async () => {
      const server = await startServer({ renewalIntervalMs: 50 });
      try {
        await waitFor(async () =>
          /trellis_renewal_runs_total\{result="ok"\} [1-9]/.test(await (await fetch(`${server.url}/metrics`)).text()),
        );
        expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/trellis_renewal_run_duration_seconds_count [1-9]/);
      } finally {
        await server.close();
      }
    },
  );

  it('/metrics requires METRICS_TOKEN when one is set', async () => {
    const server = await startServer({ metricsToken: 'scrape-me-please' });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-me-please' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('trellis_graphql_operations_total');
    } finally {
      await server.close();
    }
  });

  it('writes one access log line per request with its request id, never headers or bodies', async () => {
    const server = await startServer();
    try {
      const secret = 'very-secret-password-123';
      const res = await fetch(`${server.url}/graphql?probe=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-real-token-abc', 'x-request-id': 'trace-42' },
        body: JSON.stringify({ query: `mutation { login(email: "x@example.test", password: "${secret}") { token } }` }),
      });
      expect(res.headers.get('x-request-id')).toBe('trace-42');
      await res.text();
      await fetch(`${server.url}/readyz`);
      await waitFor(async () => server.logs.some((l) => JSON.parse(l).msg === 'http request'));
      const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'http request');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        requestId: 'trace-42',
        req: { method: 'POST', path: '/graphql' },
        res: { statusCode: 401 },
      });
      expect(typeof lines[0].ms).toBe('number');
      const all = server.logs.join('\n');
      expect(all).not.toContain(secret);
      expect(all).not.toContain('not-a-real-token-abc');
      expect(all).not.toContain('probe=1');
    } finally {
      await server.close();
    }
  });

  it('logs a request whose client hung up before its answer as aborted, at warn, and counts it in no metric', async () => {
    const server = await startServer();
    try {
      const { port } = new URL(server.url);
      // The body is announced longer than what is sent: the server is still reading it when the client leaves.
      await new Promise<void>((resolve, reject) => {
        const socket = connectTcp(Number(port), '127.0.0.1', () => {
          socket.write('POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n');
          socket.write('x-request-id: gone-early\r\ncontent-length: 100\r\n\r\n{"query":');
          setTimeout(() => socket.destroy(), 100);
        });
        socket.once('close', () => resolve());
        socket.once('error', reject);
      });
      await waitFor(() => server.logs.some((l) => JSON.parse(l).requestId === 'gone-early'));
      const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => l.requestId === 'gone-early');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 40, msg: 'http request aborted', req: { method: 'POST', path: '/graphql' } });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).not.toMatch(/trellis_http_request_duration_seconds_count\{[^}]*method="POST"/);
    } finally {
      await server.close();
    }
  });
});

async function waitFor(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MAIN = new URL('../dist/src/main.js', import.meta.url).pathname;
const MIGRATE = new URL('../dist/src/scripts/migrate.js', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(script: string, args: string[], vars: Record<string, string>, onLine?: (line: string, kill: () => void) => void) {
  const proc = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (chunk: Buffer) => {
    output += String(chunk);
    if (onLine) for (const line of String(chunk).split('\n').filter(Boolean)) onLine(line, () => proc.kill('SIGTERM'));
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    proc.once('exit', (code) => resolve({ code, output })),
  );
}

describe.skipIf(!existsSync(MAIN))('the shipped scripts', () => {
  it('refuses a bad configuration before opening the database, naming the variable', async () => {
    // An unreachable database: the refusal must come first.
    const bad = await run(MAIN, [], { JWT_TTL: 'abc', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('JWT_TTL');
    expect(bad.output).not.toMatch(/ECONNREFUSED/);
    const prod = await run(MAIN, [], { NODE_ENV: 'production', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(prod.code).toBe(1);
    expect(prod.output).toContain('JWT_SECRET: must be set in production');
  });

  it('node dist/src/main.js exits 0 on SIGTERM', async () => {
    const done = await run(MAIN, [], { DATA_DIR: 'memory://', RENEWAL_INTERVAL_MS: '0' }, (line, kill) => {
      if (line.includes('trellis is listening')) kill();
    });
    expect(done.code).toBe(0);
    expect(done.output).toContain('shutdown complete');
  });

  it('npm start passes SIGTERM on to the server, which drains and exits 0 (no orphaned node)', { timeout: 120_000 }, async () => {
    // npm signals only its own child: with a shell in between, node was left running after npm had exited.
    const proc = spawn('npm', ['start', '--silent'], {
      cwd: new URL('..', import.meta.url).pathname,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: 'memory://',
        RENEWAL_INTERVAL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += String(chunk);
        if (output.includes('trellis is listening')) resolve();
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', () => reject(new Error(output)));
    });
    const url = JSON.parse(output.split('\n').find((l) => l.includes('trellis is listening'))!).url.replace(/\/graphql$/, '');
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutdown complete');
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  });

  it('npm run migrate -- status|up, and MIGRATE_ON_START=false refusing pending migrations', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-migrate-'));
    dirs.push(dataDir);
    const vars = { DATA_DIR: dataDir, RENEWAL_INTERVAL_MS: '0' };
    const refused = await run(MAIN, [], { ...vars, MIGRATE_ON_START: 'false' });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('npm run migrate -- up');

    const before = await run(MIGRATE, ['status'], vars);
    expect(before.code).toBe(0);
    expect(before.output).toMatch(/0 applied, \d+ pending \(pglite\)/);
    const up = await run(MIGRATE, ['up'], vars);
    expect(up.code).toBe(0);
    expect(up.output).toMatch(/applied \d+: Migration20261121000000_foundation/);
    const after = await run(MIGRATE, ['status'], vars);
    expect(after.output).toMatch(/\d+ applied, 0 pending/);
    expect((await run(MIGRATE, ['sideways'], vars)).code).toBe(2);

    const started = await run(MAIN, [], { ...vars, MIGRATE_ON_START: 'false' }, (line, kill) => {
      if (line.includes('trellis is listening')) kill();
    });
    expect(started.code).toBe(0);
  });
});
