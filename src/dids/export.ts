import { instant, text, type ExportTable } from '../exports/cursor.js';

/**
 * dids.csv: the numbers in the caller's subtree, lowest first: the root's whole inventory, anyone else's held (or
 * on hold) below it, as `dids` lists them. Row-level security lets every account read its platform's AVAILABLE
 * numbers (dids_available); the path condition keeps them out of any file but the root's, whose path they carry.
 */
export const DIDS_EXPORT: ExportTable = {
  table: 'dids',
  pathColumn: 'owner_path',
  timeColumn: 'created_at',
  // Retired rows stay in the table (a number may be added again) but are no longer the platform's.
  where: 'retired_at is null',
  perAccount: false,
  columns: [
    text('id'),
    text('number'),
    text('country'),
    // Tags cannot hold ';' (src/services/validate.ts), so the cell splits back into exactly the tags. Spelt
    // chr(59): the PGlite driver runs a statement whose text holds a ';' as several, without its parameters.
    text('tags', 'array_to_string(tags, chr(59))'),
    text('status'),
    text('account_id'),
    text('subscription_id'),
    instant('assigned_at'),
    instant('hold_until'),
    instant('created_at'),
  ],
};
