import { AccountKind } from '../entities/index.js';
import { instant, money, text, type ExportTable } from '../exports/cursor.js';

/** accounts.csv: the caller's subtree, the caller included. */
export const ACCOUNTS_EXPORT: ExportTable = {
  table: 'accounts',
  pathColumn: 'path',
  timeColumn: 'created_at',
  kinds: Object.values(AccountKind),
  perAccount: false,
  columns: [
    text('id'),
    text('number'),
    text('kind'),
    text('name'),
    text('email'),
    text('parent_id'),
    text('status'),
    text('currency'),
    text('billing_mode'),
    money('balance'),
    money('credit_limit'),
    money('available_balance', 'balance + credit_limit'),
    text('reseller_model'),
    instant('created_at'),
  ],
};
