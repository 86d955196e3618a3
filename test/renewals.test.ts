import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AssignPackageDocument, BalanceDocument, PackageSubscriptionDocument } from './generated/graphql.js';
import {
  createPlatform,
  ENGINE,
  errorCode,
  ledgerMismatches,
  ownDatabase,
  pg,
  sql,
  startServer,
  type TestServer,
} from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const DAY = 86_400_000;
const RUN = 'mutation($at: DateTime!) { runRenewals(asOf: $at) { renewed released expired } }';
const iso = (t: number) => new Date(t).toISOString();

async function chain(spec: Record<string, unknown>, startAt: string, funds = '1000') {
  const p = await createPlatform(server);
  const admin: Node = { id: p.id, token: p.token, email: p.email };
  const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'COMMISSION' });
  const c = await addAccount(server, r1.token, { kind: 'CUSTOMER' });
  const p0 = await original(server, admin.token, { price: '10', setupFee: '2', commissionRate: '10', ...spec });
  const p1 = await optIn(server, r1.token, p0);
  await topUp(server, admin.token, r1.id, '1000');
  await topUp(server, r1.token, c.id, funds);
  const { assignPackage: sub } = await server.ok(
    AssignPackageDocument,
    { input: { accountId: c.id, packageId: p1, startAt } },
    r1.token,
  );
  return { admin, r1, c, sub };
}
const balance = async (n: Node, viewer: Node) => (await server.ok(BalanceDocument, { id: n.id }, viewer.token)).account!.balance;
const sub = async (id: string, viewer: Node) =>
  (await server.ok(PackageSubscriptionDocument, { id }, viewer.token)).packageSubscription!;
const renew = async (admin: Node, at: number) => (await server.ok(RUN, { at: iso(at) }, admin.token)).runRenewals;

/**
 * Runs `run` while another connection holds the account's row lock; once the run waits on it, `meanwhile` is
 * committed on that connection, so it lands between the run's planning and its posting.
 */
