// Minimum spend (DOMAIN.md 13, ConnexCS): the price is a commitment; the shortfall is charged when a period ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform, errorCode, ledgerMismatches, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, topUp, type Node } from './support/tree.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const DAY = 86_400_000;
const HOUR = 3_600_000;
const RUN = `mutation ($at: DateTime!) { runRenewals(asOf: $at) { renewed minimumSpend } }`;
const RATE = `mutation ($input: CallInput!) { rateCall(input: $input) { cost } }`;

/**
 * A 30-day package at 50.00 as a commitment, its first period ended an hour ago (or ending `endsIn` from now);
 * calls at 1.00 a minute, started two hours ago unless told.
 */
async function setup(packageInput: Record<string, unknown> = {}, endsIn = -HOUR) {
  const p = await createPlatform(server);
  const root: Node = { id: p.id, token: p.token, email: p.email };
  const { createRateGroup } = await server.ok(
    `mutation { createRateGroup(input: { name: "std", rates: [{ prefix: "44", ratePerMinute: "1" }] }) { id } }`,
    {},
    root.token,
  );
  const c = await addAccount(server, root.token, {
    kind: 'CUSTOMER',
    name: 'C',
    rateGroupId: createRateGroup.id,
  });
  await topUp(server, root.token, c.id, '100');
  const { createPackage } = await server.ok(
    `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { id minimumSpend } }`,
    { input: { name: 'Commit 50', price: '50', billingDays: 30, minimumSpend: true, ...packageInput } },
    root.token,
  );
  const { assignPackage } = await server.ok(
    `mutation ($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }`,
    { a: c.id, p: createPackage.id, s: new Date(Date.now() - 30 * DAY + endsIn).toISOString() },
    root.token,
  );
  const end = new Date(assignPackage.currentPeriodEnd).getTime();
  let n = 0;
  const call = (minutes: number, startedAt = Date.now() - 2 * HOUR) =>
    server.ok(
      RATE,
      {
        input: {
          accountId: c.id,
          callId: `ms-${++n}`,
          destination: '4420',
          direction: 'OUTBOUND',
          durationSeconds: minutes * 60,
          startedAt: new Date(startedAt).toISOString(),
        },
      },
      root.token,
    );
  const run = async (at: number) => (await server.ok(RUN, { at: new Date(at).toISOString() }, root.token)).runRenewals;
  const ledger = async () =>
    (
      await sql<{ kind: string; amount: string }>(
        server,
        `select kind, trim_scale(amount)::text as amount from ledger_entries where account_id = ? and kind not in ('TOPUP', 'USAGE')
          order by seq`,
        [c.id],
      )
    ).map((r) => `${r.kind} ${r.amount}`);
  const balance = async () =>
    (await server.ok(`query ($id: ID!) { account(id: $id) { balance } }`, { id: c.id }, root.token)).account.balance;
  return { root, c, pkg: createPackage, sub: assignPackage.id as string, end, call, run, ledger, balance };
}

