import { randomBytes } from 'node:crypto';
import { pgArray, systemEm, type Em } from '../src/db/orm.js';
import type { App } from '../src/server.js';

/**
 * Invoice generation, the scheduler's path: runAll(systemEm(orm), now) over ACCOUNTS customers (under 10
 * resellers of the platform root) with ENTRIES ledger entries each, all dated in the previous month, so each
 * customer has exactly one period due. Then runs that must issue nothing: what every scheduler tick costs (every
 * INVOICE_INTERVAL_MS, on every instance) when nothing is due. BENCH_INVOICE_ACCOUNTS and BENCH_INVOICE_ENTRIES
 * size it; BENCH_TRACE=1 prints the measured run's statements by time.
 */
const env = process.env;
const ACCOUNTS = Number(env.BENCH_INVOICE_ACCOUNTS ?? 10_000);
const ENTRIES = Number(env.BENCH_INVOICE_ENTRIES ?? 100);
const RESELLERS = 10;

type Gql = (token: string, query: string, variables?: object) => Promise<any>;

export interface InvoiceFigures {
  accounts: number;
  resellers: number;
  entriesPerAccount: number;
  seedMs: number;
  issued: number;
  entries: number;
  ms: number;
  invoicesPerSecond: number;
  entriesPerSecond: number;
  /** Every invoice's closing balance is its opening balance plus payments less its total, and the account's balance. */
  balancesReconcile: boolean;
  /** A run with nothing due: after autovacuum's pass over the new rows (ms), and straight after the run. */
  idleTick: { ms: number; rightAfterMs: number; accountsScanned: number };
}

