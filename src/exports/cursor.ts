import { executeBound, type Em } from '../db/orm.js';
import { likePrefix } from '../entities/scope.js';

/**
 * One column of a CSV export. Every value is formatted as text by PostgreSQL, so no row is turned into objects
 * or Decimals. `number` says whether the cell is a number (money, a count, a duration) or text anyone could have
 * typed: the type, not the value, decides how src/http/export.ts writes it.
 */
export interface ExportColumn {
  name: string;
  sql: string;
  number: boolean;
}

export const text = (name: string, sql = name): ExportColumn => ({ name, sql, number: false });
/** As Date#toISOString writes it (PostgreSQL keeps microseconds; the API's DateTime has milliseconds). */
export const instant = (name: string): ExportColumn =>
  text(name, `to_char(${name} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
export const money = (name: string, sql = name): ExportColumn => ({ name, sql: `trim_scale(${sql})::text`, number: true });
export const integer = (name: string): ExportColumn => ({ name, sql: `${name}::text`, number: true });

/** A table as an export reads it; each lives with the rows it returns (src/accounts, src/ledger, src/calls, src/dids). */
export interface ExportTable {
  table: string;
  /** The materialized path the caller's scope is applied on. */
  pathColumn: string;
  columns: readonly ExportColumn[];
  /** The instant `from` and `to` bound. */
  timeColumn: string;
  /** A condition every exported row meets, whatever the filters (SQL, no parameters). */
  where?: string;
  /** Values `kind` may take; without it the export has no kind filter. */
  kinds?: readonly string[];
  /** Each row is one account's (account_id), and the export is of one account: the caller's unless it names another. */
  perAccount: boolean;
}

/** Already checked: `accountId` is an account the caller may read. */
export interface ExportFilters {
  /** The caller's path: its subtree is what the export holds. */
  path: string;
  accountId?: string;
  kind?: string;
  from?: Date;
  to?: Date;
}

/** A row as PostgreSQL formatted it: each column's text (or null), by the column's name. */
export type ExportRow = Readonly<Record<string, string | null>>;

/** Reads the next `count` rows; fewer means the cursor is done. */
export type ExportReader = (count: number) => Promise<ExportRow[]>;

/**
 * Declares the export's cursor in `em`'s transaction, which must be open and stay open while it is read: one
 * snapshot, and the transaction's end closes it. A cursor rather than keyset pages: row-level security's
 * conditions make the planner expect a handful of rows, so a page with LIMIT was planned as a scan and sort of
 * the whole table, once per page. A cursor is planned once, for the first rows fast (along the seq index).
 */
export async function openExportCursor(em: Em, spec: ExportTable, filters: ExportFilters): Promise<ExportReader> {
  const where = [`${spec.table}.${spec.pathColumn} like ?`];
  const values: unknown[] = [likePrefix(filters.path)];
  if (spec.where) where.push(`(${spec.where})`);
  if (filters.accountId !== undefined) {
    where.push('account_id = ?');
    values.push(filters.accountId);
  }
  if (filters.kind) {
    where.push('kind = ?');
    values.push(filters.kind);
  }
  if (filters.from) {
    where.push(`${spec.timeColumn} >= ?::timestamptz`);
    values.push(filters.from.toISOString());
  }
  if (filters.to) {
    where.push(`${spec.timeColumn} < ?::timestamptz`);
    values.push(filters.to.toISOString());
  }
  await executeBound(
    em,
    `declare trellis_export no scroll cursor for
       select ${spec.columns.map((c) => `${c.sql} as "${c.name}"`).join(', ')}
         from ${spec.table} where ${where.join(' and ')} order by ${spec.table}.seq`,
    values,
  );
  return (count) => executeBound<ExportRow[]>(em, `fetch forward ${count} from trellis_export`, []);
}
