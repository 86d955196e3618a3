import { instant, integer, money, text, type ExportTable } from '../exports/cursor.js';

/** calls.csv: one account's calls, the caller's unless it names one in its subtree; bounded by when they started. */
export const CALLS_EXPORT: ExportTable = {
  table: 'calls',
  pathColumn: 'owner_path',
  timeColumn: 'started_at',
  perAccount: true,
  columns: [
    text('id'),
    text('call_id'),
    text('account_id'),
    instant('started_at'),
    text('destination'),
    text('direction'),
    integer('duration_seconds'),
    integer('billed_seconds'),
    money('cost'),
  ],
};
