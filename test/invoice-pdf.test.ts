// The invoice PDF (src/invoices/pdf.ts), no database: render the worked example, then read it back with pdf-parse
// to prove what a reader of the file sees, and render page 1 to docs/img/invoice.png for the documentation.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { PDFParse } from 'pdf-parse';
import { describe, expect, it } from 'vitest';
import type { InvoiceDocument, InvoiceParty } from '../src/invoices/document.js';
import { formatInvoiceAmount, renderInvoicePdf, writeInvoicePdf } from '../src/invoices/pdf.js';
import { Decimal } from '../src/money.js';

const d = (v: string | number) => new Decimal(v);
const PNG_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'img', 'invoice.png');

const issuer: InvoiceParty = {
  name: 'Reseller R',
  accountNumber: null,
  companyName: 'R Telecom Ltd',
  addressLine1: '1 King Street',
  addressLine2: 'Floor 3',
  city: 'London',
  region: null,
  postalCode: 'EC2V 8AU',
  country: 'GB',
  taxNumber: 'GB123456789',
  email: 'billing@r-telecom.example',
};

const customer: InvoiceParty = {
  name: 'Customer C',
  accountNumber: 'ACC-000042',
  companyName: 'C Logistik GmbH',
  addressLine1: 'Hauptstraße 5',
  addressLine2: null,
  city: 'Berlin',
  region: null,
  postalCode: '10115',
  country: 'DE',
  taxNumber: 'DE999',
  email: null,
};

/** The worked example: subtotal 17.0450, VAT 20% and Local 2.5%, 50 paid against a zero opening balance. */
function workedExample(): InvoiceDocument {
  return {
    number: 'INV-000001',
    status: 'FINALIZED',
    voidReason: null,
    issuer,
    customer,
    periodStart: new Date('2026-11-01T00:00:00Z'),
    periodEnd: new Date('2026-12-01T00:00:00Z'),
    issuedAt: new Date('2026-12-01T00:00:00Z'),
    dueAt: new Date('2026-12-15T00:00:00Z'),
    currency: 'USD',
    timezone: 'UTC',
    lines: [
      { description: 'Setup fee — UK100', kind: 'SETUP', quantity: 1, minutes: null, amount: d('2.00') },
      { description: 'Package fee — UK100, period 1', kind: 'PACKAGE', quantity: 1, minutes: null, amount: d('15.00') },
      { description: 'Outbound calls', kind: 'USAGE', quantity: 3, minutes: '3', amount: d('0.0450') },
    ],
    subtotal: d('17.0450'),
    taxes: [
      { name: 'VAT', percent: '20', amount: d('3.4090') },
      { name: 'Local', percent: '2.5', amount: d('0.4262') },
    ],
    taxTotal: d('3.8352'),
    total: d('20.8802'),
    payments: d('50'),
    openingBalance: d('0'),
    closingBalance: d('29.1198'),
  };
}

async function readBack(pdf: Buffer): Promise<{ text: string; pages: number; title: unknown }> {
  const parser = new PDFParse({ data: new Uint8Array(pdf) });
  try {
    const result = await parser.getText();
    const info = await parser.getInfo();
    return { text: result.text, pages: result.total, title: info.info?.Title };
  } finally {
    await parser.destroy();
  }
}

