// Phone numbers in packages (DOMAIN.md 12): the inventory, claims, holds and returns, and inbound calls by number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createPlatform, ENGINE, errorCode, ledgerMismatches, pg, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const DAY = 86_400_000;
const HOUR = 3_600_000;
const LONDON = ['442070000001', '442070000002', '442070000003', '442070000004', '442070000005'];

const ADD = `mutation ($input: AddDidsInput!) { addDids(input: $input) { id number country tags status } }`;
const CLAIM = `mutation ($s: ID!, $n: String) { claimDid(subscriptionId: $s, number: $n) { id number status assignedAt account { id } subscription { id } } }`;
const RELEASE = `mutation ($id: ID!) { releaseDid(id: $id) { number status holdUntil } }`;
const DIDS = `query ($status: DidStatus, $tag: String, $first: Int, $after: String) {
  dids(status: $status, tag: $tag, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { number status holdUntil account { id } } } } }`;
const SUB_DIDS = `query ($id: ID!) { packageSubscription(id: $id) { status dids { number status holdUntil } } }`;
const PURCHASE = `mutation ($p: ID!) { purchasePackage(input: { packageId: $p }) { id } }`;
const ASSIGN = `mutation ($a: ID!, $p: ID!, $s: DateTime) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }`;
const TERMINATE = `mutation ($id: ID!, $at: DateTime) { terminateSubscription(id: $id, at: $at) { status } }`;
const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed released pastDue didsFreed } }`;

const numbers = (dids: { number: string }[]) => dids.map((d) => d.number);

async function inventory(root: Node) {
  await server.ok(ADD, { input: { numbers: LONDON, country: 'gb', tags: ['London'] } }, root.token);
  await server.ok(ADD, { input: { numbers: ['+1 212 555 0001'], country: 'US', tags: ['nyc'] } }, root.token);
}

async function didPackage(root: Node, input: Record<string, unknown> = {}) {
  const { createPackage } = await server.ok(
    `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id didQuantity allowedDidTags didHoldDays } }`,
    { input: { name: 'London line', price: '5', didQuantity: 2, allowedDidTags: ['london'], didHoldDays: 3, ...input } },
    root.token,
  );
  return createPackage;
}

async function platform() {
  const p = await createPlatform(server);
  const root: Node = { id: p.id, token: p.token, email: p.email };
  await inventory(root);
  const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'C' });
  const d = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'D' });
  await topUp(server, root.token, c.id, '100');
  await topUp(server, root.token, d.id, '100');
  return { root, c, d };
}

const subDids = async (token: string, id: string) =>
  (await server.ok(SUB_DIDS, { id }, token)).packageSubscription as {
    status: string;
    dids: { number: string; status: string; holdUntil: string | null }[];
  };

describe('DIDs: the worked example (DOMAIN.md 12)', () => {
  it('claims lowest and named, refuses over quantity and off-tag, holds on termination, returns on buying again', async () => {
    const { root, c, d } = await platform();
    const pkg = await didPackage(root);
    expect(pkg).toMatchObject({ didQuantity: 2, allowedDidTags: ['london'], didHoldDays: 3 });
    // C's subscription began two days ago, so that it can end "yesterday" and be bought again today.
    const { assignPackage: cSub } = await server.ok(
      ASSIGN,
      { a: c.id, p: pkg.id, s: new Date(Date.now() - 2 * DAY).toISOString() },
      root.token,
    );
    const { purchasePackage: dSub } = await server.ok(PURCHASE, { p: pkg.id }, d.token);

    const first = (await server.ok(CLAIM, { s: cSub.id }, c.token)).claimDid;
    expect(first).toMatchObject({
      number: '442070000001',
      status: 'ASSIGNED',
      account: { id: c.id },
      subscription: { id: cSub.id },
    });
    expect((await server.ok(CLAIM, { s: cSub.id, n: '442070000003' }, c.token)).claimDid).toMatchObject({
      number: '442070000003',
      status: 'ASSIGNED',
    });
    expect(errorCode(await server.gql(CLAIM, { s: cSub.id }, c.token))).toBe('INVALID_STATE');
    expect(errorCode(await server.gql(CLAIM, { s: cSub.id, n: '12125550001' }, c.token))).toBe('INVALID_STATE');
    // Not for D either: the nyc number has none of the package's tags.
    expect(errorCode(await server.gql(CLAIM, { s: dSub.id, n: '12125550001' }, d.token))).toBe('INVALID_STATE');
    // Nor one C holds.
    expect(errorCode(await server.gql(CLAIM, { s: dSub.id, n: '442070000003' }, d.token))).toBe('INVALID_STATE');

    const endedAt = new Date(Date.now() - DAY);
    await server.ok(TERMINATE, { id: cSub.id, at: endedAt.toISOString() }, root.token);
    const held = await subDids(c.token, cSub.id);
    const holdUntil = new Date(endedAt.getTime() + 3 * DAY).toISOString();
    expect(held.dids).toEqual([
      { number: '442070000001', status: 'ON_HOLD', holdUntil },
      { number: '442070000003', status: 'ON_HOLD', holdUntil },
    ]);
    expect((await server.ok(CLAIM, { s: dSub.id }, d.token)).claimDid.number).toBe('442070000002');

    // The next day C buys the package again: its numbers are back, on the new subscription.
    const { purchasePackage: again } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    expect((await subDids(c.token, again.id)).dids).toEqual([
      { number: '442070000001', status: 'ASSIGNED', holdUntil: null },
      { number: '442070000003', status: 'ASSIGNED', holdUntil: null },
    ]);
    expect((await subDids(c.token, cSub.id)).dids).toEqual([]);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });
});

describe('DIDs: the inventory', () => {
  it('adds 10,000 numbers in one call, refuses duplicates whole, and pages them lowest first', async () => {
    const p = await createPlatform(server);
    const many = Array.from({ length: 10_000 }, (_, i) => String(33100000000 + i));
    const { addDids } = await server.ok(ADD, { input: { numbers: many, country: 'FR', tags: ['paris'] } }, p.token);
    expect(addDids).toHaveLength(10_000);
    expect(addDids[0]).toMatchObject({ number: '33100000000', country: 'FR', tags: ['paris'], status: 'AVAILABLE' });

    const dup = await server.gql(ADD, { input: { numbers: ['9', '33100000005'] } }, p.token);
    expect(errorCode(dup)).toBe('ALREADY_EXISTS');
    // Only the number that was there before is named, not the one the refused call would have added.
    expect(dup.errors?.[0]?.message).toBe('Already in the inventory: 33100000005');
    expect(dup.errors?.[0]?.extensions?.numbers).toEqual(['33100000005']);
    expect(errorCode(await server.gql(ADD, { input: { numbers: ['7', '7'] } }, p.token))).toBe('ALREADY_EXISTS');
    const [{ n }] = await sql<{ n: number }>(server, `select count(*)::int as n from dids where root_id = ?`, [p.id]);
    expect(n).toBe(10_000);

    const bad = await server.gql(ADD, { input: { numbers: ['12a4'] } }, p.token);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'numbers[0]' });
    expect((await server.gql(ADD, { input: { numbers: ['1234567890123456'] } }, p.token)).errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    expect(errorCode(await server.gql(ADD, { input: { numbers: ['5'], tags: ['no spaces'] } }, p.token))).toBe('BAD_USER_INPUT');

    // Numbers sort as numbers: 9 before 10, and 99 before 100.
    await server.ok(ADD, { input: { numbers: ['100', '10', '99', '9'], tags: ['short'] } }, p.token);
    const page = (await server.ok(DIDS, { tag: 'short', first: 3 }, p.token)).dids;
    expect(numbers(page.edges.map((e: { node: { number: string } }) => e.node))).toEqual(['9', '10', '99']);
    expect(page.totalCount).toBe(4);
    const next = (await server.ok(DIDS, { tag: 'short', first: 3, after: page.pageInfo.endCursor }, p.token)).dids;
    expect(numbers(next.edges.map((e: { node: { number: string } }) => e.node))).toEqual(['100']);
    expect(next.pageInfo.hasNextPage).toBe(false);
    expect((await server.ok(DIDS, { status: 'AVAILABLE', first: 0 }, p.token)).dids.totalCount).toBe(10_004);
  });

  it('is the root admin\u2019s: others may not add or retire; retiring takes AVAILABLE numbers only, which may be added again', async () => {
    const { root, c } = await platform();
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R' });
    expect(errorCode(await server.gql(ADD, { input: { numbers: ['1'] } }, r.token))).toBe('FORBIDDEN');
    const [{ id: five }] = await sql<{ id: string }>(server, `select id from dids where root_id = ? and number = ?`, [
      root.id,
      '442070000005',
    ]);
    const RETIRE = `mutation ($id: ID!) { retireDid(id: $id) { number status } }`;
    expect(errorCode(await server.gql(RETIRE, { id: five }, r.token))).toBe('FORBIDDEN');
    expect((await server.ok(RETIRE, { id: five }, root.token)).retireDid.number).toBe('442070000005');
    expect(errorCode(await server.gql(RETIRE, { id: five }, root.token))).toBe('NOT_FOUND');
    expect((await server.ok(DIDS, { tag: 'london' }, root.token)).dids.totalCount).toBe(4);
    await server.ok(ADD, { input: { numbers: ['442070000005'], tags: ['london'] } }, root.token);
    expect((await server.ok(DIDS, { tag: 'london' }, root.token)).dids.totalCount).toBe(5);

    const pkg = await didPackage(root);
    const { purchasePackage: sub } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    const { claimDid } = await server.ok(CLAIM, { s: sub.id }, c.token);
    expect(errorCode(await server.gql(RETIRE, { id: claimDid.id }, root.token))).toBe('INVALID_STATE');
  });
});

describe('DIDs: scope, claims by ancestors, release', () => {
  it('an account sees the numbers held in its subtree, and the AVAILABLE ones that qualify for its subscription', async () => {
    const p = await createPlatform(server);
    const root: Node = { id: p.id, token: p.token, email: p.email };
    await inventory(root);
    const r1 = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R1' });
    const r2 = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R2' });
    const c1 = await addAccount(server, r1.token, { kind: 'CUSTOMER', name: 'C1' });
    const c2 = await addAccount(server, r2.token, { kind: 'CUSTOMER', name: 'C2' });
    await topUp(server, root.token, r1.id, '100');
    await topUp(server, r1.token, c1.id, '100');
    const pkg = await didPackage(root, { resellerCanResell: true, canBePurchased: false });
    const { optIn } = await server.ok(
      `mutation ($p: ID!) { optIn(input: { packageId: $p, canBePurchased: true }) { id allowedDidTags didQuantity } }`,
      { p: pkg.id },
      r1.token,
    );
    // A clone shares the original's DID limits.
    expect(optIn).toMatchObject({ allowedDidTags: ['london'], didQuantity: 2 });
    const { purchasePackage: sub } = await server.ok(PURCHASE, { p: optIn.id }, c1.token);

    const AVAILABLE = `query ($s: ID!) { availableDids(subscriptionId: $s, first: 2) { totalCount edges { node { number } } } }`;
    const available = (await server.ok(AVAILABLE, { s: sub.id }, c1.token)).availableDids;
    expect(available.totalCount).toBe(5);
    expect(available.edges.map((e: { node: { number: string } }) => e.node.number)).toEqual(['442070000001', '442070000002']);
    expect(errorCode(await server.gql(AVAILABLE, { s: sub.id }, c2.token))).toBe('NOT_FOUND');

    // R1 (an ancestor) claims for its customer.
    const { claimDid } = await server.ok(CLAIM, { s: sub.id, n: '442070000004' }, r1.token);
    expect(claimDid.account.id).toBe(c1.id);
    // Nobody sees the AVAILABLE stock through dids but the root; the holder and its ancestors see what it holds.
    const seen = async (n: Node) =>
      numbers((await server.ok(DIDS, {}, n.token)).dids.edges.map((e: { node: { number: string } }) => e.node));
    expect(await seen(c1)).toEqual(['442070000004']);
    expect(await seen(r1)).toEqual(['442070000004']);
    expect(await seen(r2)).toEqual([]);
    expect(await seen(c2)).toEqual([]);
    expect(await seen(root)).toHaveLength(6);
    const node = `query ($id: ID!) { node(id: $id) { ... on Did { number } } }`;
    expect((await server.ok(node, { id: claimDid.id }, r2.token)).node).toBeNull();
    expect((await server.ok(node, { id: claimDid.id }, r1.token)).node).toEqual({ number: '442070000004' });
    const account = `query ($id: ID!) { account(id: $id) { dids { totalCount edges { node { number status } } } } }`;
    expect((await server.ok(account, { id: c1.id }, r1.token)).account.dids.edges).toEqual([
      { node: { number: '442070000004', status: 'ASSIGNED' } },
    ]);

    // Only the holder and its ancestors may release; then it is AVAILABLE at once, with no hold.
    expect(errorCode(await server.gql(RELEASE, { id: claimDid.id }, r2.token))).toBe('NOT_FOUND');
    expect((await server.ok(RELEASE, { id: claimDid.id }, c1.token)).releaseDid).toEqual({
      number: '442070000004',
      status: 'AVAILABLE',
      holdUntil: null,
    });
    expect(await seen(c1)).toEqual([]);
    expect(errorCode(await server.gql(RELEASE, { id: claimDid.id }, root.token))).toBe('INVALID_STATE');
    // A reseller's own level of the chain holds no numbers.
    const [{ id: upstream }] = await sql<{ id: string }>(
      server,
      `select id from package_subscriptions where chain_id = ? and level = 1`,
      [sub.id],
    );
    expect(errorCode(await server.gql(CLAIM, { s: upstream }, r1.token))).toBe('INVALID_STATE');
  });

  it('refuses claims for a subscription that is not ACTIVE, a package without numbers, and numbers not in stock', async () => {
    const { root, c } = await platform();
    const none = await didPackage(root, { didQuantity: 0 });
    const { purchasePackage: plain } = await server.ok(PURCHASE, { p: none.id }, c.token);
    expect(errorCode(await server.gql(CLAIM, { s: plain.id }, c.token))).toBe('INVALID_STATE');
    const pkg = await didPackage(root, { allowedDidTags: [] });
    const { purchasePackage: sub } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    expect(errorCode(await server.gql(CLAIM, { s: sub.id, n: '4400' }, c.token))).toBe('NOT_FOUND');
    // No tags allowed: any number qualifies.
    expect((await server.ok(CLAIM, { s: sub.id, n: '12125550001' }, c.token)).claimDid.number).toBe('12125550001');
    await server.ok(TERMINATE, { id: sub.id }, c.token);
    expect(errorCode(await server.gql(CLAIM, { s: sub.id }, c.token))).toBe('INVALID_STATE');
  });
});

describe('DIDs: races', () => {
  it.skipIf(ENGINE === 'pglite')(
    'a release waiting on a number that meanwhile went to another subtree releases nothing',
    async () => {
      const { root, c, d } = await platform();
      const pkg = await didPackage(root, { allowedDidTags: [] });
      const cSub = (await server.ok(PURCHASE, { p: pkg.id }, c.token)).purchasePackage.id;
      const dSub = (await server.ok(PURCHASE, { p: pkg.id }, d.token)).purchasePackage.id;
      const { claimDid } = await server.ok(CLAIM, { s: cSub, n: '442070000004' }, c.token);
      // Another transaction holds the number while C's release is on its way, and gives it to D.
      const other = new pg.Client({ connectionString: inject('databaseUrl') });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('select 1 from dids where id = $1 for update', [claimDid.id]);
        const release = server.gql(RELEASE, { id: claimDid.id }, c.token);
        await new Promise((r) => setTimeout(r, 300));
        const [{ owner_path }] = (await other.query('select owner_path from package_subscriptions where id = $1', [dSub]))
          .rows as { owner_path: string }[];
        await other.query(`update dids set account_id = $2, subscription_id = $3, owner_path = $4 where id = $1`, [
          claimDid.id,
          d.id,
          dSub,
          owner_path,
        ]);
        await other.query('commit');
        expect(errorCode(await release)).toBe('INVALID_STATE');
      } finally {
        await other.end();
      }
      expect((await subDids(d.token, dSub)).dids).toEqual([{ number: '442070000004', status: 'ASSIGNED', holdUntil: null }]);
    },
  );

  it('twenty claims racing for one number: exactly one wins', async () => {
    const { root } = await platform();
    const pkg = await didPackage(root, { didQuantity: 1 });
    const customers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => addAccount(server, root.token, { kind: 'CUSTOMER', name: `K${i}` })),
    );
    for (const k of customers) await topUp(server, root.token, k.id, '10');
    const subs = await Promise.all(
      customers.map(async (k) => (await server.ok(PURCHASE, { p: pkg.id }, k.token)).purchasePackage.id),
    );
    const results = await Promise.all(subs.map((s, i) => server.gql(CLAIM, { s, n: '442070000002' }, customers[i].token)));
    expect(results.filter((r) => !r.errors).length).toBe(1);
    expect(results.filter((r) => errorCode(r) === 'INVALID_STATE').length).toBe(19);
    const rows = await sql<{ n: number }>(
      server,
      `select count(*)::int as n from dids where root_id = ? and status = 'ASSIGNED'`,
      [root.id],
    );
    expect(rows[0].n).toBe(1);

    // Claims without a name for the rest: each gets a different number until the qualifying stock runs out.
    const rest = await Promise.all(
      subs.map((s, i) => (results[i].errors ? server.gql(CLAIM, { s }, customers[i].token) : Promise.resolve(null))),
    );
    const won = rest.filter((r) => r && !r.errors).map((r) => r!.data.claimDid.number);
    expect(new Set(won).size).toBe(won.length);
    expect(won.sort()).toEqual(['442070000001', '442070000003', '442070000004', '442070000005']);
  });

  it('claims racing on one subscription never exceed its quantity', async () => {
    const { root, c } = await platform();
    const pkg = await didPackage(root, { didQuantity: 2 });
    const { purchasePackage: sub } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    const results = await Promise.all(Array.from({ length: 10 }, () => server.gql(CLAIM, { s: sub.id }, c.token)));
    expect(results.filter((r) => !r.errors).length).toBe(2);
    expect((await subDids(c.token, sub.id)).dids).toHaveLength(2);
  });
});

describe('DIDs: holds meet past-due renewals and the renewal run', () => {
  /** A daily 5.00 package with a 48-hour retry window and a 1-day hold; C pays its first day and holds 3.00. */
  async function pastDue(didHoldDays = 1) {
    const { root } = await platform();
    const c = await addAccount(server, root.token, { kind: 'CUSTOMER', name: 'Short' });
    await topUp(server, root.token, c.id, '8');
    const pkg = await didPackage(root, { billingDays: 1, releaseIfNoBalance: true, renewRetryHours: 48, didHoldDays });
    // T = the boundary, 23 hours ago: runRenewals may go a day ahead of now.
    const { assignPackage } = await server.ok(
      ASSIGN,
      { a: c.id, p: pkg.id, s: new Date(Date.now() - 47 * HOUR).toISOString() },
      root.token,
    );
    await server.ok(CLAIM, { s: assignPackage.id }, c.token);
    const T = new Date(assignPackage.currentPeriodEnd).getTime();
    const run = async (ms: number) => (await server.ok(RUN, { at: new Date(ms).toISOString() }, root.token)).runRenewals;
    return { root, c, sub: assignPackage.id as string, T, run };
  }

  it('past due: the numbers go on hold, and come back when the chain is paid', async () => {
    const { root, c, sub, T, run } = await pastDue();
    expect(await run(T + 60_000)).toMatchObject({ pastDue: 1 });
    expect(await subDids(root.token, sub)).toEqual({
      status: 'PAST_DUE',
      dids: [{ number: '442070000001', status: 'ON_HOLD', holdUntil: new Date(T + DAY).toISOString() }],
    });
    await topUp(server, root.token, c.id, '2');
    expect(await run(T + 2 * HOUR)).toMatchObject({ renewed: 1 });
    expect(await subDids(root.token, sub)).toEqual({
      status: 'ACTIVE',
      dids: [{ number: '442070000001', status: 'ASSIGNED', holdUntil: null }],
    });
  });

  it('a past-due chain is released once its numbers\u2019 hold ends, inside its retry window, and the numbers are freed', async () => {
    const { root, sub, T, run } = await pastDue();
    await run(T + 60_000);
    // Within the hold nothing moves.
    expect(await run(T + DAY - 60_000)).toMatchObject({ released: 0, didsFreed: 0 });
    expect(await run(T + DAY)).toMatchObject({ released: 1, didsFreed: 1 });
    expect(await subDids(root.token, sub)).toEqual({ status: 'RELEASED', dids: [] });
    expect((await server.ok(DIDS, { status: 'AVAILABLE', tag: 'london' }, root.token)).dids.totalCount).toBe(5);
  });

  it('a past-due chain that pays one period and is short for the next holds its numbers from the new boundary', async () => {
    const { root, c, sub, T, run } = await pastDue(3);
    await run(T + 60_000);
    await topUp(server, root.token, c.id, '2');
    // Period 2 is charged (counted as past due: the run ends with the chain past due again, at T + 1 day).
    expect(await run(T + DAY + HOUR)).toMatchObject({ renewed: 0, pastDue: 1 });
    expect(
      (await server.ok(`query ($id: ID!) { packageSubscription(id: $id) { periodsCharged } }`, { id: sub }, root.token))
        .packageSubscription.periodsCharged,
    ).toBe(2);
    expect(await subDids(root.token, sub)).toEqual({
      status: 'PAST_DUE',
      dids: [{ number: '442070000001', status: 'ON_HOLD', holdUntil: new Date(T + DAY + 3 * DAY).toISOString() }],
    });
  });

  it('a past-due chain whose numbers\u2019 hold has ended is released even when it could now pay', async () => {
    const { root, c, sub, T, run } = await pastDue();
    await run(T + 60_000);
    await topUp(server, root.token, c.id, '50');
    expect(await run(T + DAY)).toMatchObject({ renewed: 0, released: 1, didsFreed: 1 });
    expect(await subDids(root.token, sub)).toEqual({ status: 'RELEASED', dids: [] });
  });

  it('numbers of a subscription that ends go to another ACTIVE subscription of the holder to the same package', async () => {
    const { root, c } = await platform();
    const pkg = await didPackage(root, { didHoldDays: 3 });
    const first = (await server.ok(PURCHASE, { p: pkg.id }, c.token)).purchasePackage.id;
    const second = (await server.ok(PURCHASE, { p: pkg.id }, c.token)).purchasePackage.id;
    await server.ok(CLAIM, { s: first }, c.token);
    await server.ok(CLAIM, { s: first }, c.token);
    await server.ok(CLAIM, { s: second }, c.token);
    await server.ok(TERMINATE, { id: first }, c.token);
    // The second has room for one more: the lower number goes to it, the other stays on hold.
    expect((await subDids(c.token, second)).dids).toEqual([
      { number: '442070000001', status: 'ASSIGNED', holdUntil: null },
      { number: '442070000003', status: 'ASSIGNED', holdUntil: null },
    ]);
    expect((await subDids(c.token, first)).dids.map((d) => d.status)).toEqual(['ON_HOLD']);
  });

  it('a renewal run frees holds that ended by its asOf, and no sooner', async () => {
    const { root, c } = await platform();
    const pkg = await didPackage(root, { didHoldDays: 1 });
    const { assignPackage } = await server.ok(
      ASSIGN,
      { a: c.id, p: pkg.id, s: new Date(Date.now() - 2 * DAY).toISOString() },
      root.token,
    );
    await server.ok(CLAIM, { s: assignPackage.id }, c.token);
    const endedAt = Date.now() - 23 * HOUR;
    await server.ok(TERMINATE, { id: assignPackage.id, at: new Date(endedAt).toISOString() }, root.token);
    expect((await server.ok(RUN, { at: new Date(endedAt + DAY - 1000).toISOString() }, root.token)).runRenewals.didsFreed).toBe(
      0,
    );
    expect((await server.ok(RUN, { at: new Date(endedAt + DAY).toISOString() }, root.token)).runRenewals.didsFreed).toBe(1);
    expect((await subDids(root.token, assignPackage.id)).dids).toEqual([]);
    // After the hold, buying again brings nothing back.
    const { purchasePackage } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    expect((await subDids(c.token, purchasePackage.id)).dids).toEqual([]);
  });

  it('with no hold days the numbers are AVAILABLE at once when the subscription ends', async () => {
    const { root, c } = await platform();
    const pkg = await didPackage(root, { didHoldDays: 0 });
    const { purchasePackage: sub } = await server.ok(PURCHASE, { p: pkg.id }, c.token);
    await server.ok(CLAIM, { s: sub.id }, c.token);
    await server.ok(TERMINATE, { id: sub.id }, c.token);
    expect((await subDids(c.token, sub.id)).dids).toEqual([]);
    expect((await server.ok(DIDS, { status: 'AVAILABLE', tag: 'london' }, root.token)).dids.totalCount).toBe(5);
  });
});

describe('DIDs: inbound calls rated by the number dialled', () => {
  it('rates an INBOUND call to an ASSIGNED number on its holder, alone and in batches; other numbers are NOT_FOUND', async () => {
    const { root, c, d } = await platform();
    const { createRateGroup } = await server.ok(
      `mutation { createRateGroup(input: { name: "in", rates: [{ prefix: "44", ratePerMinute: "0.60", direction: INBOUND }, { prefix: "1", ratePerMinute: "0.30", direction: INBOUND }] }) { id } }`,
      {},
      root.token,
    );
    for (const n of [c, d]) {
      await server.ok(
        `mutation ($id: ID!, $g: ID!) { updateAccount(id: $id, input: { rateGroupId: $g }) { id } }`,
        {
          id: n.id,
          g: createRateGroup.id,
        },
        root.token,
      );
    }
    const pkg = await didPackage(root, { allowedDidTags: [] });
    const cSub = (await server.ok(PURCHASE, { p: pkg.id }, c.token)).purchasePackage.id;
    const dSub = (await server.ok(PURCHASE, { p: pkg.id }, d.token)).purchasePackage.id;
    await server.ok(CLAIM, { s: cSub, n: '442070000002' }, c.token);
    await server.ok(CLAIM, { s: dSub, n: '12125550001' }, d.token);
    const startedAt = new Date(Date.now() - HOUR).toISOString();
    const call = (callId: string, destination: string, direction = 'INBOUND') => ({
      callId,
      destination,
      direction,
      durationSeconds: 60,
      startedAt,
    });
    const RATE = `mutation ($input: CallInput!) { rateCall(input: $input) { cost account { id } } }`;
    expect((await server.ok(RATE, { input: call('in-1', '+44 2070000002') }, root.token)).rateCall).toEqual({
      cost: '0.6',
      account: { id: c.id },
    });
    const { rateCalls } = await server.ok(
      `mutation ($input: [CallInput!]!) { rateCalls(input: $input) { cost account { id } } }`,
      {
        input: [call('in-2', '12125550001'), call('in-3', '442070000002'), { ...call('in-4', '442070000002'), accountId: c.id }],
      },
      root.token,
    );
    expect(rateCalls).toEqual([
      { cost: '0.3', account: { id: d.id } },
      { cost: '0.6', account: { id: c.id } },
      { cost: '0.6', account: { id: c.id } },
    ]);
    // The switch retries in-1 after the number went to D: the first record comes back, nothing charged again.
    const [{ id: two }] = await sql<{ id: string }>(server, `select id from dids where root_id = ? and number = ?`, [
      root.id,
      '442070000002',
    ]);
    await server.ok(RELEASE, { id: two }, root.token);
    await server.ok(CLAIM, { s: dSub, n: '442070000002' }, d.token);
    const before = await sql<{ n: number }>(server, `select count(*)::int as n from calls where account_id = ?`, [d.id]);
    expect((await server.ok(RATE, { input: call('in-1', '442070000002') }, root.token)).rateCall).toEqual({
      cost: '0.6',
      account: { id: c.id },
    });
    expect(await sql<{ n: number }>(server, `select count(*)::int as n from calls where account_id = ?`, [d.id])).toEqual(before);
    const missing = await server.gql(RATE, { input: call('in-5', '442070000003') }, root.token);
    expect(errorCode(missing)).toBe('NOT_FOUND');
    const outbound = await server.gql(RATE, { input: call('out-1', '442070000002', 'OUTBOUND') }, root.token);
    expect(outbound.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[0].accountId' });
    // Another platform's switch does not reach these numbers.
    const other = await createPlatform(server);
    expect(errorCode(await server.gql(RATE, { input: call('in-6', '442070000002') }, other.token))).toBe('NOT_FOUND');
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });
});
