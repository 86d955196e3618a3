import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import { Router, type Request, type Response } from 'express';
import type { Context } from '../context.js';
import { badInput, DomainError } from '../errors.js';
import { DateTimeScalar } from '../schema/scalars.js';
import { openExportCursor, type ExportColumn, type ExportRow, type ExportTable } from '../exports/cursor.js';
import { ACCOUNTS_EXPORT } from '../accounts/export.js';
import { LEDGER_EXPORT } from '../ledger/export.js';
import { CALLS_EXPORT } from '../calls/export.js';
import { DIDS_EXPORT } from '../dids/export.js';
import { writeInvoicePdf } from '../invoices/pdf.js';

/** Rows per cursor read: large enough that round trips are a small share, small enough that memory stays flat. */
const BATCH = 5000;

/**
 * A column's type, not its value, decides how a cell is written. Text is anything a user or a client typed, or
 * could have: a spreadsheet evaluates a cell starting with = + - @ tab or CR as a formula, and "-1+HYPERLINK(..)"
 * looks as numeric as "-12.5", so every text cell with such a start gets a leading quote (OWASP's advice).
 * Numbers (money, counts, durations) are written plain: a negative amount stays a number a sheet can sum.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
/** What trim_scale(numeric) and integers print: a number column can never carry text. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

function cell(column: ExportColumn, value: string | null): string {
  if (column.number) {
    if (value === null || !PLAIN_NUMBER.test(value)) throw new Error(`Export column ${column.name} is not a plain number`);
    return value;
  }
  if (value === null) return '';
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * RFC 4180 with CRLF rows. A lone CR or LF inside a cell is quoted too: csv-stringify leaves it bare once a
 * record delimiter is named, and a reader would split the row there.
 */
const CSV = { record_delimiter: 'windows', quote_record_delimiter: true } as const;

interface Filters {
  from?: Date;
  to?: Date;
  kind?: string;
  accountId?: string;
}

/**
 * A file and the table it is read from (src/accounts/export.ts, src/ledger/export.ts, src/calls/export.ts,
 * src/dids/export.ts).
 */
interface ExportSpec extends ExportTable {
  file: string;
}

/**
 * A typo in a filter must not silently export everything, so every parameter is checked: unknown ones, repeated
 * ones and bad values are refused before anything is read.
 */
function parseFilters(spec: ExportSpec, query: Request['query']): Filters {
  const allowed = ['from', 'to', ...(spec.kinds ? ['kind'] : []), ...(spec.perAccount ? ['accountId'] : [])];
  const filters: Filters = {};
  for (const [name, value] of Object.entries(query)) {
    if (!allowed.includes(name)) throw badInput(name, `Unknown parameter "${name}"; ${spec.file} takes ${allowed.join(', ')}`);
    if (typeof value !== 'string') throw badInput(name, `"${name}" must be given once`);
    if (name === 'from' || name === 'to') {
      try {
        filters[name] = DateTimeScalar.parseValue(value) as Date;
      } catch (error) {
        throw badInput(name, `"${name}" is not a DateTime (ISO 8601, such as 2026-11-20T10:00:00Z): ${(error as Error).message}`);
      }
    } else if (name === 'kind') {
      if (!spec.kinds!.includes(value)) throw badInput('kind', `"kind" must be one of ${spec.kinds!.join(', ')}`);
      filters.kind = value;
    } else filters.accountId = value;
  }
  if (filters.from && filters.to && filters.to < filters.from) throw badInput('to', '"to" is before "from"');
  return filters;
}

/** The caller, if it may read exports: as on GraphQL, a RATING key may rate calls and nothing else. */
function mayExport(ctx: Context): NonNullable<Context['actor']> {
  const actor = ctx.actor;
  if (!actor) throw new DomainError('UNAUTHENTICATED');
  if (actor.via === 'apiKey' && actor.scopes && !actor.scopes.some((s) => s === 'FULL' || s === 'READ_ONLY')) {
    throw new DomainError('FORBIDDEN', `This API key's scopes (${actor.scopes.join(', ')}) do not allow exports`);
  }
  return actor;
}

/** The same body GraphQL errors have, so a client reads one shape whatever it called. */
function sendError(res: Response, status: number, code: string, message: string, field?: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
}

const STATUS: Partial<Record<string, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400 };

/**
 * CSV exports of what the caller's scope holds. Everything that can refuse a request (credential, parameters,
 * the account's scope, the first read) happens before the status line, so a refusal is JSON with its status;
 * after that only the server can fail, and it cuts the connection rather than end a truncated file cleanly.
 * Rows are read as text from one cursor, a batch at a time, in the caller's scoped transaction (row-level
 * security applies), so the file is one snapshot; each batch is written once the previous one has drained, and
 * the next is fetched while it is being sent. A client that goes away stops the fetching.
 */
