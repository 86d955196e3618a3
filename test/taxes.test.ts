// Taxes end to end (DOMAIN.md 8): the worked examples to the last digit, through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemEm } from '../src/db/orm.js';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, unique, type TestServer } from './support/harness.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const CREATE_TAX = `mutation ($input: CreateTaxRateInput!) { createTaxRate(input: $input) { id name percent priority active owner { id } } }`;
const SET_TAXES = `mutation ($accountId: ID!, $ids: [ID!]!) { setAccountTaxes(accountId: $accountId, taxRateIds: $ids) { id taxRates { id name percent } } }`;
const LEDGER = `query ($id: ID!) { account(id: $id) { balance ledger(first: 50) { edges { node { kind amount description taxRate { name percent } } } } } }`;

async function tax(token: string, name: string, percent: string, priority = 0): Promise<string> {
  const { createTaxRate } = await server.ok(CREATE_TAX, { input: { name, percent, priority } }, token);
  return createTaxRate.id;
}

async function setTaxes(token: string, accountId: string, ids: string[]) {
  return server.ok(SET_TAXES, { accountId, ids }, token);
}

/** An account's entries oldest first, as [kind, amount, tax name]. */
async function entries(token: string, id: string): Promise<{ balance: string; rows: [string, string, string | null][] }> {
  const { account } = await server.ok(LEDGER, { id }, token);
  const rows = account.ledger.edges
    .map((e: { node: { kind: string; amount: string; taxRate: { name: string } | null } }) => [
      e.node.kind,
      e.node.amount,
      e.node.taxRate?.name ?? null,
    ])
    .reverse();
  return { balance: account.balance, rows };
}

async function rateGroup(token: string, rate: string, increment = 60): Promise<string> {
  const { createRateGroup } = await server.ok(
    `mutation ($input: CreateRateGroupInput!) { createRateGroup(input: $input) { id } }`,
    {
      input: {
        name: unique('rg'),
        rates: [{ prefix: '44', ratePerMinute: rate, initialIncrement: increment, increment }],
      },
    },
    token,
  );
  return createRateGroup.id;
}

async function setRateGroup(token: string, id: string, rateGroupId: string) {
  await server.ok(
    `mutation ($id: ID!, $input: UpdateAccountInput!) { updateAccount(id: $id, input: $input) { id } }`,
    { id, input: { rateGroupId } },
    token,
  );
}

async function pkg(token: string, input: Record<string, unknown>): Promise<string> {
  const { createPackage } = await server.ok(
    `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id } }`,
    { input: { name: unique('pkg'), canBePurchased: true, resellerCanResell: true, billingDays: 30, ...input } },
    token,
  );
  return createPackage.id;
}

async function optIn(token: string, packageId: string, input: Record<string, unknown>): Promise<string> {
  const { optIn } = await server.ok(
    `mutation ($input: OptInInput!) { optIn(input: $input) { id } }`,
    { input: { packageId, ...input } },
    token,
  );
  return optIn.id;
}

const PURCHASE = `mutation ($input: PurchaseInput!) { purchasePackage(input: $input) { id } }`;

/** DOMAIN.md 8, exclusive example: root -> R (VAT 20 %) -> C (VAT 20 %, Local 2.5 %). */
async function exclusiveExample() {
  const root = await createPlatform(server);
  const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
  const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C' });
  const rootVat = await tax(root.token, 'VAT', '20');
  await setTaxes(root.token, r.id, [rootVat]);
  const vat = await tax(r.token, 'VAT', '20', 1);
  const local = await tax(r.token, 'Local', '2.5', 2);
  await setTaxes(r.token, c.id, [vat, local]);
  await topUp(server, root.token, r.id, '100');
  await topUp(server, r.token, c.id, '50');
  const source = await pkg(root.token, { price: '10', setupFee: '1' });
  const clone = await optIn(r.token, source, { price: '15', setupFee: '2', canBePurchased: true });
  return { root, r, c, vat, local, rootVat, source, clone };
}

