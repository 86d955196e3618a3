import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import {
  AccountDocument,
  AdjustBalanceDocument,
  CreateRateGroupDocument,
  LedgerDocument,
  RateCallDocument,
  TopUpDocument,
  UpdateAccountDocument,
} from './generated/graphql.js';
import { errorCode, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, buildTree } from './support/tree.js';

let server: TestServer;
let tree: Awaited<ReturnType<typeof buildTree>>;

beforeAll(async () => {
  server = await startServer();
  tree = await buildTree(server);
});
afterAll(() => server.close());

async function balanceAndLedgerSum(accountId: string) {
  const [row] = await sql<{ balance: string; total: string | null; n: string }>(
    server,
    `select a.balance::text as balance, (select sum(amount)::text from ledger_entries l where l.account_id = a.id) as total,
            (select count(*)::text from ledger_entries l where l.account_id = a.id) as n
       from accounts a where a.id = ?`,
    [accountId],
  );
  return { balance: new Decimal(row.balance), ledger: new Decimal(row.total ?? 0), entries: Number(row.n) };
}

/** An account's ledger in seq order, with each entry's stored time to the microsecond (sortable text). */
async function ledgerTimes(accountId: string) {
  return sql<{ id: string; seq: string; at: string }>(
    server,
    `select l.id, l.seq::text as seq, to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as at
       from ledger_entries l where l.account_id = ? order by l.seq`,
    [accountId],
  );
}

describe('topUp and adjustBalance', () => {
  it('an ancestor tops up; the ledger entry carries the balance after it', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const first = await server.ok(
      TopUpDocument,
      { input: { accountId: c.id, amount: '25.50', description: 'card payment' } },
      tree.r1.token,
    );
    expect(first.topUp).toMatchObject({
      amount: '25.5',
      balanceAfter: '25.5',
      kind: 'TOPUP',
      description: 'card payment',
      account: { id: c.id, balance: '25.5' },
    });
    const second = await server.ok(TopUpDocument, { input: { accountId: c.id, amount: '0.000001' } }, tree.admin.token);
    expect(second.topUp.balanceAfter).toBe('25.500001');
    const adjusted = await server.ok(AdjustBalanceDocument, { input: { accountId: c.id, amount: '-30' } }, tree.r1.token);
    expect(adjusted.adjustBalance).toMatchObject({ amount: '-30', balanceAfter: '-4.499999', kind: 'ADJUSTMENT' });

    const { account } = await server.ok(LedgerDocument, { id: c.id }, c.token);
    expect(account!.balance).toBe('-4.499999');
    expect(account!.ledger.totalCount).toBe(3);
    // Newest first.
    expect(account!.ledger.edges.map((e) => [e.node.kind, e.node.amount, e.node.balanceAfter])).toEqual([
      ['ADJUSTMENT', '-30', '-4.499999'],
      ['TOPUP', '0.000001', '25.500001'],
      ['TOPUP', '25.5', '25.5'],
    ]);
    const page = await server.ok(LedgerDocument, { id: c.id, first: 2 }, c.token);
    const rest = await server.ok(LedgerDocument, { id: c.id, first: 2, after: page.account!.ledger.pageInfo.endCursor }, c.token);
    expect(rest.account!.ledger.edges.map((e) => e.node.amount)).toEqual(['25.5']);
    expect(rest.account!.ledger.pageInfo.hasNextPage).toBe(false);
  });

  it('an account cannot top up or adjust itself, and a customer cannot top up anyone', async () => {
    expect(errorCode(await server.gql(TopUpDocument, { input: { accountId: tree.r1.id, amount: '5' } }, tree.r1.token))).toBe(
      'FORBIDDEN',
    );
    expect(
      errorCode(await server.gql(AdjustBalanceDocument, { input: { accountId: tree.sr1.id, amount: '5' } }, tree.sr1.token)),
    ).toBe('FORBIDDEN');
    expect(errorCode(await server.gql(TopUpDocument, { input: { accountId: tree.c1.id, amount: '5' } }, tree.c1.token))).toBe(
      'FORBIDDEN',
    );
    const { account } = await server.ok(AccountDocument, { id: tree.r1.id }, tree.admin.token);
    expect(account!.balance).toBe('0');
  });

  it.each([
    ['0', 'topUp'],
    ['-1', 'topUp'],
    ['0', 'adjustBalance'],
  ])('refuses amount %s for %s with BAD_USER_INPUT on amount', async (amount, op) => {
    const doc = op === 'topUp' ? TopUpDocument : AdjustBalanceDocument;
    const result = await server.gql(doc, { input: { accountId: tree.c1.id, amount } }, tree.r1.token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
  });

  it('refuses to move money on a deleted account', async () => {
    const c = await addAccount(server, tree.r2.token, { kind: 'CUSTOMER' });
    await server.ok('mutation($id: ID!) { deleteAccount(id: $id) { id } }', { id: c.id }, tree.r2.token);
    expect(errorCode(await server.gql(TopUpDocument, { input: { accountId: c.id, amount: '5' } }, tree.r2.token))).toBe(
      'INVALID_STATE',
    );
  });
});

