import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { withPlatformScope, type Em } from '../db/orm.js';
import { releaseAccountNumbers } from '../dids/store.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import { Account, AccountKind, AccountStatus, BillingMode, Package, ResellerModel } from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newAccountNumber, newId } from '../ids.js';
import { Decimal, ZERO } from '../money.js';
import type { Page } from './pagination.js';
import { requireLoginToken, type AuthService } from './auth.service.js';
import {
  childrenPage,
  findDescendantsPage,
  type AccountListFilter,
  type AccountView,
  type PublicAccount,
  timezoneKnown,
} from '../accounts/rows.js';
import { lockForCloning } from '../packages/queries.js';
import { requireParentsGroup } from '../rates/groups.js';
import { hashPassword } from './passwords.js';
import { assignTaxRates } from '../taxes/rates.js';
import {
  intInRange,
  nonNegative,
  normalizeCountry,
  normalizeCurrency,
  normalizeEmail,
  normalizeTimezone,
  optionalText,
  requireText,
  validatePassword,
} from './validate.js';

/** Profile and billing settings (DOMAIN.md 9), on create and update alike; undefined leaves a field as it is. */
export interface AccountProfileData {
  timezone?: string | null;
  billingDay?: number | null;
  paymentTermsDays?: number | null;
  invoicePrefix?: string | null;
  companyName?: string | null;
  addressLine1?: string | null;
  addressLine2?: string | null;
  city?: string | null;
  region?: string | null;
  postalCode?: string | null;
  country?: string | null;
  taxNumber?: string | null;
  notificationEmail?: string | null;
  /** The parent's tax rates for this account (setAccountTaxes). */
  taxRateIds?: string[] | null;
}

const PROFILE_TEXT = ['companyName', 'addressLine1', 'addressLine2', 'city', 'region', 'postalCode', 'taxNumber'] as const;

/** The profile fields given, validated and normalized; null clears an optional one. */
function profileOf(data: AccountProfileData): Partial<Account> {
  const out: Partial<Account> = {};
  if (data.timezone !== undefined && data.timezone !== null) out.timezone = normalizeTimezone('timezone', data.timezone);
  if (data.billingDay !== undefined && data.billingDay !== null)
    out.billingDay = intInRange('billingDay', data.billingDay, 1, 28);
  if (data.paymentTermsDays !== undefined && data.paymentTermsDays !== null) {
    out.paymentTermsDays = intInRange('paymentTermsDays', data.paymentTermsDays, 0, 365);
  }
  if (data.invoicePrefix !== undefined && data.invoicePrefix !== null) {
    if (!/^[A-Za-z0-9][A-Za-z0-9/_.-]{0,19}$/.test(data.invoicePrefix) && data.invoicePrefix !== '') {
      throw badInput('invoicePrefix', 'invoicePrefix is up to 20 letters, digits and - _ . /');
    }
    out.invoicePrefix = data.invoicePrefix;
  }
  for (const field of PROFILE_TEXT) {
    const value = optionalText(field, data[field], 200);
    if (value !== undefined) out[field] = value;
  }
  if (data.country !== undefined) out.country = data.country === null ? null : normalizeCountry('country', data.country);
  if (data.notificationEmail !== undefined) {
    out.notificationEmail =
      data.notificationEmail === null || data.notificationEmail.trim() === ''
        ? null
        : normalizeEmail('notificationEmail', data.notificationEmail);
  }
  return out;
}

export interface CreateAccountData extends AccountProfileData {
  parentId?: string | null;
  kind: AccountKind;
  name: string;
  email?: string | null;
  password?: string | null;
  currency?: string | null;
  billingMode?: BillingMode | null;
  creditLimit?: Decimal | null;
  resellerModel?: ResellerModel | null;
  lowBalanceThreshold?: Decimal | null;
  dailySpendLimit?: Decimal | null;
  monthlySpendLimit?: Decimal | null;
  minimumBalanceToCall?: Decimal | null;
  maxConcurrentCalls?: number | null;
  allowNegativeMargin?: boolean | null;
  rateGroupId?: string | null;
}

export interface UpdateAccountData extends AccountProfileData {
  name?: string | null;
  email?: string | null;
  password?: string | null;
  /** Required with password when an account changes its own. */
  currentPassword?: string | null;
  status?: AccountStatus | null;
  billingMode?: BillingMode | null;
  creditLimit?: Decimal | null;
  resellerModel?: ResellerModel | null;
  lowBalanceThreshold?: Decimal | null;
  dailySpendLimit?: Decimal | null;
  monthlySpendLimit?: Decimal | null;
  minimumBalanceToCall?: Decimal | null;
  maxConcurrentCalls?: number | null;
  allowNegativeMargin?: boolean | null;
  rateGroupId?: string | null;
}