export async function benchInvoices(
  app: App,
  gql: Gql,
  adminToken: string,
): Promise<{ figures: InvoiceFigures; rows: { figure: string; value: string; note?: string }[] }> {
  const sign = (id: string) => app.services.auth.sign(id);
  const make = async (token: string, kind: string, name: string) =>
    (await gql(token, `mutation($n: String!) { createAccount(input: { kind: ${kind}, name: $n }) { id } }`, { n: name }))
      .createAccount.id as string;
  // One reseller and one customer as the API creates them: the rest are copies of their rows, column for column.
  const resellerTemplate = await make(adminToken, 'RESELLER', 'Reseller 01');
  const customerTemplate = await make(sign(resellerTemplate), 'CUSTOMER', 'Customer 00001');
  const em = systemEm(app.db.orm);

  const t0 = performance.now();
  const resellers = [resellerTemplate, ...Array.from({ length: RESELLERS - 1 }, () => `acc_${hex()}`)];
  const customers = [customerTemplate, ...Array.from({ length: ACCOUNTS - 1 }, () => `acc_${hex()}`)];
  const numbers = await freeNumbers(em, RESELLERS - 1 + ACCOUNTS - 1);
  await copyAccounts(em, resellerTemplate, {
    ids: resellers.slice(1),
    parents: resellers.slice(1).map(() => null),
    names: resellers.slice(1).map((_, i) => `Reseller ${String(i + 2).padStart(2, '0')}`),
    numbers: numbers.slice(0, RESELLERS - 1),
  });
  // Customer i under reseller i % 10; the template customer (0) is already under reseller 0.
  await copyAccounts(em, customerTemplate, {
    ids: customers.slice(1),
    parents: customers.slice(1).map((_, i) => resellers[(i + 1) % RESELLERS]),
    names: customers.slice(1).map((_, i) => `Customer ${String(i + 2).padStart(5, '0')}`),
    numbers: numbers.slice(RESELLERS - 1),
  });
  // Two tax rates per reseller, as createTaxRate writes them: VAT on fees and usage, a levy on some usage.
  await em.execute(
    `insert into tax_rates (id, owner_id, owner_path, name, percent, priority)
     select 'tax_' || md5(r.id || t.name), r.id, r.path, t.name, t.percent, t.priority
       from accounts r, (values ('VAT', 20.0, 0), ('Telecom levy', 5.0, 1)) as t(name, percent, priority)
      where r.id = any(?::text[])`,
    [pgArray(resellers)],
  );
  await seedLedger(em, customers);
  await em.execute('vacuum analyze accounts');
  await em.execute('vacuum analyze ledger_entries');
  await em.execute('vacuum analyze tax_rates');
  // The seed's million rows of WAL written out now, not by a checkpoint in the middle of the measured run.
  if (app.db.engine === 'postgresql') await em.execute('checkpoint');
  const seedMs = performance.now() - t0;

  const invoices = app.services.invoices;
  const endTrace = traceStatements(app);
  const started = performance.now();
  const first = await invoices.runAll(systemEm(app.db.orm), new Date());
  const ms = performance.now() - started;
  endTrace(ms);
  if (first.issued !== ACCOUNTS) {
    const [other] = await em.execute<{ n: string }[]>(
      `select count(*)::text as n from invoices where not (account_id = any(?::text[]))`,
      [pgArray(customers)],
    );
    throw new Error(
      `invoices: issued ${first.issued}, expected ${ACCOUNTS} (one per seeded customer); ${other.n} went to other accounts`,
    );
  }
  const [check] = await em.execute<{ invoices: string; held: string; bad: string }[]>(
    `select count(*)::text as invoices,
            (select count(*) from invoice_entries ie join invoices j on j.id = ie.invoice_id
              where j.account_id = any(?::text[]))::text as held,
            count(*) filter (where i.opening_balance + i.payments - i.total <> i.closing_balance
                                or i.closing_balance <> a.balance or i.opening_balance <> 0)::text as bad
       from invoices i join accounts a on a.id = i.account_id
      where i.account_id = any(?::text[])`,
    [pgArray(customers), pgArray(customers)],
  );
  if (Number(check.invoices) !== ACCOUNTS || Number(check.held) !== ACCOUNTS * ENTRIES) {
    throw new Error(
      `invoices: ${check.invoices} invoices holding ${check.held} entries, expected ${ACCOUNTS} and ${ACCOUNTS * ENTRIES}`,
    );
  }

  // The scheduler's next tick: every account looked at again, nothing due. Right after the run, then as the next
  // tick finds the tables five minutes later, autovacuum having been through the million rows just inserted.
  const [{ n: scanned }] = await em.execute<{ n: string }[]>(
    `select count(*)::text as n from accounts where parent_id is not null`,
  );
  const tick = async () => {
    const s = performance.now();
    const { issued } = await invoices.runAll(systemEm(app.db.orm), new Date());
    if (issued !== 0) throw new Error(`invoices: a run with nothing due issued ${issued}`);
    return performance.now() - s;
  };
  const rightAfterMs = await tick();
  await em.execute('vacuum analyze invoices');
  await em.execute('vacuum analyze invoice_entries');
  const idleMs = await tick();

  const entries = ACCOUNTS * ENTRIES;
  const figures: InvoiceFigures = {
    accounts: ACCOUNTS,
    resellers: RESELLERS,
    entriesPerAccount: ENTRIES,
    seedMs: Math.round(seedMs),
    issued: first.issued,
    entries,
    ms: Math.round(ms),
    invoicesPerSecond: Math.round((first.issued / ms) * 1000),
    entriesPerSecond: Math.round((entries / ms) * 1000),
    balancesReconcile: check.bad === '0',
    idleTick: { ms: Math.round(idleMs), rightAfterMs: Math.round(rightAfterMs), accountsScanned: Number(scanned) },
  };
  return {
    figures,
    rows: [
      {
        figure: `invoices, ${ACCOUNTS} accounts x ${ENTRIES} entries (runAll)`,
        value: `${figures.invoicesPerSecond} invoices/s`,
        note: `${first.issued} issued in ${(ms / 1000).toFixed(1)} s, ${figures.entriesPerSecond} entries/s; balances reconcile: ${figures.balancesReconcile}`,
      },
      {
        figure: `invoice run with nothing due (a scheduler tick)`,
        value: `${Math.round(idleMs)} ms`,
        note: `${scanned} accounts looked at, 0 issued; ${Math.round(rightAfterMs)} ms straight after the run, before vacuum`,
      },
    ],
  };
}