describe('idempotency keys', () => {
  it('the same key and input returns the first entry and moves money once', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const input = { accountId: c.id, amount: '10', idempotencyKey: 'pay-001' };
    const a = await server.ok(TopUpDocument, { input }, tree.r1.token);
    const b = await server.ok(TopUpDocument, { input: { ...input, amount: '10.000' } }, tree.r1.token);
    expect(b.topUp.id).toBe(a.topUp.id);
    expect(b.topUp.balanceAfter).toBe('10');
    expect(await balanceAndLedgerSum(c.id)).toEqual({ balance: new Decimal(10), ledger: new Decimal(10), entries: 1 });
  });

  it('the same key with another input is IDEMPOTENCY_CONFLICT and moves nothing', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    await server.ok(TopUpDocument, { input: { accountId: c.id, amount: '10', idempotencyKey: 'pay-002' } }, tree.r1.token);
    const other = await server.gql(
      TopUpDocument,
      { input: { accountId: c.id, amount: '11', idempotencyKey: 'pay-002' } },
      tree.r1.token,
    );
    expect(errorCode(other)).toBe('IDEMPOTENCY_CONFLICT');
    const otherOp = await server.gql(
      AdjustBalanceDocument,
      { input: { accountId: c.id, amount: '10', idempotencyKey: 'pay-002' } },
      tree.r1.token,
    );
    expect(errorCode(otherOp)).toBe('IDEMPOTENCY_CONFLICT');
    expect((await balanceAndLedgerSum(c.id)).balance.toString()).toBe('10');
  });

  it('keys belong to the caller: another ancestor may use the same key', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    await server.ok(TopUpDocument, { input: { accountId: c.id, amount: '1', idempotencyKey: 'shared' } }, tree.r1.token);
    await server.ok(TopUpDocument, { input: { accountId: c.id, amount: '1', idempotencyKey: 'shared' } }, tree.admin.token);
    expect((await balanceAndLedgerSum(c.id)).balance.toString()).toBe('2');
  });

  it('a failed call does not burn its key', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const failed = await server.gql(
      TopUpDocument,
      { input: { accountId: c.id, amount: '5', idempotencyKey: 'retry-me' } },
      c.token,
    );
    expect(errorCode(failed)).toBe('FORBIDDEN');
    const ok = await server.ok(
      TopUpDocument,
      { input: { accountId: c.id, amount: '5', idempotencyKey: 'retry-me' } },
      tree.r1.token,
    );
    expect(ok.topUp.balanceAfter).toBe('5');
  });

  it('concurrent calls with one key move money exactly once', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const input = { accountId: c.id, amount: '7', idempotencyKey: 'race-1' };
    const results = await Promise.all(Array.from({ length: 10 }, () => server.ok(TopUpDocument, { input }, tree.r1.token)));
    expect(new Set(results.map((r) => r.topUp.id)).size).toBe(1);
    expect(await balanceAndLedgerSum(c.id)).toEqual({ balance: new Decimal(7), ledger: new Decimal(7), entries: 1 });
  });
});

