import { pipeline } from 'node:stream/promises';
import PDFDocument from 'pdfkit';
import { Decimal, roundMoney } from '../money.js';
import type { InvoiceDocument, InvoiceDocumentLine, InvoiceParty } from './document.js';

type Pdf = PDFKit.PDFDocument;

// A4 in points. Every position below is computed from these, so the layout is one place to change.
const PAGE_WIDTH = 595.28;
const PAGE_HEIGHT = 841.89;
const MARGIN = 50;
const LEFT = MARGIN;
const RIGHT = PAGE_WIDTH - MARGIN;
const CONTENT_WIDTH = RIGHT - LEFT;
/** The footer sits in the bottom margin; table rows and totals must stop above it. */
const FOOTER_TOP = PAGE_HEIGHT - MARGIN + 8;
const CONTENT_BOTTOM = PAGE_HEIGHT - MARGIN - 10;

const FONT = 'Helvetica';
const FONT_BOLD = 'Helvetica-Bold';
const SIZE = 9.5;
const SIZE_SMALL = 8;

const INK = '#1f2937';
const MUTED = '#6b7280';
const RULE = '#d1d5db';
const BAND = '#f3f4f6';
const VOID_RED = '#b91c1c';

/** Cells pad their text horizontally so right-aligned amounts do not touch the band's edge. */
const CELL_PAD = 8;
const ROW_PAD = 6;

interface Column {
  title: string;
  x: number;
  width: number;
  align: 'left' | 'right';
  cell: (line: InvoiceDocumentLine, currency: string) => string;
}

// The amount column's right edge is also where the totals end, so every money figure on the page shares one edge.
const AMOUNT_RIGHT = RIGHT - CELL_PAD;
const COLUMNS: Column[] = [
  { title: 'Description', x: LEFT + CELL_PAD, width: 235, align: 'left', cell: (l) => l.description },
  { title: 'Qty', x: 300, width: 45, align: 'right', cell: (l) => String(l.quantity) },
  { title: 'Minutes', x: 355, width: 60, align: 'right', cell: (l) => l.minutes ?? '' },
  { title: 'Amount', x: AMOUNT_RIGHT - 115, width: 115, align: 'right', cell: (l, c) => money(l.amount, c) },
];

/**
 * The ledger keeps 4 decimal places and an invoice must show exactly what was charged, so a ledger amount is never
 * rounded: only trailing zeros beyond the second decimal are dropped (15 -> "15.00", 17.0450 -> "17.045"). A value
 * with more places (not from the ledger) is rounded half-up to 4, the way every charge is.
 */
export function formatInvoiceAmount(d: Decimal): string {
  const rounded = roundMoney(d);
  // -0.00001 rounds to -0, which would print as "-0.00".
  const fixed = (rounded.isZero() ? new Decimal(0) : rounded).toFixed(4);
  return fixed.replace(/0{1,2}$/, '');
}

function money(d: Decimal, currency: string): string {
  return `${formatInvoiceAmount(d)} ${currency}`;
}

/** Renders the invoice into memory, for callers that need the whole file (attachments, tests). */
export function renderInvoicePdf(doc: InvoiceDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const pdf = buildInvoicePdf(doc);
    const chunks: Buffer[] = [];
    pdf.on('data', (chunk: Buffer) => chunks.push(chunk));
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
    pdf.end();
  });
}

/**
 * Streams the invoice into `out` (an HTTP response) and ends it. Resolves once `out` has finished; rejects (and
 * destroys `out`) if either side fails, e.g. the client disconnects, which a bare pipe() would leave unhandled.
 */
export async function writeInvoicePdf(doc: InvoiceDocument, out: NodeJS.WritableStream): Promise<void> {
  const pdf = buildInvoicePdf(doc);
  const done = pipeline(pdf, out);
  pdf.end();
  await done;
}

/** Lays out every page; the caller pipes or collects the stream and calls end(). */
function buildInvoicePdf(doc: InvoiceDocument): Pdf {
  const pdf = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: MARGIN, left: MARGIN, right: MARGIN },
    // Buffered so the footer can say "Page 1 of N" once N is known.
    bufferPages: true,
    info: {
      Title: `Invoice ${doc.number}`,
      Author: doc.issuer.name,
      Subject: `Invoice ${doc.number} for ${doc.customer.name}`,
      // The issue date rather than "now", so rendering the same invoice twice gives the same bytes.
      CreationDate: doc.issuedAt,
    },
  });
  const dates = dateFormatter(doc.timezone);

  let y = drawHeader(pdf, doc, dates);
  y = drawParties(pdf, doc, y + 28);
  y = drawLines(pdf, doc, y + 28);
  drawTotals(pdf, doc, y + 16);
  drawFooters(pdf, doc);
  return pdf;
}

function dateFormatter(timezone: string): (d: Date) => string {
  const format = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, day: 'numeric', month: 'short', year: 'numeric' });
  return (d) => format.format(d);
}

/**
 * The period end is exclusive (midnight starting the next period). One millisecond before it is the last instant
 * of the period, which falls on the last day even across a DST change, where subtracting 24 hours would not.
 */