describe('minimum spend (DOMAIN.md 13)', () => {
  it('the ConnexCS example: price 50.00, calls of 25.00 in the period: MINIMUM_SPEND 25.00, once', async () => {
    const { root, pkg, end, call, run, ledger, balance } = await setup();
    expect(pkg.minimumSpend).toBe(true);
    // No fee up front.
    expect(await ledger()).toEqual([]);
    expect(await balance()).toBe('100');
    await call(25);
    expect(await run(end + HOUR)).toMatchObject({ renewed: 1, minimumSpend: 1 });
    // No RENEWAL_FEE either: only the shortfall of the period that ended.
    expect(await ledger()).toEqual(['MINIMUM_SPEND -25']);
    expect(await balance()).toBe('50');
    // Exactly once: another run, and a call of that period rated after the run, change nothing.
    await call(10, end - HOUR);
    expect(await run(end + 2 * HOUR)).toMatchObject({ minimumSpend: 0 });
    expect(await ledger()).toEqual(['MINIMUM_SPEND -25']);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });

  it('a run that looks ahead past a period still running settles nothing until the period has ended', async () => {
    const { end, call, run, ledger } = await setup({}, HOUR);
    await call(5);
    expect(await run(end + 60_000)).toMatchObject({ renewed: 1, minimumSpend: 0 });
    expect(await ledger()).toEqual([]);
  });

  it('the commitment is the price when the period began, not after a repricing', async () => {
    const { root, pkg, end, call, run, ledger } = await setup();
    await call(25);
    await server.ok(`mutation ($id: ID!) { updatePackage(id: $id, input: { price: "500" }) { id } }`, { id: pkg.id }, root.token);
    await run(end + HOUR);
    expect(await ledger()).toEqual(['MINIMUM_SPEND -25']);
  });

  it('a tax-inclusive commitment is compared by its net part with the usage, and the shortfall taxed on top', async () => {
    const taxed = async (minutes: number) => {
      const p = await setup({ price: '60', taxInclusive: true });
      const { createTaxRate } = await server.ok(
        `mutation { createTaxRate(input: { name: "VAT", percent: "20" }) { id } }`,
        {},
        p.root.token,
      );
      await server.ok(
        `mutation ($a: ID!, $t: [ID!]!) { setAccountTaxes(accountId: $a, taxRateIds: $t) { id } }`,
        { a: p.c.id, t: [createTaxRate.id] },
        p.root.token,
      );
      await p.call(minutes);
      await p.run(p.end + HOUR);
      return p.ledger();
    };
    // 60.00 with 20 % in it is 50.00 net: calls of 50.00 (60.00 with their tax) meet it; 40.00 leave 10.00 + 2.00.
    expect(await taxed(50)).toEqual(['TAX -10']);
    expect(await taxed(40)).toEqual(['TAX -8', 'MINIMUM_SPEND -10', 'TAX -2']);
  });

  it("a reseller's level owes its own shortfall, on its charges for that chain's calls", async () => {
    const p = await createPlatform(server);
    const root: Node = { id: p.id, token: p.token, email: p.email };
    const group = async (token: string, rate: string) =>
      (
        await server.ok(
          `mutation ($r: Money!) { createRateGroup(input: { name: "g", rates: [{ prefix: "44", ratePerMinute: $r }] }) { id } }`,
          { r: rate },
          token,
        )
      ).createRateGroup.id as string;
    const r = await addAccount(server, root.token, { kind: 'RESELLER', name: 'R', rateGroupId: await group(root.token, '0.5') });
    const retail = await group(r.token, '1');
    const c = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'C', rateGroupId: retail });
    // Another customer of R calls too: R's charges for it are not this chain's usage.
    const other = await addAccount(server, r.token, { kind: 'CUSTOMER', name: 'O', rateGroupId: retail });
    await topUp(server, root.token, r.id, '100');
    const { createPackage } = await server.ok(
      `mutation { createPackage(input: { name: "Commit", price: "40", billingDays: 30, minimumSpend: true, resellerCanResell: true }) { id } }`,
      {},
      root.token,
    );
    const { optIn } = await server.ok(
      `mutation ($p: ID!) { optIn(input: { packageId: $p, price: "50" }) { id } }`,
      { p: createPackage.id },
      r.token,
    );
    const { assignPackage } = await server.ok(
      `mutation ($a: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $a, packageId: $p, startAt: $s }) { id currentPeriodEnd } }`,
      { a: c.id, p: optIn.id, s: new Date(Date.now() - 30 * DAY - HOUR).toISOString() },
      r.token,
    );
    const end = new Date(assignPackage.currentPeriodEnd).getTime();
    let n = 0;
    const call = (accountId: string, minutes: number) =>
      server.ok(
        RATE,
        {
          input: {
            accountId,
            callId: `rs-${++n}`,
            destination: '4420',
            direction: 'OUTBOUND',
            durationSeconds: minutes * 60,
            startedAt: new Date(end - 2 * HOUR).toISOString(),
          },
        },
        root.token,
      );
    await call(c.id, 30);
    await call(other.id, 60);
    await server.ok(RUN, { at: new Date(end + HOUR).toISOString() }, root.token);
    const shortfalls = await sql<{ account_id: string; amount: string }>(
      server,
      `select account_id, trim_scale(amount)::text as amount from ledger_entries where kind = 'MINIMUM_SPEND' and account_id in (?, ?)
        order by ledger_entries.amount`,
      [c.id, r.id],
    );
    // C: 50.00 - 30.00 of calls = 20.00. R: 40.00 - 15.00 (its 0.50 a minute on C's 30 minutes; O's calls aside) = 25.00.
    expect(shortfalls).toEqual([
      { account_id: r.id, amount: '-25' },
      { account_id: c.id, amount: '-20' },
    ]);
    expect(await ledgerMismatches(server, root.id)).toEqual([]);
  });

  it('calls of 60.00: nothing', async () => {
    const { end, call, run, ledger } = await setup();
    await call(60);
    expect(await run(end + HOUR)).toMatchObject({ minimumSpend: 0 });
    expect(await ledger()).toEqual([]);
  });

  it('the shortfall is taxed like any fee', async () => {
    const p = await setup();
    const { createTaxRate } = await server.ok(
      `mutation { createTaxRate(input: { name: "VAT", percent: "20" }) { id } }`,
      {},
      p.root.token,
    );
    await server.ok(
      `mutation ($a: ID!, $t: [ID!]!) { setAccountTaxes(accountId: $a, taxRateIds: $t) { id } }`,
      { a: p.c.id, t: [createTaxRate.id] },
      p.root.token,
    );
    await p.call(30);
    await p.run(p.end + HOUR);
    // Usage of 30.00 is taxed on its own (6.00); the shortfall of 20.00 adds 4.00.
    expect(await p.ledger()).toEqual(['TAX -6', 'MINIMUM_SPEND -20', 'TAX -4']);
  });

  it('a chain terminated inside its period owes nothing for it; the flag is fixed at creation', async () => {
    const { root, pkg, sub, end, call, run, ledger } = await setup();
    await call(5, end - 3 * HOUR);
    // Ended (by the admin, backdated) two hours before the period's end.
    await server.ok(
      `mutation ($id: ID!, $at: DateTime!) { terminateSubscription(id: $id, at: $at) { status } }`,
      { id: sub, at: new Date(end - 2 * HOUR).toISOString() },
      root.token,
    );
    expect(await run(end + HOUR)).toMatchObject({ minimumSpend: 0 });
    expect(await ledger()).toEqual([]);
    const update = await server.gql(
      `mutation ($id: ID!) { updatePackage(id: $id, input: { minimumSpend: false }) { id } }`,
      { id: pkg.id },
      root.token,
    );
    expect(update.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'minimumSpend' });
    expect(errorCode(update)).toBe('BAD_USER_INPUT');
  });
});