describe('concurrency', () => {
  it('50 concurrent top-ups lose no update, and the balance equals the sum of the ledger', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const amounts = Array.from({ length: 50 }, (_, i) => `${i + 1}.${String(i).padStart(2, '0')}`);
    const results = await Promise.all(
      amounts.map((amount, i) =>
        server.gql(TopUpDocument, { input: { accountId: c.id, amount } }, i % 2 ? tree.r1.token : tree.admin.token),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const expected = amounts.reduce((sum, a) => sum.plus(a), new Decimal(0));
    const state = await balanceAndLedgerSum(c.id);
    expect(state.balance.toString()).toBe(expected.toString());
    expect(state.ledger.toString()).toBe(expected.toString());
    expect(state.entries).toBe(50);
    // Every balanceAfter is distinct: each entry saw the balance left by the one before it.
    const afters = results.map((r) => r.data!.topUp.balanceAfter);
    expect(new Set(afters).size).toBe(50);
    const { account } = await server.ok(AccountDocument, { id: c.id }, tree.r1.token);
    expect(account!.balance).toBe(expected.toString());
  });

  it('concurrent mixed credits and debits on one account keep balance == sum(ledger)', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const ops = Array.from({ length: 40 }, (_, i) =>
      i % 3 === 0
        ? server.gql(AdjustBalanceDocument, { input: { accountId: c.id, amount: '-1.2345' } }, tree.r1.token)
        : server.gql(TopUpDocument, { input: { accountId: c.id, amount: '2.5' } }, tree.r1.token),
    );
    const results = await Promise.all(ops);
    expect(results.filter((r) => r.errors)).toEqual([]);
    const debits = 14;
    const expected = new Decimal('2.5').times(40 - debits).minus(new Decimal('1.2345').times(debits));
    const state = await balanceAndLedgerSum(c.id);
    expect(state.balance.toString()).toBe(expected.toString());
    expect(state.ledger.toString()).toBe(expected.toString());
  });

  it('concurrent postings are time-stamped when written: seq order and time order agree, newest first is newest', async () => {
    const c = await addAccount(server, tree.r1.token, { kind: 'CUSTOMER' });
    const TOP_UP = 'mutation($input: BalanceChangeInput!) { topUp(input: $input) { id createdAt } }';
    const ADJUST = 'mutation($input: BalanceChangeInput!) { adjustBalance(input: $input) { id createdAt } }';
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 4 === 0
          ? server.gql(ADJUST, { input: { accountId: c.id, amount: '-0.5' } }, tree.admin.token)
          : server.gql(TOP_UP, { input: { accountId: c.id, amount: '1' } }, i % 2 ? tree.r1.token : tree.admin.token),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const returned = results.map((r) => r.data!.topUp ?? r.data!.adjustBalance) as { id: string; createdAt: string }[];

    const rows = await ledgerTimes(c.id);
    expect(rows).toHaveLength(40);
    expect(rows.filter((r, i) => i > 0 && r.at < rows[i - 1].at).map((r) => r.seq)).toEqual([]);

    // What the mutation returned is what was stored, to the microsecond.
    const differing = await sql<{ id: string }>(
      server,
      `select l.id from ledger_entries l join json_to_recordset(?::json) as x(id text, created_at timestamptz) on x.id = l.id
        where l.created_at <> x.created_at`,
      [JSON.stringify(returned.map((r) => ({ id: r.id, created_at: r.createdAt })))],
    );
    expect(differing).toEqual([]);

    const { account } = await server.ok(
      'query($id: ID!) { account(id: $id) { ledger(first: 40) { edges { node { id createdAt } } } } }',
      { id: c.id },
      c.token,
    );
    const page = (account.ledger.edges as { node: { id: string; createdAt: string } }[]).map((e) => e.node);
    expect(page.map((n) => n.id)).toEqual(rows.map((r) => r.id).reverse());
    const times = page.map((n) => Date.parse(n.createdAt));
    expect(times.filter((t, i) => i > 0 && t > times[i - 1])).toEqual([]);
  });

  it('concurrently rated calls are time-stamped when their charge is written, in seq order', async () => {
    const { createRateGroup } = await server.ok(
      CreateRateGroupDocument,
      { input: { name: 'clock', rates: [{ prefix: '44', ratePerMinute: '0.01' }] } },
      tree.admin.token,
    );
    const c = await addAccount(server, tree.admin.token, { kind: 'CUSTOMER' });
    await server.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: createRateGroup.id } }, tree.admin.token);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        server.gql(
          RateCallDocument,
          {
            input: {
              accountId: c.id,
              callId: `clock-${i}`,
              destination: '4420',
              direction: 'OUTBOUND',
              durationSeconds: 60,
              startedAt: new Date(Date.now() - 86_400_000).toISOString(),
            },
          },
          tree.admin.token,
        ),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const rows = await ledgerTimes(c.id);
    expect(rows).toHaveLength(40);
    expect(rows.filter((r, i) => i > 0 && r.at < rows[i - 1].at).map((r) => r.seq)).toEqual([]);
  });
});