describe('taxes on every fee at every level (DOMAIN.md 8)', () => {
  it('the exclusive example: C pays 20.825 for the purchase, R 13.20; three calls tax per call', async () => {
    const { root, r, c, clone } = await exclusiveExample();
    await server.ok(PURCHASE, { input: { packageId: clone } }, c.token);

    const cLedger = await entries(r.token, c.id);
    expect(cLedger.rows).toEqual([
      ['TOPUP', '50', null],
      ['SETUP_FEE', '-2', null],
      ['PACKAGE_FEE', '-15', null],
      ['TAX', '-3.4', 'VAT'],
      ['TAX', '-0.425', 'Local'],
    ]);
    expect(cLedger.balance).toBe('29.175');
    const rLedger = await entries(root.token, r.id);
    expect(rLedger.rows).toEqual([
      ['TOPUP', '100', null],
      ['SETUP_FEE', '-1', null],
      ['PACKAGE_FEE', '-10', null],
      ['TAX', '-2.2', 'VAT'],
    ]);
    expect(rLedger.balance).toBe('86.8');

    // Three 60-second calls at C's rate 0.0150/min: each taxed on its own (Local 3 x 0.0004, not 0.0011).
    await setRateGroup(root.token, r.id, await rateGroup(root.token, '0.01'));
    await setRateGroup(r.token, c.id, await rateGroup(r.token, '0.015'));
    const startedAt = new Date(Date.now() - 3_600_000).toISOString();
    await server.ok(
      `mutation ($input: [CallInput!]!) { rateCalls(input: $input) { id } }`,
      {
        input: [1, 2, 3].map((n) => ({
          accountId: c.id,
          callId: unique(`call${n}`),
          destination: '441234567',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt,
        })),
      },
      root.token,
    );
    const after = await entries(r.token, c.id);
    expect(after.rows.slice(5)).toEqual([
      ['USAGE', '-0.045', null],
      ['TAX', '-0.009', 'VAT'],
      ['TAX', '-0.0012', 'Local'],
    ]);
    expect(after.balance).toBe('29.1198');
    // R's own usage (0.01/min) with its VAT: 3 x 0.0020.
    expect((await entries(root.token, r.id)).rows.slice(4)).toEqual([
      ['USAGE', '-0.03', null],
      ['TAX', '-0.006', 'VAT'],
    ]);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);

    // R's earnings: net sales and costs, its children's taxes apart.
    const { earnings } = await server.ok(
      `query ($id: ID!, $from: DateTime!, $to: DateTime!) { earnings(accountId: $id, from: $from, to: $to) { sales costs commissions margin taxes } }`,
      { id: r.id, from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() },
      r.token,
    );
    expect(earnings).toEqual({ sales: '17.045', costs: '11.03', commissions: '0', margin: '6.015', taxes: '3.8352' });
  });

  it('DENY_IF_INSUFFICIENT judges the fees with their taxes', async () => {
    const { r, c, clone } = await exclusiveExample();
    // C has 50; take it down to 20.8249: enough for the net 17.00, not for 20.825 with taxes.
    await server.ok(
      `mutation ($input: BalanceChangeInput!) { adjustBalance(input: $input) { id } }`,
      { input: { accountId: c.id, amount: '-29.1751' } },
      r.token,
    );
    const refused = await server.gql(PURCHASE, { input: { packageId: clone } }, c.token);
    expect(errorCode(refused)).toBe('INSUFFICIENT_FUNDS');
    await topUp(server, r.token, c.id, '0.0001');
    await server.ok(PURCHASE, { input: { packageId: clone } }, c.token);
    expect((await entries(r.token, c.id)).balance).toBe('0');
  });

  it('a tax-inclusive package: 10.00 with 7 % and 5 % is net 8.9286, taxes 0.6250 and 0.4464', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    const a = await tax(root.token, 'A', '7');
    const b = await tax(root.token, 'B', '5');
    await setTaxes(root.token, c.id, [a, b]);
    await topUp(server, root.token, c.id, '10');
    const id = await pkg(root.token, { price: '10', taxInclusive: true });
    await server.ok(PURCHASE, { input: { packageId: id } }, c.token);
    const { rows, balance } = await entries(root.token, c.id);
    expect(rows.slice(1)).toEqual([
      ['PACKAGE_FEE', '-8.9286', null],
      ['TAX', '-0.625', 'A'],
      ['TAX', '-0.4464', 'B'],
    ]);
    expect(balance).toBe('0');
  });

  it('a refund reverses each tax on the net refund (TAX_REFUND); commissions are on net fees', async () => {
    const root = await createPlatform(server);
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R', resellerModel: 'COMMISSION' });
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C' });
    await setTaxes(root.token, r.id, [await tax(root.token, 'VAT', '20')]);
    await setTaxes(r.token, c.id, [await tax(r.token, 'GST', '10')]);
    await topUp(server, root.token, r.id, '100');
    await topUp(server, r.token, c.id, '100');
    // 28 days, UTILIZED_DAYS, 10 % commission on the original's net price 28.00.
    const source = await pkg(root.token, { price: '28', billingDays: 28, chargeType: 'UTILIZED_DAYS', commissionRate: '10' });
    const clone = await optIn(r.token, source, {});
    const { purchasePackage } = await server.ok(PURCHASE, { input: { packageId: clone } }, c.token);
    await server.ok(`mutation ($id: ID!) { terminateSubscription(id: $id) { status } }`, { id: purchasePackage.id }, c.token);
    // Terminated within the first day: 1 used day of 28, refund 28 x 27/28 = 27.00 at each level.
    expect((await entries(r.token, c.id)).rows).toEqual([
      ['TOPUP', '100', null],
      ['PACKAGE_FEE', '-28', null],
      ['TAX', '-2.8', 'GST'],
      ['REFUND', '27', null],
      ['TAX_REFUND', '2.7', 'GST'],
    ]);
    expect((await entries(root.token, r.id)).rows).toEqual([
      ['TOPUP', '100', null],
      ['PACKAGE_FEE', '-28', null],
      ['TAX', '-5.6', 'VAT'],
      ['COMMISSION', '2.8', null],
      ['REFUND', '27', null],
      ['TAX_REFUND', '5.4', 'VAT'],
      ['COMMISSION_REVERSAL', '-2.7', null],
    ]);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });

  it('authorizeCall counts the taxes: the longest call its funds pay with taxes', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    await setRateGroup(root.token, c.id, await rateGroup(root.token, '1', 1));
    await topUp(server, root.token, c.id, '1.2');
    const AUTH = `query ($id: ID!) { authorizeCall(accountId: $id, destination: "4412", direction: OUTBOUND) { allowed maxDurationSeconds } }`;
    // Per-second billing at 1.00/min: 1.20 buys 72 seconds untaxed.
    expect((await server.ok(AUTH, { id: c.id }, root.token)).authorizeCall.maxDurationSeconds).toBe(72);
    await setTaxes(root.token, c.id, [await tax(root.token, 'VAT', '20')]);
    // With 20 % VAT, 1.20 pays 1.00 net and its tax: 60 seconds.
    const { authorizeCall } = await server.ok(AUTH, { id: c.id }, root.token);
    expect(authorizeCall).toEqual({ allowed: true, maxDurationSeconds: 60 });
    await server.ok(
      `mutation ($input: BalanceChangeInput!) { adjustBalance(input: $input) { id } }`,
      { input: { accountId: c.id, amount: '-0.0001' } },
      root.token,
    );
    // 1.1999 / 1.2 = 0.99991 net: 59 whole seconds.
    expect((await server.ok(AUTH, { id: c.id }, root.token)).authorizeCall.maxDurationSeconds).toBe(59);
    // A spend limit counts net charges: a daily limit of 0.50 allows 30 s, taxes or not.
    await topUp(server, root.token, c.id, '100');
    await setRateGroup(root.token, c.id, await rateGroup(root.token, '1', 1));
    await server.ok(
      `mutation ($id: ID!) { updateAccount(id: $id, input: { dailySpendLimit: "0.5" }) { id } }`,
      { id: c.id },
      root.token,
    );
    expect((await server.ok(AUTH, { id: c.id }, root.token)).authorizeCall).toEqual({ allowed: true, maxDurationSeconds: 30 });
  });
});

