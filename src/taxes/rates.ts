import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { AppliedTax } from '../billing/index.js';
import { scopePath } from '../entities/scope.js';
import { badInput } from '../errors.js';
import { Decimal } from '../money.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';

/** A tax rate as the API serves it. */
export interface TaxRateRow {
  id: string;
  seq: string;
  ownerId: string;
  ownerPath: string;
  name: string;
  percent: Decimal;
  priority: number;
  active: boolean;
  createdAt: Date;
}

const columnsOf = (t: string) =>
  `${t}.id, ${t}.seq::text as seq, ${t}.owner_id, ${t}.owner_path, ${t}.name, ${t}.percent::text as percent, ${t}.priority,
   ${t}.active, ${t}.created_at`;
const COLUMNS = columnsOf('t');

interface Row {
  id: string;
  seq: string;
  owner_id: string;
  owner_path: string;
  name: string;
  percent: string;
  priority: number;
  active: boolean;
  created_at: Date | string;
}

function toTaxRate(r: Row): TaxRateRow {
  return {
    id: r.id,
    seq: r.seq,
    ownerId: r.owner_id,
    ownerPath: r.owner_path,
    name: r.name,
    percent: new Decimal(r.percent),
    priority: r.priority,
    active: r.active,
    createdAt: new Date(r.created_at),
  };
}

/** Tax rates by id that the caller may read: its subtree's, and those its parent assigned it. */
export async function findTaxRates(em: Em, ids: readonly string[]): Promise<TaxRateRow[]> {
  const scope = scopePath(em);
  const rows = await executeBound<Row[]>(
    em,
    `select ${COLUMNS} from tax_rates t
      where t.id = any(?::text[])
        and (starts_with(t.owner_path, ?)
             or exists (select 1 from account_taxes a where a.tax_rate_id = t.id and a.owner_path = ?))`,
    [pgArray([...ids]), scope, scope],
  );
  return rows.map(toTaxRate);
}

/** The rates assigned to each account, lowest priority first (the order they are shown and posted in). */
export async function assignedTaxRates(em: Em, accountIds: readonly string[]): Promise<Map<string, TaxRateRow[]>> {
  const rows = await executeBound<(Row & { account_id: string })[]>(
    em,
    `select a.account_id, ${COLUMNS} from account_taxes a join tax_rates t on t.id = a.tax_rate_id
      where a.account_id = any(?::text[]) order by t.priority, t.seq`,
    [pgArray([...accountIds])],
  );
  const byAccount = new Map<string, TaxRateRow[]>(accountIds.map((id) => [id, []]));
  for (const r of rows) byAccount.get(r.account_id)?.push(toTaxRate(r));
  return byAccount;
}

/**
 * The taxes each account's parent adds to what it charges it now: its assigned rates that are active. A
 * charge applies them; a refund applies those recorded with the charge it gives back.
 */
export async function taxesOf(em: Em, accountIds: readonly string[]): Promise<Map<string, AppliedTax[]>> {
  const assigned = await assignedTaxRates(em, accountIds);
  return new Map(
    [...assigned].map(([id, rates]) => [id, rates.filter((r) => r.active).map((r) => ({ taxRateId: r.id, percent: r.percent }))]),
  );
}

/**
 * Replaces the rates assigned to an account with `taxRateIds`, which must be active rates owned by its parent
 * (DOMAIN.md 8: a parent taxes what it charges). BAD_USER_INPUT names taxRateIds otherwise.
 */
export async function assignTaxRates(
  em: Em,
  account: { id: string; path: string; parentId?: string | null },
  taxRateIds: readonly string[],
): Promise<void> {
  const ids = [...new Set(taxRateIds)];
  if (ids.length > 20) throw badInput('taxRateIds', 'At most 20 tax rates per account');
  if (ids.length && !account.parentId) throw badInput('taxRateIds', 'A root account has no parent to tax it');
  if (ids.length) {
    const found = await findTaxRates(em, ids);
    const usable = found.filter((r) => r.ownerId === account.parentId && r.active);
    if (usable.length !== ids.length) {
      throw badInput('taxRateIds', "Tax rates must be active rates owned by the account's parent");
    }
  }
  // Two replacements racing would otherwise leave the union of both, or collide on the key.
  await executeBound(em, `select pg_advisory_xact_lock(hashtext('taxes:' || ?))`, [account.id]);
  await executeBound(em, `delete from account_taxes where account_id = ?`, [account.id]);
  if (ids.length) {
    await executeBound(
      em,
      `insert into account_taxes (account_id, tax_rate_id, owner_path) select ?, x, ? from unnest(?::text[]) as x`,
      [account.id, account.path, pgArray(ids)],
    );
  }
}

export async function insertTaxRate(
  em: Em,
  rate: { id: string; ownerId: string; ownerPath: string; name: string; percent: Decimal; priority: number },
): Promise<TaxRateRow> {
  const [row] = await executeBound<Row[]>(
    em,
    `insert into tax_rates as t (id, owner_id, owner_path, name, percent, priority) values (?, ?, ?, ?, ?, ?)
     returning ${COLUMNS}`,
    [rate.id, rate.ownerId, rate.ownerPath, rate.name, rate.percent.toFixed(), rate.priority],
  );
  return toTaxRate(row);
}

export async function updateTaxRate(
  em: Em,
  id: string,
  change: { name?: string; priority?: number; active?: boolean },
): Promise<TaxRateRow | null> {
  const [row] = await executeBound<Row[]>(
    em,
    `update tax_rates t set name = coalesce(?, t.name), priority = coalesce(?::int, t.priority),
            active = coalesce(?::boolean, t.active)
      where t.id = ? and starts_with(t.owner_path, ?)
      returning ${COLUMNS}`,
    [change.name ?? null, change.priority ?? null, change.active ?? null, id, scopePath(em)],
  );
  return row ? toTaxRate(row) : null;
}

/** The rates an account owns, oldest first. */
export function ownTaxRatesPage(em: Em, ownerId: string, args: PageArgs): Promise<Page<TaxRateRow>> {
  return findRowsPage(
    em,
    {
      table: 'tax_rates',
      columns: columnsOf('tax_rates'),
      pathColumn: 'owner_path',
      where: ['owner_id = ?'],
      values: [ownerId],
    },
    args,
    toTaxRate,
  );
}

/** The taxes applied to a period's fees, as subscription_periods keeps them (read back by appliedTaxesOf). */
export function appliedTaxesJson(taxes: readonly AppliedTax[]): string {
  return JSON.stringify(
    taxes.map((t) => ({ taxRateId: t.taxRateId, percent: t.percent.toFixed(), charged: t.charged?.toFixed() })),
  );
}

export function appliedTaxesOf(json: { taxRateId: string; percent: string; charged?: string }[] | null): AppliedTax[] {
  return (json ?? []).map((t) => ({
    taxRateId: t.taxRateId,
    percent: new Decimal(t.percent),
    ...(t.charged === undefined ? {} : { charged: new Decimal(t.charged) }),
  }));
}