describe('invoice PDF', () => {
  it('shows the worked example on one page', async () => {
    const pdf = await renderInvoicePdf(workedExample());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');

    const { text, pages, title } = await readBack(pdf);
    expect(pages).toBe(1);
    expect(title).toBe('Invoice INV-000001');
    for (const expected of [
      'INVOICE',
      'INV-000001',
      'Reseller R',
      'Customer C',
      'Tax number: GB123456789',
      'Tax number: DE999',
      'Account number: ACC-000042',
      'Setup fee — UK100',
      'Package fee — UK100, period 1',
      'Outbound calls',
      '1 Nov 2026 – 30 Nov 2026',
    ]) {
      expect(text).toContain(expected);
    }
    // Label and amount share a line; pdf-parse separates the two with whitespace.
    expect(text).toMatch(/Subtotal\s+17\.045 USD/);
    expect(text).toMatch(/VAT \(20%\)\s+3\.409 USD/);
    expect(text).toMatch(/Local \(2\.5%\)\s+0\.4262 USD/);
    expect(text).toMatch(/Tax total\s+3\.8352 USD/);
    expect(text).toMatch(/Total\s+20\.8802 USD/);
    expect(text).toMatch(/Payments received\s+50\.00 USD/);
    expect(text).toMatch(/Closing balance\s+29\.1198 USD/);
    expect(text).toMatch(/Outbound calls\s+3\s+3\s+0\.045 USD/);
    expect(text).not.toContain('VOID');
  });

  it('marks a void invoice and gives the reason', async () => {
    const doc: InvoiceDocument = { ...workedExample(), status: 'VOID', voidReason: 'Issued to the wrong customer' };
    const { text, pages } = await readBack(await renderInvoicePdf(doc));
    expect(pages).toBe(1);
    expect(text).toContain('VOID');
    expect(text).toContain('Issued to the wrong customer');
  });

  it('streams the same invoice as it renders in memory', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await writeInvoicePdf(workedExample(), out);
    const { text, pages } = await readBack(Buffer.concat(chunks));
    expect(pages).toBe(1);
    expect(text).toMatch(/Total\s+20\.8802 USD/);
  });

  it('continues a long table on a second page with the header repeated', async () => {
    const base = workedExample();
    const lines = Array.from({ length: 40 }, (_, i) => ({ ...base.lines[2], description: `Outbound calls, batch ${i + 1}` }));
    const { text, pages } = await readBack(await renderInvoicePdf({ ...base, lines }));
    expect(pages).toBe(2);
    expect(text.match(/DESCRIPTION/g)).toHaveLength(2);
    expect(text).toContain('Outbound calls, batch 40');
    expect(text).toContain('Page 2 of 2');
  });

  it('formats amounts with 2 to 4 decimals, never rounding a ledger amount', () => {
    expect(formatInvoiceAmount(d(15))).toBe('15.00');
    expect(formatInvoiceAmount(d('17.0450'))).toBe('17.045');
    expect(formatInvoiceAmount(d('0.045'))).toBe('0.045');
    expect(formatInvoiceAmount(d(-1))).toBe('-1.00');
    expect(formatInvoiceAmount(d('20.8802'))).toBe('20.8802');
    expect(formatInvoiceAmount(d('1.2000'))).toBe('1.20');
    expect(formatInvoiceAmount(d(0))).toBe('0.00');
    expect(formatInvoiceAmount(d('-0.00001'))).toBe('0.00');
  });

  it('renders page 1 to docs/img/invoice.png', async (context) => {
    const pdf = await renderInvoicePdf(workedExample());
    const png = (await screenshotWithPdfParse(pdf)) ?? (await screenshotWithPdftoppm(pdf));
    if (!png) {
      context.skip('no PNG renderer: neither @napi-rs/canvas (for pdf-parse getScreenshot) nor pdftoppm is available');
      return;
    }
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // IHDR: width is the big-endian uint32 at byte 16.
    expect(png.readUInt32BE(16)).toBeGreaterThan(500);
    expect(png.length).toBeGreaterThan(10 * 1024);
    await mkdir(dirname(PNG_PATH), { recursive: true });
    await writeFile(PNG_PATH, png);
  });
});

/** pdf-parse renders through @napi-rs/canvas, an optional native package; null when it is not installed. */
async function screenshotWithPdfParse(pdf: Buffer): Promise<Buffer | null> {
  try {
    createRequire(import.meta.url).resolve('@napi-rs/canvas');
  } catch {
    return null;
  }
  const parser = new PDFParse({ data: new Uint8Array(pdf), standardFontDataUrl: standardFontsDir() });
  try {
    const result = await parser.getScreenshot({ partial: [1], scale: 1.5, imageDataUrl: false });
    return Buffer.from(result.pages[0].data);
  } finally {
    await parser.destroy();
  }
}

/**
 * The invoice uses pdfkit's built-in Helvetica, which a PDF does not embed. Without pdf.js's own substitutes
 * (Liberation Sans, shipped in pdfjs-dist) it falls back to a serif face and the PNG misrepresents the layout.
 * Resolved from pdf-parse's location, since pdfjs-dist is its dependency, not ours.
 */
function standardFontsDir(): string {
  const require = createRequire(import.meta.url);
  const pdfjs = createRequire(require.resolve('pdf-parse')).resolve('pdfjs-dist/package.json');
  return join(dirname(pdfjs), 'standard_fonts') + '/';
}

/** Poppler's pdftoppm (Debian: poppler-utils) as a fallback; null when it is not on the PATH. */
async function screenshotWithPdftoppm(pdf: Buffer): Promise<Buffer | null> {
  const dir = await mkdtemp(join(tmpdir(), 'invoice-pdf-'));
  try {
    await writeFile(join(dir, 'invoice.pdf'), pdf);
    await promisify(execFile)('pdftoppm', ['-png', '-r', '108', '-f', '1', '-l', '1', '-singlefile', 'invoice.pdf', 'page'], {
      cwd: dir,
    });
    return await readFile(join(dir, 'page.png'));
  } catch {
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
