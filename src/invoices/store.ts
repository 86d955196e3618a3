import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { InvoiceEntry, InvoiceLine, InvoiceTaxLine, Period } from '../billing/index.js';
import { Decimal } from '../money.js';
import type { AccountView } from '../accounts/rows.js';
import type { InvoiceParty } from './document.js';

/**
 * How far before an account's last invoice (its period end, or its issue if the period was closed early) an
 * invoice run looks for entries no invoice holds: an entry is dated when its row is written and seen when its
 * transaction commits, and no transaction stays open this long (statements time out first).
 */
export const LATE_ENTRY_WINDOW = "interval '1 day'";

/** An account an invoice run looks at: its calendar, its last invoice's end, its oldest entry on no invoice. */
export interface InvoiceCandidate {
  id: string;
  billingDay: number;
  timezone: string;
  lastEnd: Date | null;
  /** Entries dated before this are on an invoice already, or before invoicing began (null: every entry). */
  scanFrom: Date | null;
  /** The last invoice's closing balance: the next one opens with it. */
  lastClosing: Decimal | null;
  firstOpen: Date | null;
}

/** Accounts that have a parent (roots get no invoice), by id after `after`, with what decides whether one is due. */
export async function invoiceCandidates(
  em: Em,
  options: { after: string; limit: number; rootId?: string; ids?: string[]; asOf: Date },
): Promise<InvoiceCandidate[]> {
  const rows = await executeBound<
    {
      id: string;
      billing_day: number;
      timezone: string;
      last_end: Date | null;
      scan_from: Date | null;
      last_closing: string | null;
      first_open: Date | null;
    }[]
  >(
    em,
    `select a.id, a.billing_day, a.timezone, l.last_end, l.scan_from, l.last_closing,
            -- Once the period before the running one is invoiced nothing can be due: skip the search.
            case when l.last_end >= (date_trunc('month', (?::timestamptz at time zone a.timezone) - (a.billing_day - 1) * interval '1 day')
                                     + (a.billing_day - 1) * interval '1 day') at time zone a.timezone
                 then null
                 else (select e.created_at from ledger_entries e
                        where e.account_id = a.id and e.created_at < ? and e.created_at >= coalesce(l.scan_from, '-infinity')
                          and not exists (select 1 from invoice_entries ie where ie.ledger_entry_id = e.id)
                        order by e.created_at limit 1) end as first_open
       from accounts a
       cross join lateral (
         select max(i.period_end) as last_end,
                coalesce(least(max(i.period_end), max(i.issued_at)) - ${LATE_ENTRY_WINDOW}, a.invoiced_from) as scan_from,
                (select closing_balance::text from invoices x where x.account_id = a.id
                  order by x.period_end desc limit 1) as last_closing
           from invoices i where i.account_id = a.id) l
      where a.parent_id is not null and a.id > ?
        and (?::text is null or a.root_id = ?)
        and (?::text[] is null or a.id = any(?::text[]))
      order by a.id limit ?`,
    [
      options.asOf,
      options.asOf,
      options.after,
      options.rootId ?? null,
      options.rootId ?? null,
      options.ids ? pgArray(options.ids) : null,
      options.ids ? pgArray(options.ids) : null,
      options.limit,
    ],
  );
  return rows.map((r) => ({
    id: r.id,
    billingDay: r.billing_day,
    timezone: r.timezone,
    lastEnd: r.last_end ? new Date(r.last_end) : null,
    scanFrom: r.scan_from ? new Date(r.scan_from) : null,
    lastClosing: r.last_closing === null ? null : new Decimal(r.last_closing),
    firstOpen: r.first_open ? new Date(r.first_open) : null,
  }));
}

/**
 * Takes the accounts no other invoice run holds (a transaction-scoped advisory lock each), skipping the rest:
 * two runs never invoice one account at once, and neither waits for the other.
 */
export async function claimAccounts(em: Em, ids: string[]): Promise<string[]> {
  const rows = await executeBound<{ id: string }[]>(
    em,
    `select id from unnest(?::text[]) as x(id) where pg_try_advisory_xact_lock(hashtext('invoice:' || id))`,
    [pgArray(ids)],
  );
  return rows.map((r) => r.id);
}