/** maxConcurrentCalls as given: null (no cap) or a whole number from 0 (no calls at all). */
function concurrentCalls(value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < 0 || value > 1_000_000) {
    throw badInput('maxConcurrentCalls', 'maxConcurrentCalls is a whole number from 0 to 1000000');
  }
  return value;
}

/** Fields an account may change on itself; the rest are its parent's (or another ancestor's) to set. */
const SELF_EDITABLE = new Set<keyof UpdateAccountData>([
  'name',
  'email',
  'password',
  'currentPassword',
  'lowBalanceThreshold',
  'invoicePrefix',
  ...PROFILE_TEXT,
  'country',
  'notificationEmail',
]);

export class AccountService {
  constructor(
    private readonly auth: AuthService,
    /** A new customer gets its parent's mandatory packages (DOMAIN.md 13), in the same transaction. */
    private readonly customerCreated: (ctx: AuthedRequest, em: Em, customer: Account) => Promise<void> = async () => {},
  ) {}

  /** An account in the caller's scope, or null: out-of-scope ids look exactly like missing ones. */
  async find(ctx: Request, id: string): Promise<Account | null> {
    requireActor(ctx);
    return ctx.loaders.account.load(id);
  }

  async require(ctx: Request, id: string): Promise<Account> {
    const account = await this.find(ctx, id);
    if (!account) throw notFound('Account not found');
    return account;
  }

  /** For use inside a mutation's transaction: the transaction's own fork, still bound to the caller's scope. */
  async load(em: Em, id: string): Promise<Account> {
    const account = await em.findOne(Account, { id });
    if (!account) throw notFound('Account not found');
    return account;
  }

  /**
   * The owner of something the caller may read: an account in scope, or, for a parent's package or rate
   * group, the parent's public identity.
   */
  async ownerView(ctx: Request, ownerId: string): Promise<AccountView | PublicAccount> {
    requireActor(ctx);
    const inScope = await ctx.loaders.accountView.load(ownerId);
    if (inScope) return inScope;
    const parent = await ctx.loaders.parentPublic.load('parent');
    if (!parent || parent.id !== ownerId) throw notFound('Account not found');
    return parent;
  }

  /** An account to show (a query's answer), as a row: no entity to build. Null when missing or out of scope. */
  async view(ctx: Request, id: string): Promise<AccountView | null> {
    requireActor(ctx);
    return ctx.loaders.accountView.load(id);
  }

  async me(ctx: Request): Promise<AccountView> {
    requireActor(ctx);
    const me = await ctx.loaders.accountView.load(ctx.actor.accountId);
    if (!me) throw notFound('Account not found');
    return me;
  }

  /** The caller's descendants (not the caller). Deleted accounts are listed only when asked for by status. */
  async list(ctx: Request, filter: AccountListFilter): Promise<Page<AccountView>> {
    requireActor(ctx);
    return primed(ctx, await findDescendantsPage(ctx.em, ctx.actor.path, ctx.actor.accountId, filter));
  }

  async children(ctx: Request, parent: Pick<AccountView, 'id'>, filter: AccountListFilter): Promise<Page<AccountView>> {
    requireActor(ctx);
    return primed(ctx, await childrenPage(ctx.loaders.rows, parent.id, filter));
  }

