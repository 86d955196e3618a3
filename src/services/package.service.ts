import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Em } from '../db/orm.js';
import { withinSaleDates } from '../billing/index.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import {
  AccountKind,
  ActivationPolicy,
  Applicability,
  BillingType,
  ChargeType,
  Package,
  PackageStatus,
  PackageStatusReason,
  PackageSubscription,
  PackageTerms,
  ResellerModel,
  type DiscountRule,
} from '../entities/index.js';
import { DomainError, badInput, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal, ZERO, formatMoney } from '../money.js';
import { Keyset, type Page, type PageArgs } from './pagination.js';
import { findOffers, lineageSellable, lockForCloning, ownedPackageIds, sellableLineages } from '../packages/queries.js';
import { didTags, nonNegative, normalizeCurrency, optionalText, requireText } from './validate.js';
import { toView, type DiscountData, type PackageView } from '../packages/view.js';
import { replaceLimits, type LimitData } from '../packages/limits.js';
import type { LimitKind } from '../billing/index.js';
import type { AccountService } from './account.service.js';
import type { SubscriptionService } from './subscription.service.js';

/** The lifecycle terms: set on an original, shared (read-only) by its clones. */
export interface TermsData {
  country?: string | null;
  category?: string | null;
  billingType?: BillingType | null;
  billingDays?: number | null;
  freeMinutes?: number | null;
  applicableFor?: Applicability | null;
  destinations?: string[] | null;
  chargeType?: ChargeType | null;
  releaseIfNoBalance?: boolean | null;
  priority?: number | null;
  minimumDays?: number | null;
  activationPolicy?: ActivationPolicy | null;
  advanceRenewHours?: number | null;
  renewRetryHours?: number | null;
  didQuantity?: number | null;
  allowedDidTags?: string[] | null;
  didHoldDays?: number | null;
  minimumSpend?: boolean | null;
  limits?: LimitInputData[] | null;
  discounts?: DiscountData[] | null;
  startDate?: Date | null;
  endDate?: Date | null;
}

/** A limit as given (DOMAIN.md 13). */
export interface LimitInputData {
  kind: LimitKind;
  patterns?: string[] | null;
  amount: string;
  inBundleRatePerMinute?: Decimal | null;
  carryOver?: boolean | null;
  rejectWhenExhausted?: boolean | null;
}

/** The most limits a package may have. */
const MAX_LIMITS = 20;

/** What every package sets for itself, clone or not. */
export interface OwnData {
  name?: string | null;
  description?: string | null;
  price?: Decimal | null;
  setupFee?: Decimal | null;
  commissionRate?: string | null;
  canBePurchased?: boolean | null;
  resellerCanResell?: boolean | null;
  taxInclusive?: boolean | null;
  mandatory?: boolean | null;
}

export interface CreatePackageData extends TermsData, OwnData {
  name: string;
  price: Decimal;
  currency?: string | null;
}

export type UpdatePackageData = TermsData & OwnData;

export interface OptInData extends OwnData {
  packageId: string;
}

export interface PackageListArgs extends PageArgs {
  status?: PackageStatus | null;
}

const TERMS_FIELDS = [
  'country',
  'category',
  'billingType',
  'billingDays',
  'freeMinutes',
  'applicableFor',
  'destinations',
  'chargeType',
  'releaseIfNoBalance',
  'priority',
  'minimumDays',
  'activationPolicy',
  'advanceRenewHours',
  'renewRetryHours',
  'didQuantity',
  'allowedDidTags',
  'didHoldDays',
  'minimumSpend',
  'limits',
  'discounts',
  'startDate',
  'endDate',
] as const satisfies readonly (keyof TermsData)[];

/** "/a/b/c/" -> "b": the direct parent of the account at the end of a path. */
export function parentIdOf(path: string): string | null {
  const parts = path.split('/').filter(Boolean);
  return parts.length >= 2 ? parts[parts.length - 2] : null;
}

