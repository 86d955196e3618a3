import { DateTime } from 'luxon';
import { Decimal, ZERO } from '../money.js';

/** When an account's invoice periods run (DOMAIN.md 9). */
export interface BillingCalendar {
  /** 1-28: a period starts at 00:00 local time on this day of the month. */
  billingDay: number;
  /** IANA name. */
  timezone: string;
}

export interface Period {
  start: Date;
  end: Date;
}

/** The period containing `instant`: from 00:00 local on the billing day to the same time a month later. */
export function periodAt(instant: Date, calendar: BillingCalendar): Period {
  const local = DateTime.fromJSDate(instant, { zone: calendar.timezone });
  // startOf('day') is the day's first instant, 01:00 where the clocks skip midnight; the end is the next
  // month's own first instant, not the start's wall time a month later.
  let start = local.set({ day: calendar.billingDay }).startOf('day');
  if (start > local) start = start.minus({ months: 1 }).startOf('day');
  return { start: start.toJSDate(), end: start.plus({ months: 1 }).startOf('day').toJSDate() };
}

/**
 * The period an entry goes on, given the end of the account's last invoice: its own period, or, for an entry
 * dated before that end but not yet on an invoice (written late), the first period after it. A period never
 * starts before the last invoice's end, so a change of billing day cannot make two invoices overlap.
 */
export function periodFor(createdAt: Date, lastEnd: Date | null, calendar: BillingCalendar): Period {
  const at = lastEnd && createdAt < lastEnd ? lastEnd : createdAt;
  const period = periodAt(at, calendar);
  return lastEnd && period.start < lastEnd ? { start: lastEnd, end: period.end } : period;
}

/** A ledger entry as an invoice reads it. */
export interface InvoiceEntry {
  id: string;
  kind: string;
  /** Signed as on the ledger: negative is a debit to the account. */
  amount: Decimal;
  balanceAfter: Decimal;
  description: string | null;
  createdAt: Date;
  taxRateId: string | null;
  taxName: string | null;
  taxPercent: Decimal | null;
  packageName: string | null;
  callDirection: string | null;
  callCount: number | null;
  billedSeconds: number | null;
}

/** The invoices due for one account: each ended period (end at or before asOf) with the entries it holds. */
export function planInvoices(
  entries: readonly InvoiceEntry[],
  lastEnd: Date | null,
  calendar: BillingCalendar,
  asOf: Date,
): { period: Period; entries: InvoiceEntry[] }[] {
  const byStart = new Map<number, { period: Period; entries: InvoiceEntry[] }>();
  let last: Period | undefined;
  for (const entry of entries) {
    // Entries come in time order: most fall in the period of the one before (the timezone arithmetic is most of
    // a large run's CPU otherwise).
    const at = lastEnd && entry.createdAt < lastEnd ? lastEnd : entry.createdAt;
    const period = last && at >= last.start && at < last.end ? last : periodFor(entry.createdAt, lastEnd, calendar);
    last = period;
    if (period.end > asOf) continue;
    const group = byStart.get(period.start.getTime()) ?? { period, entries: [] };
    group.entries.push(entry);
    byStart.set(period.start.getTime(), group);
  }
  return [...byStart.values()].sort((a, b) => a.period.start.getTime() - b.period.start.getTime());
}

export interface InvoiceLine {
  description: string;
  kind: string;
  quantity: number;
  /** Billed minutes of a usage line; null for others. */
  minutes: string | null;
  /** What the account owes: charges positive, refunds, commissions and credits negative. */
  amount: Decimal;
}

export interface InvoiceTaxLine {
  taxRateId: string;
  name: string;
  percent: string;
  amount: Decimal;
}

export interface InvoiceTotals {
  lines: InvoiceLine[];
  subtotal: Decimal;
  taxes: InvoiceTaxLine[];
  taxTotal: Decimal;
  total: Decimal;
  payments: Decimal;
}