/** Each account's entries on no invoice, dated in [since, upto), oldest first. */
export async function openEntries(
  em: Em,
  ranges: { accountId: string; since: Date | null; upto: Date }[],
): Promise<Map<string, InvoiceEntry[]>> {
  const rows = await executeBound<
    {
      id: string;
      account_id: string;
      kind: string;
      amount: string;
      balance_after: string;
      description: string | null;
      created_at: Date;
      tax_rate_id: string | null;
      subscription_id: string | null;
      call_direction: string | null;
      call_count: number | null;
      billed_seconds: number | null;
    }[]
  >(
    em,
    `select e.id, e.account_id, e.kind, e.amount::text as amount, e.balance_after::text as balance_after, e.description,
            e.created_at, e.tax_rate_id, e.subscription_id, e.call_direction, e.call_count, e.billed_seconds
       from unnest(?::text[], ?::timestamptz[], ?::timestamptz[]) as x(account_id, since, upto)
       join ledger_entries e on e.account_id = x.account_id and e.created_at < x.upto
                            and e.created_at >= coalesce(x.since, '-infinity')
      where not exists (select 1 from invoice_entries ie where ie.ledger_entry_id = e.id)
      order by e.account_id, e.seq`,
    [
      pgArray(ranges.map((r) => r.accountId)),
      pgArray(ranges.map((r) => r.since?.toISOString() ?? null)),
      pgArray(ranges.map((r) => r.upto.toISOString())),
    ],
  );
  // Names once per rate and subscription, not joined per entry (the planner expects a few rows from unnest,
  // gets thousands, and scans the rates for each).
  const names = await executeBound<{ id: string; name: string; percent: string | null }[]>(
    em,
    `select t.id, t.name, t.percent::text as percent from tax_rates t where t.id = any(?::text[])
     union all
     select s.id, p.name, null from package_subscriptions s join packages p on p.id = s.package_id where s.id = any(?::text[])`,
    [
      pgArray([...new Set(rows.flatMap((r) => (r.tax_rate_id ? [r.tax_rate_id] : [])))]),
      pgArray([...new Set(rows.flatMap((r) => (r.subscription_id ? [r.subscription_id] : [])))]),
    ],
  );
  const named = new Map(names.map((n) => [n.id, n]));
  const byAccount = new Map<string, InvoiceEntry[]>();
  for (const r of rows) {
    const list = byAccount.get(r.account_id) ?? [];
    const rate = r.tax_rate_id ? named.get(r.tax_rate_id) : undefined;
    list.push({
      id: r.id,
      kind: r.kind,
      amount: new Decimal(r.amount),
      balanceAfter: new Decimal(r.balance_after),
      description: r.description,
      createdAt: new Date(r.created_at),
      taxRateId: r.tax_rate_id,
      taxName: rate?.name ?? null,
      taxPercent: rate?.percent ? new Decimal(rate.percent) : null,
      packageName: (r.subscription_id && named.get(r.subscription_id)?.name) || null,
      callDirection: r.call_direction,
      callCount: r.call_count,
      billedSeconds: r.billed_seconds,
    });
    byAccount.set(r.account_id, list);
  }
  return byAccount;
}

/** An account as an invoice shows it: copied into the invoice when issued, so a later profile change rewrites nothing. */
export function invoiceParty(account: AccountView): InvoiceParty {
  return {
    name: account.name,
    accountNumber: account.number,
    companyName: account.companyName ?? null,
    addressLine1: account.addressLine1 ?? null,
    addressLine2: account.addressLine2 ?? null,
    city: account.city ?? null,
    region: account.region ?? null,
    postalCode: account.postalCode ?? null,
    country: account.country ?? null,
    taxNumber: account.taxNumber ?? null,
    email: account.notificationEmail ?? account.email ?? null,
  };
}

/**
 * Takes `count` numbers from each issuer's sequence and returns the first of each. The rows are locked in
 * issuer order until the transaction ends: numbers are gapless (a rolled-back run gives its numbers back) and
 * given in the order invoices are issued, and two runs sharing issuers cannot deadlock on them.
 */
export async function takeNumbers(em: Em, counts: Map<string, number>): Promise<Map<string, number>> {
  const issuers = [...counts.keys()].sort();
  const rows = await executeBound<{ issuer_id: string; last_number: number }[]>(
    em,
    `insert into invoice_sequences as s (issuer_id, last_number)
     select x.issuer_id, x.n from unnest(?::text[], ?::int[]) as x(issuer_id, n) order by x.issuer_id
     on conflict (issuer_id) do update set last_number = s.last_number + excluded.last_number
     returning s.issuer_id, s.last_number`,
    [pgArray(issuers), pgArray(issuers.map((id) => counts.get(id)!))],
  );
  return new Map(rows.map((r) => [r.issuer_id, r.last_number - counts.get(r.issuer_id)! + 1]));
}