function wholeNumber(field: string, value: number, min: number, max = 1_000_000): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(field, `${field} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function parseCommissionRate(value: string): Decimal {
  if (!/^\d{1,3}(\.\d{1,4})?$/.test(value.trim()))
    throw badInput('commissionRate', 'commissionRate is a percentage such as "10" or "12.5"');
  const rate = new Decimal(value.trim());
  if (rate.gt(100)) throw badInput('commissionRate', 'commissionRate is between 0 and 100');
  return rate;
}

/** A package's limits as given, checked (DOMAIN.md 13). */
function parseLimits(limits: readonly LimitInputData[]): LimitData[] {
  if (limits.length > MAX_LIMITS) throw badInput('limits', `At most ${MAX_LIMITS} limits per package`);
  return limits.map((l, i) => {
    const field = `limits[${i}]`;
    const patterns = [...new Set((l.patterns ?? []).map((p) => p.trim()))];
    const bad = patterns.find((p) => !/^[0-9]{1,20}\$?$/.test(p));
    if (bad !== undefined) {
      throw badInput(`${field}.patterns`, `A pattern is a prefix of digits, or digits and "$" for one number ("${bad}" is not)`);
    }
    const amount = l.amount.trim();
    const volume = l.kind === 'VOLUME';
    if (volume ? !/^\d{1,10}$/.test(amount) : !/^\d{1,14}(\.\d{1,4})?$/.test(amount)) {
      throw badInput(`${field}.amount`, volume ? 'A VOLUME amount is whole seconds' : 'A MONEY amount is like "25" or "12.50"');
    }
    const inBundle = l.inBundleRatePerMinute ?? ZERO;
    if (!volume && !inBundle.isZero()) throw badInput(`${field}.inBundleRatePerMinute`, 'An in-bundle rate is for VOLUME limits');
    return {
      kind: l.kind,
      patterns,
      amount: new Decimal(amount),
      inBundleRatePerMinute: nonNegative(`${field}.inBundleRatePerMinute`, inBundle),
      carryOver: l.carryOver ?? false,
      rejectWhenExhausted: l.rejectWhenExhausted ?? false,
    };
  });
}

export class PackageService {
  constructor(
    private readonly accounts: AccountService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  async create(ctx: Request, data: CreatePackageData): Promise<PackageView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const owner = await this.accounts.load(em, ctx.actor.accountId);
      const terms = em.create(PackageTerms, {
        id: newId('PackageTerms'),
        ownerPath: ctx.actor.path,
        currency: data.currency ? normalizeCurrency('currency', data.currency) : owner.currency,
        billingType: BillingType.RECURRING,
        billingDays: 30,
        freeMinutes: 0,
        applicableFor: Applicability.OUTBOUND,
        destinations: [],
        chargeType: ChargeType.FULL,
        releaseIfNoBalance: false,
        priority: 1,
        minimumDays: 0,
        activationPolicy: ActivationPolicy.DENY_IF_INSUFFICIENT,
        advanceRenewHours: 0,
        didQuantity: 0,
        allowedDidTags: [],
        didHoldDays: 0,
        minimumSpend: data.minimumSpend ?? false,
        discounts: [],
      });
      this.applyTerms(terms, data);
      const limits = data.limits ? parseLimits(data.limits) : [];
      // Terms first: the package row and its limits reference them, and the unit of work does not know that.
      await em.flush();
      if (limits.length) await replaceLimits(em, terms.id, terms.ownerPath, limits);
      const pkg = em.create(Package, {
        id: newId('Package'),
        ownerId: owner.id,
        ownerPath: owner.path,
        sourceId: null,
        termsId: terms.id,
        name: requireText('name', data.name),
        description: optionalText('description', data.description) ?? null,
        status: PackageStatus.ACTIVE,
        price: nonNegative('price', data.price),
        setupFee: nonNegative('setupFee', data.setupFee ?? ZERO),
        commissionRate: data.commissionRate ? parseCommissionRate(data.commissionRate) : ZERO,
        canBePurchased: data.canBePurchased ?? true,
        resellerCanResell: data.resellerCanResell ?? false,
        taxInclusive: data.taxInclusive ?? false,
        mandatory: data.mandatory ?? false,
      });
      await em.flush();
      return toView(pkg, terms);
    });
  }

  async update(ctx: Request, id: string, data: UpdatePackageData): Promise<PackageView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      await lockForCloning(em, id);
      const pkg = await this.requireOwned(ctx, em, id);
      if (pkg.status === PackageStatus.ARCHIVED) throw new DomainError('INVALID_STATE', 'Archived packages are read-only');
      const terms = await em.findOneOrFail(PackageTerms, { id: pkg.termsId });
      if (pkg.sourceId) {
        const inherited = TERMS_FIELDS.find((f) => data[f] !== undefined);
        if (inherited)
          throw badInput(inherited, `${inherited} is inherited from the original package and cannot be changed here`);
      } else {
        this.applyTerms(terms, data);
        if (data.limits !== undefined && data.limits !== null) {
          await replaceLimits(em, terms.id, terms.ownerPath, parseLimits(data.limits));
        }
      }
      if (data.name !== undefined) pkg.name = requireText('name', data.name ?? '');
      if (data.description !== undefined) pkg.description = optionalText('description', data.description) ?? null;
      if (data.commissionRate !== undefined && data.commissionRate !== null)
        pkg.commissionRate = parseCommissionRate(data.commissionRate);
      if (data.canBePurchased !== undefined && data.canBePurchased !== null) pkg.canBePurchased = data.canBePurchased;
      if (data.resellerCanResell !== undefined && data.resellerCanResell !== null) pkg.resellerCanResell = data.resellerCanResell;
      if (data.taxInclusive !== undefined && data.taxInclusive !== null) pkg.taxInclusive = data.taxInclusive;
      if (data.mandatory !== undefined && data.mandatory !== null) pkg.mandatory = data.mandatory;

      const price = data.price ?? pkg.price;
      const setupFee = data.setupFee ?? pkg.setupFee;
      nonNegative('price', price);
      nonNegative('setupFee', setupFee);
      if (!price.eq(pkg.price) || !setupFee.eq(pkg.setupFee)) {
        if (pkg.priceFollowsSource) {
          throw badInput(
            !price.eq(pkg.price) ? 'price' : 'setupFee',
            "A COMMISSION reseller sells at the source package's prices",
          );
        }
        if (pkg.sourceId) {
          const source = await em.findOneOrFail(Package, { id: pkg.sourceId });
          this.assertNotBelowCost(price, setupFee, source);
        }
        pkg.price = price;
        pkg.setupFee = setupFee;
        await this.propagatePrices(em, pkg);
      }
      await em.flush();
      return toView(pkg, terms);
    });
  }

  async setStatus(ctx: Request, id: string, status: PackageStatus): Promise<PackageView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const pkg = await this.requireOwned(ctx, em, id);
      if (pkg.status === PackageStatus.ARCHIVED) throw new DomainError('INVALID_STATE', 'Archived packages are read-only');
      if (status === PackageStatus.ACTIVE && pkg.sourceId && !pkg.priceFollowsSource) {
        const source = await em.findOneOrFail(Package, { id: pkg.sourceId });
        this.assertNotBelowCost(pkg.price, pkg.setupFee, source);
      }
      pkg.status = status;
      pkg.statusReason = null;
      await em.flush();
      return this.view(em, pkg);
    });
  }

  /** A reseller clones one of its parent's offers (DOMAIN.md 3). */
  async optIn(ctx: Request, data: OptInData): Promise<PackageView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      // Against a concurrent repricing or opt-out of the source, and a concurrent model change of the reseller.
      await lockForCloning(em, data.packageId);
      await lockForCloning(em, ctx.actor.accountId);
      const me = await this.accounts.load(em, ctx.actor.accountId);
      const source = await em.findOne(Package, { id: data.packageId }, { refresh: true });
      const terms = source && (await em.findOne(PackageTerms, { id: source.termsId }));
      if (
        !source ||
        !terms ||
        source.ownerId !== me.parentId ||
        !(await this.isOffer(em, source, terms, AccountKind.RESELLER, new Date()))
      ) {
        throw notFound('Package not found among your offers');
      }
      if (terms.currency !== me.currency) {
        throw new DomainError('CURRENCY_MISMATCH', `This package is sold in ${terms.currency}; your account uses ${me.currency}`);
      }
      const existing = await em.count(Package, { ownerId: me.id, sourceId: source.id, optedOutAt: null });
      if (existing > 0) throw new DomainError('ALREADY_EXISTS', 'You have already opted into this package');

      let price = source.price;
      let setupFee = source.setupFee;
      const commission = me.resellerModel === ResellerModel.COMMISSION;
      if (commission) {
        if (data.price && !data.price.eq(source.price))
          throw badInput('price', "A COMMISSION reseller sells at the source package's price");
        if (data.setupFee && !data.setupFee.eq(source.setupFee)) {
          throw badInput('setupFee', "A COMMISSION reseller sells at the source package's setup fee");
        }
      } else {
        price = nonNegative('price', data.price ?? source.price);
        setupFee = nonNegative('setupFee', data.setupFee ?? source.setupFee);
        this.assertNotBelowCost(price, setupFee, source);
      }
      const clone = em.create(Package, {
        id: newId('Package'),
        ownerId: me.id,
        ownerPath: me.path,
        sourceId: source.id,
        lineage: [...source.lineage, source.id],
        termsId: source.termsId,
        name: data.name ? requireText('name', data.name) : source.name,
        description:
          data.description !== undefined ? (optionalText('description', data.description) ?? null) : (source.description ?? null),
        status: PackageStatus.ACTIVE,
        price,
        setupFee,
        priceFollowsSource: commission,
        commissionRate: data.commissionRate ? parseCommissionRate(data.commissionRate) : ZERO,
        canBePurchased: data.canBePurchased ?? true,
        resellerCanResell: data.resellerCanResell ?? false,
        taxInclusive: data.taxInclusive ?? source.taxInclusive,
        mandatory: data.mandatory ?? false,
      });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new DomainError('ALREADY_EXISTS', 'You have already opted into this package');
        }
        throw error;
      }
      return toView(clone, terms);
    });
  }

  /** Retires a clone: it is archived (kept for history) and the reseller may opt in again later. */
  async optOut(ctx: Request, packageId: string): Promise<PackageView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      await lockForCloning(em, packageId);
      const pkg = await this.requireOwned(ctx, em, packageId);
      if (!pkg.sourceId) throw new DomainError('INVALID_STATE', 'Only a package opted into from a parent can be opted out of');
      if (pkg.optedOutAt) throw new DomainError('INVALID_STATE', 'Already opted out');
      const liveClones = await em.count(Package, { sourceId: pkg.id, optedOutAt: null });
      if (liveClones > 0)
        throw new DomainError('INVALID_STATE', 'Sub-resellers still sell this package: they must opt out first');
      if (await this.subscriptions.isInUse(em, pkg.id)) {
        throw new DomainError('INVALID_STATE', 'Active subscriptions use this package: terminate them first');
      }
      pkg.optedOutAt = new Date();
      pkg.status = PackageStatus.ARCHIVED;
      pkg.statusReason = null;
      await em.flush();
      return this.view(em, pkg);
    });
  }

  /**
   * A package the caller may see: one owned in its subtree, or one of its parent's that is an offer to it or
   * the source of one of its own clones. Anything else is null, like a missing id.
   */
  async find(ctx: Request, id: string): Promise<PackageView | null> {
    return (await this.findMany(ctx, [id]))[0];
  }

  /**
   * Packages by id as the caller may see them, many at once (the package loader): its subtree's own, its offers,
   * the sources of its own clones and what it is subscribed to, whatever their status now; null otherwise.
   */
  async findMany(ctx: Request, ids: readonly string[]): Promise<(PackageView | null)[]> {
    requireActor(ctx);
    const packages = await ctx.em.find(Package, { id: { $in: [...ids] } });
    const termsIds = [...new Set(packages.map((p) => p.termsId))];
    const terms = new Map(
      (termsIds.length ? await ctx.em.find(PackageTerms, { id: { $in: termsIds } }) : []).map((t) => [t.id, t]),
    );
    const now = new Date();
    const visible = new Map<string, PackageView>();
    const undecided: Package[] = [];
    // Offers need their chain checked in the database: all of them in one statement.
    const offers = new Map<string, string[]>();
    for (const pkg of packages) {
      const t = terms.get(pkg.termsId)!;
      if (pkg.ownerPath.startsWith(ctx.actor.path)) visible.set(pkg.id, toView(pkg, t));
      else if (this.offeredTo(pkg, t, ctx.actor.kind, now)) offers.set(pkg.id, pkg.lineage);
      else undecided.push(pkg);
    }
    const sellable = await sellableLineages(ctx.em, offers);
    for (const pkg of packages) {
      if (!offers.has(pkg.id)) continue;
      if (sellable.has(pkg.id)) visible.set(pkg.id, toView(pkg, terms.get(pkg.termsId)!));
      else undecided.push(pkg);
    }
    if (undecided.length) {
      const undecidedIds = undecided.map((p) => p.id);
      const clones = await ctx.em.find(Package, { ownerId: ctx.actor.accountId, sourceId: { $in: undecidedIds } });
      const subscribed = await ctx.em.find(PackageSubscription, {
        accountId: ctx.actor.accountId,
        packageId: { $in: undecidedIds },
      });
      const known = new Set([...clones.map((c) => c.sourceId), ...subscribed.map((s) => s.packageId)]);
      for (const pkg of undecided) if (known.has(pkg.id)) visible.set(pkg.id, toView(pkg, terms.get(pkg.termsId)!));
    }
    return ids.map((id) => visible.get(id) ?? null);
  }

  /** An account's own packages, batched with every other account of a list level asking the same. */
  async owned(ctx: Request, accountId: string, args: PackageListArgs): Promise<Page<PackageView>> {
    requireActor(ctx);
    const page = await ownedPackageIds(ctx.loaders.rows, accountId, args);
    const views = await ctx.loaders.package.loadMany(page.nodes.map((n) => n.id));
    const byId = new Map(views.flatMap((v) => (v && !(v instanceof Error) ? [[v.id, v] as const] : [])));
    return page.map((n) => byId.get(n.id)!);
  }

  /** The parent's ACTIVE, in-date packages the caller may buy (customers) or opt into (resellers). */
  async offers(ctx: Request, args: PageArgs): Promise<Page<PackageView>> {
    requireActor(ctx);
    const keyset = Keyset.of(args, 'asc');
    const parentId = parentIdOf(ctx.actor.path);
    if (!parentId || ctx.actor.kind === AccountKind.ADMIN)
      return this.viewPage(
        ctx.em,
        keyset.page<Package>(
          [],
          async () => 0,
          async () => false,
        ),
      );
    return this.viewPage(ctx.em, await findOffers(ctx.em, parentId, ctx.actor.kind, keyset));
  }

  /** An offer: ACTIVE, in date, flagged for the caller's kind, and every package up its chain still sellable. */
  private async isOffer(em: Em, pkg: Package, terms: PackageTerms, kind: AccountKind, at: Date): Promise<boolean> {
    return this.offeredTo(pkg, terms, kind, at) && (await lineageSellable(em, pkg.lineage));
  }

  /** Everything of an offer but its chain: ACTIVE, in date, flagged for the caller's kind. */
  private offeredTo(pkg: Package, terms: PackageTerms, kind: AccountKind, at: Date): boolean {
    if (pkg.status !== PackageStatus.ACTIVE || pkg.optedOutAt || !withinSaleDates(terms, at)) return false;
    return kind === AccountKind.CUSTOMER ? pkg.canBePurchased : kind === AccountKind.RESELLER && pkg.resellerCanResell;
  }

  private async requireOwned(ctx: AuthedRequest, em: Em, id: string): Promise<Package> {
    const pkg = await em.findOne(Package, { id });
    if (!pkg || !pkg.ownerPath.startsWith(ctx.actor.path)) throw notFound('Package not found');
    return pkg;
  }

  /** A MARGIN reseller may not sell below what it pays (DOMAIN.md 3). */
  private assertNotBelowCost(price: Decimal, setupFee: Decimal, source: Package): void {
    if (price.lt(source.price)) {
      throw new DomainError('PRICE_BELOW_COST', `The price must be at least the cost, ${formatMoney(source.price)}`, {
        field: 'price',
      });
    }
    if (setupFee.lt(source.setupFee)) {
      throw new DomainError('PRICE_BELOW_COST', `The setup fee must be at least the cost, ${formatMoney(source.setupFee)}`, {
        field: 'setupFee',
      });
    }
  }

  /**
   * After a package's prices change: COMMISSION clones follow (and their clones in turn); a MARGIN clone whose
   * price or setup fee is now below its cost is disabled with reason BELOW_COST, so it can no longer be sold
   * at a loss until its owner reprices it and turns it back on. Clones of a package are owned by children of
   * its owner, so they are always inside the scope of whoever may change the package.
   */
  private async propagatePrices(em: Em, changed: Package): Promise<void> {
    const clones = await em.find(Package, { sourceId: changed.id, optedOutAt: null });
    for (const clone of clones) {
      if (clone.priceFollowsSource) {
        clone.price = changed.price;
        clone.setupFee = changed.setupFee;
        await this.propagatePrices(em, clone);
      } else if (
        (clone.price.lt(changed.price) || clone.setupFee.lt(changed.setupFee)) &&
        clone.status === PackageStatus.ACTIVE
      ) {
        clone.status = PackageStatus.DISABLED;
        clone.statusReason = PackageStatusReason.BELOW_COST;
      }
    }
  }

  private applyTerms(terms: PackageTerms, data: TermsData): void {
    if (data.country !== undefined) terms.country = optionalText('country', data.country, 100) ?? null;
    if (data.category !== undefined) terms.category = optionalText('category', data.category, 100) ?? null;
    if (data.billingType) terms.billingType = data.billingType;
    if (data.billingDays !== undefined && data.billingDays !== null)
      terms.billingDays = wholeNumber('billingDays', data.billingDays, 1, 3660);
    if (data.freeMinutes !== undefined && data.freeMinutes !== null)
      terms.freeMinutes = wholeNumber('freeMinutes', data.freeMinutes, 0, 10_000_000);
    if (data.applicableFor) terms.applicableFor = data.applicableFor;
    if (data.destinations !== undefined && data.destinations !== null) {
      const destinations = data.destinations.map((d) => d.trim());
      const bad = destinations.find((d) => !/^[0-9]{1,20}$/.test(d));
      if (bad !== undefined) throw badInput('destinations', `Destinations are prefixes of digits only ("${bad}" is not)`);
      terms.destinations = [...new Set(destinations)];
    }
    if (data.chargeType) terms.chargeType = data.chargeType;
    if (data.releaseIfNoBalance !== undefined && data.releaseIfNoBalance !== null)
      terms.releaseIfNoBalance = data.releaseIfNoBalance;
    if (data.priority !== undefined && data.priority !== null) terms.priority = wholeNumber('priority', data.priority, 1, 1000);
    if (data.minimumDays !== undefined && data.minimumDays !== null)
      terms.minimumDays = wholeNumber('minimumDays', data.minimumDays, 0, 3660);
    if (data.activationPolicy) terms.activationPolicy = data.activationPolicy;
    if (data.advanceRenewHours !== undefined && data.advanceRenewHours !== null) {
      terms.advanceRenewHours = wholeNumber('advanceRenewHours', data.advanceRenewHours, 0, 24 * 366);
    }
    if (data.renewRetryHours !== undefined) {
      terms.renewRetryHours =
        data.renewRetryHours === null ? null : wholeNumber('renewRetryHours', data.renewRetryHours, 1, 24 * 366);
    }
    if (terms.renewRetryHours && !terms.releaseIfNoBalance) {
      throw badInput('renewRetryHours', 'renewRetryHours applies to packages that release when a renewal cannot be paid');
    }
    // Whether the price is a fee or a commitment decides how every period already charged was charged.
    if (data.minimumSpend !== undefined && data.minimumSpend !== null && data.minimumSpend !== terms.minimumSpend) {
      throw badInput('minimumSpend', 'minimumSpend is set when the package is created');
    }
    if (data.didQuantity !== undefined && data.didQuantity !== null)
      terms.didQuantity = wholeNumber('didQuantity', data.didQuantity, 0, 10_000);
    if (data.allowedDidTags !== undefined && data.allowedDidTags !== null)
      terms.allowedDidTags = didTags('allowedDidTags', data.allowedDidTags);
    if (data.didHoldDays !== undefined && data.didHoldDays !== null)
      terms.didHoldDays = wholeNumber('didHoldDays', data.didHoldDays, 0, 366);
    if (data.discounts !== undefined && data.discounts !== null) {
      const seen = new Set<number>();
      terms.discounts = data.discounts
        .map((d): DiscountRule => {
          if (!Number.isInteger(d.fromActivation) || d.fromActivation < 2) {
            throw badInput('discounts', 'A discount starts at the 2nd charged period or later (fromActivation >= 2)');
          }
          if (seen.has(d.fromActivation)) throw badInput('discounts', `Two discounts start at period ${d.fromActivation}`);
          seen.add(d.fromActivation);
          return { fromActivation: d.fromActivation, amount: nonNegative('discounts', d.amount).toFixed() };
        })
        .sort((a, b) => a.fromActivation - b.fromActivation);
    }
    if (data.startDate !== undefined) terms.startDate = data.startDate;
    if (data.endDate !== undefined) terms.endDate = data.endDate;
    if (terms.startDate && terms.endDate && terms.startDate >= terms.endDate) {
      throw badInput('endDate', 'endDate must be after startDate');
    }
  }

  async view(em: Em, pkg: Package): Promise<PackageView> {
    return toView(pkg, await em.findOneOrFail(PackageTerms, { id: pkg.termsId }));
  }

  /** Loads the terms of a page's packages in one query. */
  private async viewPage(em: Em, page: Page<Package>): Promise<Page<PackageView>> {
    const termsIds = [...new Set(page.nodes.map((p) => p.termsId))];
    const terms = termsIds.length ? await em.find(PackageTerms, { id: { $in: termsIds } }) : [];
    const byId = new Map(terms.map((t) => [t.id, t]));
    return page.map((p) => toView(p, byId.get(p.termsId)!));
  }
}
