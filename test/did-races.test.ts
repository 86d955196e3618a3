// Phone numbers under the races renewals already face (DOMAIN.md 12, 6, 10): several instances renew the same
// past-due chains at the same instants while top-ups, terminations and purchases of the package again arrive, and a
// run catches up a period a chain missed. Every number must end in one state its holder can make sense of, and every
// period be charged once.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { systemEm } from '../src/db/orm.js';
import type { RenewalReport } from '../src/services/renewal.service.js';
import {
  createPlatform,
  ENGINE,
  errorCode,
  ledgerMismatches,
  pg,
  sql,
  startServer,
  type GqlResult,
  type TestServer,
} from './support/harness.js';
import { numberProblemsSql } from './support/dids.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (t: number) => new Date(t).toISOString();

const ADD = `mutation ($input: AddDidsInput!) { addDids(input: $input) { id } }`;
const PACKAGE = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id } }`;
const ASSIGN = `mutation ($a: ID!, $p: ID!, $s: DateTime) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }`;
const CLAIM = `mutation ($s: ID!) { claimDid(subscriptionId: $s) { number } }`;
const PURCHASE = `mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id status } }`;
const TERMINATE = `mutation ($id: ID!) { terminateSubscription(id: $id) { status } }`;
const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed released pastDue activated didsFreed } }`;
const SUB_DIDS = `query ($id: ID!) { packageSubscription(id: $id) { status periodsCharged currentPeriodEnd dids { number status holdUntil } } }`;
const MY_DIDS = `{ dids(first: 10) { edges { node { number status subscription { id } } } } }`;

type Report = Omit<RenewalReport, 'expired'>;

const NUMBER_PROBLEMS = numberProblemsSql('?', '?');

const numberProblems = (rootId: string, asOf: number) => sql(server, NUMBER_PROBLEMS, [rootId, iso(asOf)]);

interface Customer extends Node {
  /** The chain bought first (its level-0 subscription's id). */
  chain: string;
  /** The two numbers it claimed. */
  numbers: string[];
}

/**
 * A platform selling a daily 5.00 line with two numbers, a 48-hour retry window and a one-day hold, and `count`
 * customers who paid its first day from `funds` (3.00 left by default) and claimed their two numbers; then a run
 * at the boundary T made every chain PAST_DUE, so each customer's numbers are ON_HOLD until T + 1 day. T is 23
 * hours ago: runRenewals reaches T + 1 day and a little more.
 */
async function pastDueLines(count: number, pkgInput: Record<string, unknown> = {}, funds = '8') {
  const p = await createPlatform(server);
  const root: Node = { id: p.id, token: p.token, email: p.email };
  // A third more than are claimed: claims take the lowest, and stock left over shows none of it moved.
  const stock = Array.from({ length: count * 3 }, (_, i) => String(442071000000 + i));
  await server.ok(ADD, { input: { numbers: stock, tags: ['line'] } }, root.token);
  const { createPackage } = await server.ok(
    PACKAGE,
    {
      input: {
        name: 'Line',
        price: '5',
        billingDays: 1,
        releaseIfNoBalance: true,
        renewRetryHours: 48,
        didQuantity: 2,
        didHoldDays: 1,
        ...pkgInput,
      },
    },
    root.token,
  );
  const start = iso(Date.now() - 47 * HOUR);
  const customers: (Customer & { T: number })[] = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: `Line ${i}` });
      await topUp(server, root.token, c.id, funds);
      const { assignPackage } = await server.ok(ASSIGN, { a: c.id, p: createPackage.id, s: start }, root.token);
      const numbers: string[] = [];
      for (let k = 0; k < 2; k++) numbers.push((await server.ok(CLAIM, { s: assignPackage.id }, c.token)).claimDid.number);
      return { ...c, chain: assignPackage.id, numbers, T: Date.parse(assignPackage.currentPeriodEnd) };
    }),
  );
  const T = customers[0].T;
  expect((await server.ok(RUN, { at: iso(T + 60_000) }, root.token)).runRenewals.pastDue).toBe(count);
  return { root, pkg: createPackage.id as string, customers, T, stock };
}

