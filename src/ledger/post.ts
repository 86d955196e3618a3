import { executeBound, pgArray, type Em } from '../db/orm.js';
import { DomainError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal } from '../money.js';

/** What a ledger entry records: the money kinds of DOMAIN.md, each one a posting's `kind`. */
export type LedgerKind =
  | 'TOPUP'
  | 'ADJUSTMENT'
  | 'SETUP_FEE'
  | 'PACKAGE_FEE'
  | 'RENEWAL_FEE'
  | 'REFUND'
  | 'COMMISSION'
  | 'COMMISSION_REVERSAL'
  | 'USAGE'
  | 'TAX'
  | 'TAX_REFUND'
  | 'MINIMUM_SPEND'
  | 'USAGE_ADJUSTMENT';

/** One balance movement, signed: negative is a debit. */
export interface Posting {
  accountId: string;
  amount: Decimal;
  kind: LedgerKind;
  description?: string | null;
  /** The account whose request caused it; null for the scheduler. */
  actorId?: string | null;
  subscriptionId?: string | null;
  /** The tax rate of a TAX or TAX_REFUND entry. */
  taxRateId?: string | null;
  /** A USAGE entry's calls: their direction, how many, and the seconds billed to this account (its invoice lines). */
  calls?: { direction: string; count: number; billedSeconds: number } | null;
}

/** A ledger entry as written: the row the API returns, built from what the statement gave back. */
export interface LedgerRow {
  id: string;
  seq: string;
  accountId: string;
  ownerPath: string;
  amount: Decimal;
  balanceAfter: Decimal;
  kind: string;
  description: string | null;
  actorId: string | null;
  subscriptionId: string | null;
  taxRateId: string | null;
  createdAt: Date;
}

export interface PostOptions {
  /**
   * The least available balance (balance + credit limit) each named account must have before the postings,
   * checked under the lock: a plan made from balances read earlier (a DENY_IF_INSUFFICIENT purchase, a renewal
   * that charged a chain which releases when short) still holds exactly when every floor is met. Checked in
   * insertion order.
   */
  floors?: ReadonlyMap<string, Decimal>;
  /**
   * The available balance each named account must stay below: a plan that decided an account could not pay
   * (a renewal that released a chain) holds only while it still cannot.
   */
  ceilings?: ReadonlyMap<string, Decimal>;
  /** Accounts that must not be DELETED, checked under the lock (the levels of a new chain). */
  open?: readonly string[];
}

/** A plan's assumption about a balance no longer holds under the lock: nothing was written by this call. */
export class StaleBalance extends Error {
  constructor(
    readonly accountId: string,
    readonly available: Decimal,
    /** The floor missed, or the ceiling reached. */
    readonly bound: Decimal,
    readonly kind: 'floor' | 'ceiling',
  ) {
    super(`Account ${accountId} has ${available.toFixed()} available (${kind} ${bound.toFixed()})`);
    this.name = 'StaleBalance';
  }
}

/** A floor was not met: the account cannot pay what the plan charges it. */
export class FloorNotMet extends StaleBalance {
  constructor(accountId: string, available: Decimal, floor: Decimal) {
    super(accountId, available, floor, 'floor');
    this.name = 'FloorNotMet';
  }

  get floor(): Decimal {
    return this.bound;
  }
}

/** An account the posting needs open was deleted. */
export class AccountClosed extends Error {
  constructor(readonly accountId: string) {
    super(`Account ${accountId} is deleted`);
    this.name = 'AccountClosed';
  }
}

/**
 * The one way a balance moves and a ledger entry is written (DOMAIN.md 2). In the caller's transaction:
 *
 * 1. When more than one account moves, or a condition is to be checked (floors, ceilings, open accounts), the
 *    accounts are locked first in the one global order, deepest first then by id, FOR NO KEY UPDATE (the lock a
 *    balance update needs, which does not conflict with the KEY SHARE locks that rows referencing an account
 *    take), and the conditions checked under that lock. Every operation locks accounts through here, as its
 *    last step, so two of them cannot deadlock on accounts within one call (a transaction that posts several
 *    times, such as a request of several mutations, holds the earlier calls' locks too).
 * 2. One statement moves every balance by its postings' sum and inserts the entries in posting order, each with
 *    its exact running balance_after. created_at is the clock when the first row is formed, after the lock, so
 *    one account's entries are in the same order by time as by seq, and the entries of one posting share their
 *    time (a fee and its tax never fall either side of an invoice period's end).
 *
 * The ledger's insert trigger raises the balance events and crossing alerts (DOMAIN.md 7) for every entry,
 * delivered at commit. A balance pushed out of numeric(20,6)'s range is refused as INVALID_STATE.
 * Postings of 0 are dropped: an entry records a movement.
 */
