import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { AccountKind, AccountStatus, BillingMode, ResellerModel } from '../entities/index.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { Decimal } from '../money.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';
import { rowPage, type RowPageLoaders } from '../services/row-pages.js';

/**
 * An account as the API serves it: what AccountType's fields and resolvers read. A list builds it from a row;
 * the entity (me, account, the mutations) is one too, which is why the fields the entity declares optional are
 * optional here (a row sets every one). Read-only: a view is not managed, so a change to it would never be saved.
 */
export interface AccountView {
  readonly id: string;
  /** The keyset for cursors. */
  readonly seq?: string;
  readonly number: string;
  readonly kind: AccountKind;
  readonly name: string;
  readonly email?: string | null;
  readonly parentId?: string | null;
  readonly rootId: string;
  readonly path: string;
  readonly depth: number;
  readonly status: AccountStatus;
  readonly currency: string;
  readonly billingMode: BillingMode;
  readonly balance: Decimal;
  readonly creditLimit: Decimal;
  /** balance + creditLimit (DOMAIN.md 2). */
  readonly availableBalance: Decimal;
  readonly resellerModel?: ResellerModel | null;
  readonly lowBalanceThreshold?: Decimal | null;
  readonly dailySpendLimit?: Decimal | null;
  readonly monthlySpendLimit?: Decimal | null;
  readonly minimumBalanceToCall?: Decimal | null;
  readonly maxConcurrentCalls?: number | null;
  readonly allowNegativeMargin: boolean;
  readonly rateGroupId?: string | null;
  readonly timezone: string;
  readonly billingDay: number;
  readonly paymentTermsDays: number;
  readonly invoicePrefix: string;
  readonly companyName?: string | null;
  readonly addressLine1?: string | null;
  readonly addressLine2?: string | null;
  readonly city?: string | null;
  readonly region?: string | null;
  readonly postalCode?: string | null;
  readonly country?: string | null;
  readonly taxNumber?: string | null;
  readonly notificationEmail?: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The fields of an account anyone it sells to may read (PUBLIC_IDENTITY in src/schema/account.ts). */
export type PublicIdentity = Pick<AccountView, 'id' | 'number' | 'kind' | 'name' | 'currency' | 'createdAt'>;

/**
 * The caller's direct parent as the caller may see it: identity only. It is the owner of the packages and the
 * rate group a child reads; every other Account field on it answers FORBIDDEN, which withScope in
 * src/graphql/schema.ts decides by `instanceof`: that is why this is a class and not a plain row.
 */
export class PublicAccount implements PublicIdentity {
  /** Its own parent is outside anything the caller may know. */
  readonly parentId = null;
  constructor(
    readonly id: string,
    readonly number: string,
    readonly kind: AccountKind,
    readonly name: string,
    readonly currency: string,
    readonly createdAt: Date,
  ) {}
}

export interface AccountListFilter extends PageArgs {
  /** The client selected totalCount: count in the same statement as the rows. */
  countWithRows?: boolean;
  kind?: AccountKind | null;
  status?: AccountStatus | null;
  search?: string | null;
}

/** Every column of an account row, as `accountView` reads them; unqualified, so one `accounts` in the FROM. */
export const ACCOUNT_COLUMNS = `id, seq::text as seq, number, kind, name, email, parent_id, root_id, path, depth, status, currency,
  billing_mode, balance::text as balance, credit_limit::text as credit_limit, reseller_model,
  low_balance_threshold::text as low_balance_threshold, daily_spend_limit::text as daily_spend_limit,
  monthly_spend_limit::text as monthly_spend_limit, minimum_balance_to_call::text as minimum_balance_to_call,
  max_concurrent_calls, allow_negative_margin, rate_group_id, timezone, billing_day, payment_terms_days,
  invoice_prefix, company_name, address_line1, address_line2, city, region, postal_code, country, tax_number,
  notification_email, created_at, updated_at`;

export interface AccountRow {
  id: string;
  seq: string;
  number: string;
  kind: AccountKind;
  name: string;
  email: string | null;
  parent_id: string | null;
  root_id: string;
  path: string;
  depth: number;
  status: AccountStatus;
  currency: string;
  billing_mode: BillingMode;
  balance: string;
  credit_limit: string;
  reseller_model: ResellerModel | null;
  low_balance_threshold: string | null;
  daily_spend_limit: string | null;
  monthly_spend_limit: string | null;
  minimum_balance_to_call: string | null;
  max_concurrent_calls: number | null;
  allow_negative_margin: boolean;
  rate_group_id: string | null;
  timezone: string;
  billing_day: number;
  payment_terms_days: number;
  invoice_prefix: string;
  company_name: string | null;
  address_line1: string | null;
  address_line2: string | null;
  city: string | null;
  region: string | null;
  postal_code: string | null;
  country: string | null;
  tax_number: string | null;
  notification_email: string | null;
  /** Text through MikroORM's connection, which maps timestamps itself. */
  created_at: Date | string;
  updated_at: Date | string;
}

export function accountView(r: AccountRow): AccountView {
  const decimal = (v: string | null) => (v === null ? null : new Decimal(v));
  const balance = new Decimal(r.balance);
  const creditLimit = new Decimal(r.credit_limit);
  return {
    id: r.id,
    seq: r.seq,
    number: r.number,
    kind: r.kind,
    name: r.name,
    email: r.email,
    parentId: r.parent_id,
    rootId: r.root_id,
    path: r.path,
    depth: r.depth,
    status: r.status,
    currency: r.currency,
    billingMode: r.billing_mode,
    balance,
    creditLimit,
    availableBalance: balance.plus(creditLimit),
    resellerModel: r.reseller_model,
    lowBalanceThreshold: decimal(r.low_balance_threshold),
    dailySpendLimit: decimal(r.daily_spend_limit),
    monthlySpendLimit: decimal(r.monthly_spend_limit),
    minimumBalanceToCall: decimal(r.minimum_balance_to_call),
    maxConcurrentCalls: r.max_concurrent_calls,
    allowNegativeMargin: r.allow_negative_margin,
    rateGroupId: r.rate_group_id,
    timezone: r.timezone,
    billingDay: r.billing_day,
    paymentTermsDays: r.payment_terms_days,
    invoicePrefix: r.invoice_prefix,
    companyName: r.company_name,
    addressLine1: r.address_line1,
    addressLine2: r.address_line2,
    city: r.city,
    region: r.region,
    postalCode: r.postal_code,
    country: r.country,
    taxNumber: r.tax_number,
    notificationEmail: r.notification_email,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

/** Accounts by id in the caller's scope, as rows: a missing or out-of-scope id is simply not returned. */
export async function findAccountViews(em: Em, ids: readonly string[]): Promise<AccountView[]> {
  const rows = await executeBound<AccountRow[]>(
    em,
    `select ${ACCOUNT_COLUMNS} from accounts where id = any(?::text[]) and path like ?`,
    [pgArray(ids), likePrefix(scopePath(em))],
  );
  return rows.map(accountView);
}

/** The accounts under `path` (not the account `id` at it). */
export function findDescendantsPage(em: Em, path: string, id: string, filter: AccountListFilter): Promise<Page<AccountView>> {
  return findAccountPage(em, ['path like ?', 'id <> ?'], [likePrefix(path), id], filter);
}

/**
 * An account's children, batched: every account of a list level asking for its children with the same
 * arguments shares one statement (src/services/row-pages.ts).
 */
export function childrenPage(loaders: RowPageLoaders, parentId: string, filter: AccountListFilter): Promise<Page<AccountView>> {
  const { where, values } = filterConditions(filter);
  const list = { table: 'accounts', columns: ACCOUNT_COLUMNS, pathColumn: 'path', parentColumn: 'parent_id', where, values };
  return rowPage(loaders, { ...list, order: 'asc' }, parentId, filter, accountView);
}

/**
 * Lists read plain rows: they are the largest reads the API serves, and building and registering a MikroORM
 * entity per account was the largest part of a list request's CPU. Deleted accounts are listed only when asked
 * for by status; the scope's own condition is findRowsPage's.
 */
function findAccountPage(em: Em, conditions: string[], params: unknown[], filter: AccountListFilter): Promise<Page<AccountView>> {
  const { where, values } = filterConditions(filter);
  return findRowsPage(
    em,
    {
      table: 'accounts',
      columns: ACCOUNT_COLUMNS,
      pathColumn: 'path',
      where: [...conditions, ...where],
      values: [...params, ...values],
    },
    filter,
    accountView,
  );
}

export function filterConditions(filter: AccountListFilter): { where: string[]; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  if (filter.status) {
    where.push('status = ?');
    values.push(filter.status);
  } else {
    where.push(`status <> 'DELETED'`);
  }
  if (filter.kind) {
    where.push('kind = ?');
    values.push(filter.kind);
  }
  const search = filter.search?.trim();
  if (search) {
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push('(name ilike ? or email ilike ? or number like ?)');
    values.push(pattern, pattern, pattern);
  }
  return { where, values };
}

/**
 * Whether the database knows a timezone: spend limits are counted in SQL (AT TIME ZONE), so a name the
 * runtime's Intl accepts but PostgreSQL's tz data lacks would fail every authorization below the account.
 */
export async function timezoneKnown(em: Em, name: string): Promise<boolean> {
  const [row] = await executeBound<{ known: boolean }[]>(
    em,
    `select exists (select 1 from pg_timezone_names where name = ?) as known`,
    [name],
  );
  return row.known;
}

interface ParentPublicRow {
  id: string;
  number: string;
  kind: AccountKind;
  name: string;
  currency: string;
  created_at: Date;
}

/**
 * The caller's direct parent's identity, read through a SECURITY DEFINER function since the parent lies above
 * the caller's scope; null for a root.
 */
export async function findParentPublic(em: Em): Promise<PublicAccount | null> {
  const [row] = await em.execute<ParentPublicRow[]>('select * from trellis_parent_public()');
  return row ? new PublicAccount(row.id, row.number, row.kind, row.name, row.currency, new Date(row.created_at)) : null;
}
