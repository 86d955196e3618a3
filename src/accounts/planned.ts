import type { FieldNode } from 'graphql';
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { bound, connectionJson, objectJson, type Plan, type RootPlan, type Selection } from '../graphql/planner.js';
import { instant, money } from '../graphql/sql-formats.js';
import { ledgerConnection } from '../ledger/planned.js';
import { filterConditions, type AccountListFilter } from './rows.js';

/** Account fields as SQL for planned reads (src/graphql/planner.ts), formatted as the resolvers format them. */
const COLUMNS: Record<string, (t: string) => string> = {
  id: (t) => `${t}.id`,
  number: (t) => `${t}.number`,
  kind: (t) => `${t}.kind`,
  name: (t) => `${t}.name`,
  email: (t) => `${t}.email`,
  status: (t) => `${t}.status`,
  currency: (t) => `${t}.currency`,
  billingMode: (t) => `${t}.billing_mode`,
  balance: (t) => money(`${t}.balance`),
  creditLimit: (t) => money(`${t}.credit_limit`),
  availableBalance: (t) => money(`${t}.balance + ${t}.credit_limit`),
  lowBalanceThreshold: (t) => money(`${t}.low_balance_threshold`),
  resellerModel: (t) => `${t}.reseller_model`,
  dailySpendLimit: (t) => money(`${t}.daily_spend_limit`),
  monthlySpendLimit: (t) => money(`${t}.monthly_spend_limit`),
  minimumBalanceToCall: (t) => money(`${t}.minimum_balance_to_call`),
  maxConcurrentCalls: (t) => `${t}.max_concurrent_calls`,
  allowNegativeMargin: (t) => `${t}.allow_negative_margin`,
  timezone: (t) => `${t}.timezone`,
  billingDay: (t) => `${t}.billing_day`,
  paymentTermsDays: (t) => `${t}.payment_terms_days`,
  invoicePrefix: (t) => `${t}.invoice_prefix`,
  companyName: (t) => `${t}.company_name`,
  addressLine1: (t) => `${t}.address_line1`,
  addressLine2: (t) => `${t}.address_line2`,
  city: (t) => `${t}.city`,
  region: (t) => `${t}.region`,
  postalCode: (t) => `${t}.postal_code`,
  country: (t) => `${t}.country`,
  taxNumber: (t) => `${t}.tax_number`,
  notificationEmail: (t) => `${t}.notification_email`,
  createdAt: (t) => instant(`${t}.created_at`),
};

/** An account list's own conditions (status, kind, search) as the resolvers apply them. */
function listConditions(filter: AccountListFilter): Sql[] {
  const { where, values } = filterConditions(filter);
  let at = 0;
  return where.map((condition) => {
    const n = condition.split('?').length - 1;
    at += n;
    return bound(condition, values.slice(at - n, at));
  });
}

/**
 * The account at row alias `t` as the Account object the nodes select: its columns, its parent, its children.
 * `parent`: the alias of its parent's row when the query already holds it in scope (a node of `children`).
 */
export function accountJson(plan: Plan, t: Sql, nodes: readonly FieldNode[], parent?: Sql): Sql {
  return objectJson(plan, plan.objectType('Account'), nodes, (s) => {
    const column = Object.hasOwn(COLUMNS, s.name) ? COLUMNS[s.name] : undefined;
    if (column) return raw(column(t.sql));
    if (s.name === 'parent' && parent) return accountJson(plan, parent, s.nodes);
    if (s.name === 'parent') {
      // The parent only when it is in scope (null otherwise), as the accountView loader reads it.
      const p = plan.alias();
      return sql`(select ${accountJson(plan, p, s.nodes)} from accounts ${p}
        where ${p}.id = ${t}.parent_id and ${p}.path like ${plan.caller.scope})`;
    }
    if (s.name === 'ledger') return ledgerConnection(plan, s, t, (entryNodes) => accountJson(plan, t, entryNodes, parent));
    if (s.name === 'children') {
      const args = plan.args(s) as AccountListFilter;
      return accountConnection(plan, s, args, [sql`parent_id = ${t}.id`], t);
    }
    return undefined;
  });
}

function accountConnection(plan: Plan, s: Selection, args: AccountListFilter, conditions: Sql[], parent?: Sql): Sql {
  const where = join([sql`path like ${plan.caller.scope}`, ...conditions, ...listConditions(args)], ' and ');
  const node = (row: Sql, nodes: readonly FieldNode[]) => accountJson(plan, row, nodes, parent);
  return connectionJson(plan, s, { table: 'accounts', where, node }, args);
}

function oneAccount(plan: Plan, s: Selection, id: string): Sql {
  const a = plan.alias();
  return sql`(select ${accountJson(plan, a, s.nodes)} from accounts ${a} where ${a}.id = ${id} and ${a}.path like ${plan.caller.scope})`;
}

/** The Query fields planned: AccountResolver's me, account and accounts, read as their services read them. */
export const ACCOUNT_ROOTS: Record<string, RootPlan> = {
  // Non-null, and NOT_FOUND from the resolver should the caller's own row be gone.
  me: Object.assign((plan: Plan, s: Selection) => oneAccount(plan, s, plan.caller.accountId), { mayFindNothing: true }),
  account: (plan, s) => oneAccount(plan, s, String(plan.args(s).id)),
  accounts: (plan, s) =>
    accountConnection(plan, s, plan.args(s) as AccountListFilter, [
      sql`path like ${plan.caller.subtree}`,
      sql`id <> ${plan.caller.accountId}`,
    ]),
};