describe.skipIf(ENGINE !== 'postgresql')('numbers under racing renewals (DOMAIN.md 12)', () => {
  /** Three instances on one database. */
  let instances: TestServer[];
  beforeAll(async () => {
    instances = [server, ...(await Promise.all([startServer(), startServer()]))];
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).slice(1).map((s) => s.close()));
  });

  it('three instances renewing at the same instants, with top-ups, terminations and purchases again: every number in one consistent state, every period charged once', async () => {
    const COUNT = 20;
    const { root, pkg, customers, T, stock } = await pastDueLines(COUNT);
    const logsFrom = instances.map((s) => s.logs.length);
    const topped = (i: number) => i % 2 === 0;
    const terminated = (i: number) => i % 5 === 1;
    const buysAgain = (i: number) => i % 5 === 3;
    const via = (i: number) => instances[i % instances.length];
    const rootPath = `/${root.id}/`;
    // Two runRenewals mutations and a scheduler's run (its own transactions, batches at once), one per instance.
    const renewers = (at: number): (() => Promise<Report>)[] => [
      ...instances.slice(0, 2).map((s) => async () => (await s.ok(RUN, { at: iso(at) }, root.token)).runRenewals as Report),
      () => instances[2].app.services.renewals.runAll(systemEm(instances[2].app.db.orm), new Date(at), { rootPath }),
    ];
    const settled = async <R>(all: Promise<R>[]): Promise<R[]> => {
      const results = await Promise.allSettled(all);
      expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).toEqual([]);
      return results.map((r) => (r as PromiseFulfilledResult<R>).value);
    };

    // Two hours after the boundary, inside every hold: 20.00 arrives for half the customers, some terminate (those
    // topped up, after their top-up, so that a run may have charged them in between), and some buy the package
    // again (after their top-up; without one, 3.00 cannot pay 5.00). Every instance renews over and over until they
    // are done, as schedulers ticking would: a change may land before, during or after any run.
    const A = T + 2 * HOUR;
    const again = new Map<number, string>();
    const refused = new Map<number, GqlResult<unknown>>();
    let done = false;
    const customerOps = Promise.all(
      customers.map(async (c, i) => {
        if (topped(i)) await topUp(via(i), root.token, c.id, '20');
        if (terminated(i)) await via(i + 1).ok(TERMINATE, { id: c.chain }, c.token);
        if (!buysAgain(i)) return;
        if (topped(i)) again.set(i, (await via(i + 2).ok(PURCHASE, { p: pkg }, c.token)).purchasePackage.id);
        else refused.set(i, await via(i + 2).gql(PURCHASE, { p: pkg }, c.token));
      }),
    ).finally(() => {
      done = true;
    });
    const ticking = (
      await settled<unknown>([
        customerOps,
        ...renewers(A).map(async (run) => {
          const reports: Report[] = [];
          do reports.push(await run());
          while (!done);
          return reports;
        }),
      ])
    )
      .slice(1)
      .flat() as Report[];
    // And once more each, all at once, after the last top-up: every chain that can pay has by now. (Past the hold
    // a past-due chain is released even if it could pay, so one left unpaid here would be at the next instant.)
    const reportsA = [...ticking, ...(await settled(renewers(A).map((run) => run())))];
    expect(reportsA.filter((r) => r.released > 0 || r.didsFreed > 0)).toEqual([]);
    for (const result of refused.values()) expect(errorCode(result)).toBe('INSUFFICIENT_FUNDS');
    expect([...again.keys()].sort((x, y) => x - y)).toEqual(customers.map((_, i) => i).filter((i) => topped(i) && buysAgain(i)));

    // A minute after the holds ended, inside the retry window: the chains still past due are released, their
    // numbers freed; those paid are charged for the day that begins.
    const B = T + DAY + 60_000;
    const reportsB = await settled(renewers(B).map((run) => run()));
    // Nothing is left for another run to do.
    expect((await server.ok(RUN, { at: iso(B) }, root.token)).runRenewals).toEqual({
      renewed: 0,
      released: 0,
      pastDue: 0,
      activated: 0,
      didsFreed: 0,
    });
    const logged = instances.flatMap((s, i) =>
      s.logs
        .slice(logsFrom[i])
        .map((l) => JSON.parse(l))
        .filter((l) => l.level >= 50)
        .map((l) => `instance ${i + 1}: ${l.msg}: ${l.err?.message ?? ''}`),
    );
    expect(logged).toEqual([]);

    expect(await numberProblems(root.id, B)).toEqual([]);
    const dids = new Map(
      (
        await sql<{ number: string; status: string; account_id: string | null; subscription_id: string | null }>(
          server,
          `select number, status, account_id, subscription_id from dids where root_id = ?`,
          [root.id],
        )
      ).map((d) => [d.number, d]),
    );
    const subs = new Map(
      (
        await sql<{ id: string; account_id: string; status: string; periods_charged: number; ended_at: Date | null }>(
          server,
          `select id, account_id, status, periods_charged, ended_at from package_subscriptions where owner_path like ?`,
          [`${rootPath}%`],
        )
      ).map((s) => [s.id, s]),
    );
    const balances = new Map(
      (
        await sql<{ id: string; balance: number }>(
          server,
          `select id, balance::float8 as balance from accounts where root_id = ?`,
          [root.id],
        )
      ).map((a) => [a.id, a.balance]),
    );
    const holders = (c: Customer) => c.numbers.map((n) => dids.get(n)!);
    // Numbers never change hands: what a customer claimed is its own still, or back in the stock.
    for (const c of customers) for (const d of holders(c)) expect([null, c.id]).toContain(d.account_id);
    // Nobody claimed during the race: the stock not claimed at the start is untouched.
    const claimed = new Set(customers.flatMap((c) => c.numbers));
    expect(stock.filter((n) => !claimed.has(n) && dids.get(n)!.status !== 'AVAILABLE')).toEqual([]);

    for (const [i, c] of customers.entries()) {
      const chain = subs.get(c.chain)!;
      const statuses = holders(c).map((d) => d.status);
      const said = `customer ${i}`;
      if (terminated(i)) {
        expect(chain.status, said).toBe('TERMINATED');
        // Paid before its end: its numbers are held from the termination; unpaid, their hold from the boundary
        // ended by the second run, which freed them.
        if (chain.periods_charged === 2) {
          expect(
            holders(c).map((d) => [d.status, d.subscription_id]),
            said,
          ).toEqual([
            ['ON_HOLD', c.chain],
            ['ON_HOLD', c.chain],
          ]);
        } else {
          expect(chain.periods_charged, said).toBe(1);
          expect(statuses, said).toEqual(['AVAILABLE', 'AVAILABLE']);
        }
      } else if (topped(i)) {
        // Paid days 2 and 3, whichever runs saw the top-up: its numbers are assigned, to it or to the chain bought
        // again (whichever took them first).
        expect([chain.status, chain.periods_charged], said).toEqual(['ACTIVE', 3]);
        const owners = again.has(i) ? [c.chain, again.get(i)] : [c.chain];
        for (const d of holders(c)) {
          expect(d.status, said).toBe('ASSIGNED');
          expect(owners, said).toContain(d.subscription_id);
        }
        if (again.has(i)) expect(subs.get(again.get(i)!), said).toMatchObject({ status: 'ACTIVE', periods_charged: 1 });
        expect(balances.get(c.id), said).toBe(again.has(i) ? 3 + 20 - 5 - 10 : 3 + 20 - 10);
      } else {
        // Never paid: released at its boundary once the hold ended, its numbers back in the stock.
        expect([chain.status, chain.periods_charged, new Date(chain.ended_at!).getTime()], said).toEqual(['RELEASED', 1, T]);
        expect(statuses, said).toEqual(['AVAILABLE', 'AVAILABLE']);
        expect(balances.get(c.id), said).toBe(3);
        expect([...subs.values()].filter((s) => s.account_id === c.id)).toHaveLength(1);
      }
    }
    // Released once each, by one of the runs; every number freed was counted by the one run that freed it.
    const sum = (reports: Report[], key: keyof Report) => reports.reduce((n, r) => n + r[key], 0);
    expect(sum(reportsB, 'released')).toBe(customers.filter((_, i) => !topped(i) && !terminated(i)).length);
    expect(sum(reportsB, 'didsFreed')).toBe(
      [...dids.values()].filter((d) => claimed.has(d.number) && d.status === 'AVAILABLE').length,
    );

    // Every period charged once: a period row per period charged, and one renewal fee for each after the first.
    const charged = await sql<{ id: string; periods_charged: number; periods: number; fees: number; distinct_fees: number }>(
      server,
      `select s.id, s.periods_charged,
              (select count(*)::int from subscription_periods p where p.subscription_id = s.id) as periods,
              (select count(*)::int from ledger_entries l where l.subscription_id = s.id and l.kind = 'RENEWAL_FEE') as fees,
              (select count(distinct l.description)::int from ledger_entries l
                where l.subscription_id = s.id and l.kind = 'RENEWAL_FEE') as distinct_fees
         from package_subscriptions s where s.owner_path like ?`,
      [`${rootPath}%`],
    );
    expect(charged).toHaveLength(COUNT + again.size);
    for (const s of charged) {
      expect({ periods: s.periods, fees: s.fees, distinct: s.distinct_fees }, s.id).toEqual({
        periods: s.periods_charged,
        fees: s.periods_charged - 1,
        distinct: s.periods_charged - 1,
      });
    }
    expect(await ledgerMismatches(server, root.id)).toEqual([]);

    // What each customer is shown: exactly the numbers it holds, as they are.
    await Promise.all(
      customers.map(async (c, i) => {
        const shown = (await via(i).ok(MY_DIDS, {}, c.token)).dids.edges.map(
          (e: { node: { number: string; status: string; subscription: { id: string } } }) => [
            e.node.number,
            e.node.status,
            e.node.subscription.id,
          ],
        );
        const held = holders(c)
          .filter((d) => d.status !== 'AVAILABLE')
          .map((d) => [d.number, d.status, d.subscription_id]);
        const byNumber = (x: (string | null)[], y: (string | null)[]) => (x[0]! < y[0]! ? -1 : 1);
        expect(shown.sort(byNumber), `customer ${i}`).toEqual(held.sort(byNumber));
      }),
    );
  });

  it('a top-up activating a purchase made again while a run restores the same numbers: both go through', async () => {
    // A 3.00 setup fee: buying again costs 8.00 and waits PENDING, while the past-due renewal (5.00) can be paid.
    const { root, pkg, customers, T } = await pastDueLines(
      1,
      { setupFee: '3', activationPolicy: 'PENDING_IF_INSUFFICIENT' },
      '11',
    );
    const [c] = customers;
    expect((await server.ok(PURCHASE, { p: pkg }, c.token)).purchasePackage.status).toBe('PENDING');
    await topUp(server, root.token, c.id, '3');
    const logsFrom = server.logs.length;

    // The interleaving forced: the top-up holds the customer's account when it activates the pending chain, which
    // takes the held numbers back; the run has restored those numbers to the paid chain and waits for the account.
    // Another connection holds the account (and the pending chain, so that the run's own activation passes it by)
    // until both are queued, the top-up first.
    const holder = new pg.Client({ connectionString: inject('databaseUrl') });
    await holder.connect();
    const queued = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        const { rows } = await holder.query(
          `with recursive blocked(pid) as (
             select pid from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))
             union select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid))
           ) select count(*)::int as n from blocked`,
        );
        if (rows[0].n >= n) return;
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    let results: GqlResult<unknown>[];
    try {
      await holder.query('begin');
      await holder.query('select id from accounts where id = $1 for no key update', [c.id]);
      await holder.query(`select id from package_subscriptions where account_id = $1 and status = 'PENDING' for no key update`, [
        c.id,
      ]);
      const topping = server.gql(
        `mutation ($a: ID!) { topUp(input: { accountId: $a, amount: "10" }) { id } }`,
        { a: c.id },
        root.token,
      );
      await queued(1);
      const running = server.gql(RUN, { at: iso(T + 2 * HOUR) }, root.token);
      await queued(2);
      await holder.query('commit');
      results = await Promise.all([topping, running]);
    } finally {
      await holder.end();
    }
    const failures = [
      ...results.flatMap((r) => r.errors ?? []).map((e) => e.message),
      ...server.logs
        .slice(logsFrom)
        .map((l) => JSON.parse(l))
        .filter((l) => l.level >= 50)
        .map((l) => `${l.err?.code ?? ''} ${l.err?.message ?? l.msg}`),
    ];
    expect(failures).toEqual([]);
    expect(await numberProblems(root.id, T + 2 * HOUR)).toEqual([]);
    const held = await sql<{ status: string }>(server, `select status from dids where account_id = ?`, [c.id]);
    expect(held.map((d) => d.status)).toEqual(['ASSIGNED', 'ASSIGNED']);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });
});