  async create(ctx: Request, data: CreateAccountData): Promise<Account> {
    requireActor(ctx);
    if (ctx.actor.kind === AccountKind.CUSTOMER) throw forbidden('Customers cannot create accounts');
    return ctx.mutate(async (em) => {
      const parent = await this.load(em, data.parentId ?? ctx.actor.accountId);
      if (parent.kind === AccountKind.CUSTOMER) throw badInput('parentId', 'A customer cannot have child accounts');
      if (parent.status !== AccountStatus.ACTIVE) throw new DomainError('INVALID_STATE', 'The parent account is not active');
      if (data.kind !== AccountKind.RESELLER && data.kind !== AccountKind.CUSTOMER) {
        throw badInput('kind', 'Only RESELLER and CUSTOMER accounts can be created');
      }
      const billingMode = data.billingMode ?? BillingMode.PREPAID;
      const creditLimit = nonNegative('creditLimit', data.creditLimit ?? ZERO);
      if (billingMode === BillingMode.PREPAID && !creditLimit.isZero()) {
        throw badInput('creditLimit', 'PREPAID accounts have no credit limit');
      }
      if (data.kind === AccountKind.CUSTOMER && data.resellerModel) {
        throw badInput('resellerModel', 'Only resellers have a reseller model');
      }
      if (data.password && !data.email) throw badInput('email', 'An account that can log in needs an email');
      if (data.rateGroupId) await requireParentsGroup(em, data.rateGroupId, parent.id);
      const id = newId('Account');
      const fields = {
        id,
        kind: data.kind,
        name: requireText('name', data.name),
        email: data.email ? normalizeEmail('email', data.email) : null,
        passwordHash: data.password ? await hashPassword(validatePassword('password', data.password, data.email)) : null,
        parentId: parent.id,
        rootId: parent.rootId,
        path: `${parent.path}${id}/`,
        depth: parent.depth + 1,
        currency: data.currency ? normalizeCurrency('currency', data.currency) : parent.currency,
        billingMode,
        creditLimit,
        resellerModel: data.kind === AccountKind.RESELLER ? (data.resellerModel ?? ResellerModel.MARGIN) : null,
        lowBalanceThreshold: this.optionalAmount('lowBalanceThreshold', data.lowBalanceThreshold),
        dailySpendLimit: this.optionalAmount('dailySpendLimit', data.dailySpendLimit),
        monthlySpendLimit: this.optionalAmount('monthlySpendLimit', data.monthlySpendLimit),
        minimumBalanceToCall: this.optionalAmount('minimumBalanceToCall', data.minimumBalanceToCall),
        maxConcurrentCalls: concurrentCalls(data.maxConcurrentCalls),
        allowNegativeMargin: data.allowNegativeMargin ?? true,
        rateGroupId: data.rateGroupId ?? null,
        ...(await this.profile(em, data)),
      };
      const account = await this.insert(em, fields);
      if (data.taxRateIds?.length) await assignTaxRates(em, account, data.taxRateIds);
      if (account.kind === AccountKind.CUSTOMER) await this.customerCreated(ctx, em, account);
      return account;
    });
  }

  /** Creates a platform root (ADMIN). Not exposed over the API: roots come from bootstrap or operator tooling. */
  async createRoot(em: Em, data: { name: string; email: string; password: string; currency?: string }): Promise<Account> {
    const id = newId('Account');
    return this.insert(em, {
      id,
      kind: AccountKind.ADMIN,
      name: data.name,
      email: data.email.trim().toLowerCase(),
      passwordHash: await hashPassword(data.password),
      parentId: null,
      rootId: id,
      path: `/${id}/`,
      depth: 0,
      currency: data.currency ?? 'USD',
      billingMode: BillingMode.PREPAID,
      creditLimit: ZERO,
      resellerModel: null,
    });
  }