function periodText(doc: InvoiceDocument, dates: (d: Date) => string): string {
  const lastInstant = new Date(doc.periodEnd.getTime() - 1);
  return `${dates(doc.periodStart)} – ${dates(lastInstant)}`;
}

function text(pdf: Pdf, value: string, x: number, y: number, options: PDFKit.Mixins.TextOptions = {}): number {
  pdf.text(value, x, y, { lineGap: 1.5, ...options });
  return pdf.y;
}

function style(pdf: Pdf, font: string, size: number, color: string): Pdf {
  return pdf.font(font).fontSize(size).fillColor(color);
}

function hRule(pdf: Pdf, y: number, color = RULE, width = 0.75): void {
  pdf.save().moveTo(LEFT, y).lineTo(RIGHT, y).lineWidth(width).strokeColor(color).stroke().restore();
}

/** Title, number and VOID marker on the left; dates on the right. Returns the y below both. */
function drawHeader(pdf: Pdf, doc: InvoiceDocument, dates: (d: Date) => string): number {
  style(pdf, FONT_BOLD, 26, INK);
  text(pdf, 'INVOICE', LEFT, MARGIN, { lineGap: 0 });
  if (doc.status === 'VOID') drawVoidStamp(pdf, LEFT + pdf.widthOfString('INVOICE') + 14, MARGIN + 2);

  style(pdf, FONT_BOLD, 13, MUTED);
  let left = text(pdf, doc.number, LEFT, MARGIN + 32);
  if (doc.status === 'VOID') {
    style(pdf, FONT_BOLD, SIZE, VOID_RED);
    left = text(pdf, `Void reason: ${doc.voidReason ?? 'not given'}`, LEFT, left + 6, { width: 250 });
  }

  const rows: [string, string][] = [
    ['Issue date', dates(doc.issuedAt)],
    ['Due date', dates(doc.dueAt)],
    ['Billing period', periodText(doc, dates)],
  ];
  let right = MARGIN + 4;
  for (const [label, value] of rows) {
    style(pdf, FONT, SIZE, MUTED);
    text(pdf, label, RIGHT - 230, right, { width: 80, lineBreak: false });
    style(pdf, FONT_BOLD, SIZE, INK);
    right = text(pdf, value, RIGHT - 150, right, { width: 150, align: 'right' }) + 3;
  }

  const bottom = Math.max(left, right) + 14;
  hRule(pdf, bottom, INK, 1);
  return bottom;
}

function drawVoidStamp(pdf: Pdf, x: number, y: number): void {
  style(pdf, FONT_BOLD, 16, VOID_RED);
  const width = pdf.widthOfString('VOID') + 16;
  pdf.save().roundedRect(x, y, width, 26, 3).lineWidth(2).strokeColor(VOID_RED).stroke().restore();
  text(pdf, 'VOID', x, y + 6, { width, align: 'center', lineGap: 0 });
}

/** Issuer and customer side by side. Returns the y below the taller of the two. */
function drawParties(pdf: Pdf, doc: InvoiceDocument, y: number): number {
  const half = CONTENT_WIDTH / 2;
  const from = drawParty(pdf, 'FROM', doc.issuer, LEFT, y, half - 20);
  const to = drawParty(pdf, 'BILL TO', doc.customer, LEFT + half + 10, y, half - 10);
  return Math.max(from, to);
}

function drawParty(pdf: Pdf, label: string, party: InvoiceParty, x: number, y: number, width: number): number {
  style(pdf, FONT_BOLD, SIZE_SMALL, MUTED);
  y = text(pdf, label, x, y, { width, characterSpacing: 0.8 }) + 4;
  style(pdf, FONT_BOLD, 11, INK);
  y = text(pdf, party.name, x, y, { width });

  style(pdf, FONT, SIZE, INK);
  for (const line of addressLines(party)) y = text(pdf, line, x, y, { width });

  const references = [
    party.taxNumber && `Tax number: ${party.taxNumber}`,
    party.accountNumber && `Account number: ${party.accountNumber}`,
    party.email,
  ].filter((line): line is string => !!line);
  if (references.length) y += 5;
  style(pdf, FONT, SIZE, MUTED);
  for (const line of references) y = text(pdf, line, x, y, { width });
  return y;
}

/** Null fields are left out entirely, so an address never has blank lines in it. */
function addressLines(party: InvoiceParty): string[] {
  const cityLine = [party.postalCode, party.city].filter(Boolean).join(' ');
  const lines = [party.companyName, party.addressLine1, party.addressLine2, cityLine, party.region, countryName(party.country)];
  return lines.filter((line): line is string => !!line);
}

const REGIONS = new Intl.DisplayNames(['en'], { type: 'region' });

