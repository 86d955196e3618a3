import { executeBound, type Em } from '../db/orm.js';
import type { InvoiceLine, InvoiceTaxLine } from '../billing/index.js';
import { scopePath } from '../entities/scope.js';
import { Decimal } from '../money.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';
import type { InvoiceDocument, InvoiceParty } from './document.js';

export type InvoiceStatus = 'FINALIZED' | 'VOID';

/** An invoice as the API serves it. */
export interface InvoiceView {
  id: string;
  seq: string;
  number: string;
  issuerId: string;
  accountId: string;
  ownerPath: string;
  status: InvoiceStatus;
  periodStart: Date;
  periodEnd: Date;
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
  voidReason: string | null;
  issuer: InvoiceParty;
  customer: InvoiceParty;
}

const COLUMNS = `id, seq::text as seq, number, issuer_id, account_id, owner_path, status, period_start, period_end, issued_at,
  due_at, currency, timezone, lines, taxes, subtotal::text as subtotal, tax_total::text as tax_total, total::text as total,
  payments::text as payments, opening_balance::text as opening_balance, closing_balance::text as closing_balance,
  void_reason, issuer_details, customer_details`;

interface Row {
  id: string;
  seq: string;
  number: string;
  issuer_id: string;
  account_id: string;
  owner_path: string;
  status: InvoiceStatus;
  period_start: Date;
  period_end: Date;
  issued_at: Date;
  due_at: Date;
  currency: string;
  timezone: string;
  lines: (Omit<InvoiceLine, 'amount'> & { amount: string })[];
  taxes: (Omit<InvoiceTaxLine, 'amount'> & { amount: string })[];
  subtotal: string;
  tax_total: string;
  total: string;
  payments: string;
  opening_balance: string;
  closing_balance: string;
  void_reason: string | null;
  issuer_details: InvoiceParty;
  customer_details: InvoiceParty;
}

function toView(r: Row): InvoiceView {
  return {
    id: r.id,
    seq: r.seq,
    number: r.number,
    issuerId: r.issuer_id,
    accountId: r.account_id,
    ownerPath: r.owner_path,
    status: r.status,
    periodStart: new Date(r.period_start),
    periodEnd: new Date(r.period_end),
    issuedAt: new Date(r.issued_at),
    dueAt: new Date(r.due_at),
    currency: r.currency,
    timezone: r.timezone,
    lines: r.lines.map((l) => ({ ...l, amount: new Decimal(l.amount) })),
    taxes: r.taxes.map((t) => ({ ...t, amount: new Decimal(t.amount) })),
    subtotal: new Decimal(r.subtotal),
    taxTotal: new Decimal(r.tax_total),
    total: new Decimal(r.total),
    payments: new Decimal(r.payments),
    openingBalance: new Decimal(r.opening_balance),
    closingBalance: new Decimal(r.closing_balance),
    voidReason: r.void_reason,
    issuer: r.issuer_details,
    customer: r.customer_details,
  };
}

/** An invoice in the caller's scope (the account's and its ancestors'), or null like a missing one. */
export async function findInvoice(em: Em, id: string): Promise<InvoiceView | null> {
  const [row] = await executeBound<Row[]>(em, `select ${COLUMNS} from invoices where id = ? and starts_with(owner_path, ?)`, [
    id,
    scopePath(em),
  ]);
  return row ? toView(row) : null;
}

/** Invoices an account received (by `column` account_id) or issued (issuer_id), newest first. */
export function invoicesPage(
  em: Em,
  column: 'account_id' | 'issuer_id',
  accountId: string,
  args: PageArgs & { status?: InvoiceStatus | null },
): Promise<Page<InvoiceView>> {
  const where = [`${column} = ?`];
  const values: unknown[] = [accountId];
  if (args.status) {
    where.push('status = ?');
    values.push(args.status);
  }
  return findRowsPage(
    em,
    { table: 'invoices', columns: COLUMNS, pathColumn: 'owner_path', where, values, order: 'desc' },
    args,
    toView,
  );
}

/** Voids an invoice: its number stays used and its entries stay on it. */
export async function voidInvoiceRow(em: Em, id: string, reason: string, by: string): Promise<boolean> {
  const rows = await executeBound<{ id: string }[]>(
    em,
    `update invoices set status = 'VOID', void_reason = ?, voided_at = now(), voided_by = ?
      where id = ? and status = 'FINALIZED' returning id`,
    [reason, by, id],
  );
  return rows.length === 1;
}

export function invoiceDocument(invoice: InvoiceView): InvoiceDocument {
  return {
    number: invoice.number,
    status: invoice.status,
    voidReason: invoice.voidReason,
    issuer: invoice.issuer,
    customer: invoice.customer,
    periodStart: invoice.periodStart,
    periodEnd: invoice.periodEnd,
    issuedAt: invoice.issuedAt,
    dueAt: invoice.dueAt,
    currency: invoice.currency,
    timezone: invoice.timezone,
    lines: invoice.lines,
    subtotal: invoice.subtotal,
    taxes: invoice.taxes.map((t) => ({ name: t.name, percent: t.percent, amount: t.amount })),
    taxTotal: invoice.taxTotal,
    total: invoice.total,
    payments: invoice.payments,
    openingBalance: invoice.openingBalance,
    closingBalance: invoice.closingBalance,
  };
}
