import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { periodAt } from '../src/billing/invoices.js';
import { numberProblemsSql } from './support/dids.js';
import { connect, query } from './support/ws.js';
import { ownDatabase } from './support/harness.js';

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
      // A database of its own: empty at the start, and its processes' schedulers see no other file's platforms.
      const own = (await ownDatabase())!;
      const url = new URL(own.url);
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
        await own.drop();
      }
    },
  );

  it.skipIf(!inject('adminDatabaseUrl'))(
    'a server killed with SIGKILL mid-renewal-run, then restarted, charges every period exactly once',
    async () => {
      // A database of its own: empty at the start, and its processes' schedulers see no other file's platforms.
      const own = (await ownDatabase())!;
      const url = new URL(own.url);
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
        await own.drop();
      }
    },
  );

  it.skipIf(!inject('adminDatabaseUrl'))(
    'a server killed with SIGKILL mid-renewal-run over chains holding numbers, then restarted: numbers and chains consistent, every period charged once',
    async () => {
      // A database of its own: empty at the start, and its processes' schedulers see no other file's platforms.
      const own = (await ownDatabase())!;
      const url = new URL(own.url);
      const env = {
        DATABASE_URL: url.toString(),
        ADMIN_EMAIL: 'ops@example.test',
        ADMIN_PASSWORD: 'a-real-password',
        JWT_SECRET: 's'.repeat(40),
        INVOICE_INTERVAL_MS: '0',
      };
      const db = new pg.Client({ connectionString: url.toString() });
      // Chains copied per group: several renewal batches (500 chains each) per group.
      const GROUP = 1500;
      const HOUR = 3_600_000;
      // Every process started, so that a failure part-way leaves none running against the dropped database.
      const started: Running[] = [];
      const launch = async (vars: Record<string, string>) => {
        const running = await start(vars);
        started.push(running);
        return running;
      };
      try {
        // Through the API, with no scheduler: a daily line with two numbers, a 48-hour retry window and a one-day
        // hold; a customer who can pay and one who cannot, each with a chain whose first day ended 12 hours ago
        // and its two numbers claimed.
        const setup = await launch({ ...env, RENEWAL_INTERVAL_MS: '0' });
        const token = (await gql(setup.url, LOGIN, { e: 'ops@example.test', p: 'a-real-password' })).data.login.token;
        const call = async (query: string, variables: object = {}) => {
          const result = await gql(setup.url, query, variables, token);
          if (result.errors) throw new Error(JSON.stringify(result.errors));
          return result.data;
        };
        const pkg = (
          await call(
            `mutation { createPackage(input: { name: "Line", price: "0.01", billingDays: 1, releaseIfNoBalance: true,
               renewRetryHours: 48, didQuantity: 2, didHoldDays: 1 }) { id } }`,
          )
        ).createPackage.id;
        await call(`mutation { addDids(input: { numbers: ["1000", "1001", "1002", "1003"] }) { id } }`);
        const startAt = new Date(Date.now() - 36 * HOUR).toISOString();
        const customer = async (name: string, funds: string) => {
          const id = (await call(`mutation { createAccount(input: { kind: CUSTOMER, name: "${name}" }) { id } }`)).createAccount
            .id;
          await call('mutation($a: ID!, $m: Money!) { topUp(input: { accountId: $a, amount: $m }) { id } }', {
            a: id,
            m: funds,
          });
          const chain = (
            await call(
              'mutation($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }',
              { a: id, p: pkg, s: startAt },
            )
          ).assignPackage;
          for (let k = 0; k < 2; k++) await call('mutation($s: ID!) { claimDid(subscriptionId: $s) { id } }', { s: chain.id });
          return { id: id as string, chain: chain.id as string, boundary: new Date(chain.currentPeriodEnd) };
        };
        const rich = await customer('Rich', '100');
        const short = await customer('Short', '0.01');
        setup.proc.kill('SIGTERM');
        await setup.exited;

        // ...and many more in SQL, each its own chain with its two numbers: the payer's PAST_DUE since 12 hours
        // ago, numbers on hold (paid by the run: assigned again); the other's ACTIVE like its template (past due
        // by the run: numbers on hold from the boundary); and its PAST_DUE since 30 hours ago, whose numbers'
        // hold ended 6 hours ago (released by the run at its boundary: numbers freed).
        await db.connect();
        const copy = (template: string, tag: string, status: string, earlier: string) =>
          db.query(
            `insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                                current_period_start, current_period_end, periods_charged, free_seconds_total)
             select 'sub_' || md5($2 || g), s.account_id, s.owner_path, s.package_id, 'sub_' || md5($2 || g), 0, $3,
                    s.activated_at - $4::interval, s.current_period_start - $4::interval, s.current_period_end - $4::interval, 1, 0
               from package_subscriptions s, generate_series(1, $5::int) g where s.id = $1`,
            [template, tag, status, earlier, GROUP],
          );
        await copy(rich.chain, 'paying:', 'PAST_DUE', '0 hours');
        await copy(short.chain, 'lapsing:', 'ACTIVE', '0 hours');
        await copy(short.chain, 'ended:', 'PAST_DUE', '18 hours');
        await db.query(`
          insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee, price,
                                            commission_rate, commission, charged_at)
          select s.id, 1, s.owner_path, s.current_period_start, s.current_period_end, 0, 0.01, 0, 0, now()
            from package_subscriptions s where not exists (select 1 from subscription_periods p where p.subscription_id = s.id)`);
        const [root] = (await db.query(`select id from accounts where kind = 'ADMIN'`)).rows;
        await db.query(
          `insert into dids (id, root_id, number, status, account_id, subscription_id, owner_path, assigned_at, hold_until)
           select 'did_' || md5(s.id || k), $1, (5000000000 + row_number() over (order by s.id, k))::text,
                  case when s.status = 'PAST_DUE' then 'ON_HOLD' else 'ASSIGNED' end, s.account_id, s.id, s.owner_path,
                  s.activated_at, case when s.status = 'PAST_DUE' then s.current_period_end + interval '1 day' end
             from package_subscriptions s cross join generate_series(0, 1) k
            where not exists (select 1 from dids d where d.subscription_id = s.id)`,
          [root.id],
        );
        const chains = GROUP * 3 + 2;
        expect(Number((await db.query(`select count(*)::int as n from dids`)).rows[0].n)).toBe(chains * 2);

        /** Chains the run has moved: paid, past due from ACTIVE, released. */
        const moved = async () =>
          Number(
            (
              await db.query(
                `select count(*)::int as n from package_subscriptions
                  where periods_charged = 2 or status = 'RELEASED' or (status = 'PAST_DUE' and current_period_end = $1)`,
                [short.boundary],
              )
            ).rows[0].n,
          );
        const inFlight = async () =>
          Number(
            (
              await db.query(
                `select count(*)::int as n from pg_stat_activity
                  where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`,
              )
            ).rows[0].n,
          );
        const problems = (asOf: string) => db.query(NUMBER_PROBLEMS, [root.id, asOf]).then((r) => r.rows);

        // The scheduler starts the run; it is killed part-way, with a batch's transaction open as far as one can tell.
        const doomed = await launch({ ...env, RENEWAL_INTERVAL_MS: '50' });
        for (let i = 0; i < 1000 && ((await moved()) < 1000 || (await inFlight()) === 0); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        doomed.proc.kill('SIGKILL');
        await doomed.exited;
        const atKill = await moved();
        expect(atKill, 'chains the killed run moved').toBeGreaterThan(0);
        expect(atKill).toBeLessThan(chains);
        // Whatever was committed, a chain and its numbers moved together (holds that ended may await the next run).
        expect(await problems('-infinity')).toEqual([]);

        // A new instance finishes the job.
        const survivor = await launch({ ...env, RENEWAL_INTERVAL_MS: '50' });
        try {
          const counts = async () =>
            (
              await db.query(
                `select (select count(*)::int from package_subscriptions where account_id = $1 and status = 'ACTIVE' and periods_charged = 2) as paid,
                        (select count(*)::int from package_subscriptions where account_id = $2 and status = 'PAST_DUE') as past_due,
                        (select count(*)::int from package_subscriptions where account_id = $2 and status = 'RELEASED') as released,
                        (select count(*)::int from dids where status = 'ASSIGNED') as assigned,
                        (select count(*)::int from dids where status = 'ON_HOLD') as on_hold,
                        (select count(*)::int from dids where status = 'AVAILABLE') as available`,
                [rich.id, short.id],
              )
            ).rows[0];
          // The payer's chains paid with their numbers assigned; the other's lapsing ones past due, numbers on hold; its
          // ended ones released, numbers back in the stock.
          const expected = {
            paid: GROUP + 1,
            past_due: GROUP + 1,
            released: GROUP,
            assigned: (GROUP + 1) * 2,
            on_hold: (GROUP + 1) * 2,
            available: GROUP * 2,
          };
          for (let i = 0; i < 600 && JSON.stringify(await counts()) !== JSON.stringify(expected); i++) {
            await new Promise((r) => setTimeout(r, 50));
          }
          expect(await counts()).toEqual(expected);
          // A few more runs change nothing.
          await new Promise((r) => setTimeout(r, 300));
          expect(await counts()).toEqual(expected);
          expect(survivor.lines.filter((l) => /"level":50/.test(l))).toEqual([]);
        } finally {
          survivor.proc.kill('SIGTERM');
          await survivor.exited;
        }

        expect(await problems(new Date().toISOString())).toEqual([]);
        const { rows: details } = await db.query(
          `select (select count(*)::int from dids d join package_subscriptions s on s.id = d.subscription_id
                    where d.status = 'ON_HOLD' and d.hold_until <> $2::timestamptz + interval '1 day') as holds_elsewhere,
                  (select count(*)::int from package_subscriptions where status = 'RELEASED' and ended_at <> current_period_end) as released_elsewhere,
                  (select count(*)::int from package_subscriptions s
                    where (select count(*) from subscription_periods p where p.subscription_id = s.id) <> s.periods_charged) as periods_off,
                  (select count(*)::int from ledger_entries where kind = 'RENEWAL_FEE') as fees,
                  (select count(*)::int from (select subscription_id, description from ledger_entries where kind = 'RENEWAL_FEE'
                                               group by 1, 2 having count(*) > 1) x) as twice,
                  (select balance::text from accounts where id = $1) as balance,
                  (select sum(amount)::text from ledger_entries where account_id = $1) as ledger`,
          [rich.id, short.boundary],
        );
        // Held from the boundary the lapsing chains went past due at; released at their own boundary; a period row
        // for each period charged; one renewal for each paying chain; 100 - 0.01 for the first day - 0.01 each.
        expect(details[0]).toEqual({
          holds_elsewhere: 0,
          released_elsewhere: 0,
          periods_off: 0,
          fees: GROUP + 1,
          twice: 0,
          balance: '84.980000',
          ledger: '84.980000',
        });
      } finally {
        for (const p of started) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
        await Promise.all(started.map((p) => p.exited));
        await db.end().catch(() => undefined);
        await own.drop();
      }
    },
    120_000,
  );

  it.skipIf(!inject('adminDatabaseUrl'))(
    'a server killed with SIGKILL mid-invoice-run, then restarted, issues every invoice exactly once, numbered without gaps',
    async () => {
      // A database of its own: empty at the start, and its processes' schedulers see no other file's platforms.
      const own = (await ownDatabase())!;
      const url = new URL(own.url);
      const env = {
        DATABASE_URL: url.toString(),
        ADMIN_EMAIL: 'ops@example.test',
        ADMIN_PASSWORD: 'a-real-password',
        JWT_SECRET: 's'.repeat(40),
        RENEWAL_INTERVAL_MS: '0',
      };
      const db = new pg.Client({ connectionString: url.toString() });
      // Customers under each of two resellers (invoices are issued in batches of 200 accounts per transaction).
      const CUSTOMERS = [3200, 800];
      try {
        // Migrations, the admin, two resellers and a customer under each through the API, with no scheduler...
        const setup = await start({ ...env, INVOICE_INTERVAL_MS: '0' });
        const token = (await gql(setup.url, LOGIN, { e: 'ops@example.test', p: 'a-real-password' })).data.login.token;
        const create = async (input: string) =>
          (await gql(setup.url, `mutation { createAccount(input: { ${input} }) { id } }`, {}, token)).data.createAccount
            .id as string;
        const resellers = [await create('kind: RESELLER, name: "R1"'), await create('kind: RESELLER, name: "R2"')];
        const templates = [
          await create(`kind: CUSTOMER, name: "C1", parentId: "${resellers[0]}"`),
          await create(`kind: CUSTOMER, name: "C2", parentId: "${resellers[1]}"`),
        ];
        setup.proc.kill('SIGTERM');
        await setup.exited;
        // ...then many more customers like them in SQL, each with five entries in ended periods.
        await db.connect();
        await db.query('begin');
        await db.query('set local session_replication_role = replica');
        for (const [i, template] of templates.entries()) await copyInvoiceCustomers(db, template, CUSTOMERS[i]);
        await seedInvoiceEntries(db);
        await db.query('commit');

        // One invoice per (account, period) holding an entry, as periodAt places the entries.
        const entries = (
          await db.query<{
            id: string;
            account_id: string;
            parent_id: string;
            created_at: Date;
            billing_day: number;
            timezone: string;
          }>(
            `select e.id, e.account_id, a.parent_id, e.created_at, a.billing_day, a.timezone
               from ledger_entries e join accounts a on a.id = e.account_id`,
          )
        ).rows;
        // The two templates got entries too.
        expect(entries).toHaveLength((CUSTOMERS[0] + CUSTOMERS[1] + templates.length) * 5);
        const periodOf = new Map<string, string>();
        const expected = new Map<string, string>();
        for (const e of entries) {
          const period = periodAt(e.created_at, { billingDay: e.billing_day, timezone: e.timezone });
          const key = `${e.account_id} ${period.start.toISOString()} ${period.end.toISOString()}`;
          periodOf.set(e.id, key);
          expected.set(key, e.parent_id);
        }
        const total = expected.size;
        const invoices = async () => Number((await db.query(`select count(*)::int as n from invoices`)).rows[0].n);
        /** Each issuer's numbers so far: 1..n without gap or repeat, and its sequence at n. */
        const numbering = async () =>
          (
            await db.query<{ issuer_id: string; n: number; gapless: boolean; last_number: number | null }>(
              `select i.issuer_id, count(*)::int as n,
                      count(distinct i.sequence_number) = count(*) and min(i.sequence_number) = 1
                        and max(i.sequence_number) = count(*)
                        and bool_and(i.number = 'INV-' || lpad(i.sequence_number::text, 6, '0')) as gapless,
                      (select s.last_number from invoice_sequences s where s.issuer_id = i.issuer_id) as last_number
                 from invoices i group by i.issuer_id order by i.issuer_id`,
            )
          ).rows;

        // The scheduler starts issuing; it is killed part-way.
        const doomed = await start({ ...env, INVOICE_INTERVAL_MS: '50' });
        // Killed with a batch's transaction open, as far as one can tell from outside.
        const inFlight = async () =>
          Number(
            (
              await db.query(
                `select count(*)::int as n from pg_stat_activity
                  where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`,
              )
            ).rows[0].n,
          );
        for (let i = 0; i < 1000 && ((await invoices()) < total / 5 || (await inFlight()) === 0); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        doomed.proc.kill('SIGKILL');
        await doomed.exited;
        const atKill = await invoices();
        expect(atKill, 'invoices the scheduler issued before the kill').toBeGreaterThan(0);
        expect(atKill).toBeLessThan(total);
        // What the killed run had not committed was rolled back with its numbers: no gap so far either.
        for (const issuer of await numbering()) expect(issuer).toMatchObject({ gapless: true, last_number: issuer.n });

        // A new instance finishes the job.
        const survivor = await start({ ...env, INVOICE_INTERVAL_MS: '50' });
        try {
          for (let i = 0; i < 1200 && (await invoices()) < total; i++) await new Promise((r) => setTimeout(r, 50));
          expect(await invoices()).toBe(total);
          // A few more runs find nothing left to issue.
          await new Promise((r) => setTimeout(r, 300));
          expect(await invoices()).toBe(total);
          expect(survivor.lines.filter((l) => /"level":50/.test(l))).toEqual([]);
        } finally {
          survivor.proc.kill('SIGTERM');
          await survivor.exited;
        }

        const issued = (
          await db.query<{ account_id: string; period_start: Date; period_end: Date; issuer_id: string }>(
            `select account_id, period_start, period_end, issuer_id from invoices`,
          )
        ).rows;
        const keys = issued.map((i) => `${i.account_id} ${i.period_start.toISOString()} ${i.period_end.toISOString()}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.sort()).toEqual([...expected.keys()].sort());
        for (const i of issued) {
          expect(i.issuer_id).toBe(expected.get(`${i.account_id} ${i.period_start.toISOString()} ${i.period_end.toISOString()}`));
        }
        expect(await numbering()).toEqual(
          resellers
            .map((r) => {
              const n = [...expected.values()].filter((parent) => parent === r).length;
              return { issuer_id: r, n, gapless: true, last_number: n };
            })
            .sort((a, b) => (a.issuer_id < b.issuer_id ? -1 : 1)),
        );
        // Every entry is on one invoice, the one of its period: none on two, none left out.
        const held = (
          await db.query<{ ledger_entry_id: string; holders: number; account_id: string; period_start: Date; period_end: Date }>(
            `select ie.ledger_entry_id, count(*) over (partition by ie.ledger_entry_id)::int as holders, i.account_id,
                    i.period_start, i.period_end
               from invoice_entries ie join invoices i on i.id = ie.invoice_id`,
          )
        ).rows;
        expect(held.filter((h) => h.holders !== 1)).toEqual([]);
        const holderOf = new Map(
          held.map((h) => [h.ledger_entry_id, `${h.account_id} ${h.period_start.toISOString()} ${h.period_end.toISOString()}`]),
        );
        expect(holderOf.size).toBe(entries.length);
        for (const [entryId, key] of periodOf) expect(holderOf.get(entryId), entryId).toBe(key);
      } finally {
        await db.end().catch(() => undefined);
        await own.drop();
      }
    },
    180_000,
  );
});

/** Calendars the seeded customers cycle through: billing days 1-28 in zones with and without DST changes. */
const TIMEZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];

/** `count` copies of an API-made customer, under the same parent: only id, number, name, email, path and calendar differ. */
async function copyInvoiceCustomers(db: pg.Client, templateId: string, count: number): Promise<void> {
  const columns = (
    await db.query<{ c: string }>(
      `select column_name as c from information_schema.columns
        where table_schema = 'public' and table_name = 'accounts' and column_name <> 'seq' order by ordinal_position`,
    )
  ).rows.map((r) => r.c);
  const newId = `'acc_' || md5($1::text || ':' || g)`;
  const override: Record<string, string> = {
    id: newId,
    number: `(1000000000 + (select count(*) from accounts) + g)::text`,
    name: `'Customer ' || g`,
    email: `md5($1::text || ':' || g) || '@example.test'`,
    path: `replace(t.path, t.id, ${newId})`,
    billing_day: `1 + g % 28`,
    timezone: `($3::text[])[1 + g % ${TIMEZONES.length}]`,
    balance: '0',
    created_at: `now() - interval '90 days'`,
  };
  await db.query(
    `insert into accounts (${columns.join(', ')})
     select ${columns.map((c) => override[c] ?? `t.${c}`).join(', ')} from accounts t, generate_series(1, $2::int) g where t.id = $1`,
    [templateId, count, TIMEZONES],
  );
}

/**
 * Five entries for each customer that has none, 33 to 63 days old (so every period holding one has ended), with a
 * running balance_after in time order and the balance set to their sum (balance == sum(ledger), DOMAIN.md 2).
 */
async function seedInvoiceEntries(db: pg.Client): Promise<void> {
  await db.query(
    `with kinds(n, kind, amount, direction, calls, seconds) as (
       values (0, 'TOPUP', 20.0, null, null, null), (1, 'USAGE', -0.75, 'OUTBOUND', 3, 180),
              (2, 'ADJUSTMENT', -1.5, null, null, null), (3, 'USAGE', -0.3, 'INBOUND', 1, 60), (4, 'TOPUP', 5.0, null, null, null)
     ), e as (
       select 'led_' || md5(a.id || ':' || x) as id, a.id as account_id, a.path, k.kind, k.amount, k.direction, k.calls, k.seconds,
              date_trunc('milliseconds', now()) - interval '33 days' - x * interval '6 days'
                - ((a.seq * 7 + x * 13) % 1440) * interval '1 minute' as created_at
         from accounts a cross join generate_series(0, 4) x join kinds k on k.n = (x + a.seq) % 5
        where a.kind = 'CUSTOMER' and not exists (select 1 from ledger_entries l where l.account_id = a.id)
     )
     insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, created_at, call_direction,
                                 call_count, billed_seconds)
     select id, account_id, path, amount, sum(amount) over (partition by account_id order by created_at), kind, 'seeded',
            created_at, direction, calls, seconds
       from e order by account_id, created_at`,
  );
  await db.query(
    `update accounts a set balance = s.total
       from (select account_id, sum(amount) as total from ledger_entries group by account_id) s where s.account_id = a.id`,
  );
}

const NUMBER_PROBLEMS = numberProblemsSql('$1', '$2');