const LABELS: Record<string, string> = {
  SETUP_FEE: 'Setup fee',
  PACKAGE_FEE: 'Package',
  RENEWAL_FEE: 'Renewal',
  MINIMUM_SPEND: 'Minimum spend',
  USAGE_ADJUSTMENT: 'Calls re-rated',
  REFUND: 'Refund',
  COMMISSION: 'Commission',
  COMMISSION_REVERSAL: 'Commission reversal',
  ADJUSTMENT: 'Adjustment',
};

function lineDescription(entry: InvoiceEntry): string {
  const label = LABELS[entry.kind] ?? entry.kind;
  if (entry.packageName) {
    const period = /period (\d+)$/.exec(entry.description ?? '')?.[1];
    return `${label}: ${entry.packageName}${period ? `, period ${period}` : ''}`;
  }
  return entry.description ? `${label}: ${entry.description}` : label;
}

/**
 * An invoice's lines and totals from its entries (DOMAIN.md 9): each fee, refund, commission and adjustment is a
 * line; usage is one line per call direction with its calls and billed minutes; taxes are per rate (TAX less
 * TAX_REFUND); top-ups are payments, apart. Amounts are what the account owes, the ledger's sign reversed.
 */
export function invoiceTotals(entries: readonly InvoiceEntry[]): InvoiceTotals {
  const lines: InvoiceLine[] = [];
  const usage = new Map<string, { calls: number; seconds: number; amount: Decimal }>();
  const taxes = new Map<string, InvoiceTaxLine>();
  let payments = ZERO;
  for (const e of entries) {
    const owed = e.amount.neg();
    if (e.kind === 'TOPUP') {
      payments = payments.plus(e.amount);
    } else if (e.kind === 'TAX' || e.kind === 'TAX_REFUND') {
      const id = e.taxRateId ?? 'unknown';
      const t = taxes.get(id) ?? {
        taxRateId: id,
        name: e.taxName ?? 'Tax',
        percent: e.taxPercent?.toFixed() ?? '0',
        amount: ZERO,
      };
      taxes.set(id, { ...t, amount: t.amount.plus(owed) });
    } else if (e.kind === 'USAGE') {
      const direction = e.callDirection ?? 'OUTBOUND';
      const u = usage.get(direction) ?? { calls: 0, seconds: 0, amount: ZERO };
      usage.set(direction, {
        calls: u.calls + (e.callCount ?? 0),
        seconds: u.seconds + (e.billedSeconds ?? 0),
        amount: u.amount.plus(owed),
      });
    } else {
      lines.push({ description: lineDescription(e), kind: e.kind, quantity: 1, minutes: null, amount: owed });
    }
  }
  for (const direction of ['OUTBOUND', 'INBOUND', ...usage.keys()]) {
    const u = usage.get(direction);
    if (!u) continue;
    usage.delete(direction);
    lines.push({
      description: `${direction === 'INBOUND' ? 'Inbound' : 'Outbound'} calls`,
      kind: 'USAGE',
      quantity: u.calls,
      minutes: new Decimal(u.seconds).div(60).toDecimalPlaces(2).toFixed(),
      amount: u.amount,
    });
  }
  const subtotal = lines.reduce((s, l) => s.plus(l.amount), ZERO);
  const taxLines = [...taxes.values()];
  const taxTotal = taxLines.reduce((s, t) => s.plus(t.amount), ZERO);
  return { lines, subtotal, taxes: taxLines, taxTotal, total: subtotal.plus(taxTotal), payments };
}

/**
 * An invoice's opening and closing balance: it opens with the last invoice's closing balance (the first one
 * with the balance before its first entry) and closes with that plus its own entries. Invoices then chain
 * exactly, late entries included: closing = opening + payments - total.
 */
export function invoiceBalances(
  entries: readonly InvoiceEntry[],
  lastClosing: Decimal | null,
): { opening: Decimal; closing: Decimal } {
  const opening = lastClosing ?? (entries.length ? entries[0].balanceAfter.minus(entries[0].amount) : ZERO);
  return { opening, closing: entries.reduce((sum, e) => sum.plus(e.amount), opening) };
}

/** "INV-" and 1 -> "INV-000001": each issuer's own gapless sequence. */
export function invoiceNumber(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(6, '0')}`;
}