describe('tax rates and assignments', () => {
  let root: { token: string; id: string };
  let r: Node;
  let c: Node;
  beforeAll(async () => {
    root = await createPlatform(server);
    r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C' });
  });

  it('validates the percent and names the field', async () => {
    for (const percent of ['-1', '100.5', '1.23456', 'abc']) {
      const result = await server.gql(CREATE_TAX, { input: { name: 'X', percent } }, r.token);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'percent' });
    }
    const customer = await server.gql(CREATE_TAX, { input: { name: 'X', percent: '1' } }, c.token);
    expect(errorCode(customer)).toBe('FORBIDDEN');
  });

  it("only the account's parent's active rates can be assigned; the child reads them, a sibling does not", async () => {
    const rootRate = await tax(root.token, 'Root', '5');
    const own = await tax(r.token, 'Own', '7');
    const refused = await server.gql(SET_TAXES, { accountId: c.id, ids: [rootRate] }, root.token);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'taxRateIds' });
    const self = await server.gql(SET_TAXES, { accountId: c.id, ids: [own] }, c.token);
    expect(errorCode(self)).toBe('FORBIDDEN');
    // The admin (an ancestor) may set C's taxes from R's rates.
    await setTaxes(root.token, c.id, [own]);
    const { me } = await server.ok(`{ me { taxRates { id name percent owner { id } } } }`, {}, c.token);
    expect(me.taxRates).toEqual([{ id: own, name: 'Own', percent: '7', owner: { id: r.id } }]);
    const sibling = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'S' });
    const { node } = await server.ok(`query ($id: ID!) { node(id: $id) { id } }`, { id: own }, sibling.token);
    expect(node).toBeNull();

    // Deactivated: no longer applied, nor assignable.
    await server.ok(`mutation ($id: ID!) { updateTaxRate(id: $id, input: { active: false }) { active } }`, { id: own }, r.token);
    const inactive = await server.gql(SET_TAXES, { accountId: sibling.id, ids: [own] }, r.token);
    expect(inactive.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'taxRateIds' });
    const { taxRates } = await server.ok(`{ taxRates { totalCount edges { node { id active } } } }`, {}, r.token);
    expect(taxRates.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(own);
  });

  it('createAccount and updateAccount take taxRateIds', async () => {
    const rate = await tax(r.token, 'Made', '3');
    const made = await server.ok(
      `mutation ($input: CreateAccountInput!) { createAccount(input: $input) { id taxRates { id } } }`,
      { input: { kind: 'CUSTOMER', name: 'New', taxRateIds: [rate] } },
      r.token,
    );
    expect(made.createAccount.taxRates).toEqual([{ id: rate }]);
    const cleared = await server.ok(
      `mutation ($id: ID!) { updateAccount(id: $id, input: { taxRateIds: [] }) { taxRates { id } } }`,
      { id: made.createAccount.id },
      r.token,
    );
    expect(cleared.updateAccount.taxRates).toEqual([]);
  });
});

