import { requireActor, type Request } from '../request.js';
import { Alert, type AlertKind } from '../entities/index.js';
import type { AccountService } from './account.service.js';
import { notFound } from '../errors.js';
import type { AlertPayload, BalanceEventPayload } from '../events.js';
import { Decimal } from '../money.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { likePrefix } from '../entities/scope.js';

export interface AlertView {
  id: string;
  accountId: string;
  kind: AlertKind;
  availableBalance: Decimal;
  threshold: Decimal | null;
  at: Date;
  seq?: string;
}

export interface BalanceEventView {
  /** The ledger entry's id. */
  id: string;
  accountId: string;
  balance: Decimal;
  availableBalance: Decimal;
  delta: Decimal;
  kind: string;
  at: Date;
}

const fromEntity = (a: Alert): AlertView => ({
  id: a.id,
  accountId: a.accountId,
  kind: a.kind,
  availableBalance: a.availableBalance,
  threshold: a.threshold ?? null,
  at: a.createdAt,
  seq: a.seq,
});

export class AlertService {
  constructor(private readonly accounts: AccountService) {}

  /** Stored alerts, newest first: of one account in scope, or of the caller's whole subtree. */
  async list(ctx: Request, accountId: string | null | undefined, args: PageArgs): Promise<Page<AlertView>> {
    requireActor(ctx);
    const where: Record<string, unknown> = {};
    if (accountId) {
      if (!(await this.accounts.find(ctx, accountId))) throw notFound('Account not found');
      where.accountId = accountId;
    } else {
      where.ownerPath = { $like: likePrefix(ctx.actor.path) };
    }
    return (await findPage(ctx.em, Alert, where, args, 'desc')).map(fromEntity);
  }

  async find(ctx: Request, id: string): Promise<AlertView | null> {
    requireActor(ctx);
    const alert = await ctx.em.findOne(Alert, { id });
    return alert ? fromEntity(alert) : null;
  }

  /**
   * Checks a subscription's optional account before it starts: an id outside the caller's scope is refused
   * exactly like a missing one. Runs its own short scoped transaction: a subscription has no request.
   */
  async assertSubscribable(ctx: Request, accountId: string | null | undefined): Promise<void> {
    requireActor(ctx);
    if (!accountId) return;
    await ctx.ensureTransaction();
    try {
      if (!(await this.accounts.find(ctx, accountId))) throw notFound('Account not found');
    } finally {
      await ctx.finish();
      ctx.loaders.clearAll();
    }
  }

  /** Whether an event concerns this subscriber: inside its subtree, and the account it named, if any. */
  wants(ctx: Request, event: { path: string; accountId: string }, accountId: string | null | undefined): boolean {
    return !!ctx.actor && event.path.startsWith(ctx.actor.path) && (!accountId || event.accountId === accountId);
  }

  toBalanceEvent(p: BalanceEventPayload): BalanceEventView {
    return {
      id: p.id,
      accountId: p.accountId,
      balance: new Decimal(p.balance),
      availableBalance: new Decimal(p.available),
      delta: new Decimal(p.delta),
      kind: p.kind,
      at: new Date(p.at),
    };
  }

  toAlert(p: AlertPayload): AlertView {
    return {
      id: p.id,
      accountId: p.accountId,
      kind: p.kind as AlertKind,
      availableBalance: new Decimal(p.available),
      threshold: p.threshold === null ? null : new Decimal(p.threshold),
      at: new Date(p.at),
    };
  }
}