/** Written out for the postal address ("GB" -> "United Kingdom"); an unknown code is shown as stored. */
function countryName(code: string | null): string | null {
  if (!code) return null;
  try {
    return REGIONS.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** The lines table, continuing on new pages (header repeated) when it runs out of room. Returns the y below it. */
function drawLines(pdf: Pdf, doc: InvoiceDocument, y: number): number {
  y = drawTableHeader(pdf, y);
  for (const line of doc.lines) {
    style(pdf, FONT, SIZE, INK);
    const height = rowHeight(pdf, line, doc.currency);
    if (y + height > CONTENT_BOTTOM) {
      pdf.addPage();
      y = drawTableHeader(pdf, MARGIN);
      style(pdf, FONT, SIZE, INK);
    }
    for (const column of COLUMNS) {
      text(pdf, column.cell(line, doc.currency), column.x, y + ROW_PAD, { width: column.width, align: column.align });
    }
    y += height;
    hRule(pdf, y);
  }
  return y;
}

function drawTableHeader(pdf: Pdf, y: number): number {
  const height = 22;
  pdf.save().rect(LEFT, y, CONTENT_WIDTH, height).fill(BAND).restore();
  style(pdf, FONT_BOLD, SIZE_SMALL, MUTED);
  for (const column of COLUMNS) {
    text(pdf, column.title.toUpperCase(), column.x, y + 7.5, {
      width: column.width,
      align: column.align,
      characterSpacing: 0.5,
      lineGap: 0,
    });
  }
  return y + height;
}

/** A long description wraps inside its column, so the row grows with it. */
function rowHeight(pdf: Pdf, line: InvoiceDocumentLine, currency: string): number {
  const heights = COLUMNS.map((c) => pdf.heightOfString(c.cell(line, currency), { width: c.width, lineGap: 1.5 }));
  return Math.max(...heights) + 2 * ROW_PAD;
}

interface TotalRow {
  label: string;
  amount: Decimal;
  bold?: boolean;
  /** Extra space above the row, to group related figures. */
  gap?: number;
  ruleAbove?: boolean;
}

function totalRows(doc: InvoiceDocument): TotalRow[] {
  return [
    { label: 'Subtotal', amount: doc.subtotal },
    ...doc.taxes.map((t) => ({ label: `${t.name} (${t.percent}%)`, amount: t.amount })),
    { label: 'Tax total', amount: doc.taxTotal },
    { label: 'Total', amount: doc.total, bold: true, ruleAbove: true, gap: 4 },
    { label: 'Payments received', amount: doc.payments, gap: 14 },
    { label: 'Opening balance', amount: doc.openingBalance },
    { label: 'Closing balance', amount: doc.closingBalance },
  ];
}

const TOTALS_AMOUNT_WIDTH = 115;
const TOTALS_LABEL_RIGHT = AMOUNT_RIGHT - TOTALS_AMOUNT_WIDTH - 12;
const TOTALS_LEFT = TOTALS_LABEL_RIGHT - 140;

/** Right-aligned labels and amounts under the Amount column; moved whole to a new page if it would not fit. */
function drawTotals(pdf: Pdf, doc: InvoiceDocument, y: number): void {
  const rows = totalRows(doc);
  const lineHeight = 16;
  const needed = rows.reduce((sum, row) => sum + lineHeight + (row.gap ?? 0), 0);
  if (y + needed > CONTENT_BOTTOM) {
    pdf.addPage();
    y = MARGIN;
  }

  for (const row of rows) {
    y += row.gap ?? 0;
    if (row.ruleAbove) {
      pdf
        .save()
        .moveTo(TOTALS_LEFT, y - 3)
        .lineTo(RIGHT, y - 3)
        .lineWidth(1)
        .strokeColor(INK)
        .stroke()
        .restore();
      y += 4;
    }
    const size = row.bold ? 11 : SIZE;
    style(pdf, row.bold ? FONT_BOLD : FONT, size, row.bold ? INK : MUTED);
    text(pdf, row.label, TOTALS_LEFT, y, { width: TOTALS_LABEL_RIGHT - TOTALS_LEFT, align: 'right' });
    style(pdf, row.bold ? FONT_BOLD : FONT, size, INK);
    const amountX = AMOUNT_RIGHT - TOTALS_AMOUNT_WIDTH;
    text(pdf, money(row.amount, doc.currency), amountX, y, { width: TOTALS_AMOUNT_WIDTH, align: 'right' });
    y += lineHeight;
  }
}

/** Drawn last, on every buffered page, because the page count is only known once the table has been laid out. */
function drawFooters(pdf: Pdf, doc: InvoiceDocument): void {
  const { start, count } = pdf.bufferedPageRange();
  for (let i = start; i < start + count; i++) {
    pdf.switchToPage(i);
    // The footer is inside the bottom margin; without this pdfkit would see text past the margin and add a page.
    const bottom = pdf.page.margins.bottom;
    pdf.page.margins.bottom = 0;
    hRule(pdf, FOOTER_TOP - 8);
    style(pdf, FONT, SIZE_SMALL, MUTED);
    const note = 'Lines: owed is positive, credits are negative. Balances: positive is funds held.';
    text(pdf, note, LEFT, FOOTER_TOP, { width: CONTENT_WIDTH - 120, lineBreak: false });
    const page = `${doc.number} · Page ${i - start + 1} of ${count}`;
    text(pdf, page, RIGHT - 120, FOOTER_TOP, { width: 120, align: 'right', lineBreak: false });
    pdf.page.margins.bottom = bottom;
  }
}
