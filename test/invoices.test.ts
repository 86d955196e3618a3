// Invoices end to end (DOMAIN.md 9): the worked example, numbering, late entries, void, scope and the PDF.
import { PDFParse } from 'pdf-parse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodAt } from '../src/billing/index.js';
import { systemEm } from '../src/db/orm.js';
import { createPlatform, errorCode, sql, startServer, unique, type TestServer } from './support/harness.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const DAY = 86_400_000;
/** The furthest generateInvoices may close periods: every period running now has ended by then. */
const closeNow = () => new Date(Date.now() + 31 * DAY - 60_000).toISOString();

const GENERATE = `mutation ($asOf: DateTime!) { generateInvoices(asOf: $asOf) { issued } }`;
const INVOICE_FIELDS = `id number status periodStart periodEnd issuedAt dueAt currency subtotal taxTotal total payments
  openingBalance closingBalance voidReason pdfUrl issuer { id name } account { id }
  lines { description kind quantity minutes amount } taxes { name percent amount taxRate { id name } }`;
const INVOICES = `query ($id: ID!) { account(id: $id) { invoices { totalCount edges { node { ${INVOICE_FIELDS} } } } } }`;

async function invoicesOf(token: string, id: string) {
  const { account } = await server.ok(INVOICES, { id }, token);
  return account.invoices.edges.map((e: { node: Record<string, unknown> }) => e.node);
}

async function tax(token: string, name: string, percent: string, priority: number): Promise<string> {
  const { createTaxRate } = await server.ok(
    `mutation ($input: CreateTaxRateInput!) { createTaxRate(input: $input) { id } }`,
    { input: { name, percent, priority } },
    token,
  );
  return createTaxRate.id;
}

async function rateGroup(token: string, rate: string): Promise<string> {
  const { createRateGroup } = await server.ok(
    `mutation ($input: CreateRateGroupInput!) { createRateGroup(input: $input) { id } }`,
    { input: { name: unique('rg'), rates: [{ prefix: '44', ratePerMinute: rate }] } },
    token,
  );
  return createRateGroup.id;
}

/** DOMAIN.md 8 and 9: C (VAT 20 %, Local 2.5 %) tops up 50.00, buys R's package and makes three calls. */
async function workedExample() {
  const root = await createPlatform(server);
  const r = await addAccount(server, root.token, {
    kind: 'RESELLER',
    name: 'R',
    companyName: 'R Telecom Ltd',
    taxNumber: 'GB123',
  });
  const c = await addAccount(server, r.token, {
    kind: 'CUSTOMER',
    name: 'C',
    companyName: 'C GmbH',
    addressLine1: 'Hauptstrasse 5',
    city: 'Berlin',
    country: 'de',
    taxNumber: 'DE999',
    billingDay: 1,
    timezone: 'UTC',
  });
  await server.ok(
    `mutation ($a: ID!, $ids: [ID!]!) { setAccountTaxes(accountId: $a, taxRateIds: $ids) { id } }`,
    { a: r.id, ids: [await tax(root.token, 'VAT', '20', 1)] },
    root.token,
  );
  await server.ok(
    `mutation ($a: ID!, $ids: [ID!]!) { setAccountTaxes(accountId: $a, taxRateIds: $ids) { id } }`,
    { a: c.id, ids: [await tax(r.token, 'VAT', '20', 1), await tax(r.token, 'Local', '2.5', 2)] },
    r.token,
  );
  await topUp(server, root.token, r.id, '100');
  await topUp(server, r.token, c.id, '50');
  const { createPackage } = await server.ok(
    `mutation { createPackage(input: { name: "UK100", price: "10", setupFee: "1", resellerCanResell: true }) { id } }`,
    {},
    root.token,
  );
  const { optIn } = await server.ok(
    `mutation ($p: ID!) { optIn(input: { packageId: $p, price: "15", setupFee: "2", canBePurchased: true }) { id } }`,
    { p: createPackage.id },
    r.token,
  );
  await server.ok(`mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id } }`, { p: optIn.id }, c.token);
  const update = `mutation ($id: ID!, $g: ID!) { updateAccount(id: $id, input: { rateGroupId: $g }) { id } }`;
  await server.ok(update, { id: r.id, g: await rateGroup(root.token, '0.01') }, root.token);
  await server.ok(update, { id: c.id, g: await rateGroup(r.token, '0.015') }, r.token);
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  for (const n of [1, 2, 3]) {
    await server.ok(
      `mutation ($input: CallInput!) { rateCall(input: $input) { id } }`,
      {
        input: {
          accountId: c.id,
          callId: unique(`c${n}`),
          destination: '4420',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt,
        },
      },
      root.token,
    );
  }
  return { root, r, c };
}