/** An invoice as issued. */
export interface NewInvoice {
  id: string;
  issuerId: string;
  accountId: string;
  ownerPath: string;
  sequenceNumber: number;
  number: string;
  period: Period;
  issuedAt: Date;
  dueAt: Date;
  currency: string;
  timezone: string;
  lines: InvoiceLine[];
  taxes: InvoiceTaxLine[];
  subtotal: Decimal;
  taxTotal: Decimal;
  total: Decimal;
  payments: Decimal;
  openingBalance: Decimal;
  closingBalance: Decimal;
  issuer: InvoiceParty;
  customer: InvoiceParty;
  entryIds: string[];
}

const moneyJson = (d: Decimal) => d.toFixed();

/**
 * Writes the invoices and the entries each holds. The unique (account, period start) and the primary key of
 * invoice_entries are the last word: an account is invoiced once per period and an entry is on one invoice.
 */
export async function insertInvoices(em: Em, invoices: NewInvoice[]): Promise<void> {
  if (invoices.length === 0) return;
  const col = <T>(f: (i: NewInvoice) => T) => invoices.map(f);
  await executeBound(
    em,
    `insert into invoices (id, issuer_id, account_id, owner_path, sequence_number, number, status, period_start, period_end,
                           issued_at, due_at, currency, timezone, lines, taxes, subtotal, tax_total, total, payments,
                           opening_balance, closing_balance, issuer_details, customer_details)
     select x.id, x.issuer_id, x.account_id, x.owner_path, x.sequence_number, x.number, 'FINALIZED', x.period_start,
            x.period_end, x.issued_at, x.due_at, x.currency, x.timezone, x.lines::jsonb, x.taxes::jsonb, x.subtotal,
            x.tax_total, x.total, x.payments, x.opening_balance, x.closing_balance, x.issuer::jsonb, x.customer::jsonb
       from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[],
                   ?::timestamptz[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::numeric[],
                   ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::text[], ?::text[])
            as x(id, issuer_id, account_id, owner_path, sequence_number, number, period_start, period_end, issued_at,
                 due_at, currency, timezone, lines, taxes, subtotal, tax_total, total, payments, opening_balance,
                 closing_balance, issuer, customer)`,
    [
      pgArray(col((i) => i.id)),
      pgArray(col((i) => i.issuerId)),
      pgArray(col((i) => i.accountId)),
      pgArray(col((i) => i.ownerPath)),
      pgArray(col((i) => i.sequenceNumber)),
      pgArray(col((i) => i.number)),
      pgArray(col((i) => i.period.start.toISOString())),
      pgArray(col((i) => i.period.end.toISOString())),
      pgArray(col((i) => i.issuedAt.toISOString())),
      pgArray(col((i) => i.dueAt.toISOString())),
      pgArray(col((i) => i.currency)),
      pgArray(col((i) => i.timezone)),
      pgArray(col((i) => JSON.stringify(i.lines.map((l) => ({ ...l, amount: moneyJson(l.amount) }))))),
      pgArray(col((i) => JSON.stringify(i.taxes.map((t) => ({ ...t, amount: moneyJson(t.amount) }))))),
      pgArray(col((i) => i.subtotal.toFixed())),
      pgArray(col((i) => i.taxTotal.toFixed())),
      pgArray(col((i) => i.total.toFixed())),
      pgArray(col((i) => i.payments.toFixed())),
      pgArray(col((i) => i.openingBalance.toFixed())),
      pgArray(col((i) => i.closingBalance.toFixed())),
      pgArray(col((i) => JSON.stringify(i.issuer))),
      pgArray(col((i) => JSON.stringify(i.customer))),
    ],
  );
  // In key order: the primary key's index is written in order, not at random.
  const held = invoices
    .flatMap((i) => i.entryIds.map((entryId) => ({ entryId, invoiceId: i.id })))
    .sort((a, b) => (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
  await executeBound(em, `insert into invoice_entries (ledger_entry_id, invoice_id) select * from unnest(?::text[], ?::text[])`, [
    pgArray(held.map((h) => h.entryId)),
    pgArray(held.map((h) => h.invoiceId)),
  ]);
}
