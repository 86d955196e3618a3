import type { EntityName, FilterQuery } from '@mikro-orm/core';
import { Router, type Request, type Response } from 'express';
import type { Context } from '../context.js';
import { Account, CallRecord, LedgerEntry } from '../entities/index.js';
import { likePrefix } from '../entities/scope.js';
import { DomainError } from '../errors.js';
import { formatMoney, type Decimal } from '../money.js';

const BATCH = 1000;

/**
 * A column's type, not its value, decides how a cell is written. Text is anything a user or a client typed, or
 * could have: a spreadsheet evaluates a cell starting with = + - @ tab or CR as a formula, and "-1+HYPERLINK(..)"
 * looks as numeric as "-12.5", so every text cell with such a start gets a leading quote (OWASP's advice).
 * Numbers (money, counts, durations) are written plain: a negative amount stays a number a sheet can sum.
 */
type Column<T> =
  | { name: string; text: (row: T) => string | Date | null | undefined }
  | { name: string; number: (row: T) => string | number };

const FORMULA_START = /^[=+\-@\t\r]/;
/** What formatMoney and integer columns produce: a number column can never carry text. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

function quote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function cell<T>(column: Column<T>, row: T): string {
  if ('number' in column) {
    const s = String(column.number(row));
    if (!PLAIN_NUMBER.test(s)) throw new Error(`Export column ${column.name} is not a plain number`);
    return s;
  }
  const value = column.text(row);
  if (value === null || value === undefined) return '';
  const s = value instanceof Date ? value.toISOString() : value;
  return quote(FORMULA_START.test(s) ? `'${s}` : s);
}

const text = <T>(name: string, value: (row: T) => string | Date | null | undefined): Column<T> => ({ name, text: value });
const number = <T>(name: string, value: (row: T) => string | number): Column<T> => ({ name, number: value });
const money = <T>(name: string, value: (row: T) => Decimal): Column<T> => number(name, (row) => formatMoney(value(row)));

const ACCOUNT_COLUMNS: Column<Account>[] = [
  text('id', (a) => a.id),
  text('number', (a) => a.number),
  text('kind', (a) => a.kind),
  text('name', (a) => a.name),
  text('email', (a) => a.email),
  text('parent_id', (a) => a.parentId),
  text('status', (a) => a.status),
  text('currency', (a) => a.currency),
  text('billing_mode', (a) => a.billingMode),
  money('balance', (a) => a.balance),
  money('credit_limit', (a) => a.creditLimit),
  money('available_balance', (a) => a.availableBalance),
  text('reseller_model', (a) => a.resellerModel),
  text('created_at', (a) => a.createdAt),
];

const LEDGER_COLUMNS: Column<LedgerEntry>[] = [
  text('id', (e) => e.id),
  text('account_id', (e) => e.accountId),
  text('created_at', (e) => e.createdAt),
  text('kind', (e) => e.kind),
  money('amount', (e) => e.amount),
  money('balance_after', (e) => e.balanceAfter),
  text('description', (e) => e.description),
];

const CALL_COLUMNS: Column<CallRecord>[] = [
  text('id', (c) => c.id),
  text('call_id', (c) => c.callId),
  text('account_id', (c) => c.accountId),
  text('started_at', (c) => c.startedAt),
  text('destination', (c) => c.destination),
  text('direction', (c) => c.direction),
  number('duration_seconds', (c) => c.durationSeconds),
  number('billed_seconds', (c) => c.billedSeconds),
  money('cost', (c) => c.cost),
];

function csvLine(cells: string[]): string {
  return `${cells.join(',')}\r\n`;
}

/** Writes the header, then the rows in insertion order, a keyset batch at a time (memory stays flat). */
async function stream<T extends { seq?: string }>(
  ctx: Context,
  res: Response,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  columns: Column<T>[],
): Promise<void> {
  res.write(csvLine(columns.map((c) => quote(c.name))));
  let after = '0';
  for (;;) {
    const rows = (await ctx.em.find(entity, { ...where, seq: { $gt: after } } as FilterQuery<T>, {
      orderBy: { seq: 'asc' } as never,
      limit: BATCH,
    })) as T[];
    for (const row of rows) res.write(csvLine(columns.map((c) => cell(c, row))));
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
      stream(ctx, res, Account, { path: { $like: likePrefix(ctx.actor.path) } }, ACCOUNT_COLUMNS),
    ),
  );

  router.get(
    '/ledger.csv',
    scoped('ledger.csv', async (ctx, req, res) =>
      stream(ctx, res, LedgerEntry, { accountId: (await accountParam(ctx, req)).id }, LEDGER_COLUMNS),
    ),
  );

  router.get(
    '/calls.csv',
    scoped('calls.csv', async (ctx, req, res) =>
      stream(ctx, res, CallRecord, { accountId: (await accountParam(ctx, req)).id }, CALL_COLUMNS),
    ),
  );

  return router;
}
