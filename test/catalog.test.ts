import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountRateDocument,
  CreateAccountDocument,
  CreatePackageDocument,
  CreateRateGroupDocument,
  NodeDocument,
  OffersDocument,
  OptInDocument,
  OptOutDocument,
  OwnedPackagesDocument,
  PackageDocument,
  RateForDocument,
  RateGroupRatesDocument,
  RateGroupsDocument,
  SetPackageStatusDocument,
  UpdateAccountDocument,
  UpdatePackageDocument,
  UpsertRatesDocument,
  type CreatePackageInput,
} from './generated/graphql.js';
import { createPlatform, errorCode, startServer, type TestServer } from './support/harness.js';
import { addAccount, type Node } from './support/tree.js';

let server: TestServer;
let admin: Node;
let r1: Node; // MARGIN reseller
let sr: Node; // COMMISSION sub-reseller of R1
let sr2: Node; // MARGIN sub-sub-reseller of SR
let c1: Node; // customer of R1
let c3: Node; // customer of SR2
let r2: Node; // sibling of R1
let ca: Node; // the admin's own customer

beforeAll(async () => {
  server = await startServer();
  const p = await createPlatform(server);
  admin = { id: p.id, token: p.token, email: p.email };
  r1 = await addAccount(server, admin.token, { kind: 'RESELLER', name: 'R1', resellerModel: 'MARGIN' });
  sr = await addAccount(server, r1.token, { kind: 'RESELLER', name: 'SR', resellerModel: 'COMMISSION' });
  sr2 = await addAccount(server, sr.token, { kind: 'RESELLER', name: 'SR2', resellerModel: 'MARGIN' });
  c1 = await addAccount(server, r1.token, { kind: 'CUSTOMER', name: 'C1' });
  c3 = await addAccount(server, sr2.token, { kind: 'CUSTOMER', name: 'C3' });
  r2 = await addAccount(server, admin.token, { kind: 'RESELLER', name: 'R2' });
  ca = await addAccount(server, admin.token, { kind: 'CUSTOMER', name: 'CA' });
});
afterAll(() => server.close());

const create = (token: string, input: Partial<CreatePackageInput>) =>
  server.ok(CreatePackageDocument, { input: { name: 'Pkg', price: '10', ...input } }, token).then((d) => d.createPackage);