/**
 * BENCH_TRACE=1: the measured run's statements by total time, with the time spent outside them (the service's
 * own work). run.ts's tracer listens to knex's query events, which statements inside a transaction (executeBound)
 * do not complete; this wraps the driver's query method itself.
 */
function traceStatements(app: App): (wallMs: number) => void {
  if (!env.BENCH_TRACE) return () => undefined;
  type Query = (connection: unknown, query: { sql: string }) => Promise<unknown>;
  const client = Object.getPrototypeOf(app.db.orm.em.getConnection().getKnex().client) as { _query: Query };
  const original = client._query;
  const totals = new Map<string, { ms: number; n: number }>();
  client._query = async function (this: unknown, connection, query) {
    const at = performance.now();
    try {
      return await original.call(this, connection, query);
    } finally {
      const key = query.sql.replace(/\s+/g, ' ').slice(0, 90);
      const t = totals.get(key) ?? { ms: 0, n: 0 };
      totals.set(key, { ms: t.ms + performance.now() - at, n: t.n + 1 });
    }
  };
  return (wallMs) => {
    client._query = original;
    const sqlMs = [...totals.values()].reduce((sum, t) => sum + t.ms, 0);
    console.log(`\ninvoices: statements by total time (of ${wallMs.toFixed(0)} ms)`);
    const line = (ms: number, n: string, what: string) =>
      console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / wallMs).toFixed(1).padStart(5)}% ${n.padStart(6)}  ${what}`);
    for (const [sql, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) line(t.ms, `${t.n}x`, sql);
    line(wallMs - sqlMs, '', '(outside SQL: the service in Node)');
  };
}

function hex(): string {
  return randomBytes(16).toString('hex');
}

/** Account numbers as the API draws them (10 digits, no leading 0), none already taken. */
async function freeNumbers(em: Em, count: number): Promise<string[]> {
  const taken = new Set((await em.execute<{ number: string }[]>(`select number from accounts`)).map((r) => r.number));
  const out = new Set<string>();
  while (out.size < count) {
    const n = ((randomBytes(8).readBigUInt64BE() % 9_000_000_000n) + 1_000_000_000n).toString();
    if (!taken.has(n)) out.add(n);
  }
  return [...out];
}

/**
 * Copies of an API-created account, every column as it has it (whatever columns migrations have added since)
 * but its identity: id, number, name, and its place in the tree (parent, path, depth) under `parents` (null:
 * the template's own parent).
 */
async function copyAccounts(
  em: Em,
  templateId: string,
  copies: { ids: string[]; parents: (string | null)[]; names: string[]; numbers: string[] },
): Promise<void> {
  const columns = (
    await em.execute<{ column_name: string }[]>(
      `select column_name from information_schema.columns
        where table_schema = current_schema() and table_name = 'accounts' and column_name <> 'seq'
        order by ordinal_position`,
    )
  ).map((c) => c.column_name);
  const own: Record<string, string> = {
    id: 'x.id',
    number: 'x.number',
    name: 'x.name',
    parent_id: 'p.id',
    path: `p.path || x.id || '/'`,
    depth: 'p.depth + 1',
    created_at: 'now()',
    updated_at: 'now()',
  };
  await em.execute(
    `insert into accounts (${columns.join(', ')})
     select ${columns.map((c) => own[c] ?? `t.${c}`).join(', ')}
       from unnest(?::text[], ?::text[], ?::text[], ?::text[]) with ordinality as x(id, parent_id, name, number, ord)
       join accounts t on t.id = ?
       join accounts p on p.id = coalesce(x.parent_id, t.parent_id)
      order by x.ord`,
    [pgArray(copies.ids), pgArray(copies.parents), pgArray(copies.names), pgArray(copies.numbers), templateId],
  );
}

/**
 * ENTRIES entries per customer spread over the previous month (UTC; accounts bill from the 1st): two top-ups, a
 * package fee (no subscription) with its VAT, then usage batches (OUTBOUND, with their call counts and billed
 * seconds) each followed by its tax, VAT and the levy in turn. Running balances as the posting engine writes
 * them, and each account's balance the sum of its entries.
 */
async function seedLedger(em: Em, customers: string[]): Promise<void> {
  const calls = (k: string) => `(1 + (c.n * 7 + ${k} * 13) % 25)`;
  const seconds = (k: string) => `(${calls(k)} * (30 + (c.n * 11 + ${k} * 17) % 120))`;
  const cost = (k: string) => `round(${seconds(k)} * 0.0125 / 60, 6)`;
  await em.transactional(async (tx) => {
    // Without the ledger's statement trigger, which would raise and notify an event for each of the rows.
    await tx.execute(`set local session_replication_role = replica`);
    await tx.execute(
      `with month as (
         select (date_trunc('month', now() at time zone 'UTC') - interval '1 month') at time zone 'UTC' as start,
                date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' as "end"
       ), c as (
         select a.id, a.path, a.parent_id, a.root_id, x.n
           from unnest(?::text[]) with ordinality as x(id, n) join accounts a on a.id = x.id
       ), e as (
         select c.id as account_id, c.path, c.n, k,
                case when k in (1, 51) then 'TOPUP' when k = 2 then 'PACKAGE_FEE'
                     when k = 3 or k % 2 = 1 then 'TAX' else 'USAGE' end as kind,
                case when k in (1, 51) then 30.000000
                     when k = 2 then -4.990000
                     when k = 3 then -0.998000
                     when k % 2 = 1 then -round(${cost('(k - 1)')} * (case when k % 4 = 1 then 20.0 else 5.0 end) / 100, 6)
                     else -${cost('k')} end as amount,
                case when k in (1, 51) then null
                     when k in (2, 3) then 'Monthly plan'
                     when k % 2 = 1 then ${calls('(k - 1)')} || ' calls'
                     else ${calls('k')} || ' outbound calls' end as description,
                case when k in (1, 2, 3, 51) then c.parent_id else c.root_id end as actor_id,
                case when k in (1, 2, 51) or k % 2 = 0 then null
                     when k = 3 or k % 4 = 1 then 'tax_' || md5(c.parent_id || 'VAT')
                     else 'tax_' || md5(c.parent_id || 'Telecom levy') end as tax_rate_id,
                case when k % 2 = 0 and k <> 2 then 'OUTBOUND' end as call_direction,
                case when k % 2 = 0 and k <> 2 then ${calls('k')} end as call_count,
                case when k % 2 = 0 and k <> 2 then ${seconds('k')} end as billed_seconds,
                date_trunc('milliseconds', month.start
                  + (month."end" - month.start) * ((k - 1) + 0.05 + 0.9 * (c.n % 1000) / 1000.0) / ?::int) as created_at
           from c, month, generate_series(1, ?::int) as k
       )
       insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, actor_id,
                                   subscription_id, tax_rate_id, call_direction, call_count, billed_seconds, created_at)
       select 'led_' || md5(e.account_id || ':' || e.k), e.account_id, e.path, e.amount,
              sum(e.amount) over (partition by e.account_id order by e.k), e.kind, e.description, e.actor_id, null,
              e.tax_rate_id, e.call_direction, e.call_count, e.billed_seconds, e.created_at
         from e order by e.n, e.k`,
      [pgArray(customers), ENTRIES, ENTRIES],
    );
    await tx.execute(
      `update accounts a set balance = s.total
         from (select account_id, sum(amount) as total from ledger_entries where account_id = any(?::text[])
                group by account_id) s
        where a.id = s.account_id`,
      [pgArray(customers)],
    );
  });
}
