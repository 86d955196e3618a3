import type { Decimal } from '../money.js';

/** A party to an invoice as it stood when the invoice was issued: an invoice never changes with a profile. */
export interface InvoiceParty {
  name: string;
  /** The account number (customer) or null (issuer). */
  accountNumber: string | null;
  companyName: string | null;
  addressLine1: string | null;
  addressLine2: string | null;
  city: string | null;
  region: string | null;
  postalCode: string | null;
  /** ISO 3166 alpha-2. */
  country: string | null;
  taxNumber: string | null;
  email: string | null;
}

export interface InvoiceDocumentLine {
  description: string;
  kind: string;
  quantity: number;
  /** Billed minutes of a usage line ("3", "2.5"); null for other lines. */
  minutes: string | null;
  /** Net, what the account owes: charges positive, refunds, commissions and credits negative. */
  amount: Decimal;
}

export interface InvoiceDocumentTax {
  name: string;
  /** Percent as written on the rate, e.g. "20" or "2.5". */
  percent: string;
  amount: Decimal;
}

/** Everything an invoice's PDF shows. */
export interface InvoiceDocument {
  number: string;
  status: 'FINALIZED' | 'VOID';
  voidReason: string | null;
  issuer: InvoiceParty;
  customer: InvoiceParty;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date;
  dueAt: Date;
  currency: string;
  /** The customer's IANA timezone: the period's dates are shown in it. */
  timezone: string;
  lines: InvoiceDocumentLine[];
  subtotal: Decimal;
  taxes: InvoiceDocumentTax[];
  taxTotal: Decimal;
  total: Decimal;
  payments: Decimal;
  openingBalance: Decimal;
  closingBalance: Decimal;
}
