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
  | 'USAGE';

/** One balance movement, signed: negative is a debit. */
export interface Posting {
  accountId: string;
  amount: Decimal;
  kind: LedgerKind;
  description?: string | null;
  /** The account whose request caused it; null for the scheduler. */
  actorId?: string | null;
  subscriptionId?: string | null;
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
  createdAt: Date;
}

export interface PostOptions {
  /**
   * The least available balance (balance + credit limit) each named account must have before the postings,
   * checked under the lock: a plan made from balances read earlier (a DENY_IF_INSUFFICIENT purchase, a renewal
   * that releases when short) still holds exactly when every floor is met. Checked in insertion order.
   */
  floors?: ReadonlyMap<string, Decimal>;
}

/** A floor was not met: nothing was written by this call; the caller refuses or plans again. */
export class FloorNotMet extends Error {
  constructor(
    readonly accountId: string,
    readonly available: Decimal,
    readonly floor: Decimal,
  ) {
    super(`Account ${accountId} has ${available.toFixed()} available, ${floor.toFixed()} needed`);
    this.name = 'FloorNotMet';
  }
}

/**
 * The one way a balance moves and a ledger entry is written (DOMAIN.md 2). In the caller's transaction:
 *
 * 1. When more than one account moves, or a floor is to be checked, the accounts are locked first in the one
 *    global order, deepest first then by id, FOR NO KEY UPDATE (the lock a balance update needs, which does not
 *    conflict with the KEY SHARE locks that rows referencing an account take). Every operation that moves
 *    several balances locks through here, so two of them cannot deadlock on accounts.
 * 2. One statement moves every balance by its postings' sum and inserts the entries in posting order, each with
 *    its exact running balance_after. created_at is the column's default, the clock as each row is written
 *    after the lock, so one account's entries are in the same order by time as by seq.
 *
 * The ledger's insert trigger raises the balance events and crossing alerts (DOMAIN.md 7) for every entry,
 * delivered at commit. A balance pushed out of numeric(20,6)'s range is refused as INVALID_STATE.
 * Postings of 0 are dropped: an entry records a movement.
 */
export async function post(em: Em, postings: readonly Posting[], options: PostOptions = {}): Promise<LedgerRow[]> {
  const moving = postings.filter((p) => !p.amount.isZero());
  const floors = options.floors ?? new Map<string, Decimal>();
  const accountIds = [...new Set([...moving.map((p) => p.accountId), ...floors.keys()])];
  if (accountIds.length > 1 || floors.size > 0) await lockAccounts(em, accountIds, floors);
  if (moving.length === 0) return [];

  const ids = moving.map(() => newId('LedgerEntry'));
  type Written = { id: string; seq: string; owner_path: string; balance_after: string; created_at: Date | string };
  const rows = await guardRange(
    executeBound<Written[]>(
      em,
      `with d as (
         select * from unnest(?::text[], ?::text[], ?::numeric[], ?::text[], ?::text[], ?::text[], ?::text[])
                  with ordinality as x(id, account_id, amount, kind, description, actor_id, subscription_id, ord)
       ), total as (
         select account_id, sum(amount) as amount from d group by account_id
       ), moved as (
         update accounts a set balance = a.balance + t.amount, updated_at = now()
           from total t where a.id = t.account_id
         returning a.id, a.path, a.balance, t.amount as moved
       )
       insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, actor_id,
                                   subscription_id)
       select d.id, d.account_id, m.path, d.amount,
              m.balance - m.moved + sum(d.amount) over (partition by d.account_id order by d.ord),
              d.kind, d.description, d.actor_id, d.subscription_id
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
      createdAt: new Date(row.created_at),
    };
  });
}

async function lockAccounts(em: Em, accountIds: string[], floors: ReadonlyMap<string, Decimal>): Promise<void> {
  const locked = await executeBound<{ id: string; available: string }[]>(
    em,
    `select id, (balance + credit_limit)::text as available from accounts where id = any(?::text[])
      order by depth desc, id for no key update`,
    [pgArray(accountIds)],
  );
  if (floors.size === 0) return;
  const available = new Map(locked.map((a) => [a.id, new Decimal(a.available)]));
  for (const [accountId, floor] of floors) {
    const has = available.get(accountId);
    if (!has) throw notFound('Account not found');
    if (has.lt(floor)) throw new FloorNotMet(accountId, has, floor);
  }
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