describe('rate groups', () => {
  it('creates a group with rates and finds the longest matching prefix per direction', async () => {
    const { createRateGroup } = await server.ok(
      CreateRateGroupDocument,
      {
        input: {
          name: 'Retail',
          rates: [
            { prefix: '4', destination: 'Europe', ratePerMinute: '0.5' },
            { prefix: '44', destination: 'UK', ratePerMinute: '0.1', connectionFee: '0.02', initialIncrement: 30, increment: 6 },
            { prefix: '4420', destination: 'London', ratePerMinute: '0.05' },
            { prefix: '44', destination: 'UK inbound', ratePerMinute: '0.01', direction: 'INBOUND' },
          ],
        },
      },
      admin.token,
    );
    expect(createRateGroup).toMatchObject({ name: 'Retail', owner: { id: admin.id } });
    const id = createRateGroup.id;
    const lookup = async (destination: string, direction?: 'INBOUND' | 'OUTBOUND') =>
      ((await server.ok(RateForDocument, { id, destination, direction }, admin.token)).node as any)?.rateFor;
    expect(await lookup('442079460000')).toMatchObject({ prefix: '4420', ratePerMinute: '0.05', direction: 'OUTBOUND' });
    expect(await lookup('+44 161 496 0000')).toMatchObject({ prefix: '44', ratePerMinute: '0.1' });
    expect(await lookup('4930123')).toMatchObject({ prefix: '4', ratePerMinute: '0.5' });
    expect(await lookup('12125550000')).toBeNull();
    expect(await lookup('442079460000', 'INBOUND')).toMatchObject({ prefix: '44', ratePerMinute: '0.01', direction: 'INBOUND' });
    expect(await lookup('4930123', 'INBOUND')).toBeNull();

    const rates = await server.ok(RateGroupRatesDocument, { id, prefix: '44', direction: 'OUTBOUND' }, admin.token);
    expect((rates.node as any).rates.edges.map((e: any) => e.node)).toEqual([
      {
        prefix: '44',
        destination: 'UK',
        ratePerMinute: '0.1',
        connectionFee: '0.02',
        initialIncrement: 30,
        increment: 6,
        direction: 'OUTBOUND',
      },
      {
        prefix: '4420',
        destination: 'London',
        ratePerMinute: '0.05',
        connectionFee: '0',
        initialIncrement: 60,
        increment: 60,
        direction: 'OUTBOUND',
      },
    ]);
    const dup = await server.gql(CreateRateGroupDocument, { input: { name: 'retail', rates: [] } }, admin.token);
    expect(dup.errors?.[0]?.extensions).toMatchObject({ code: 'ALREADY_EXISTS', field: 'name' });
  });

  it('upserts 20,000 rates in one call, then updates and adds in another', async () => {
    const { createRateGroup } = await server.ok(CreateRateGroupDocument, { input: { name: 'Bulk', rates: [] } }, admin.token);
    const rates = Array.from({ length: 20_000 }, (_, i) => ({ prefix: String(100000 + i), ratePerMinute: '0.0123' }));
    const first = await server.ok(UpsertRatesDocument, { rateGroupId: createRateGroup.id, rates }, admin.token);
    expect(first.upsertRates.rates.totalCount).toBe(20_000);
    const second = await server.ok(
      UpsertRatesDocument,
      {
        rateGroupId: createRateGroup.id,
        rates: [
          { prefix: '100000', ratePerMinute: '0.5' },
          { prefix: '9', ratePerMinute: '1' },
        ],
      },
      admin.token,
    );
    expect(second.upsertRates.rates.totalCount).toBe(20_001);
    const lookup = await server.ok(RateForDocument, { id: createRateGroup.id, destination: '1000001234' }, admin.token);
    expect((lookup.node as any).rateFor).toMatchObject({ prefix: '100000', ratePerMinute: '0.5' });
    const page = await server.ok(RateGroupRatesDocument, { id: createRateGroup.id, first: 2, prefix: '10000' }, admin.token);
    expect((page.node as any).rates.totalCount).toBe(10);
    expect((page.node as any).rates.pageInfo.hasNextPage).toBe(true);
  });

  it.each([
    [{ prefix: '44a', ratePerMinute: '1' }, 'rates[0].prefix'],
    [{ prefix: '44', ratePerMinute: '-1' }, 'rates[0].ratePerMinute'],
    [{ prefix: '44', ratePerMinute: '1', connectionFee: '-0.1' }, 'rates[0].connectionFee'],
    [{ prefix: '44', ratePerMinute: '1', increment: 0 }, 'rates[0].increment'],
    [{ prefix: '44', ratePerMinute: '1', initialIncrement: -1 }, 'rates[0].initialIncrement'],
  ])('refuses %j naming %s, writing nothing', async (rate, field) => {
    const { createRateGroup } = await server.ok(
      CreateRateGroupDocument,
      { input: { name: `V${field}${rate.prefix}${Math.random()}`, rates: [] } },
      admin.token,
    );
    const result = await server.gql(
      UpsertRatesDocument,
      { rateGroupId: createRateGroup.id, rates: [{ prefix: '1', ratePerMinute: '1' }, rate] },
      admin.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: field.replace('[0]', '[1]') });
    const check = await server.ok(RateGroupRatesDocument, { id: createRateGroup.id }, admin.token);
    expect((check.node as any).rates.totalCount).toBe(0);
  });

  it('refuses a prefix twice in one call', async () => {
    const result = await server.gql(
      CreateRateGroupDocument,
      {
        input: {
          name: 'Dups',
          rates: [
            { prefix: '1', ratePerMinute: '1' },
            { prefix: '1', ratePerMinute: '2' },
          ],
        },
      },
      admin.token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rates[1].prefix' });
  });

  it("assigns only the parent's own groups, and an account reads the rate it pays", async () => {
    const { createRateGroup: adminGroup } = await server.ok(
      CreateRateGroupDocument,
      { input: { name: 'Wholesale', rates: [{ prefix: '44', ratePerMinute: '0.02' }] } },
      admin.token,
    );
    const { createRateGroup: r1Group } = await server.ok(
      CreateRateGroupDocument,
      { input: { name: 'R1 retail', rates: [{ prefix: '44', ratePerMinute: '0.04' }] } },
      r1.token,
    );
    await server.ok(UpdateAccountDocument, { id: r1.id, input: { rateGroupId: adminGroup.id } }, admin.token);
    // The admin's group is not R1's parent's for SR: refused, naming the field.
    const wrong = await server.gql(UpdateAccountDocument, { id: sr.id, input: { rateGroupId: adminGroup.id } }, admin.token);
    expect(wrong.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rateGroupId' });
    const { createAccount } = await server.ok(
      CreateAccountDocument,
      { input: { kind: 'CUSTOMER', name: 'Rated', rateGroupId: r1Group.id } },
      r1.token,
    );
    const rated = addAccountToken(createAccount.id);
    const own = await server.ok(AccountRateDocument, { id: createAccount.id, destination: '447700900000' }, rated);
    expect(own.account).toEqual({
      rateGroup: { id: r1Group.id, name: 'R1 retail' },
      rate: { prefix: '44', ratePerMinute: '0.04' },
    });
    const r1Own = await server.ok(AccountRateDocument, { id: r1.id, destination: '447700900000' }, r1.token);
    expect(r1Own.account!.rate).toEqual({ prefix: '44', ratePerMinute: '0.02' });
    // The group a customer reads is its parent's: it may see it, but not change it or see other groups.
    expect(errorCode(await server.gql(UpsertRatesDocument, { rateGroupId: r1Group.id, rates: [] }, rated))).toBe('FORBIDDEN');
    const sub = await addAccount(server, r1.token, { kind: 'RESELLER', rateGroupId: r1Group.id });
    expect(errorCode(await server.gql(UpsertRatesDocument, { rateGroupId: r1Group.id, rates: [] }, sub.token))).toBe('NOT_FOUND');
    expect((await server.ok(NodeDocument, { id: adminGroup.id }, rated)).node).toBeNull();
    expect((await server.ok(NodeDocument, { id: r1Group.id }, r2.token)).node).toBeNull();
    expect(errorCode(await server.gql(UpsertRatesDocument, { rateGroupId: r1Group.id, rates: [] }, r2.token))).toBe('NOT_FOUND');
    const listed = await server.ok(RateGroupsDocument, {}, r1.token);
    expect(listed.rateGroups.edges.map((e) => e.node.name)).toEqual(['R1 retail']);
    expect(errorCode(await server.gql(CreateRateGroupDocument, { input: { name: 'x', rates: [] } }, c1.token))).toBe('FORBIDDEN');
  });
});

function addAccountToken(id: string) {
  return server.app.services.auth.sign(id);
}

describe('packages', () => {
  it('creates an original with every field, and applies defaults', async () => {
    const full = await create(admin.token, {
      name: 'UK100',
      description: '100 minutes to the UK',
      country: 'GB',
      category: 'bundles',
      price: '10.00',
      setupFee: '1',
      billingType: 'MONTHLY',
      billingDays: 31,
      freeMinutes: 100,
      applicableFor: 'BOTH',
      destinations: ['44', '4420'],
      chargeType: 'UTILIZED_DAYS',
      releaseIfNoBalance: true,
      canBePurchased: false,
      resellerCanResell: true,
      commissionRate: '12.5',
      priority: 2,
      minimumDays: 7,
      activationPolicy: 'ALLOW_IF_INSUFFICIENT',
      advanceRenewHours: 24,
      discounts: [
        { fromActivation: 3, amount: '2' },
        { fromActivation: 2, amount: '1.5' },
      ],
      startDate: '2026-01-01T00:00:00.000Z',
      endDate: '2099-01-01T00:00:00.000Z',
    });
    expect(full).toMatchObject({
      name: 'UK100',
      description: '100 minutes to the UK',
      country: 'GB',
      category: 'bundles',
      status: 'ACTIVE',
      statusReason: null,
      currency: 'USD',
      price: '10',
      setupFee: '1',
      commissionRate: '12.5',
      billingType: 'MONTHLY',
      billingDays: 31,
      freeMinutes: 100,
      applicableFor: 'BOTH',
      destinations: ['44', '4420'],
      chargeType: 'UTILIZED_DAYS',
      releaseIfNoBalance: true,
      canBePurchased: false,
      resellerCanResell: true,
      priority: 2,
      minimumDays: 7,
      activationPolicy: 'ALLOW_IF_INSUFFICIENT',
      advanceRenewHours: 24,
      discounts: [
        { fromActivation: 2, amount: '1.5' },
        { fromActivation: 3, amount: '2' },
      ],
      startDate: '2026-01-01T00:00:00.000Z',
      endDate: '2099-01-01T00:00:00.000Z',
      owner: { id: admin.id },
      source: null,
    });
    const minimal = await create(admin.token, { name: 'Plain', price: '5' });
    expect(minimal).toMatchObject({
      status: 'ACTIVE',
      setupFee: '0',
      commissionRate: '0',
      billingType: 'RECURRING',
      billingDays: 30,
      freeMinutes: 0,
      applicableFor: 'OUTBOUND',
      destinations: [],
      chargeType: 'FULL',
      releaseIfNoBalance: false,
      canBePurchased: true,
      resellerCanResell: false,
      priority: 1,
      minimumDays: 0,
      activationPolicy: 'DENY_IF_INSUFFICIENT',
      advanceRenewHours: 0,
      discounts: [],
      startDate: null,
      endDate: null,
    });
  });

  it.each([
    [{ billingDays: 0 }, 'billingDays'],
    [{ freeMinutes: -1 }, 'freeMinutes'],
    [{ commissionRate: '100.5' }, 'commissionRate'],
    [{ commissionRate: '-1' }, 'commissionRate'],
    [{ commissionRate: 'ten' }, 'commissionRate'],
    [{ destinations: ['44', '4a'] }, 'destinations'],
    [{ destinations: ['+44'] }, 'destinations'],
    [{ startDate: '2027-01-01T00:00:00Z', endDate: '2026-01-01T00:00:00Z' }, 'endDate'],
    [{ startDate: '2027-01-01T00:00:00Z', endDate: '2027-01-01T00:00:00Z' }, 'endDate'],
    [{ discounts: [{ fromActivation: 1, amount: '1' }] }, 'discounts'],
    [{ discounts: [{ fromActivation: 2, amount: '-1' }] }, 'discounts'],
    [{ priority: 0 }, 'priority'],
    [{ minimumDays: -1 }, 'minimumDays'],
    [{ price: '-1' }, 'price'],
    [{ setupFee: '-0.01' }, 'setupFee'],
    [{ name: ' ' }, 'name'],
    [{ currency: 'ZZZ' }, 'currency'],
  ] as const)('refuses %j with BAD_USER_INPUT naming %s', async (input, field) => {
    const result = await server.gql(CreatePackageDocument, { input: { name: 'Bad', price: '1', ...input } as any }, admin.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('customers own no packages', async () => {
    expect(errorCode(await server.gql(CreatePackageDocument, { input: { name: 'x', price: '1' } }, c1.token))).toBe('FORBIDDEN');
  });

  it("offers are exactly the parent's ACTIVE, in-date packages with the flag for the caller's kind", async () => {
    const forResellers = await create(admin.token, { name: 'O-resell', resellerCanResell: true, canBePurchased: false });
    const forCustomers = await create(admin.token, { name: 'O-buy', canBePurchased: true });
    const both = await create(admin.token, { name: 'O-both', canBePurchased: true, resellerCanResell: true });
    const disabled = await create(admin.token, { name: 'O-disabled', canBePurchased: true, resellerCanResell: true });
    await server.ok(SetPackageStatusDocument, { id: disabled.id, status: 'DISABLED' }, admin.token);
    await create(admin.token, {
      name: 'O-future',
      canBePurchased: true,
      resellerCanResell: true,
      startDate: '2099-01-01T00:00:00Z',
    });
    await create(admin.token, { name: 'O-past', canBePurchased: true, resellerCanResell: true, endDate: '2020-01-01T00:00:00Z' });
    await create(r2.token, { name: 'O-sibling', canBePurchased: true, resellerCanResell: true });

    const names = async (token: string) => {
      const all: string[] = [];
      let after: string | null | undefined = null;
      for (;;) {
        const { offers } = await server.ok(OffersDocument, { first: 2, after }, token);
        all.push(...offers.edges.map((e) => e.node.name));
        if (!offers.pageInfo.hasNextPage) return { names: all, total: offers.totalCount };
        after = offers.pageInfo.endCursor;
      }
    };
    const reseller = await names(r2.token);
    expect(reseller.names.filter((n) => n.startsWith('O-'))).toEqual(['O-resell', 'O-both']);
    const customer = await names(ca.token);
    expect(customer.names.filter((n) => n.startsWith('O-'))).toEqual(['O-buy', 'O-both']);
    expect(customer.total).toBe(customer.names.length);
    // The admin's packages are not offered two levels down; R2's own are not offered to its sibling.
    expect((await names(sr.token)).names).toEqual([]);
    expect((await names(admin.token)).names).toEqual([]);
    // A customer may read an offer by id, but not a package that is not offered to it.
    expect((await server.ok(PackageDocument, { id: forCustomers.id }, ca.token)).package?.name).toBe('O-buy');
    expect((await server.ok(PackageDocument, { id: forResellers.id }, ca.token)).package).toBeNull();
    expect((await server.ok(PackageDocument, { id: disabled.id }, ca.token)).package).toBeNull();
    expect((await server.ok(PackageDocument, { id: both.id }, c1.token)).package).toBeNull();
  });
});

describe('opt-in chains', () => {
  let p0: any; // admin original
  let p1: any; // R1 (MARGIN) clone
  let p2: any; // SR (COMMISSION) clone of p1
  let p3: any; // SR2 (MARGIN) clone of p2

  beforeAll(async () => {
    p0 = await create(admin.token, {
      name: 'UK100',
      price: '10',
      setupFee: '1',
      freeMinutes: 100,
      destinations: ['44'],
      resellerCanResell: true,
      canBePurchased: false,
      commissionRate: '10',
    });
  });

  it('a MARGIN reseller opts in at its own price, not below cost, once', async () => {
    const below = await server.gql(OptInDocument, { input: { packageId: p0.id, price: '9.99' } }, r1.token);
    expect(errorCode(below)).toBe('PRICE_BELOW_COST');
    const belowSetup = await server.gql(OptInDocument, { input: { packageId: p0.id, price: '12', setupFee: '0.5' } }, r1.token);
    expect(errorCode(belowSetup)).toBe('PRICE_BELOW_COST');
    p1 = (
      await server.ok(
        OptInDocument,
        { input: { packageId: p0.id, price: '12', setupFee: '1', resellerCanResell: true, commissionRate: '5' } },
        r1.token,
      )
    ).optIn;
    expect(p1).toMatchObject({
      name: 'UK100',
      price: '12',
      setupFee: '1',
      status: 'ACTIVE',
      canBePurchased: true,
      resellerCanResell: true,
      commissionRate: '5',
      freeMinutes: 100,
      destinations: ['44'],
      owner: { id: r1.id },
      source: { id: p0.id, price: '10', setupFee: '1' },
    });
    expect(errorCode(await server.gql(OptInDocument, { input: { packageId: p0.id, price: '13' } }, r1.token))).toBe(
      'ALREADY_EXISTS',
    );
  });

  it("a COMMISSION sub-reseller opts into the clone at the source's prices only", async () => {
    const priced = await server.gql(OptInDocument, { input: { packageId: p1.id, price: '15' } }, sr.token);
    expect(priced.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'price' });
    const fee = await server.gql(OptInDocument, { input: { packageId: p1.id, setupFee: '2' } }, sr.token);
    expect(fee.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'setupFee' });
    p2 = (await server.ok(OptInDocument, { input: { packageId: p1.id, name: 'UK bundle', resellerCanResell: true } }, sr.token))
      .optIn;
    expect(p2).toMatchObject({
      name: 'UK bundle',
      price: '12',
      setupFee: '1',
      freeMinutes: 100,
      source: { id: p1.id, price: '12' },
    });
    // A reseller never opts into its grandparent's package directly.
    expect(errorCode(await server.gql(OptInDocument, { input: { packageId: p0.id } }, sr.token))).toBe('NOT_FOUND');
  });

  it('a third level opts in with MARGIN, and inherited terms show through at every depth', async () => {
    p3 = (await server.ok(OptInDocument, { input: { packageId: p2.id, price: '20', setupFee: '3' } }, sr2.token)).optIn;
    expect(p3).toMatchObject({ price: '20', setupFee: '3', source: { id: p2.id, price: '12' } });
    await server.ok(
      UpdatePackageDocument,
      { id: p0.id, input: { freeMinutes: 250, destinations: ['44', '33'], minimumDays: 3, chargeType: 'UTILIZED_MINUTES' } },
      admin.token,
    );
    for (const [id, token] of [
      [p1.id, r1.token],
      [p2.id, sr.token],
      [p3.id, sr2.token],
      [p3.id, c3.token],
    ]) {
      const { package: pkg } = await server.ok(PackageDocument, { id }, token);
      expect(pkg).toMatchObject({ freeMinutes: 250, destinations: ['44', '33'], minimumDays: 3, chargeType: 'UTILIZED_MINUTES' });
    }
  });

  it('clones cannot change what they inherit; COMMISSION clones cannot change prices', async () => {
    const terms = await server.gql(UpdatePackageDocument, { id: p1.id, input: { freeMinutes: 5 } }, r1.token);
    expect(terms.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'freeMinutes' });
    const price = await server.gql(UpdatePackageDocument, { id: p2.id, input: { price: '13' } }, sr.token);
    expect(price.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'price' });
    const below = await server.gql(UpdatePackageDocument, { id: p3.id, input: { price: '11' } }, sr2.token);
    expect(errorCode(below)).toBe('PRICE_BELOW_COST');
    const renamed = await server.ok(
      UpdatePackageDocument,
      { id: p2.id, input: { name: 'Renamed', canBePurchased: false } },
      sr.token,
    );
    expect(renamed.updatePackage).toMatchObject({ name: 'Renamed', canBePurchased: false, price: '12' });
  });

  it('COMMISSION prices follow the source; a MARGIN clone left below cost is disabled, not sold at a loss', async () => {
    await server.ok(UpdatePackageDocument, { id: p1.id, input: { price: '14' } }, r1.token);
    expect((await server.ok(PackageDocument, { id: p2.id }, sr.token)).package).toMatchObject({ price: '14', status: 'ACTIVE' });
    expect((await server.ok(PackageDocument, { id: p3.id }, sr2.token)).package).toMatchObject({ price: '20', status: 'ACTIVE' });

    await server.ok(UpdatePackageDocument, { id: p1.id, input: { price: '25' } }, r1.token);
    expect((await server.ok(PackageDocument, { id: p2.id }, sr.token)).package).toMatchObject({ price: '25', status: 'ACTIVE' });
    const disabled = (await server.ok(PackageDocument, { id: p3.id }, sr2.token)).package!;
    expect(disabled).toMatchObject({ price: '20', status: 'DISABLED', statusReason: 'BELOW_COST' });
    // It no longer reaches SR2's customers, and cannot be turned back on until repriced.
    expect((await server.ok(OffersDocument, {}, c3.token)).offers.totalCount).toBe(0);
    expect(errorCode(await server.gql(SetPackageStatusDocument, { id: p3.id, status: 'ACTIVE' }, sr2.token))).toBe(
      'PRICE_BELOW_COST',
    );
    await server.ok(UpdatePackageDocument, { id: p3.id, input: { price: '30' } }, sr2.token);
    expect((await server.ok(SetPackageStatusDocument, { id: p3.id, status: 'ACTIVE' }, sr2.token)).setPackageStatus).toEqual({
      id: p3.id,
      status: 'ACTIVE',
      statusReason: null,
    });
    expect((await server.ok(OffersDocument, {}, c3.token)).offers.edges.map((e) => e.node.id)).toEqual([p3.id]);

    // The admin's own price rise disables R1's MARGIN clone too; SR's COMMISSION clone keeps following R1's.
    await server.ok(UpdatePackageDocument, { id: p0.id, input: { price: '26' } }, admin.token);
    expect((await server.ok(PackageDocument, { id: p1.id }, r1.token)).package).toMatchObject({
      price: '25',
      status: 'DISABLED',
      statusReason: 'BELOW_COST',
    });
    expect((await server.ok(PackageDocument, { id: p2.id }, sr.token)).package).toMatchObject({ price: '25' });
    await server.ok(UpdatePackageDocument, { id: p0.id, input: { price: '10' } }, admin.token);
    await server.ok(SetPackageStatusDocument, { id: p1.id, status: 'ACTIVE' }, r1.token);
  });

  it("each level sees its cost; a customer sees neither its reseller's cost nor its balance", async () => {
    const mine = (await server.ok(PackageDocument, { id: p1.id }, r1.token)).package!;
    expect(mine.source).toMatchObject({ id: p0.id, price: '10' });
    const offered = (await server.ok(PackageDocument, { id: p1.id }, c1.token)).package!;
    expect(offered).toMatchObject({ id: p1.id, price: '25', owner: { id: r1.id, name: 'R1' }, source: null });
    expect((await server.ok(PackageDocument, { id: p0.id }, c1.token)).package).toBeNull();
    const probe = await server.gql(`query($id: ID!) { package(id: $id) { owner { balance } } }`, { id: p1.id }, c1.token);
    expect(errorCode(probe)).toBe('FORBIDDEN');
    expect(JSON.stringify(probe.data)).not.toMatch(/"balance"/);
    const creditProbe = await server.gql(
      `query($id: ID!) { package(id: $id) { owner { ownedPackages { totalCount } } } }`,
      { id: p1.id },
      c1.token,
    );
    expect(errorCode(creditProbe)).toBe('FORBIDDEN');
    // A sub-reseller sees its parent's clone but not what its parent pays.
    expect((await server.ok(PackageDocument, { id: p1.id }, sr.token)).package).toMatchObject({ price: '25', source: null });
    // A sibling sees nothing of the chain below the admin (the admin's own package is an offer to it too).
    expect((await server.ok(PackageDocument, { id: p0.id }, r2.token)).package).toMatchObject({ id: p0.id, source: null });
    for (const id of [p1.id, p2.id, p3.id]) {
      expect((await server.ok(PackageDocument, { id }, r2.token)).package).toBeNull();
      expect((await server.ok(NodeDocument, { id }, r2.token)).node).toBeNull();
    }
    expect(errorCode(await server.gql(UpdatePackageDocument, { id: p1.id, input: { name: 'x' } }, r2.token))).toBe('NOT_FOUND');
    expect(errorCode(await server.gql(UpdatePackageDocument, { id: p1.id, input: { name: 'x' } }, c1.token))).toBe('FORBIDDEN');
  });

  it('refuses a currency mismatch, and a model change while clones exist', async () => {
    const eur = await addAccount(server, admin.token, { kind: 'RESELLER', currency: 'EUR' });
    expect(errorCode(await server.gql(OptInDocument, { input: { packageId: p0.id } }, eur.token))).toBe('CURRENCY_MISMATCH');
    const model = await server.gql(UpdateAccountDocument, { id: r1.id, input: { resellerModel: 'COMMISSION' } }, admin.token);
    expect(errorCode(model)).toBe('INVALID_STATE');
  });

  it('opt-out waits for sub-resellers, archives the clone, and allows a new opt-in', async () => {
    expect(errorCode(await server.gql(OptOutDocument, { packageId: p1.id }, r1.token))).toBe('INVALID_STATE');
    expect(errorCode(await server.gql(OptOutDocument, { packageId: p2.id }, sr.token))).toBe('INVALID_STATE');
    expect((await server.ok(OptOutDocument, { packageId: p3.id }, sr2.token)).optOut).toEqual({ id: p3.id, status: 'ARCHIVED' });
    await server.ok(OptOutDocument, { packageId: p2.id }, sr.token);
    await server.ok(OptOutDocument, { packageId: p1.id }, r1.token);
    expect(errorCode(await server.gql(OptOutDocument, { packageId: p1.id }, r1.token))).toBe('INVALID_STATE');
    expect(errorCode(await server.gql(OptOutDocument, { packageId: p0.id }, admin.token))).toBe('INVALID_STATE');
    const again = await server.ok(OptInDocument, { input: { packageId: p0.id, price: '11' } }, r1.token);
    expect(again.optIn.price).toBe('11');
    const owned = await server.ok(OwnedPackagesDocument, { id: r1.id, status: 'ARCHIVED' }, r1.token);
    expect(owned.account!.ownedPackages.edges.map((e) => e.node.id)).toEqual([p1.id]);
    const active = await server.ok(OwnedPackagesDocument, { id: r1.id, status: 'ACTIVE' }, admin.token);
    expect(active.account!.ownedPackages.edges.map((e) => e.node.id)).toContain(again.optIn.id);
  });

  it('archived packages are read-only', async () => {
    const pkg = await create(admin.token, { name: 'Old' });
    await server.ok(SetPackageStatusDocument, { id: pkg.id, status: 'ARCHIVED' }, admin.token);
    expect(errorCode(await server.gql(UpdatePackageDocument, { id: pkg.id, input: { name: 'New' } }, admin.token))).toBe(
      'INVALID_STATE',
    );
    expect(errorCode(await server.gql(SetPackageStatusDocument, { id: pkg.id, status: 'ACTIVE' }, admin.token))).toBe(
      'INVALID_STATE',
    );
  });
});