export async function post(em: Em, postings: readonly Posting[], options: PostOptions = {}): Promise<LedgerRow[]> {
  const moving = postings.filter((p) => !p.amount.isZero());
  const floors = options.floors ?? new Map<string, Decimal>();
  const ceilings = options.ceilings ?? new Map<string, Decimal>();
  const open = options.open ?? [];
  const accountIds = [...new Set([...moving.map((p) => p.accountId), ...floors.keys(), ...ceilings.keys(), ...open])];
  if (accountIds.length > 1 || floors.size > 0 || ceilings.size > 0 || open.length > 0) {
    const locked = await lockAccounts(em, accountIds);
    const row = (id: string) => {
      const found = locked.get(id);
      if (!found) throw notFound('Account not found');
      return found;
    };
    for (const id of open) if (row(id).status === 'DELETED') throw new AccountClosed(id);
    for (const [id, floor] of floors) if (row(id).available.lt(floor)) throw new FloorNotMet(id, row(id).available, floor);
    for (const [id, ceiling] of ceilings) {
      if (row(id).available.gte(ceiling)) throw new StaleBalance(id, row(id).available, ceiling, 'ceiling');
    }
  }
  if (moving.length === 0) return [];

  const ids = moving.map(() => newId('LedgerEntry'));
  type Written = { id: string; seq: string; owner_path: string; balance_after: string; created_at: Date | string };
  const rows = await guardRange(
    executeBound<Written[]>(
      em,
      `with d as (
         select * from unnest(?::text[], ?::text[], ?::numeric[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                              ?::text[], ?::int[], ?::int[])
                  with ordinality as x(id, account_id, amount, kind, description, actor_id, subscription_id, tax_rate_id,
                                       call_direction, call_count, billed_seconds, ord)
       ), total as (
         select account_id, sum(amount) as amount from d group by account_id
       ), moved as (
         update accounts a set balance = a.balance + t.amount, updated_at = now()
           from total t where a.id = t.account_id
         returning a.id, a.path, a.balance, t.amount as moved
       )
       insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, actor_id,
                                   subscription_id, tax_rate_id, call_direction, call_count, billed_seconds, created_at)
       select d.id, d.account_id, m.path, d.amount,
              m.balance - m.moved + sum(d.amount) over (partition by d.account_id order by d.ord),
              d.kind, d.description, d.actor_id, d.subscription_id, d.tax_rate_id, d.call_direction, d.call_count,
              d.billed_seconds, date_trunc('milliseconds', min(clock_timestamp()) over ())
         from d join moved m on m.id = d.account_id
        order by d.ord
       returning id, seq::text as seq, owner_path, balance_after::text as balance_after, created_at`,
      [
        pgArray(ids),
        pgArray(moving.map((p) => p.accountId)),
        pgArray(moving.map((p) => p.amount.toFixed())),
        pgArray(moving.map((p) => p.kind)),
        pgArray(moving.map((p) => p.description ?? null)),
        pgArray(moving.map((p) => p.actorId ?? null)),
        pgArray(moving.map((p) => p.subscriptionId ?? null)),
        pgArray(moving.map((p) => p.taxRateId ?? null)),
        pgArray(moving.map((p) => p.calls?.direction ?? null)),
        pgArray(moving.map((p) => p.calls?.count ?? null)),
        pgArray(moving.map((p) => p.calls?.billedSeconds ?? null)),
      ],
    ),
  );
  if (rows.length !== moving.length) throw notFound('Account not found');
  const byId = new Map(rows.map((r) => [r.id, r]));
  return moving.map((p, i) => {
    const row = byId.get(ids[i])!;
    return {
      id: ids[i],
      seq: row.seq,
      accountId: p.accountId,
      ownerPath: row.owner_path,
      amount: p.amount,
      balanceAfter: new Decimal(row.balance_after),
      kind: p.kind,
      description: p.description ?? null,
      actorId: p.actorId ?? null,
      subscriptionId: p.subscriptionId ?? null,
      taxRateId: p.taxRateId ?? null,
      createdAt: new Date(row.created_at),
    };
  });
}

/**
 * Locks accounts in the one global order (deepest first, then id) and returns what they hold. For post(), and
 * for a caller that must read balances that cannot move before it posts (a renewal batch planned again after
 * its plans kept going stale).
 */
export async function lockAccounts(
  em: Em,
  accountIds: string[],
): Promise<Map<string, { balance: Decimal; creditLimit: Decimal; available: Decimal; status: string }>> {
  const rows = await executeBound<{ id: string; balance: string; credit_limit: string; status: string }[]>(
    em,
    `select id, balance::text, credit_limit::text, status from accounts where id = any(?::text[])
      order by depth desc, id for no key update`,
    [pgArray(accountIds)],
  );
  return new Map(
    rows.map((r) => {
      const balance = new Decimal(r.balance);
      const creditLimit = new Decimal(r.credit_limit);
      return [r.id, { balance, creditLimit, available: balance.plus(creditLimit), status: r.status }];
    }),
  );
}

/** numeric(20,6) holds 14 integer digits; a balance pushed past that is refused, not a server error. */
async function guardRange<T>(query: Promise<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if ((error as { code?: string }).code === '22003') {
      throw new DomainError('INVALID_STATE', 'The resulting balance would be out of range');
    }
    throw error;
  }
}
