import { requireActor, type Request } from '../request.js';
import { AccountStatus } from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { entryById, ledgerPage } from '../ledger/entries.js';
import { post, type LedgerRow } from '../ledger/post.js';
import type { Decimal } from '../money.js';
import type { AccountService } from './account.service.js';
import type { IdempotencyService } from './idempotency.service.js';
import type { SubscriptionService } from './subscription.service.js';
import type { Page, PageArgs } from './pagination.js';
import { optionalText } from './validate.js';

export interface BalanceChangeData {
  accountId: string;
  amount: Decimal;
  description?: string | null;
  idempotencyKey?: string | null;
}

export class BalanceService {
  constructor(
    private readonly accounts: AccountService,
    private readonly idempotency: IdempotencyService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  topUp(ctx: Request, data: BalanceChangeData): Promise<LedgerRow> {
    if (data.amount.lte(0)) throw badInput('amount', 'A top-up amount must be greater than 0');
    return this.change(ctx, data, 'TOPUP');
  }

  adjustBalance(ctx: Request, data: BalanceChangeData): Promise<LedgerRow> {
    if (data.amount.isZero()) throw badInput('amount', 'An adjustment cannot be 0');
    return this.change(ctx, data, 'ADJUSTMENT');
  }

  /** Top-ups and adjustments are made by an ancestor of the account, never by the account itself. */
  private change(ctx: Request, data: BalanceChangeData, kind: 'TOPUP' | 'ADJUSTMENT'): Promise<LedgerRow> {
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
          const [entry] = await post(em, [{ accountId: account.id, amount, kind, description, actorId: ctx.actor.accountId }]);
          // Money arrived: a PENDING chain this account was holding up may now be paid (DOMAIN.md 10).
          if (amount.gt(0)) await this.subscriptions.activatePendingOf(ctx, em, account.id);
          return { id: entry.id, result: entry };
        },
        replay: async (id) => {
          const entry = await entryById(em, id);
          if (!entry) throw notFound('Ledger entry not found');
          return entry;
        },
      }),
    );
  }

  /** Newest first. */
  async ledger(ctx: Request, accountId: string, args: PageArgs): Promise<Page<LedgerRow>> {
    requireActor(ctx);
    return ledgerPage(ctx.loaders.rows, accountId, args);
  }

  async entry(ctx: Request, id: string): Promise<LedgerRow | null> {
    requireActor(ctx);
    return entryById(ctx.em, id);
  }
}