  /** Inserts in a savepoint so a clash on the random account number can be retried with another one. */
  private async insert(em: Em, fields: Omit<Partial<Account>, 'number'> & Pick<Account, 'id'>): Promise<Account> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await em.transactional(async (inner) => {
          const account = inner.create(Account, { ...fields, number: newAccountNumber() } as Account);
          await inner.flush();
          return account;
        });
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        const message = String(error.message);
        if (message.includes('accounts_email_key')) {
          throw new DomainError('ALREADY_EXISTS', 'An account with this email already exists', { field: 'email' });
        }
        if (!message.includes('accounts_number_key') || attempt >= 5) throw error;
      }
    }
  }

  async update(ctx: Request, id: string, data: UpdateAccountData): Promise<Account> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const account = await this.load(em, id);
      const self = account.id === ctx.actor.accountId;
      if (self) {
        const denied = (Object.keys(data) as (keyof UpdateAccountData)[]).find(
          (k) => data[k] !== undefined && !SELF_EDITABLE.has(k),
        );
        if (denied) throw forbidden(`${denied} is set by the parent account`);
      }
      if (account.status === AccountStatus.DELETED) throw new DomainError('INVALID_STATE', 'The account is deleted');

      if (data.name !== undefined) account.name = requireText('name', data.name ?? '');
      const passwordChange = data.password !== undefined && data.password !== null;
      if (passwordChange || data.email !== undefined) requireLoginToken(ctx, 'change a password or an email');
      if (data.email !== undefined) account.email = data.email === null ? null : normalizeEmail('email', data.email);
      if (passwordChange) {
        if (self) await this.auth.verifyOwnPassword(em, account.id, data.currentPassword, ctx.clientAddress);
        account.passwordHash = await hashPassword(validatePassword('password', data.password!, account.email));
      }
      const suspension = data.status === AccountStatus.SUSPENDED && account.status !== AccountStatus.SUSPENDED;
      if (!account.email && account.passwordHash && data.email === null) {
        throw badInput('email', 'An account that can log in needs an email');
      }
      if (data.status !== undefined && data.status !== null) {
        if (data.status === AccountStatus.DELETED) throw badInput('status', 'Use deleteAccount to delete an account');
        account.status = data.status;
      }
      if (data.billingMode) account.billingMode = data.billingMode;
      if (data.creditLimit !== undefined && data.creditLimit !== null) {
        account.creditLimit = nonNegative('creditLimit', data.creditLimit);
      } else if (data.billingMode === BillingMode.PREPAID) {
        account.creditLimit = ZERO;
      }
      if (account.billingMode === BillingMode.PREPAID && !account.creditLimit.isZero()) {
        throw badInput('creditLimit', 'PREPAID accounts have no credit limit');
      }
      if (data.resellerModel !== undefined && data.resellerModel !== null && data.resellerModel !== account.resellerModel) {
        if (account.kind !== AccountKind.RESELLER) throw badInput('resellerModel', 'Only resellers have a reseller model');
        // Clones were priced under the old model (own prices vs. following the source): keep them consistent.
        // The lock is the one optIn takes on the reseller, so a concurrent opt-in cannot slip in between.
        await lockForCloning(em, account.id);
        const clones = await em.count(Package, { ownerId: account.id, sourceId: { $ne: null }, optedOutAt: null });
        if (clones > 0) {
          throw new DomainError('INVALID_STATE', 'The reseller model cannot change while the reseller has opted into packages');
        }
        account.resellerModel = data.resellerModel;
      }
      if (data.rateGroupId !== undefined) {
        if (data.rateGroupId !== null) {
          if (!account.parentId) throw badInput('rateGroupId', 'A root account has no parent to buy from');
          await requireParentsGroup(em, data.rateGroupId, account.parentId);
        }
        account.rateGroupId = data.rateGroupId;
      }
      if (data.lowBalanceThreshold !== undefined) {
        account.lowBalanceThreshold = this.optionalAmount('lowBalanceThreshold', data.lowBalanceThreshold);
      }
      if (data.dailySpendLimit !== undefined) {
        account.dailySpendLimit = this.optionalAmount('dailySpendLimit', data.dailySpendLimit);
      }
      if (data.monthlySpendLimit !== undefined) {
        account.monthlySpendLimit = this.optionalAmount('monthlySpendLimit', data.monthlySpendLimit);
      }
      if (data.minimumBalanceToCall !== undefined) {
        account.minimumBalanceToCall = this.optionalAmount('minimumBalanceToCall', data.minimumBalanceToCall);
      }
      if (data.maxConcurrentCalls !== undefined) account.maxConcurrentCalls = concurrentCalls(data.maxConcurrentCalls);
      if (data.allowNegativeMargin !== undefined && data.allowNegativeMargin !== null) {
        account.allowNegativeMargin = data.allowNegativeMargin;
      }
      Object.assign(account, await this.profile(em, data));
      if (data.taxRateIds !== undefined && data.taxRateIds !== null) await assignTaxRates(em, account, data.taxRateIds);
      em.persist(account);
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException && String(error.message).includes('accounts_email_key')) {
          throw new DomainError('ALREADY_EXISTS', 'An account with this email already exists', { field: 'email' });
        }
        throw error;
      }
      if (suspension) await this.auth.endCredentials(em, { type: 'credentials', under: account.path });
      else if (passwordChange) await this.auth.endCredentials(em, { type: 'credentials', tokensOf: account.id });
      return account;
    });
  }

  /** Soft delete: the account and its history stay, it can no longer log in or be charged. */
  async delete(ctx: Request, id: string): Promise<Account> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const account = await this.load(em, id);
      if (account.id === ctx.actor.accountId) throw forbidden('An account cannot delete itself');
      if (account.status === AccountStatus.DELETED) throw new DomainError('INVALID_STATE', 'The account is already deleted');
      const liveChildren = await em.count(Account, { parentId: account.id, status: { $ne: AccountStatus.DELETED } });
      if (liveChildren > 0) {
        throw new DomainError('INVALID_STATE', 'Delete or move the child accounts first');
      }
      account.status = AccountStatus.DELETED;
      em.persist(account);
      await em.flush();
      // Its numbers go back to the platform's stock (outside the caller's subtree, hence the platform's scope).
      await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, () => releaseAccountNumbers(em, account.id));
      await this.auth.endCredentials(em, { type: 'credentials', under: account.path });
      return account;
    });
  }

  private async profile(em: Em, data: AccountProfileData): Promise<Partial<Account>> {
    const profile = profileOf(data);
    if (profile.timezone && !(await timezoneKnown(em, profile.timezone))) {
      throw badInput('timezone', 'Not a timezone the database knows');
    }
    return profile;
  }

  private optionalAmount(field: string, value: Decimal | null | undefined): Decimal | null {
    return value === undefined || value === null ? null : nonNegative(field, value);
  }
}

/** A list's accounts are the parents its children's `parent` asks for next: they need not be read again. */
function primed(ctx: Request, page: Page<AccountView>): Page<AccountView> {
  for (const { node } of page.edges) ctx.loaders.accountView.prime(node.id, node);
  return page;
}
