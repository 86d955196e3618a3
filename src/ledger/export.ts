import { CHARGE_KINDS, COMMISSION_KINDS, TAX_KINDS } from '../billing/index.js';
import { instant, money, text, type ExportTable } from '../exports/cursor.js';

const LEDGER_KINDS = ['TOPUP', 'ADJUSTMENT', ...CHARGE_KINDS, ...COMMISSION_KINDS, ...TAX_KINDS] as const;

/** ledger.csv: one account's entries, the caller's unless it names one in its subtree. */
export const LEDGER_EXPORT: ExportTable = {
  table: 'ledger_entries',
  pathColumn: 'owner_path',
  timeColumn: 'created_at',
  kinds: LEDGER_KINDS,
  perAccount: true,
  columns: [
    text('id'),
    text('account_id'),
    instant('created_at'),
    text('kind'),
    money('amount'),
    money('balance_after'),
    text('description'),
    text('tax_rate_id'),
  ],
};