describe('invoices (DOMAIN.md 9)', () => {
  let root: { token: string; id: string };
  let r: Node;
  let c: Node;
  let invoice: Record<string, any>;

  beforeAll(async () => {
    ({ root, r, c } = await workedExample());
    const { generateInvoices } = await server.ok(GENERATE, { asOf: closeNow() }, root.token);
    // C's invoice from R, and R's from the root.
    expect(generateInvoices.issued).toBe(2);
    [invoice] = await invoicesOf(c.token, c.id);
  });

  it('the worked example: lines, taxes per rate, totals, payments, opening and closing balance', () => {
    const period = periodAt(new Date(), { billingDay: 1, timezone: 'UTC' });
    expect(invoice).toMatchObject({
      number: 'INV-000001',
      status: 'FINALIZED',
      periodStart: period.start.toISOString(),
      periodEnd: period.end.toISOString(),
      currency: 'USD',
      issuer: { id: r.id, name: 'R' },
      account: { id: c.id },
      subtotal: '17.045',
      taxTotal: '3.8352',
      total: '20.8802',
      payments: '50',
      openingBalance: '0',
      closingBalance: '29.1198',
      voidReason: null,
      pdfUrl: `/export/invoices/${invoice.id}.pdf`,
    });
    expect(invoice.lines).toEqual([
      { description: 'Setup fee: UK100, period 1', kind: 'SETUP_FEE', quantity: 1, minutes: null, amount: '2' },
      { description: 'Package: UK100, period 1', kind: 'PACKAGE_FEE', quantity: 1, minutes: null, amount: '15' },
      { description: 'Outbound calls', kind: 'USAGE', quantity: 3, minutes: '3', amount: '0.045' },
    ]);
    expect(invoice.taxes.map((t: any) => [t.name, t.percent, t.amount, t.taxRate.name])).toEqual([
      ['VAT', '20', '3.409', 'VAT'],
      ['Local', '2.5', '0.4262', 'Local'],
    ]);
    // Due after the account's payment terms (15 days by default).
    expect(new Date(invoice.dueAt).getTime() - new Date(invoice.issuedAt).getTime()).toBe(15 * DAY);
  });

  it('R is invoiced by the root on its own sequence; running again issues nothing', async () => {
    const [ofR] = await invoicesOf(root.token, r.id);
    expect(ofR).toMatchObject({ number: 'INV-000001', subtotal: '11.03', taxTotal: '2.206', total: '13.236', payments: '100' });
    const again = await server.ok(GENERATE, { asOf: closeNow() }, root.token);
    expect(again.generateInvoices.issued).toBe(0);
    const { me } = await server.ok(`{ me { issuedInvoices { totalCount edges { node { id number } } } } }`, {}, r.token);
    expect(me.issuedInvoices.edges).toEqual([{ node: { id: invoice.id, number: 'INV-000001' } }]);
  });

  it('an entry written after its period was invoiced goes on the next invoice, never on two', async () => {
    await topUp(server, r.token, c.id, '5');
    expect((await server.ok(GENERATE, { asOf: closeNow() }, root.token)).generateInvoices.issued).toBe(0);
    // The next period, closed by the scheduler's own entry point (further ahead than the API allows).
    const next = periodAt(new Date(invoice.periodEnd), { billingDay: 1, timezone: 'UTC' });
    const report = await server.app.services.invoices.runAll(systemEm(server.app.db.orm), new Date(next.end.getTime() + 1), {
      rootId: root.id,
    });
    expect(report.issued).toBe(1);
    const [second] = await invoicesOf(c.token, c.id);
    // It opens where the first closed: invoices chain exactly, late entries included.
    expect(second).toMatchObject({
      number: 'INV-000002',
      periodStart: invoice.periodEnd,
      payments: '5',
      subtotal: '0',
      openingBalance: '29.1198',
      closingBalance: '34.1198',
    });
    const [{ twice }] = await sql<{ twice: number }>(
      server,
      `select count(*)::int as twice from (select ledger_entry_id from invoice_entries group by 1 having count(*) > 1) x`,
    );
    expect(twice).toBe(0);
  });

  it('is read by the account and its ancestors only', async () => {
    const sibling = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'S' });
    const query = `query ($id: ID!) { invoice(id: $id) { id number } }`;
    expect((await server.ok(query, { id: invoice.id }, c.token)).invoice.number).toBe('INV-000001');
    expect((await server.ok(query, { id: invoice.id }, root.token)).invoice.id).toBe(invoice.id);
    expect((await server.ok(query, { id: invoice.id }, sibling.token)).invoice).toBeNull();
    const other = await createPlatform(server);
    expect((await server.ok(`query ($id: ID!) { node(id: $id) { id } }`, { id: invoice.id }, other.token)).node).toBeNull();
  });

  it('the PDF shows the parties, the number, the lines, each tax and the totals', async () => {
    const res = await fetch(`${server.url}${invoice.pdfUrl}`, { headers: { authorization: `Bearer ${c.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const parser = new PDFParse({ data: new Uint8Array(await res.arrayBuffer()) });
    const { text, total } = await parser.getText();
    await parser.destroy();
    expect(total).toBe(1);
    for (const expected of ['INV-000001', 'R Telecom Ltd', 'GB123', 'C GmbH', 'DE999', 'Package: UK100', 'Outbound calls']) {
      expect(text).toContain(expected);
    }
    expect(text).toMatch(/VAT \(20%\)\s+3\.409 USD/);
    expect(text).toMatch(/Local \(2\.5%\)\s+0\.4262 USD/);
    expect(text).toMatch(/Total\s+20\.8802 USD/);

    const sibling = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'S2' });
    const hidden = await fetch(`${server.url}${invoice.pdfUrl}`, { headers: { authorization: `Bearer ${sibling.token}` } });
    expect(hidden.status).toBe(404);
    const anonymous = await fetch(`${server.url}${invoice.pdfUrl}`);
    expect(anonymous.status).toBe(401);
    const { createApiKey } = await server.ok(
      `mutation { createApiKey(name: "switch", scopes: [RATING]) { secret } }`,
      {},
      root.token,
    );
    const rating = await fetch(`${server.url}${invoice.pdfUrl}`, { headers: { authorization: `Bearer ${createApiKey.secret}` } });
    expect(rating.status).toBe(403);
  });

  it('is voided by its issuer only, with a reason; the number stays used', async () => {
    const VOID = `mutation ($id: ID!, $reason: String!) { voidInvoice(id: $id, reason: $reason) { status voidReason number } }`;
    expect(errorCode(await server.gql(VOID, { id: invoice.id, reason: 'no' }, c.token))).toBe('FORBIDDEN');
    // A reseller beside R does not see the invoice at all.
    const beside = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R2' });
    expect(errorCode(await server.gql(VOID, { id: invoice.id, reason: 'no' }, beside.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(VOID, { id: invoice.id, reason: 'no' }, root.token))).toBe('FORBIDDEN');
    const voided = await server.ok(VOID, { id: invoice.id, reason: 'Issued in error' }, r.token);
    expect(voided.voidInvoice).toEqual({ status: 'VOID', voidReason: 'Issued in error', number: 'INV-000001' });
    expect(errorCode(await server.gql(VOID, { id: invoice.id, reason: 'again' }, r.token))).toBe('INVALID_STATE');
    const { account } = await server.ok(
      `query ($id: ID!) { account(id: $id) { invoices(status: VOID) { totalCount } } }`,
      { id: c.id },
      c.token,
    );
    expect(account.invoices.totalCount).toBe(1);
  });

  it('generateInvoices is for the platform admin, at most 31 days ahead', async () => {
    expect(errorCode(await server.gql(GENERATE, { asOf: closeNow() }, r.token))).toBe('FORBIDDEN');
    const far = await server.gql(GENERATE, { asOf: new Date(Date.now() + 32 * DAY).toISOString() }, root.token);
    expect(far.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
  });
});

describe('account billing settings', () => {
  it('are validated: unknown timezone, country or billing day is BAD_USER_INPUT naming the field', async () => {
    const root = await createPlatform(server);
    const create = `mutation ($input: CreateAccountInput!) { createAccount(input: $input) { id timezone billingDay country } }`;
    for (const [input, field] of [
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      [{ country: 'XX' }, 'country'],
      [{ billingDay: 29 }, 'billingDay'],
      [{ billingDay: 0 }, 'billingDay'],
      [{ paymentTermsDays: -1 }, 'paymentTermsDays'],
      [{ notificationEmail: 'not-an-email' }, 'notificationEmail'],
      [{ invoicePrefix: 'bad prefix!' }, 'invoicePrefix'],
    ] as const) {
      const result = await server.gql(create, { input: { kind: 'CUSTOMER', name: 'X', ...input } }, root.token);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const made = await server.ok(
      create,
      { input: { kind: 'CUSTOMER', name: 'Y', timezone: 'Europe/Berlin', billingDay: 15, country: 'de' } },
      root.token,
    );
    expect(made.createAccount).toMatchObject({ timezone: 'Europe/Berlin', billingDay: 15, country: 'DE' });
    // The account edits its own profile, not its billing calendar.
    const self = server.app.services.auth.sign(made.createAccount.id);
    const update = `mutation ($id: ID!, $input: UpdateAccountInput!) { updateAccount(id: $id, input: $input) { companyName } }`;
    const own = await server.ok(update, { id: made.createAccount.id, input: { companyName: 'Y GmbH' } }, self);
    expect(own.updateAccount.companyName).toBe('Y GmbH');
    const calendar = await server.gql(update, { id: made.createAccount.id, input: { billingDay: 2 } }, self);
    expect(errorCode(calendar)).toBe('FORBIDDEN');
  });

  it('a period runs from 00:00 local time on the billing day (Europe/Berlin, day 15)', () => {
    const p = periodAt(new Date('2026-03-20T12:00:00Z'), { billingDay: 15, timezone: 'Europe/Berlin' });
    expect([p.start.toISOString(), p.end.toISOString()]).toEqual(['2026-03-14T23:00:00.000Z', '2026-04-14T22:00:00.000Z']);
  });
});
