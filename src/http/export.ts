import type { EntityName, FilterQuery } from '@mikro-orm/core';
import { Router, type Request, type Response } from 'express';
import type { Context } from '../context.js';
import { Account, CallRecord, LedgerEntry } from '../entities/index.js';
import { likePrefix } from '../entities/scope.js';
import { DomainError } from '../errors.js';
import { formatMoney } from '../money.js';

const BATCH = 1000;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = value instanceof Date ? value.toISOString() : String(value);
  // Quote anything with separators, and neutralize formula prefixes that spreadsheets would execute.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvLine(cells: unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** Writes the header, then the rows in insertion order, a keyset batch at a time (memory stays flat). */
async function stream<T extends { seq?: string }>(
  ctx: Context,
  res: Response,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  header: string[],
  cells: (row: T) => unknown[],
): Promise<void> {
  res.write(csvLine(header));
  let after = '0';
  for (;;) {
    const rows = (await ctx.em.find(entity, { ...where, seq: { $gt: after } } as FilterQuery<T>, {
      orderBy: { seq: 'asc' } as never,
      limit: BATCH,
    })) as T[];
    for (const row of rows) res.write(csvLine(cells(row)));
    ctx.em.clear();
    if (rows.length < BATCH) return;
    after = rows.at(-1)!.seq!;
  }
}

type Scoped = (ctx: Context & { actor: NonNullable<Context['actor']> }, req: Request, res: Response) => Promise<void>;

/**
 * CSV exports of what the caller's scope holds, streamed in keyset batches inside one scoped transaction, so
 * the file is a consistent snapshot and memory stays flat however large the subtree is.
 */
export function exportRouter(createContext: (req: Request) => Promise<Context>): Router {
  const router = Router();

  const scoped = (filename: string, body: Scoped) => async (req: Request, res: Response) => {
    let ctx: Context;
    try {
      ctx = await createContext(req);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
        res.status(401).json({ error: error.message });
        return;
      }
      throw error;
    }
    if (!ctx.actor) {
      res.status(401).json({ error: 'Authentication is required' });
      return;
    }
    try {
      await ctx.ensureTransaction();
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      res.setHeader('content-disposition', `attachment; filename="${filename}"`);
      await body(ctx as Context & { actor: NonNullable<Context['actor']> }, req, res);
      await ctx.finish();
      res.end();
    } catch (error) {
      await ctx.abort();
      if (error instanceof DomainError && !res.headersSent) {
        res.status(error.code === 'NOT_FOUND' ? 404 : 400).json({ error: error.message });
        return;
      }
      ctx.log.error({ err: error }, 'export failed');
      if (!res.headersSent) res.status(500).json({ error: 'Internal server error' });
      else res.destroy();
    }
  };

  /** The account named by ?accountId= (default: the caller), in scope, or NOT_FOUND. */
  const accountParam = async (ctx: Context, req: Request) => {
    const accountId = typeof req.query.accountId === 'string' ? req.query.accountId : ctx.actor!.accountId;
    const account = await ctx.services.accounts.find(ctx, accountId);
    if (!account) throw new DomainError('NOT_FOUND', 'Account not found');
    return account;
  };

  router.get(
    '/accounts.csv',
    scoped('accounts.csv', (ctx, _req, res) =>
      stream(ctx, res, Account, { path: { $like: likePrefix(ctx.actor.path) } },
        ['id', 'number', 'kind', 'name', 'email', 'parent_id', 'status', 'currency', 'billing_mode', 'balance', 'credit_limit',
          'available_balance', 'reseller_model', 'created_at'],
        (a) => [a.id, a.number, a.kind, a.name, a.email, a.parentId, a.status, a.currency, a.billingMode, formatMoney(a.balance),
          formatMoney(a.creditLimit), formatMoney(a.availableBalance), a.resellerModel, a.createdAt]),
    ),
  );

  router.get(
    '/ledger.csv',
    scoped('ledger.csv', async (ctx, req, res) =>
      stream(ctx, res, LedgerEntry, { accountId: (await accountParam(ctx, req)).id },
        ['id', 'account_id', 'created_at', 'kind', 'amount', 'balance_after', 'description'],
        (e) => [e.id, e.accountId, e.createdAt, e.kind, formatMoney(e.amount), formatMoney(e.balanceAfter), e.description]),
    ),
  );

  router.get(
    '/calls.csv',
    scoped('calls.csv', async (ctx, req, res) =>
      stream(ctx, res, CallRecord, { accountId: (await accountParam(ctx, req)).id },
        ['id', 'call_id', 'account_id', 'started_at', 'destination', 'direction', 'duration_seconds', 'billed_seconds', 'cost'],
        (c) => [c.id, c.callId, c.accountId, c.startedAt, c.destination, c.direction, c.durationSeconds, c.billedSeconds, formatMoney(c.cost)]),
    ),
  );

  return router;
}