async function whileAccountHeld<T>(accountId: string, run: () => Promise<T>, meanwhile: string): Promise<T> {
  const holder = new pg.Client({ connectionString: inject('databaseUrl') });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query('select id from accounts where id = $1 for no key update', [accountId]);
    const result = run();
    // Awaited below, after the commit; meanwhile a failure must not count as unhandled.
    result.catch(() => undefined);
    for (let i = 0; i < 200; i++) {
      const { rows } = await holder.query(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      if (rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await holder.query(meanwhile, [accountId]);
    await holder.query('commit');
    return await result;
  } finally {
    await holder.end();
  }
}

describe('runRenewals', () => {
  it('renews at the period end, from the previous end, with the discount, no setup fee, commission and fresh free seconds', async () => {
    const t0 = Date.parse('2026-09-01T06:00:00.000Z');
    const t = await chain({ billingDays: 30, freeMinutes: 10, discounts: [{ fromActivation: 2, amount: '1' }] }, iso(t0));
    // First period: C 12, R1 12 - 1.2 commission.
    expect([await balance(t.c, t.admin), await balance(t.r1, t.admin)]).toEqual(['988', '989.2']);
    await sql(server, 'update package_subscriptions set free_seconds_used = 300 where chain_id = ?', [t.sub.id]);

    expect(await renew(t.admin, t0 + 30 * DAY - 1)).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await renew(t.admin, t0 + 30 * DAY)).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect(await sub(t.sub.id, t.c)).toMatchObject({
      status: 'ACTIVE',
      periodsCharged: 2,
      currentPeriodStart: iso(t0 + 30 * DAY),
      currentPeriodEnd: iso(t0 + 60 * DAY),
      freeSecondsTotal: 600,
      freeSecondsUsed: 0,
      activatedAt: iso(t0),
    });
    // Period 2 at 10 - 1 = 9: C 979; R1 pays 9 and gets 0.9.
    expect([await balance(t.c, t.admin), await balance(t.r1, t.admin)]).toEqual(['979', '981.1']);
    // Exactly once: the same instant again charges nothing.
    expect(await renew(t.admin, t0 + 30 * DAY)).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await balance(t.c, t.admin)).toBe('979');
    const [{ kinds }] = await sql<{ kinds: string }>(
      server,
      `select string_agg(kind || ':' || amount::float8::text, ',' order by seq) as kinds from ledger_entries where account_id = ?`,
      [t.r1.id],
    );
    expect(kinds).toBe(
      'TOPUP:1000,PACKAGE_FEE:-10,SETUP_FEE:-2,COMMISSION:1.2,RENEWAL_FEE:-9,COMMISSION:0.9'.replace(
        'PACKAGE_FEE:-10,SETUP_FEE:-2',
        'SETUP_FEE:-2,PACKAGE_FEE:-10',
      ),
    );
  });

  it('catches up after downtime: every missed period is charged once, in order', async () => {
    const t0 = Date.parse('2026-06-01T00:00:00.000Z');
    const t = await chain({ billingDays: 30 }, iso(t0));
    expect(await renew(t.admin, t0 + 95 * DAY)).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect(await sub(t.sub.id, t.c)).toMatchObject({
      periodsCharged: 4,
      currentPeriodStart: iso(t0 + 90 * DAY),
      currentPeriodEnd: iso(t0 + 120 * DAY),
    });
    expect(await balance(t.c, t.admin)).toBe(String(1000 - 12 - 3 * 10));
    const [{ n }] = await sql<{ n: string }>(
      server,
      `select count(*)::text as n from subscription_periods where subscription_id = ?`,
      [t.sub.id],
    );
    expect(n).toBe('4');
  });

  it('raises every alert a catch-up crosses, entry by entry, though all its entries are written at once', async () => {
    const t0 = Date.parse('2026-06-01T00:00:00.000Z');
    const t = await chain({ billingDays: 30 }, iso(t0), '30');
    await server.ok(
      'mutation($id: ID!) { updateAccount(id: $id, input: { lowBalanceThreshold: "10" }) { id } }',
      { id: t.c.id },
      t.r1.token,
    );
    const heard: string[] = [];
    const unlisten = await server.app.db.listen('trellis_events', (raw) => {
      const e = JSON.parse(raw);
      if (e.accountId === t.c.id)
        heard.push(e.type === 'balance' ? `balance ${Number(e.balance)}` : `${e.kind} ${Number(e.available)}`);
    });
    // 30 - 12 = 18 after the purchase; three missed periods of 10: 8 (low), -2 (exhausted), -12 (nothing new).
    expect(await renew(t.admin, t0 + 95 * DAY)).toEqual({ renewed: 1, released: 0, expired: 0 });
    // Announced entry by entry, each balance change followed by the alerts it raised.
    const expected = ['balance 8', 'LOW_BALANCE 8', 'balance -2', 'CREDIT_EXHAUSTED -2', 'balance -12'];
    for (let i = 0; i < 100 && heard.length < expected.length; i++) await new Promise((r) => setTimeout(r, 20));
    await unlisten();
    expect(heard).toEqual(expected);
    expect(await balance(t.c, t.admin)).toBe('-12');
    const { alerts } = await server.ok(
      'query($id: ID) { alerts(accountId: $id) { edges { node { kind availableBalance threshold } } } }',
      { id: t.c.id },
      t.r1.token,
    );
    expect(alerts.edges.map((e: any) => e.node)).toEqual([
      { kind: 'CREDIT_EXHAUSTED', availableBalance: '-2', threshold: null },
      { kind: 'LOW_BALANCE', availableBalance: '8', threshold: '10' },
    ]);
  });

  it('releases the whole chain when a level cannot pay and the package says so; otherwise charges anyway', async () => {
    const t0 = Date.parse('2026-10-01T00:00:00.000Z');
    const released = await chain({ billingDays: 30, releaseIfNoBalance: true }, iso(t0), '15');
    expect(await renew(released.admin, t0 + 30 * DAY)).toEqual({ renewed: 0, released: 1, expired: 0 });
    expect(await sub(released.sub.id, released.c)).toMatchObject({
      status: 'RELEASED',
      endedAt: iso(t0 + 30 * DAY),
      periodsCharged: 1,
    });
    expect(await balance(released.c, released.admin)).toBe('3');
    const [{ n }] = await sql<{ n: string }>(
      server,
      `select count(*)::text as n from package_subscriptions where chain_id = ? and status = 'RELEASED'`,
      [released.sub.id],
    );
    expect(n).toBe('2');

    const charged = await chain({ billingDays: 30 }, iso(t0), '15');
    expect(await renew(charged.admin, t0 + 30 * DAY)).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect(await balance(charged.c, charged.admin)).toBe('-7');
  });

  it('expires ONE_TIME chains and chains past the package end date at their period end', async () => {
    const t0 = Date.parse('2026-10-01T00:00:00.000Z');
    const once = await chain({ billingType: 'ONE_TIME', billingDays: 7 }, iso(t0));
    expect(await renew(once.admin, t0 + 6 * DAY)).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await renew(once.admin, t0 + 7 * DAY)).toEqual({ renewed: 0, released: 0, expired: 1 });
    expect(await sub(once.sub.id, once.c)).toMatchObject({ status: 'EXPIRED', endedAt: iso(t0 + 7 * DAY) });
    expect(await balance(once.c, once.admin)).toBe('988');

    // On sale for six more hours: the period that starts before then is renewed, the next one (in twelve hours,
    // near enough to renew ahead) is not.
    const s0 = Date.now() - 19.5 * DAY;
    const dated = await chain({ billingDays: 10, endDate: iso(Date.now() + DAY / 4) }, iso(s0));
    expect(await renew(dated.admin, s0 + 10 * DAY)).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect(await renew(dated.admin, s0 + 20 * DAY)).toEqual({ renewed: 0, released: 0, expired: 1 });
    expect(await sub(dated.sub.id, dated.c)).toMatchObject({ status: 'EXPIRED', endedAt: iso(s0 + 20 * DAY), periodsCharged: 2 });
  });

  it('MONTHLY periods renew on the activation day, clamped; advance renew charges ahead but switches at the boundary', async () => {
    const t = await chain({ billingType: 'MONTHLY', advanceRenewHours: 24, freeMinutes: 10 }, '2026-01-31T12:00:00.000Z');
    await sql(server, 'update package_subscriptions set free_seconds_used = 120 where chain_id = ?', [t.sub.id]);
    expect(await renew(t.admin, Date.parse('2026-02-27T11:59:59.000Z'))).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await renew(t.admin, Date.parse('2026-02-27T12:00:00.000Z'))).toEqual({ renewed: 1, released: 0, expired: 0 });
    // Paid ahead: period 2 is charged, but period 1 still runs, with its free seconds, until its end.
    expect(await sub(t.sub.id, t.c)).toMatchObject({
      periodsCharged: 2,
      currentPeriodStart: '2026-01-31T12:00:00.000Z',
      currentPeriodEnd: '2026-02-28T12:00:00.000Z',
      freeSecondsUsed: 120,
    });
    expect(await balance(t.c, t.admin)).toBe('978');
    // At the boundary it switches without charging again.
    expect(await renew(t.admin, Date.parse('2026-02-28T12:00:00.000Z'))).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await sub(t.sub.id, t.c)).toMatchObject({
      periodsCharged: 2,
      currentPeriodStart: '2026-02-28T12:00:00.000Z',
      currentPeriodEnd: '2026-03-31T12:00:00.000Z',
      freeSecondsUsed: 0,
    });
    expect(await balance(t.c, t.admin)).toBe('978');
    // Catching up over months: charge ahead and switch in turn.
    await renew(t.admin, Date.parse('2026-04-29T12:00:00.000Z'));
    expect(await sub(t.sub.id, t.c)).toMatchObject({
      periodsCharged: 4,
      currentPeriodStart: '2026-03-31T12:00:00.000Z',
      currentPeriodEnd: '2026-04-30T12:00:00.000Z',
    });
  });

  it('terminating inside the advance window refunds the period paid ahead in full', async () => {
    const t0 = Date.now() - 29.5 * DAY;
    const t = await chain({ billingDays: 30, advanceRenewHours: 24, chargeType: 'FULL' }, iso(t0));
    expect(await renew(t.admin, Date.now())).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect([await balance(t.c, t.admin), await balance(t.r1, t.admin)]).toEqual(['978', '980.2']);
    await server.ok('mutation($id: ID!) { terminateSubscription(id: $id) { status } }', { id: t.sub.id }, t.c.token);
    // FULL keeps the running period; the paid-ahead 10 comes back, and R1's 1.00 commission on it is reversed.
    expect([await balance(t.c, t.admin), await balance(t.r1, t.admin)]).toEqual(['988', '989.2']);
  });

  it('never spins on chains that are due but cannot move yet (ONE_TIME with advance renew)', async () => {
    const t0 = Date.parse('2026-10-01T00:00:00.000Z');
    const once = await chain({ billingType: 'ONE_TIME', billingDays: 7, advanceRenewHours: 48 }, iso(t0));
    // 36 hours before its end: inside the advance window, but a ONE_TIME chain only ends, at its end.
    expect(await renew(once.admin, t0 + 7 * DAY - 36 * 3_600_000)).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await renew(once.admin, t0 + 7 * DAY)).toEqual({ renewed: 0, released: 0, expired: 1 });
  });

  it('is for the platform admin only, and renews only its own platform', async () => {
    const t0 = Date.parse('2026-10-01T00:00:00.000Z');
    const mine = await chain({ billingDays: 30 }, iso(t0));
    const theirs = await chain({ billingDays: 30 }, iso(t0));
    expect(errorCode(await server.gql(RUN, { at: iso(t0 + 31 * DAY) }, mine.r1.token))).toBe('FORBIDDEN');
    await renew(mine.admin, t0 + 31 * DAY);
    expect((await sub(theirs.sub.id, theirs.c)).periodsCharged).toBe(1);
  });
});