describe('renewals are taxed, and judged on the gross', () => {
  it('renews with RENEWAL_FEE and its TAX; releases a chain whose level covers the net but not its tax', async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
    const poor = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'Poor' });
    const vat = await tax(root.token, 'VAT', '20');
    await setTaxes(root.token, c.id, [vat]);
    await setTaxes(root.token, poor.id, [vat]);
    await topUp(server, root.token, c.id, '100');
    // Poor can pay the first period (12.00 with VAT) and then holds 10.00: the net renewal, not its 2.00 tax.
    await topUp(server, root.token, poor.id, '22');
    const id = await pkg(root.token, { price: '10', billingDays: 1, releaseIfNoBalance: true });
    const start = new Date(Date.now() - 3_600_000);
    const assign = `mutation ($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id } }`;
    await server.ok(assign, { a: c.id, p: id, s: start.toISOString() }, root.token);
    const { assignPackage } = await server.ok(assign, { a: poor.id, p: id, s: start.toISOString() }, root.token);
    const asOf = new Date(start.getTime() + 86_400_000).toISOString();
    const { runRenewals } = await server.ok(
      `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed released expired } }`,
      { at: asOf },
      root.token,
    );
    expect(runRenewals).toEqual({ renewed: 1, released: 1, expired: 0 });
    expect((await entries(root.token, c.id)).rows.slice(1)).toEqual([
      ['PACKAGE_FEE', '-10', null],
      ['TAX', '-2', 'VAT'],
      ['RENEWAL_FEE', '-10', null],
      ['TAX', '-2', 'VAT'],
    ]);
    const released = await server.ok(
      `query ($id: ID!) { packageSubscription(id: $id) { status } }`,
      { id: assignPackage.id },
      root.token,
    );
    expect(released.packageSubscription.status).toBe('RELEASED');
    expect((await entries(root.token, poor.id)).balance).toBe('10');
  });
});

describe('spend limits follow the account timezone', () => {
  it("a call counts towards the level's own local day: Asia/Tokyo and UTC disagree about the same instant", async () => {
    const root = await createPlatform(server);
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C', timezone: 'UTC' });
    await setRateGroup(root.token, c.id, await rateGroup(root.token, '1'));
    await topUp(server, root.token, c.id, '100');
    // A call 30 minutes before today's UTC midnight: yesterday in UTC, but today in Tokyo by 10:00 UTC.
    const midnight = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z').getTime();
    const startedAt = new Date(midnight - 30 * 60_000).toISOString();
    await server.ok(
      `mutation ($input: CallInput!) { rateCall(input: $input) { id } }`,
      {
        input: {
          accountId: c.id,
          callId: unique('late'),
          destination: '4412',
          direction: 'OUTBOUND',
          durationSeconds: 60,
          startedAt,
        },
      },
      root.token,
    );
    const daySpend = async (timezone: string) => {
      await sql(server, 'update accounts set timezone = ? where id = ?', [timezone, c.id]);
      const em = systemEm(server.app.db.orm);
      return em.transactional(async (tx) => {
        await tx.execute(`select set_config('trellis.scope_path', ?, true)`, [`/${root.id}/`]);
        const [row] = await tx.execute<{ day_spend: string }[]>(
          `select day_spend::text from trellis_admission_levels(?, '4412', 'OUTBOUND', ?)`,
          [c.id, new Date(midnight + 10 * 3_600_000)],
        );
        return row.day_spend;
      });
    };
    expect(Number(await daySpend('UTC'))).toBe(0);
    expect(Number(await daySpend('Asia/Tokyo'))).toBe(1);
  });
});