describe('numbers through a run that catches up (DOMAIN.md 12, 6)', () => {
  it('a past-due chain paid for its missed day and past due again in the same run holds its numbers from the new boundary', async () => {
    // A two-day hold: the run below comes after the next boundary but inside the hold, so the chain may still pay.
    const { root, customers, T } = await pastDueLines(1, { didHoldDays: 2 });
    const [c] = customers;
    // 5.00: day 2 (from T), not day 3 (from T + 1 day).
    await topUp(server, root.token, c.id, '2');
    const B = T + DAY + 60_000;
    expect((await server.ok(RUN, { at: iso(B) }, root.token)).runRenewals).toMatchObject({ released: 0, pastDue: 1 });
    // Day 2 is paid and over; the chain is past due from T + 1 day, so its numbers are held for two days from
    // then, as they would be had a run come in between.
    expect((await server.ok(SUB_DIDS, { id: c.chain }, c.token)).packageSubscription).toEqual({
      status: 'PAST_DUE',
      periodsCharged: 2,
      currentPeriodEnd: iso(T + DAY),
      dids: c.numbers.map((number) => ({ number, status: 'ON_HOLD', holdUntil: iso(T + 3 * DAY) })),
    });
    expect(await numberProblems(root.id, B)).toEqual([]);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });
});
