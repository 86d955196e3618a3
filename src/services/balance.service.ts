import type { Em } from '../db/orm.js';
import type { Context } from '../context.js';
import { requireActor } from '../context.js';
import { AccountStatus, LedgerEntry } from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal } from '../money.js';
import type { AccountService } from './account.service.js';
import type { IdempotencyService } from './idempotency.service.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { optionalText } from './validate.js';

export interface BalanceChangeData {
  accountId: string;
  amount: Decimal;
  description?: string | null;
  idempotencyKey?: string | null;
}

export interface Posting {
  accountId: string;
  amount: Decimal;
  kind: string;
  description?: string | null;
  actorId?: string | null;
  subscriptionId?: string | null;
}

export class BalanceService {
  constructor(
    private readonly accounts: AccountService,
    private readonly idempotency: IdempotencyService,
  ) {}

  topUp(ctx: Context, data: BalanceChangeData): Promise<LedgerEntry> {
    if (data.amount.lte(0)) throw badInput('amount', 'A top-up amount must be greater than 0');
    return this.change(ctx, data, 'TOPUP');
  }

  adjustBalance(ctx: Context, data: BalanceChangeData): Promise<LedgerEntry> {
    if (data.amount.isZero()) throw badInput('amount', 'An adjustment cannot be 0');
    return this.change(ctx, data, 'ADJUSTMENT');
  }

  /** Top-ups and adjustments are made by an ancestor of the account, never by the account itself. */
  private change(ctx: Context, data: BalanceChangeData, kind: 'TOPUP' | 'ADJUSTMENT'): Promise<LedgerEntry> {
    requireActor(ctx);
    const amount = data.amount;
    const description = optionalText('description', data.description, 500);
    return ctx.mutate((em) =>
      this.idempotency.run(ctx, em, {
        key: data.idempotencyKey,
        operation: kind,
        input: { accountId: data.accountId, amount, description },
        execute: async () => {
          const account = await this.accounts.load(em, data.accountId);
          if (account.id === ctx.actor.accountId) {
            throw forbidden('Balances are changed by an ancestor, not by the account itself');
          }
          if (account.status === AccountStatus.DELETED) throw new DomainError('INVALID_STATE', 'The account is deleted');
          const entry = await this.post(em, { accountId: account.id, amount, kind, description, actorId: ctx.actor.accountId });
          return { id: entry.id, result: entry };
        },
        replay: async (id) => {
          const entry = await em.findOne(LedgerEntry, { id });
          if (!entry) throw notFound('Ledger entry not found');
          return entry;
        },
      }),
    );
  }

  /**
   * The only way a balance moves. One statement: the UPDATE takes the row lock, so concurrent postings to one
   * account queue up instead of losing an update, and the ledger row is inserted with the balance that update
   * produced. A single round trip keeps the lock short on hot accounts. The caller owns the transaction.
   * created_at is left to the column's default, the clock when the row is written after the lock, so one
   * account's entries are in the same order by time as by seq; the time returned is the one stored.
   */
  async post(em: Em, posting: Posting): Promise<LedgerEntry> {
    const id = newId('LedgerEntry');
    type Written = { seq: string; balance_after: string; owner_path: string; created_at: Date | string };
    const [row] = await this.guardRange(
      em.execute<Written[]>(
        `with moved as (
         update accounts set balance = balance + ?::numeric, updated_at = now() where id = ? returning balance, path
       )
       insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, actor_id,
                                   subscription_id)
       select ?, ?, moved.path, ?::numeric, moved.balance, ?, ?, ?, ? from moved
       returning seq, balance_after::text, owner_path, created_at`,
        [
          posting.amount.toFixed(),
          posting.accountId,
          id,
          posting.accountId,
          posting.amount.toFixed(),
          posting.kind,
          posting.description ?? null,
          posting.actorId ?? null,
          posting.subscriptionId ?? null,
        ],
      ),
    );
    if (!row) throw notFound('Account not found');
    return Object.assign(new LedgerEntry(), {
      id,
      seq: String(row.seq),
      accountId: posting.accountId,
      ownerPath: row.owner_path,
      amount: posting.amount,
      balanceAfter: new Decimal(row.balance_after),
      kind: posting.kind,
      description: posting.description ?? null,
      actorId: posting.actorId ?? null,
      subscriptionId: posting.subscriptionId ?? null,
      createdAt: new Date(row.created_at),
    });
  }

  /** numeric(20,6) holds 14 integer digits; a balance pushed past that is refused, not a server error. */
  private async guardRange<T>(query: Promise<T>): Promise<T> {
    try {
      return await query;
    } catch (error) {
      if ((error as { code?: string }).code === '22003') {
        throw new DomainError('INVALID_STATE', 'The resulting balance would be out of range');
      }
      throw error;
    }
  }

  /** Newest first. */
  async ledger(ctx: Context, accountId: string, args: PageArgs): Promise<Page<LedgerEntry>> {
    requireActor(ctx);
    return findPage(ctx.em, LedgerEntry, { accountId }, args, 'desc');
  }

  async entry(ctx: Context, id: string): Promise<LedgerEntry | null> {
    requireActor(ctx);
    return ctx.em.findOne(LedgerEntry, { id });
  }
}
