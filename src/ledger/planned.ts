import type { FieldNode } from 'graphql';
import sql, { raw, type Sql } from 'sql-template-tag';
import { connectionJson, objectJson, type Plan, type Selection } from '../graphql/planner.js';
import type { PageArgs } from '../services/pagination.js';
import { instant, money } from '../graphql/sql-formats.js';

const COLUMNS: Record<string, (t: string) => string> = {
  id: (t) => `${t}.id`,
  amount: (t) => money(`${t}.amount`),
  balanceAfter: (t) => money(`${t}.balance_after`),
  kind: (t) => `${t}.kind`,
  description: (t) => `${t}.description`,
  createdAt: (t) => instant(`${t}.created_at`),
};

/**
 * An account's ledger (Account.ledger, newest first) for planned reads, read as ledgerPage reads it: the entries of
 * the account at row alias `account`, within the scope. `accountJson` answers an entry's `account`, the row in hand.
 */
export function ledgerConnection(plan: Plan, s: Selection, account: Sql, accountJson: (nodes: readonly FieldNode[]) => Sql): Sql {
  const entry = (e: Sql, nodes: readonly FieldNode[]) =>
    objectJson(plan, plan.objectType('LedgerEntry'), nodes, (f) => {
      const column = Object.hasOwn(COLUMNS, f.name) ? COLUMNS[f.name] : undefined;
      if (column) return raw(column(e.sql));
      if (f.name === 'account') return accountJson(f.nodes);
      return undefined;
    });
  const where = sql`owner_path like ${plan.caller.scope} and account_id = ${account}.id`;
  return connectionJson(plan, s, { table: 'ledger_entries', where, node: entry, order: 'desc' }, plan.args(s) as PageArgs);
}