describe('how far ahead runRenewals may renew', () => {
  const HOUR = 3_600_000;
  const periods = async (subscriptionId: string) =>
    Number(
      (
        await sql<{ n: string }>(server, 'select count(*)::text as n from subscription_periods where subscription_id = ?', [
          subscriptionId,
        ])
      )[0].n,
    );

  it('refuses an instant far in the future with BAD_USER_INPUT on asOf, and charges nothing', async () => {
    const t = await chain({ billingDays: 30 }, iso(Date.now() - 29.5 * DAY));
    const before = [await balance(t.c, t.admin), await balance(t.r1, t.admin)];
    for (const at of ['9999-12-31T00:00:00.000Z', iso(Date.now() + 26 * HOUR)]) {
      const result = await server.gql(RUN, { at }, t.admin.token);
      expect(result.errors?.[0]?.extensions, at).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
    }
    expect([await balance(t.c, t.admin), await balance(t.r1, t.admin)]).toEqual(before);
    expect(await periods(t.sub.id)).toBe(1);
  });

  it('renews a few hours ahead: up to a day, plus the longest advance-renew interval of the platform', async () => {
    const t = await chain({ billingDays: 30 }, iso(Date.now() - 29.5 * DAY));
    expect(await renew(t.admin, Date.now() + 23 * HOUR)).toEqual({ renewed: 1, released: 0, expired: 0 });
    expect(await balance(t.c, t.admin)).toBe('978');

    const ahead = await chain({ billingDays: 30, advanceRenewHours: 72 }, iso(Date.now() - 20 * DAY));
    expect(errorCode(await server.gql(RUN, { at: iso(Date.now() + 97 * HOUR) }, ahead.admin.token))).toBe('BAD_USER_INPUT');
    expect(await renew(ahead.admin, Date.now() + 95 * HOUR)).toEqual({ renewed: 0, released: 0, expired: 0 });
    expect(await periods(ahead.sub.id)).toBe(1);
    // Another platform's long interval does not widen this one's window.
    expect(errorCode(await server.gql(RUN, { at: iso(Date.now() + 95 * HOUR) }, t.admin.token))).toBe('BAD_USER_INPUT');
  });
});

