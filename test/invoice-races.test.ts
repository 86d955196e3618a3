// Invoices are issued exactly once per (account, period) under races (DOMAIN.md 9), as renewals are: two instances'
// invoice runs, the admin's generateInvoices and a third instance's scheduler all race over the same ended periods.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodAt } from '../src/billing/index.js';
import { systemEm, type Em } from '../src/db/orm.js';
import { createPlatform, ENGINE, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, type Node } from './support/tree.js';

const GENERATE = `mutation ($asOf: DateTime!) { generateInvoices(asOf: $asOf) { issued } }`;
/** Calendars the seeded customers cycle through: billing days 1-28 in zones with and without DST changes. */
const TIMEZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];

/**
 * Copies of the API-made account `templateId`, written in SQL: `count` under the template's own parent, or under
 * each account whose email starts with `under`. Only id, number, name, email, parent, path and calendar differ
 * from the template; the copies' emails start with `tag`.
 */
async function copyAccounts(tx: Em, templateId: string, count: number, tag: string, under?: string): Promise<void> {
  const columns = (
    await tx.execute<{ c: string }[]>(
      `select column_name as c from information_schema.columns
        where table_schema = 'public' and table_name = 'accounts' and column_name <> 'seq' order by ordinal_position`,
    )
  ).map((r) => r.c);
  const newId = `'acc_' || md5('${tag}:' || p.id || ':' || g)`;
  const base = 1_000_000_000 + Math.floor(Math.random() * 7_000_000_000);
  const override: Record<string, string> = {
    id: newId,
    number: `(${base} + row_number() over ())::text`,
    name: `'Account ' || g`,
    email: `'${tag}-' || md5(p.id || ':' || g) || '@example.test'`,
    parent_id: 'p.id',
    path: `p.path || ${newId} || '/'`,
    depth: 'p.depth + 1',
    billing_day: `1 + (row_number() over ()) % 28`,
    timezone: `(array[${TIMEZONES.map((z) => `'${z}'`).join(', ')}])[1 + (row_number() over ()) % ${TIMEZONES.length}]`,
    balance: '0',
    created_at: `now() - interval '90 days'`,
  };
  await tx.execute(
    `insert into accounts (${columns.join(', ')})
     select ${columns.map((c) => override[c] ?? `t.${c}`).join(', ')}
       from accounts t join accounts p on ${under ? `p.email like '${under}-%'` : 'p.id = t.parent_id'}
            cross join generate_series(1, ${count}) g
      where t.id = '${templateId}'`,
  );
}

/**
 * Five entries for each account tagged `tag`, 33 to 63 days old (so every period holding one has ended), of kinds
 * that make every part of an invoice: payments, usage in both directions, a tax, an adjustment. balance_after
 * runs in time order and the balance is set to the sum, so balance == sum(ledger) holds (DOMAIN.md 2).
 */
async function seedEntries(tx: Em, tag: string): Promise<void> {
  await tx.execute(
    `with kinds(n, kind, amount, direction, calls, seconds) as (
       values (0, 'TOPUP', 20.0, null, null, null), (1, 'USAGE', -0.75, 'OUTBOUND', 3, 180), (2, 'TAX', -0.15, null, null, null),
              (3, 'ADJUSTMENT', -1.5, null, null, null), (4, 'USAGE', -0.3, 'INBOUND', 1, 60)
     ), e as (
       select 'led_' || md5(a.id || ':' || x) as id, a.id as account_id, a.path, k.kind, k.amount * (1 + a.seq % 3) as amount,
              k.direction, k.calls, k.seconds,
              case when k.kind = 'TAX' then (select r.id from tax_rates r where r.owner_id = a.parent_id limit 1) end as tax_rate_id,
              date_trunc('milliseconds', now()) - interval '33 days' - x * interval '6 days'
                - ((a.seq * 7 + x * 13) % 1440) * interval '1 minute' as created_at
         from accounts a cross join generate_series(0, 4) x join kinds k on k.n = (x + a.seq) % 5
        where a.email like '${tag}-%'
     )
     insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, created_at, tax_rate_id,
                                 call_direction, call_count, billed_seconds)
     select id, account_id, path, amount, sum(amount) over (partition by account_id order by created_at), kind, 'seeded',
            created_at, tax_rate_id, direction, calls, seconds
       from e order by account_id, created_at`,
  );
  await tx.execute(
    `update accounts a set balance = s.total
       from (select account_id, sum(amount) as total from ledger_entries group by account_id) s
      where s.account_id = a.id and a.email like '${tag}-%'`,
  );
}

