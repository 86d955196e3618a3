import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { connect, query } from './support/ws.js';

/**
 * The shipped entry point, as `npm start` runs it: a separate Node process configured only by environment
 * variables. Needs a build (`npm test` builds first).
 */
const MAIN = new URL('../dist/src/main.js', import.meta.url).pathname;

interface Running {
  proc: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Promise<Running> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${lines.join('\n')}`)), 60_000);
    const onData = (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(line);
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'trellis is listening') {
            clearTimeout(timer);
            resolve({ proc, url: entry.url.replace(/\/graphql$/, ''), lines, exited });
          }
        } catch {
          /* not JSON: kept in lines for the failure message */
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

async function gql(url: string, query: string, variables?: object, token?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json() as Promise<{ data?: any; errors?: any[] }>;
}

const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token account { id kind } } }';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.skipIf(!existsSync(MAIN))('the server process', () => {
  it('starts on the embedded database, drains on SIGTERM, and keeps its data across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-data-'));
    dirs.push(dataDir);
    const first = await start({ DATA_DIR: dataDir });
    const logs = () => first.lines.map((l) => JSON.parse(l));
    expect(logs().some((l) => l.level === 40 && /ADMIN_EMAIL\/ADMIN_PASSWORD/.test(l.msg))).toBe(true);
    expect(logs().some((l) => l.level === 40 && /JWT_SECRET/.test(l.msg))).toBe(true);

    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'pglite' });

    const login = await gql(first.url, LOGIN, { e: 'admin@example.com', p: 'admin' });
    expect(login.data.login.account.kind).toBe('ADMIN');
    const token = login.data.login.token;
    const created = await gql(first.url, 'mutation { createAccount(input: { kind: RESELLER, name: "Kept" }) { id } }', {}, token);
    const keptId = created.data.createAccount.id;

    const { client, acked, closed } = connect(first.url, `Bearer ${token}`);
    await acked;
    expect((await query(client, '{ me { id } }')).data.me.id).toBe(login.data.login.account.id);

    first.proc.kill('SIGTERM');
    expect((await closed).code).toBe(1001);
    expect(await first.exited).toBe(0);
    expect(logs().some((l) => l.msg === 'shutdown complete')).toBe(true);
    expect(first.lines.join('\n')).not.toContain(token);
    await client.dispose();

    const second = await start({ DATA_DIR: dataDir });
    try {
      const again = await gql(second.url, LOGIN, { e: 'admin@example.com', p: 'admin' });
      const listed = await gql(second.url, '{ accounts { totalCount edges { node { id name } } } }', {}, again.data.login.token);
      expect(listed.data.accounts).toEqual({ totalCount: 1, edges: [{ node: { id: keptId, name: 'Kept' } }] });
      // The root was created once, on the first start only.
      expect(second.lines.some((l) => /created the root admin/.test(l))).toBe(false);
    } finally {
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it.skipIf(!inject('adminDatabaseUrl'))(
    'on PostgreSQL, two instances start at once on one empty database: one root, shared tokens, events across processes',
    async () => {
      const adminUrl = inject('adminDatabaseUrl');
      const name = `trellis_proc_${Date.now()}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const env = {
        DATABASE_URL: url.toString(),
        ADMIN_EMAIL: 'ops@example.test',
        ADMIN_PASSWORD: 'a-real-password',
        JWT_SECRET: 'shared-secret-for-both-instances',
      };
      const [a, b] = await Promise.all([start(env), start(env)]);
      try {
        expect(a.lines.some((l) => /default ADMIN_EMAIL/.test(l))).toBe(false);
        expect((await (await fetch(`${b.url}/healthz`)).json()).database).toBe('postgresql');
        const login = await gql(a.url, LOGIN, { e: 'ops@example.test', p: 'a-real-password' });
        // A token from one instance works on the other: instances are stateless.
        const me = await gql(b.url, '{ me { id kind } }', {}, login.data.login.token);
        expect(me.data.me).toEqual({ id: login.data.login.account.id, kind: 'ADMIN' });
        // A change made through one process reaches a subscriber connected to the other.
        const customer = await gql(
          a.url,
          'mutation { createAccount(input: { kind: CUSTOMER, name: "Live" }) { id } }',
          {},
          login.data.login.token,
        );
        const customerId = customer.data.createAccount.id;
        const { client, acked } = connect(b.url, `Bearer ${login.data.login.token}`);
        await acked;
        const event = new Promise<any>((resolve) => {
          client.subscribe(
            {
              query: 'subscription($id: ID) { balanceChanged(accountId: $id) { delta kind account { id } } }',
              variables: { id: customerId },
            },
            { next: (v) => resolve(v), error: resolve, complete: () => undefined },
          );
        });
        await query(client, '{ me { id } }');
        await gql(
          a.url,
          'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "12.5" }) { id } }',
          { id: customerId },
          login.data.login.token,
        );
        expect((await event).data.balanceChanged).toEqual({ delta: '12.5', kind: 'TOPUP', account: { id: customerId } });
        await client.dispose();

        const db = new pg.Client({ connectionString: url.toString() });
        await db.connect();
        const { rows } = await db.query(`select count(*)::int as n from accounts where kind = 'ADMIN'`);
        await db.end();
        expect(rows[0].n).toBe(1);
      } finally {
        a.proc.kill('SIGTERM');
        b.proc.kill('SIGTERM');
        await Promise.all([a.exited, b.exited]);
        await admin.query(`drop database if exists ${name} with (force)`);
        await admin.end();
      }
    },
  );

  it.skipIf(!inject('adminDatabaseUrl'))(
    'a server killed with SIGKILL mid-renewal-run, then restarted, charges every period exactly once',
    async () => {
      const adminUrl = inject('adminDatabaseUrl');
      const name = `trellis_kill_${Date.now()}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const env = {
        DATABASE_URL: url.toString(),
        ADMIN_EMAIL: 'ops@example.test',
        ADMIN_PASSWORD: 'a-real-password',
        JWT_SECRET: 's'.repeat(40),
      };
      const db = new pg.Client({ connectionString: url.toString() });
      const CHAINS = 3000;
      try {
        // Set up through the API with the scheduler off: one customer holding one backdated daily subscription.
        const setup = await start({ ...env, RENEWAL_INTERVAL_MS: '0' });
        const token = (await gql(setup.url, LOGIN, { e: 'ops@example.test', p: 'a-real-password' })).data.login.token;
        const c = (await gql(setup.url, 'mutation { createAccount(input: { kind: CUSTOMER, name: "Many" }) { id } }', {}, token))
          .data.createAccount.id;
        const pkg = (
          await gql(
            setup.url,
            'mutation { createPackage(input: { name: "Daily", price: "0.01", billingDays: 1, activationPolicy: ALLOW_IF_INSUFFICIENT }) { id } }',
            {},
            token,
          )
        ).data.createPackage.id;
        const startAt = new Date(Date.now() - 4.5 * 86_400_000).toISOString();
        await gql(
          setup.url,
          'mutation($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id } }',
          { a: c, p: pkg, s: startAt },
          token,
        );
        setup.proc.kill('SIGTERM');
        await setup.exited;
        // ...and many more like it, copied in SQL (each its own chain, charged for its first period).
        await db.connect();
        await db.query(
          `
        insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                           current_period_start, current_period_end, periods_charged, free_seconds_total)
        select 'sub_' || md5(g::text), s.account_id, s.owner_path, s.package_id, 'sub_' || md5(g::text), 0, 'ACTIVE', s.activated_at,
               s.current_period_start, s.current_period_end, 1, 0
          from package_subscriptions s, generate_series(2, $1) g`,
          [CHAINS],
        );
        await db.query(`
        insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee, price,
                                          commission_rate, commission, charged_at)
        select s.id, 1, s.owner_path, s.current_period_start, s.current_period_end, 0, 0.01, 0, 0, now()
          from package_subscriptions s where s.id like 'sub_%' and not exists (select 1 from subscription_periods p where p.subscription_id = s.id)`);
        const periods = async () => Number((await db.query(`select count(*)::int as n from subscription_periods`)).rows[0].n);
        expect(await periods()).toBe(CHAINS);

        // The scheduler starts renewing 4 periods per chain; it is killed part-way.
        const doomed = await start({ ...env, RENEWAL_INTERVAL_MS: '50' });
        for (let i = 0; i < 400 && (await periods()) < CHAINS + 1000; i++) await new Promise((r) => setTimeout(r, 10));
        doomed.proc.kill('SIGKILL');
        await doomed.exited;
        const atKill = await periods();
        expect(atKill).toBeGreaterThan(CHAINS);
        expect(atKill).toBeLessThan(CHAINS * 5);

        // A new instance finishes the job.
        const survivor = await start({ ...env, RENEWAL_INTERVAL_MS: '50' });
        try {
          for (let i = 0; i < 600 && (await periods()) < CHAINS * 5; i++) await new Promise((r) => setTimeout(r, 50));
          expect(await periods()).toBe(CHAINS * 5);
          const { rows } = await db.query(
            `
          select (select count(*)::int from package_subscriptions where periods_charged <> 5) as behind,
                 (select count(*)::int from ledger_entries where kind = 'RENEWAL_FEE') as fees,
                 (select balance::text from accounts where id = $1) as balance,
                 (select sum(amount)::text from ledger_entries where account_id = $1) as ledger`,
            [c],
          );
          // The API-made chain paid its first period (0.01); the copies were seeded as paid. Then 4 renewals each.
          expect(rows[0]).toEqual({ behind: 0, fees: CHAINS * 4, balance: '-120.010000', ledger: '-120.010000' });
        } finally {
          survivor.proc.kill('SIGTERM');
          await survivor.exited;
        }
      } finally {
        await db.end().catch(() => undefined);
        await admin.query(`drop database if exists ${name} with (force)`);
        await admin.end();
      }
    },
  );
});