describe('exactly once under concurrency', () => {
  it.skipIf(ENGINE === 'pglite')(
    'a debit landing between planning and posting is seen: the chain that can no longer pay is released, not charged',
    async () => {
      const t0 = Date.parse('2026-10-01T00:00:00.000Z');
      // 25 - 12 (setup and first period) leaves 13: enough for the 10 of a renewal when the run reads it.
      const t = await chain({ billingDays: 30, releaseIfNoBalance: true }, iso(t0), '25');
      const report = await whileAccountHeld(
        t.c.id,
        () => renew(t.admin, t0 + 30 * DAY),
        `with moved as (update accounts set balance = balance - 5 where id = $1 returning id, path, balance)
         insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind)
         select 'led_race' || md5(random()::text), id, path, -5, balance, 'ADJUSTMENT' from moved`,
      );
      expect(report).toEqual({ renewed: 0, released: 1, expired: 0 });
      expect(await sub(t.sub.id, t.c)).toMatchObject({ status: 'RELEASED', periodsCharged: 1 });
      expect(await balance(t.c, t.admin)).toBe('8');
      expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
    },
  );

  it.skipIf(ENGINE === 'pglite')(
    'a top-up landing between planning and posting is seen: the chain that can pay after all is renewed, not released',
    async () => {
      const t0 = Date.parse('2026-10-01T00:00:00.000Z');
      // 15 - 12 leaves 3: short of the 10 of a renewal when the run reads it.
      const t = await chain({ billingDays: 30, releaseIfNoBalance: true }, iso(t0), '15');
      const report = await whileAccountHeld(
        t.c.id,
        () => renew(t.admin, t0 + 30 * DAY),
        `with moved as (update accounts set balance = balance + 20 where id = $1 returning id, path, balance)
         insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind)
         select 'led_race' || md5(random()::text), id, path, 20, balance, 'TOPUP' from moved`,
      );
      expect(report).toEqual({ renewed: 1, released: 0, expired: 0 });
      expect(await sub(t.sub.id, t.c)).toMatchObject({ status: 'ACTIVE', periodsCharged: 2 });
      expect(await balance(t.c, t.admin)).toBe('13');
      expect(await ledgerMismatches(server, t.admin.id)).toEqual([]);
    },
  );

  it('two renewers and the scheduler racing over many chains charge every period once', async () => {
    const t0 = Date.parse('2026-07-01T00:00:00.000Z');
    const p = await createPlatform(server);
    const admin: Node = { id: p.id, token: p.token, email: p.email };
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'MARGIN' });
    const p0 = await original(server, admin.token, { price: '1', billingDays: 10, activationPolicy: 'ALLOW_IF_INSUFFICIENT' });
    const p1 = await optIn(server, r1.token, p0, { price: '2' });
    const customers = await Promise.all(Array.from({ length: 30 }, () => addAccount(server, r1.token, { kind: 'CUSTOMER' })));
    for (const c of customers) {
      await server.ok(AssignPackageDocument, { input: { accountId: c.id, packageId: p1, startAt: iso(t0) } }, r1.token);
    }
    const asOf = t0 + 45 * DAY; // periods 2, 3, 4 and 5 are due
    const scheduler = server.app.services.renewals.runAll(server.app.db.orm.em.fork() as never, new Date(asOf), {
      rootPath: `/${admin.id}/`,
    });
    const results = await Promise.all([
      server.gql(RUN, { at: iso(asOf) }, admin.token),
      server.gql(RUN, { at: iso(asOf) }, admin.token),
      scheduler,
    ]);
    expect(results.slice(0, 2).filter((r) => (r as { errors?: unknown }).errors)).toEqual([]);
    const [{ periods }] = await sql<{ periods: string }>(
      server,
      `select count(*)::text as periods from subscription_periods sp join package_subscriptions s on s.id = sp.subscription_id
        where s.owner_path like ?`,
      [`/${admin.id}/%`],
    );
    // 30 chains x 2 levels x 5 periods.
    expect(periods).toBe('300');
    for (const c of customers.slice(0, 5)) expect(await balance(c, r1)).toBe('-10');
    expect(await balance(r1, admin)).toBe('-150');
    expect(await ledgerMismatches(server, admin.id)).toEqual([]);
  });

  it('the scheduler renews on its own', async () => {
    // The scheduler renews every platform's due chains: on the shared PostgreSQL test database it renewed other
    // files' backdated subscriptions under them (a pool test saw its pools move to a later period mid-test).
    const own = await ownDatabase();
    const scheduled = await startServer({ renewalIntervalMs: 100, ...(own ? { databaseUrl: own.url } : {}) });
    try {
      const p = await createPlatform(scheduled);
      const c = await addAccount(scheduled, p.token, { kind: 'CUSTOMER' });
      const pkg = await original(scheduled, p.token, { price: '1', billingDays: 1, activationPolicy: 'ALLOW_IF_INSUFFICIENT' });
      const start = Date.now() - 2.5 * DAY;
      const { assignPackage } = await scheduled.ok(
        AssignPackageDocument,
        { input: { accountId: c.id, packageId: pkg, startAt: iso(start) } },
        p.token,
      );
      for (let i = 0; i < 100; i++) {
        const s = (await scheduled.ok(PackageSubscriptionDocument, { id: assignPackage.id }, p.token)).packageSubscription!;
        if (s.periodsCharged === 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const s = (await scheduled.ok(PackageSubscriptionDocument, { id: assignPackage.id }, p.token)).packageSubscription!;
      expect(s).toMatchObject({ periodsCharged: 3, currentPeriodStart: iso(start + 2 * DAY) });
      expect((await scheduled.ok(BalanceDocument, { id: c.id }, p.token)).account!.balance).toBe('-3');
    } finally {
      await scheduled.close();
      await own?.drop();
    }
  });
});