const periodKey = (accountId: string, start: Date, end: Date) =>
  `${accountId} ${new Date(start).toISOString()} ${new Date(end).toISOString()}`;

describe.skipIf(ENGINE !== 'postgresql')('invoice runs racing (DOMAIN.md 9)', () => {
  let server: TestServer;
  let second: TestServer;
  let scheduled: TestServer;
  /** The scheduler's runs: what each issued, and when it ran (performance.now()). */
  const schedulerRuns: { issued: number; start: number; end: number }[] = [];

  beforeAll(async () => {
    // Three instances on one database; the third runs the invoice scheduler every 50 ms from now on.
    [server, second, scheduled] = await Promise.all([startServer(), startServer(), startServer({ invoiceIntervalMs: 50 })]);
    const invoices = scheduled.app.services.invoices;
    const runAll = invoices.runAll.bind(invoices);
    invoices.runAll = (async (...args: Parameters<typeof runAll>) => {
      const start = performance.now();
      const report = await runAll(...args);
      schedulerRuns.push({ issued: report.issued, start, end: performance.now() });
      return report;
    }) as typeof invoices.runAll;
  });
  afterAll(async () => {
    await Promise.all([server?.close(), second?.close(), scheduled?.close()]);
  });

  /** A platform with resellers `R1` and `R2`, each with a VAT rate and an API-made customer to copy. */
  async function platform() {
    const p = await createPlatform(server);
    const admin: Node = { id: p.id, token: p.token, email: p.email };
    const r1 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'MARGIN', name: 'R1' });
    const r2 = await addAccount(server, admin.token, { kind: 'RESELLER', resellerModel: 'MARGIN', name: 'R2' });
    for (const r of [r1, r2]) {
      await server.ok(
        `mutation ($input: CreateTaxRateInput!) { createTaxRate(input: $input) { id } }`,
        { input: { name: 'VAT', percent: '20', priority: 1 } },
        r.token,
      );
    }
    const c1 = await addAccount(server, r1.token, { kind: 'CUSTOMER', name: 'Template 1' });
    const c2 = await addAccount(server, r2.token, { kind: 'CUSTOMER', name: 'Template 2' });
    return { admin, r1, r2, c1, c2, tag: `inv-race-${randomBytes(6).toString('hex')}` };
  }

  /**
   * Writes the accounts and entries `seed` makes in one transaction, so that all appear at once when it commits,
   * then races instance 1's and instance 2's runAll and the admin's generateInvoices, as of now, with the
   * scheduler that has been ticking all along. Fails on any error of any of them.
   */
  async function race(admin: Node, seed: (tx: Em) => Promise<void>): Promise<string> {
    const logsFrom = [server, second, scheduled].map((s) => s.logs.length);
    const seeding = performance.now();
    await server.app.db.orm.em.fork().transactional(async (tx) => {
      // Without the ledger's event trigger: thousands of balance events would go to every instance.
      await tx.execute(`set local session_replication_role = replica`);
      await seed(tx);
    });
    const seeded = performance.now() - seeding;
    const asOf = new Date();
    const racing = performance.now();
    const runsBefore = schedulerRuns.length;
    const results = await Promise.allSettled([
      server.app.services.invoices.runAll(systemEm(server.app.db.orm), asOf),
      second.app.services.invoices.runAll(systemEm(second.app.db.orm), asOf),
      second.gql<{ generateInvoices: { issued: number } }>(GENERATE, { asOf: asOf.toISOString() }, admin.token),
    ]);
    // Let the scheduler finish the run it is in (it may have started before the others ended), and one more.
    const ticks = schedulerRuns.length;
    for (let i = 0; i < 200 && schedulerRuns.length < ticks + 2; i++) await new Promise((r) => setTimeout(r, 25));
    const raced = performance.now() - racing;

    const failures = results.flatMap((r) =>
      r.status === 'rejected'
        ? [`${r.reason?.message ?? r.reason} (${r.reason?.code ?? ''}) ${r.reason?.detail ?? ''}`]
        : 'errors' in r.value && r.value.errors
          ? r.value.errors.map((e) => `generateInvoices: ${e.message}`)
          : [],
    );
    const logged = [server, second, scheduled].flatMap((s, i) =>
      s.logs
        .slice(logsFrom[i])
        .map((l) => JSON.parse(l))
        .filter((l) => l.level >= 50)
        .map((l) => `instance ${i + 1}: ${l.msg}: ${l.err?.message ?? ''} ${l.err?.detail ?? ''}`),
    );
    expect([...failures, ...logged]).toEqual([]);
    // The scheduler took part (whether one of its runs overlaps the others' depends on the machine's load).
    expect(schedulerRuns.length, 'the scheduler ran').toBeGreaterThan(0);
    // Nothing is left to issue.
    expect(await server.app.services.invoices.runAll(systemEm(server.app.db.orm), asOf, { rootId: admin.id })).toEqual({
      issued: 0,
    });

    const [one, two, generated] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    return (
      `seeded in ${Math.round(seeded)} ms; raced ${Math.round(raced)} ms; issued by instance 1: ${(one as { issued: number }).issued},` +
      ` instance 2: ${(two as { issued: number }).issued},` +
      ` generateInvoices: ${(generated as { data: { generateInvoices: { issued: number } } }).data.generateInvoices.issued},` +
      ` scheduler: ${schedulerRuns.slice(runsBefore).reduce((n, r) => n + r.issued, 0)} over ${schedulerRuns.length - runsBefore} runs`
    );
  }

  /**
   * Exactly once (DOMAIN.md 9), for the customers tagged `tag`: one invoice per (account, period) holding an
   * entry, from the account's parent; every entry on the invoice of its period and on no other; each issuer's
   * numbers 1..N without gap or repeat and its sequence at N; each invoice's amounts those of its entries.
   */
  async function expectExactlyOnce(tag: string, customers: number): Promise<void> {
    const entries = await sql<{
      id: string;
      account_id: string;
      parent_id: string;
      created_at: Date;
      billing_day: number;
      timezone: string;
    }>(
      server,
      `select e.id, e.account_id, a.parent_id, e.created_at, a.billing_day, a.timezone
         from ledger_entries e join accounts a on a.id = e.account_id where a.email like ?`,
      [`${tag}-%`],
    );
    expect(entries).toHaveLength(customers * 5);
    const periodOf = new Map<string, string>();
    const expected = new Map<string, string>();
    for (const e of entries) {
      const period = periodAt(new Date(e.created_at), { billingDay: e.billing_day, timezone: e.timezone });
      const key = periodKey(e.account_id, period.start, period.end);
      periodOf.set(e.id, key);
      expected.set(key, e.parent_id);
    }
    // Entries span two or three periods of each account.
    expect(expected.size).toBeGreaterThan(customers);

    const invoices = await sql<{ account_id: string; issuer_id: string; period_start: Date; period_end: Date }>(
      server,
      `select i.account_id, i.issuer_id, i.period_start, i.period_end
         from invoices i join accounts a on a.id = i.account_id where a.email like ?`,
      [`${tag}-%`],
    );
    const issued = invoices.map((i) => periodKey(i.account_id, i.period_start, i.period_end));
    expect(issued.length).toBe(new Set(issued).size);
    expect(issued.sort()).toEqual([...expected.keys()].sort());
    expect(invoices.filter((i) => i.issuer_id !== expected.get(periodKey(i.account_id, i.period_start, i.period_end)))).toEqual(
      [],
    );

    const held = await sql<{
      ledger_entry_id: string;
      holders: number;
      account_id: string;
      period_start: Date;
      period_end: Date;
    }>(
      server,
      `select ie.ledger_entry_id, count(*) over (partition by ie.ledger_entry_id)::int as holders, i.account_id, i.period_start,
              i.period_end
         from invoice_entries ie join invoices i on i.id = ie.invoice_id join accounts a on a.id = i.account_id
        where a.email like ?`,
      [`${tag}-%`],
    );
    expect(held.filter((h) => h.holders !== 1)).toEqual([]);
    const holderOf = new Map(held.map((h) => [h.ledger_entry_id, periodKey(h.account_id, h.period_start, h.period_end)]));
    expect(holderOf.size).toBe(entries.length);
    expect([...periodOf].filter(([entryId, key]) => holderOf.get(entryId) !== key)).toEqual([]);
    const [{ twice }] = await sql<{ twice: number }>(
      server,
      `select count(*)::int as twice from (select ledger_entry_id from invoice_entries group by 1 having count(*) > 1) x`,
    );
    expect(twice).toBe(0);

    // Numbering, per issuer of these customers (they issue no other invoices).
    const counts = new Map<string, number>();
    for (const parent of expected.values()) counts.set(parent, (counts.get(parent) ?? 0) + 1);
    const numbering = await sql<{ issuer_id: string; n: number; numbers: number[]; labels: string[]; last_number: number }>(
      server,
      `select i.issuer_id, count(*)::int as n, array_agg(i.sequence_number order by i.sequence_number) as numbers,
              array_agg(i.number order by i.sequence_number) as labels,
              (select s.last_number from invoice_sequences s where s.issuer_id = i.issuer_id) as last_number
         from invoices i where i.issuer_id in (select distinct a.parent_id from accounts a where a.email like ?)
        group by i.issuer_id`,
      [`${tag}-%`],
    );
    expect(new Map(numbering.map((x) => [x.issuer_id, x.n]))).toEqual(counts);
    for (const x of numbering) {
      const oneToN = Array.from({ length: counts.get(x.issuer_id)! }, (_, i) => i + 1);
      expect(x.numbers).toEqual(oneToN);
      expect(x.labels).toEqual(oneToN.map((n) => `INV-${String(n).padStart(6, '0')}`));
      expect(x.last_number).toBe(oneToN.length);
    }

    // Each invoice's amounts are those of the entries it holds: owed = subtotal + taxes, top-ups are payments,
    // and from opening to closing balance the ledger moved by payments - total (every entry of the period is on it).
    const wrong = await sql(
      server,
      `select i.id, i.subtotal::text, i.tax_total::text, i.total::text, i.payments::text, i.opening_balance::text,
              i.closing_balance::text, coalesce(-sum(l.amount) filter (where l.kind <> 'TOPUP'), 0)::text as owed,
              coalesce(-sum(l.amount) filter (where l.kind in ('TAX', 'TAX_REFUND')), 0)::text as taxed,
              coalesce(sum(l.amount) filter (where l.kind = 'TOPUP'), 0)::text as paid
         from invoices i join accounts a on a.id = i.account_id
         join invoice_entries ie on ie.invoice_id = i.id join ledger_entries l on l.id = ie.ledger_entry_id
        where a.email like ?
        group by i.id
       having i.subtotal + i.tax_total <> coalesce(-sum(l.amount) filter (where l.kind <> 'TOPUP'), 0)
           or i.tax_total <> coalesce(-sum(l.amount) filter (where l.kind in ('TAX', 'TAX_REFUND')), 0)
           or i.total <> i.subtotal + i.tax_total
           or i.payments <> coalesce(sum(l.amount) filter (where l.kind = 'TOPUP'), 0)
           or i.opening_balance + i.payments - i.total <> i.closing_balance
           or i.closing_balance <> (select e.balance_after from ledger_entries e
                                     where e.account_id = i.account_id and e.created_at < i.period_end
                                     order by e.created_at desc, e.seq desc limit 1)`,
      [`${tag}-%`],
    );
    expect(wrong).toEqual([]);
  }

  it('two instances, generateInvoices and the scheduler issue one invoice per (account, period), numbered 1..N per issuer', async () => {
    const { admin, c1, c2, tag } = await platform();
    const report = await race(admin, async (tx) => {
      await copyAccounts(tx, c1.id, 600, tag);
      await copyAccounts(tx, c2.id, 150, tag);
      await seedEntries(tx, tag);
    });
    console.info(`[invoice race, 2 issuers] ${report}`);
    await expectExactlyOnce(tag, 750);
    expect(await ledgerMismatches(server, admin.id)).toEqual([]);
  }, 180_000);

  it('with many issuers (each batch takes numbers from a different set of sequences), the race neither deadlocks nor fails', async () => {
    const { admin, r1, c1, tag } = await platform();
    const report = await race(admin, async (tx) => {
      // 1000 resellers like R1 (with their own VAT rate), two customers each.
      await copyAccounts(tx, r1.id, 1000, `${tag}r`);
      await tx.execute(
        `insert into tax_rates (id, owner_id, owner_path, name, percent, priority)
         select 'tax_' || md5(a.id), a.id, a.path, 'VAT', 20, 1 from accounts a where a.email like ?`,
        [`${tag}r-%`],
      );
      await copyAccounts(tx, c1.id, 2, tag, `${tag}r`);
      await seedEntries(tx, tag);
    });
    console.info(`[invoice race, 1000 issuers] ${report}`);
    await expectExactlyOnce(tag, 2000);
    expect(await ledgerMismatches(server, admin.id)).toEqual([]);
  }, 180_000);
});