export function exportRouter(createContext: (req: Request) => Promise<Context>): Router {
  const router = Router();

  const route = (spec: ExportSpec) => async (req: Request, res: Response) => {
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    let ctx: Context | undefined;
    let pending: Promise<ExportRow[]> | undefined;
    let sent = 0;
    const started = performance.now();
    try {
      ctx = await createContext(req);
      const actor = mayExport(ctx);
      const filters = parseFilters(spec, req.query);
      await ctx.ensureTransaction();

      let accountId: string | undefined;
      if (spec.perAccount) {
        // Found through the scope filter: an id outside the caller's subtree is as missing as an unknown one.
        const account = await ctx.services.accounts.find(ctx, filters.accountId ?? actor.accountId);
        if (!account) throw new DomainError('NOT_FOUND', 'Account not found');
        accountId = account.id;
      }
      const reader = await openExportCursor(ctx.em, spec, {
        path: actor.path,
        accountId,
        kind: filters.kind,
        from: filters.from,
        to: filters.to,
      });
      const read = () => reader(BATCH);

      let rows = await read();
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      res.setHeader('content-disposition', `attachment; filename="${spec.file}"`);
      let chunk = stringify([spec.columns.map((c) => c.name)], CSV);
      for (;;) {
        pending = rows.length === BATCH ? read() : undefined;
        // Settled by the finally below if the client leaves while it runs; no unhandled rejection meanwhile.
        pending?.catch(() => undefined);
        chunk += stringify(
          rows.map((row) => spec.columns.map((c) => cell(c, row[c.name]))),
          CSV,
        );
        if (gone.signal.aborted) break;
        if (!res.write(chunk)) await once(res, 'drain', { signal: gone.signal });
        sent += rows.length;
        if (!pending) break;
        rows = await pending;
        pending = undefined;
        chunk = '';
      }
      if (!gone.signal.aborted) res.end();
    } catch (error) {
      if (gone.signal.aborted) return;
      if (res.headersSent) {
        ctx?.log.error({ err: error, export: spec.file, rows: sent }, 'export failed after its first rows; connection cut');
        res.destroy();
      } else if (error instanceof DomainError && STATUS[error.code]) {
        sendError(res, STATUS[error.code]!, error.code, error.message, error.field);
      } else if (ctx) {
        ctx.log.error({ err: error, export: spec.file }, 'export failed');
        sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      } else throw error;
    } finally {
      await pending?.catch(() => undefined);
      // Read only: nothing to commit; the rollback also closes the cursor.
      await ctx?.abort();
      if (ctx?.actor && res.headersSent) {
        const ms = Math.round(performance.now() - started);
        if (gone.signal.aborted && !res.writableFinished) {
          ctx.log.info({ export: spec.file, rows: sent, ms }, 'export stopped: the client closed the connection');
        } else ctx.log.info({ export: spec.file, rows: sent, ms }, 'export sent');
      }
    }
  };

  // An invoice's PDF (DOMAIN.md 9): for the account and its ancestors, like the invoice itself.
  router.get('/invoices/:file', async (req: Request, res: Response) => {
    let ctx: Context | undefined;
    try {
      ctx = await createContext(req);
      mayExport(ctx);
      const id = /^(inv_[0-9a-f]{32})\.pdf$/.exec(String(req.params.file))?.[1];
      if (!id) throw new DomainError('NOT_FOUND', 'Invoice not found');
      await ctx.ensureTransaction();
      const doc = await ctx.services.invoices.document(ctx, id);
      res.setHeader('content-type', 'application/pdf');
      res.setHeader('content-disposition', `inline; filename="${doc.number.replace(/[^A-Za-z0-9._-]/g, '_')}.pdf"`);
      await writeInvoicePdf(doc, res);
    } catch (error) {
      if (res.headersSent) {
        ctx?.log.error({ err: error }, 'invoice PDF failed after its first bytes; connection cut');
        res.destroy();
      } else if (error instanceof DomainError && STATUS[error.code]) {
        sendError(res, STATUS[error.code]!, error.code, error.message, error.field);
      } else {
        ctx?.log.error({ err: error }, 'invoice PDF failed');
        sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      }
    } finally {
      await ctx?.abort();
    }
  });
  router.get('/accounts.csv', route({ ...ACCOUNTS_EXPORT, file: 'accounts.csv' }));
  router.get('/ledger.csv', route({ ...LEDGER_EXPORT, file: 'ledger.csv' }));
  router.get('/calls.csv', route({ ...CALLS_EXPORT, file: 'calls.csv' }));
  router.get('/dids.csv', route({ ...DIDS_EXPORT, file: 'dids.csv' }));
  return router;
}
