import { subscriptionsPage, type SubscriptionView } from '../chains/subscriptions.js';
import {
  DAY_MS,
  firstCharge,
  firstChargeGross,
  periodEnd,
  periodRefund,
  taxesOnRefund,
  withinSaleDates,
} from '../billing/index.js';
import {
  activatePendingRows,
  chainTerms,
  childrenWithout,
  holdingPackage,
  insertChain,
  insertChains,
  lockPackageAssignment,
  mandatoryPackageIds,
  type LineagePackage,
  levelAccounts,
  lineagePackages,
  pendingChainsOf,
  type NewChain,
  type NewLevel,
} from '../chains/activation.js';
import { recordChainEvents } from '../chains/events.js';
import { holdNumbers, returnHeldNumbers } from '../dids/store.js';
import { endChain, lockChain, packageInUse, terminationTerms, periodsToRefund } from '../chains/termination.js';
import { withPlatformScope, type Em } from '../db/orm.js';
import {
  Account,
  AccountKind,
  AccountStatus,
  ActivationPolicy,
  Package,
  PackageStatus,
  PackageSubscription,
  PackageTerms,
  SubscriptionStatus,
} from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { earningsOf } from '../ledger/earnings.js';
import { AccountClosed, FloorNotMet, lockAccounts, post, type Posting } from '../ledger/post.js';
import { taxesOf } from '../taxes/rates.js';
import { formatMoney, type Decimal } from '../money.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import type { AccountService } from './account.service.js';
import { lockRatingOf } from '../calls/rating.js';
import type { IdempotencyService } from './idempotency.service.js';
import { type Page, type PageArgs } from './pagination.js';

export interface PurchaseData {
  packageId: string;
  idempotencyKey?: string | null;
}

export interface AssignData extends PurchaseData {
  accountId: string;
  startAt?: Date | null;
  /** With a past startAt: the account's calls since then are rated again (DOMAIN.md 14). */
  rerate?: boolean | null;
}

export interface SubscriptionListArgs extends PageArgs {
  status?: SubscriptionStatus | null;
}

/** What assignToChildren did: chains charged and ACTIVE, PENDING, and customers left out. */
export interface AssignReport {
  assigned: number;
  pending: number;
  skipped: number;
}

export interface Earnings {
  sales: Decimal;
  costs: Decimal;
  commissions: Decimal;
  margin: Decimal;
  taxes: Decimal;
}

export class SubscriptionService {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly accounts: AccountService,
    /**
     * assignPackage with rerate: the new chain's periods up to now charged (renewals catching up), then the
     * account's calls since the start rated again, in the same transaction.
     */
    private readonly backdated: (
      ctx: AuthedRequest,
      em: Em,
      buyer: Account,
      chainId: string,
      from: Date,
      to: Date,
    ) => Promise<unknown>,
  ) {}

  /** The caller (a customer) buys one of its offers. */
  purchase(ctx: Request, data: PurchaseData): Promise<PackageSubscription> {
    requireActor(ctx);
    return this.idempotent(ctx, 'PURCHASE', data, async (em) => {
      const buyer = await this.accounts.load(em, ctx.actor.accountId);
      const pkg = await em.findOne(Package, { id: data.packageId });
      if (
        !pkg ||
        pkg.ownerId !== buyer.parentId ||
        !pkg.canBePurchased ||
        pkg.status !== PackageStatus.ACTIVE ||
        pkg.optedOutAt
      ) {
        throw notFound('Package not found among your offers');
      }
      return this.activate(ctx, em, buyer, pkg, new Date());
    });
  }

  /** An ancestor subscribes an account to one of its parent's packages, possibly from a past instant. */
  assign(ctx: Request, data: AssignData): Promise<PackageSubscription> {
    requireActor(ctx);
    return this.idempotent(ctx, 'ASSIGN', data, async (em) => {
      const buyer = await this.accounts.load(em, data.accountId);
      if (buyer.id === ctx.actor.accountId) throw forbidden('Packages are assigned by an ancestor; use purchasePackage');
      const pkg = await em.findOne(Package, { id: data.packageId });
      if (!pkg || pkg.ownerId !== buyer.parentId) throw notFound("Package not found among the account's parent's packages");
      if (pkg.status !== PackageStatus.ACTIVE || pkg.optedOutAt)
        throw new DomainError('INVALID_STATE', 'The package is not active');
      const now = new Date();
      const startAt = data.startAt ?? now;
      if (startAt.getTime() > now.getTime() + 60_000) throw badInput('startAt', 'startAt cannot be in the future');
      // Every period since startAt is charged (renewals catch up), so backdating is bounded: a year at most.
      if (startAt.getTime() < now.getTime() - 366 * DAY_MS)
        throw badInput('startAt', 'startAt can be at most 366 days in the past');
      const rerate = !!data.rerate && startAt < now;
      // Re-rating charges the levels above the caller at today's rates: the platform's to ask for, as rerateCalls.
      if (rerate && ctx.actor.kind !== AccountKind.ADMIN) throw forbidden("Re-rating is the platform admin's (rerateCalls)");
      // Rating's lock on the account first, as live rating takes it before anything else.
      if (rerate) await lockRatingOf(em, [buyer.id]);
      const subscription = await this.activate(ctx, em, buyer, pkg, startAt);
      if (rerate) await this.backdated(ctx, em, buyer, subscription.chainId, startAt, now);
      return subscription;
    });
  }

  private idempotent(
    ctx: AuthedRequest,
    operation: string,
    data: PurchaseData | AssignData,
    run: (em: Em) => Promise<PackageSubscription>,
  ): Promise<PackageSubscription> {
    const { idempotencyKey, ...input } = data;
    return ctx.mutate((em) =>
      this.idempotency.run(ctx, em, {
        key: idempotencyKey,
        operation,
        input,
        execute: async () => {
          const sub = await run(em);
          return { id: sub.id, result: sub };
        },
        replay: async (id) => {
          const sub = await em.findOne(PackageSubscription, { id });
          if (!sub) throw notFound('Subscription not found');
          return sub;
        },
      }),
    );
  }

  /**
   * Creates the whole chain in the caller's transaction (DOMAIN.md 4): the buyer's subscription to `pkg`, and
   * for each reseller that owns a clone on the way up, its subscription to the package it cloned. Each level
   * is charged by its parent (setup fee + first-period price); COMMISSION resellers are credited their
   * commission. With DENY_IF_INSUFFICIENT nothing is written unless every level can pay.
   */
  private async activate(ctx: AuthedRequest, em: Em, buyer: Account, pkg: Package, start: Date): Promise<PackageSubscription> {
    if (buyer.kind !== AccountKind.CUSTOMER)
      throw badInput('accountId', 'Packages are subscribed by customers; resellers opt in');
    if (buyer.status !== AccountStatus.ACTIVE) throw new DomainError('INVALID_STATE', 'The account is not active');
    const terms = await em.findOneOrFail(PackageTerms, { id: pkg.termsId });
    if (terms.currency !== buyer.currency) {
      throw new DomainError('CURRENCY_MISMATCH', `This package is sold in ${terms.currency}; the account uses ${buyer.currency}`);
    }
    const now = new Date();
    if (!withinSaleDates(terms, now)) {
      throw new DomainError('INVALID_STATE', 'The package is outside its sale dates');
    }

    const chainId = newId('PackageSubscription');
    await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
      const levels = await this.priceChain(em, buyer, pkg, chainId);
      const end = periodEnd(terms.billingType, terms.billingDays, start, 1);
      const chain = { chainId, start, end, freeSeconds: terms.freeMinutes * 60, levels };
      if (terms.activationPolicy === ActivationPolicy.PENDING_IF_INSUFFICIENT) {
        // Charged now if every level can pay, else PENDING until a top-up or a renewal run finds the funds.
        const charged = await this.chargeInSavepoint(em, ctx.actor.accountId, chain, (tx) => insertChain(tx, chain));
        if (charged) await activated(em, [chain], terms.didQuantity);
        else await insertChain(em, chain, 'PENDING');
        return;
      }
      await insertChain(em, chain);
      try {
        await this.chargeFirstPeriod(
          em,
          ctx.actor.accountId,
          levels,
          terms.activationPolicy === ActivationPolicy.DENY_IF_INSUFFICIENT,
        );
        // After the accounts: subscriptions, accounts, numbers is the order every chain operation locks in.
        await activated(em, [chain], terms.didQuantity);
      } catch (error) {
        if (!(error instanceof FloorNotMet)) throw error;
        const { level } = levels.find((x) => x.accountId === error.accountId)!;
        throw new DomainError(
          'INSUFFICIENT_FUNDS',
          level === 0
            ? `Insufficient funds: ${formatMoney(error.floor)} needed, ${formatMoney(error.available)} available`
            : `Insufficient funds at level ${level} of the chain (the reseller ${level} level${level > 1 ? 's' : ''} up)`,
          { details: { level } },
        );
      }
    });
    return em.findOneOrFail(PackageSubscription, { id: chainId });
  }

  /**
   * assignToChildren (DOMAIN.md 13): one of the caller's packages to every direct child customer that does not
   * hold it yet (on a rate group, when given), in one transaction and a fixed number of statements however many
   * customers. Idempotent: a customer holding a live chain of the package is left out, and concurrent calls for
   * one package queue.
   */
  assignToChildren(ctx: Request, packageId: string, rateGroupId: string | null | undefined): Promise<AssignReport> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const pkg = await em.findOne(Package, { id: packageId });
      if (!pkg || pkg.ownerId !== ctx.actor.accountId) throw notFound('Package not found among your own packages');
      if (pkg.status !== PackageStatus.ACTIVE || pkg.optedOutAt)
        throw new DomainError('INVALID_STATE', 'The package is not active');
      await lockPackageAssignment(em, pkg.id);
      const children = await childrenWithout(em, ctx.actor.accountId, pkg.id, rateGroupId ?? null);
      return this.activateMany(ctx, em, children, pkg);
    });
  }

  /** A new customer: its parent's mandatory packages, each as assignPackage would, in the creating transaction. */
  async assignMandatory(ctx: AuthedRequest, em: Em, customer: Account): Promise<void> {
    if (!customer.parentId) return;
    for (const id of await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, () =>
      mandatoryPackageIds(em, customer.parentId!),
    )) {
      const pkg = await em.findOneOrFail(Package, { id });
      const terms = await em.findOneOrFail(PackageTerms, { id: pkg.termsId });
      if (!withinSaleDates(terms, new Date())) continue;
      try {
        // In a savepoint: a refusal met after the chain's rows are written (a level deleted meanwhile) takes them back.
        await em.transactional((tx) => this.activateMany(ctx, tx, [customer], pkg));
      } catch (error) {
        // Not sellable from upstream now: the customer is created without it, as when it cannot pay, and
        // assignToChildren applies it later.
        if (!(error instanceof DomainError && error.code === 'INVALID_STATE')) throw error;
      }
    }
  }

  /**
   * Chains of one package for many buyers at once, set-based: priced from one read of the lineage, the levels'
   * accounts and their taxes; judged under the accounts' locks, chain after chain on the running balances, by
   * the package's activation policy (a chain some level cannot pay is left out under DENY_IF_INSUFFICIENT,
   * PENDING under PENDING_IF_INSUFFICIENT, charged anyway under ALLOW_IF_INSUFFICIENT); written in two
   * statements and posted in one.
   */
  private async activateMany(
    ctx: AuthedRequest,
    em: Em,
    buyers: { id: string; path: string; currency: string; status: string }[],
    pkg: Package,
  ): Promise<AssignReport> {
    const report: AssignReport = { assigned: 0, pending: 0, skipped: 0 };
    const terms = await em.findOneOrFail(PackageTerms, { id: pkg.termsId });
    const start = new Date();
    if (!withinSaleDates(terms, start)) throw new DomainError('INVALID_STATE', 'The package is outside its sale dates');
    const eligible = buyers.filter((b) => b.currency === terms.currency && b.status === AccountStatus.ACTIVE);
    report.skipped = buyers.length - eligible.length;
    if (eligible.length === 0) return report;
    const end = periodEnd(terms.billingType, terms.billingDays, start, 1);
    return withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
      const ids = [...pkg.lineage, pkg.id];
      const packages = await lineagePackages(em, ids);
      const lineage = ids.map((id) => packages.get(id));
      if (lineage.some((p) => !p || p.status !== PackageStatus.ACTIVE || p.optedOutAt)) {
        throw new DomainError('INVALID_STATE', 'The package is not available from upstream at the moment');
      }
      // Above the buyers the levels are the same for every chain: each reseller that cloned on the way up.
      const upper: { accountId: string; pkg: LineagePackage }[] = [];
      for (let i = lineage.length - 1; i >= 1; i--) upper.push({ accountId: lineage[i]!.ownerId, pkg: lineage[i - 1]! });
      const accountIds = [...eligible.map((b) => b.id), ...upper.map((u) => u.accountId)];
      const accounts = await levelAccounts(
        em,
        upper.map((u) => u.accountId),
      );
      if (upper.some((u) => accounts.get(u.accountId)?.status === AccountStatus.DELETED)) {
        throw new DomainError('INVALID_STATE', 'A reseller of this chain is deleted');
      }
      const taxes = await taxesOf(em, accountIds);
      const chains: NewChain[] = eligible.map((buyer) => {
        const chainId = newId('PackageSubscription');
        const plan: { account: { id: string; path: string; resellerModel: string | null }; pkg: LineagePackage }[] = [
          { account: { id: buyer.id, path: buyer.path, resellerModel: null }, pkg: lineage.at(-1)! },
          ...upper.map((u) => ({ account: accounts.get(u.accountId)!, pkg: u.pkg })),
        ];
        const levels = plan.map((p, level) => ({
          subscriptionId: level === 0 ? chainId : newId('PackageSubscription'),
          level,
          accountId: p.account.id,
          ownerPath: p.account.path,
          packageId: p.pkg.id,
          ...firstCharge(level, p.pkg, p.account.resellerModel, taxes.get(p.account.id) ?? []),
        }));
        return { chainId, start, end, freeSeconds: terms.freeMinutes * 60, levels };
      });
      // Judged under the locks the posting engine takes anyway (the same order), so nothing moves meanwhile: the
      // accounts' status, the chains bought since the children were listed, and the balances.
      const funds = await lockAccounts(em, accountIds);
      if (upper.some((u) => funds.get(u.accountId)?.status === AccountStatus.DELETED)) {
        throw new DomainError('INVALID_STATE', 'A reseller of this chain is deleted');
      }
      const holding = await holdingPackage(
        em,
        eligible.map((b) => b.id),
        pkg.id,
      );
      const available = new Map([...funds].map(([id, f]) => [id, f.available]));
      const charged: NewChain[] = [];
      const pending: NewChain[] = [];
      for (const chain of chains) {
        const buyer = chain.levels[0].accountId;
        if (funds.get(buyer)?.status !== AccountStatus.ACTIVE || holding.has(buyer)) continue;
        const payable = chain.levels.every((l) => available.get(l.accountId)!.gte(firstChargeGross(l)));
        if (payable || terms.activationPolicy === ActivationPolicy.ALLOW_IF_INSUFFICIENT) {
          for (const l of chain.levels) {
            available.set(l.accountId, available.get(l.accountId)!.minus(firstChargeGross(l)).plus(l.commission));
          }
          charged.push(chain);
        } else if (terms.activationPolicy === ActivationPolicy.PENDING_IF_INSUFFICIENT) {
          pending.push(chain);
        }
      }
      await insertChains(em, charged);
      await insertChains(em, pending, 'PENDING');
      await this.chargeFirstPeriod(
        em,
        ctx.actor.accountId,
        charged.flatMap((c) => c.levels),
        false,
      );
      await activated(em, charged, terms.didQuantity);
      return {
        assigned: charged.length,
        pending: pending.length,
        skipped: report.skipped + chains.length - charged.length - pending.length,
      };
    });
  }

  /**
   * Bottom-up, each level's fees, their taxes, then its commission. With `floors` (DENY_IF_INSUFFICIENT, and
   * activating a PENDING chain) every level's available balance must cover its fees with their taxes, checked
   * under the posting engine's locks, so the check and the charge cannot drift (FloorNotMet otherwise).
   */
  private async chargeFirstPeriod(em: Em, actorId: string | null, levels: NewLevel[], floorsOn: boolean): Promise<void> {
    const postings = levels.flatMap((l): Posting[] => {
      const base = { accountId: l.accountId, actorId, subscriptionId: l.subscriptionId };
      const description = `${l.packageId} period 1`;
      return [
        { ...base, amount: l.setupFee.neg(), kind: 'SETUP_FEE', description },
        { ...base, amount: l.price.neg(), kind: 'PACKAGE_FEE', description },
        ...l.taxes.map((t) => ({ ...base, amount: t.amount.neg(), kind: 'TAX' as const, description, taxRateId: t.taxRateId })),
        { ...base, amount: l.commission, kind: 'COMMISSION', description },
      ];
    });
    const floors = new Map(floorsOn ? levels.map((l) => [l.accountId, firstChargeGross(l)]) : []);
    try {
      // `open`: a level deleted since it was read is refused under the lock, as it was before posting moved last.
      await post(em, postings, { floors, open: levels.map((l) => l.accountId) });
    } catch (error) {
      if (error instanceof AccountClosed) throw new DomainError('INVALID_STATE', 'A reseller of this chain is deleted');
      throw error;
    }
  }

  /** Writes the chain's rows and charges its first period in a savepoint: false, with nothing written, if a level cannot pay. */
  private async chargeInSavepoint(
    em: Em,
    actorId: string | null,
    chain: NewChain,
    write: (tx: Em) => Promise<void>,
  ): Promise<boolean> {
    try {
      await em.transactional(async (tx) => {
        await write(tx);
        await this.chargeFirstPeriod(tx, actorId, chain.levels, true);
      });
      return true;
    } catch (error) {
      if (error instanceof FloorNotMet) return false;
      throw error;
    }
  }

  /**
   * Activates the PENDING chains whose every level can now pay (DOMAIN.md 10): charged and ACTIVE, their first
   * period starting now. Each chain in its own savepoint; one still short stays PENDING. In the caller's
   * transaction, which must see the whole platform. Returns how many were activated.
   */
  async activatePending(em: Em, chainIds: string[], actorId: string | null): Promise<number> {
    let count = 0;
    for (const chainId of chainIds) {
      // Never waits for a chain another transaction holds (it is activating or ending it): the top-up path holds
      // an account lock here already, and waiting for a subscription after an account inverts the lock order.
      const rows = await lockChain(em, chainId, { skipLocked: true });
      if (rows.length === 0 || rows[0].status !== SubscriptionStatus.PENDING) continue;
      const ids = rows.map((r) => r.packageId);
      const packages = await lineagePackages(em, ids);
      const accounts = await levelAccounts(
        em,
        rows.map((r) => r.accountId),
      );
      const taxes = await taxesOf(
        em,
        rows.map((r) => r.accountId),
      );
      const terms = await chainTerms(em, rows[0].packageId);
      const start = new Date();
      // Still for sale, as at purchase: every package of the lineage active, within its dates, the buyer active
      // and no level deleted. Otherwise the chain waits (its buyer or an ancestor may cancel it).
      const sellable =
        rows.every((r) => {
          const p = packages.get(r.packageId);
          return p && p.status === PackageStatus.ACTIVE && !p.optedOutAt;
        }) &&
        accounts.get(rows[0].accountId)?.status === AccountStatus.ACTIVE &&
        rows.every((r) => accounts.get(r.accountId) && accounts.get(r.accountId)!.status !== AccountStatus.DELETED) &&
        withinSaleDates(terms, start);
      if (!sellable) continue;
      const levels: NewLevel[] = rows.map((r) => ({
        subscriptionId: r.id,
        level: r.level,
        accountId: r.accountId,
        ownerPath: r.ownerPath,
        packageId: r.packageId,
        ...firstCharge(
          r.level,
          packages.get(r.packageId)!,
          accounts.get(r.accountId)!.resellerModel,
          taxes.get(r.accountId) ?? [],
        ),
      }));
      const chain = {
        chainId,
        start,
        end: periodEnd(terms.billingType, terms.billingDays, start, 1),
        freeSeconds: terms.freeMinutes * 60,
        levels,
      };
      try {
        if (!(await this.chargeInSavepoint(em, actorId, chain, (tx) => activatePendingRows(tx, chain)))) continue;
      } catch (error) {
        // A level deleted since it was read (refused under the lock): the chain waits, nothing else fails.
        if (error instanceof DomainError) continue;
        throw error;
      }
      await activated(em, [chain], terms.didQuantity);
      count++;
    }
    return count;
  }

  /** After money reached an account: its PENDING chains, at any level, are tried (within its platform). */
  async activatePendingOf(ctx: AuthedRequest, em: Em, accountId: string): Promise<number> {
    return withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () =>
      this.activatePending(em, await pendingChainsOf(em, accountId), ctx.actor.accountId),
    );
  }

  /**
   * Levels from the buyer (0) up to the reseller that cloned the original, each priced by its package. Level 0:
   * the buyer subscribes to P_k; level j: the owner of P_(k-j+1) subscribes to P_(k-j).
   */
  private async priceChain(em: Em, buyer: Account, pkg: Package, chainId: string): Promise<NewLevel[]> {
    const ids = [...pkg.lineage, pkg.id];
    const packages = await lineagePackages(em, ids);
    const chain = ids.map((id) => packages.get(id));
    if (chain.some((p) => !p || p.status !== PackageStatus.ACTIVE || p.optedOutAt)) {
      throw new DomainError('INVALID_STATE', 'The package is not available from upstream at the moment');
    }
    const plan = [{ accountId: buyer.id, pkg: chain.at(-1)! }];
    for (let i = chain.length - 1; i >= 1; i--) plan.push({ accountId: chain[i]!.ownerId, pkg: chain[i - 1]! });
    const accountIds = plan.map((p) => p.accountId);
    const accounts = await levelAccounts(em, accountIds);
    const taxes = await taxesOf(em, accountIds);
    return plan.map((p, level) => {
      const account = accounts.get(p.accountId)!;
      if (account.status === AccountStatus.DELETED) throw new DomainError('INVALID_STATE', 'A reseller of this chain is deleted');
      return {
        subscriptionId: level === 0 ? chainId : newId('PackageSubscription'),
        level,
        accountId: account.id,
        ownerPath: account.path,
        packageId: p.pkg.id,
        ...firstCharge(level, p.pkg, account.resellerModel, taxes.get(account.id) ?? []),
      };
    });
  }

  /**
   * Ends a chain early (DOMAIN.md 6): any level's id names the chain. Each level is refunded by its parent
   * from what it was charged for the current period, by the package's charge type; commissions are reversed
   * in proportion. Allowed to the customer itself and to its ancestors.
   */
  async terminate(ctx: Request, id: string, at?: Date | null): Promise<PackageSubscription> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const visible = await em.findOne(PackageSubscription, { id });
      if (!visible) throw notFound('Subscription not found');
      const now = new Date();
      const when = at ?? now;
      if (when.getTime() > now.getTime() + 60_000) throw badInput('at', 'Termination cannot be in the future');
      // A past instant decides how much comes back at every level, the caller's own parent included: only the
      // platform admin, who stands behind every level's money, may backdate a termination.
      if (when.getTime() < now.getTime() - 60_000 && ctx.actor.kind !== AccountKind.ADMIN) {
        throw badInput('at', 'Only the platform admin may backdate a termination');
      }

      await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
        const chain = await lockChain(em, visible.chainId);
        const head = chain[0];
        if (!head.ownerPath.startsWith(ctx.actor.path)) throw notFound('Subscription not found');
        if (head.accountId === ctx.actor.accountId && (await em.findOneOrFail(Package, { id: head.packageId })).mandatory) {
          throw forbidden('A mandatory package is ended by its seller (the parent) or above');
        }
        const terminated = () =>
          recordChainEvents(em, [
            {
              type: 'SUBSCRIPTION_TERMINATED',
              chainId: visible.chainId,
              levels: chain.map((l) => ({ ...l, subscriptionId: l.id })),
              state: {
                status: SubscriptionStatus.TERMINATED,
                periodStart: head.currentPeriodStart,
                periodEnd: head.currentPeriodEnd,
                periodsCharged: head.periodsCharged,
                endedAt: when,
              },
            },
          ]);
        if (head.status === SubscriptionStatus.PENDING) {
          // Cancelled before it began: nothing was charged, nothing comes back.
          await endChain(em, visible.chainId, when, []);
          await terminated();
          return;
        }
        if (head.status !== SubscriptionStatus.ACTIVE && head.status !== SubscriptionStatus.PAST_DUE)
          throw new DomainError('INVALID_STATE', `The subscription is ${head.status}`);
        const terms = await terminationTerms(em, head.packageId);
        if (when < head.currentPeriodStart) throw badInput('at', 'Termination cannot be before the current period started');
        if (when.getTime() - head.activatedAt.getTime() < terms.minimumDays * DAY_MS) {
          throw new DomainError('MINIMUM_TERM', `The minimum term is ${terms.minimumDays} days from activation`);
        }
        // Bottom-up, each level's periods in order: the running one by its charge type, any paid ahead whole.
        const levelOf = new Map(chain.map((sub) => [sub.id, sub]));
        const periods = (
          await periodsToRefund(
            em,
            chain.map((sub) => sub.id),
          )
        ).sort(
          (x, y) =>
            levelOf.get(x.subscriptionId)!.level - levelOf.get(y.subscriptionId)!.level || x.periodNumber - y.periodNumber,
        );
        // A PAST_DUE chain's paid period is over and the one running is unpaid: nothing comes back.
        const refunds =
          head.status === SubscriptionStatus.PAST_DUE
            ? []
            : periods.map((period) => ({ ...period, ...periodRefund(period, terms.chargeType, when) }));
        await endChain(em, visible.chainId, when, refunds);
        await terminated();
        await post(
          em,
          refunds.flatMap((r) => {
            const sub = levelOf.get(r.subscriptionId)!;
            const base = { accountId: sub.accountId, actorId: ctx.actor.accountId, subscriptionId: sub.id };
            const description = `${sub.packageId} period ${r.periodNumber}`;
            // Each tax that applied to the refunded fee is given back on the net refund, at its percentage then.
            return [
              { ...base, amount: r.refund, kind: 'REFUND' as const, description },
              ...taxesOnRefund(r.refund, r.price, r.taxes).map((t) => ({
                ...base,
                amount: t.amount,
                kind: 'TAX_REFUND' as const,
                description,
                taxRateId: t.taxRateId,
              })),
              { ...base, amount: r.reversal.neg(), kind: 'COMMISSION_REVERSAL' as const, description },
            ];
          }),
        );
        // The buyer's numbers are kept for it for the package's hold (a past-due chain's are on hold already),
        // after the accounts: subscriptions, accounts, numbers is the order every chain operation locks in.
        await holdNumbers(em, [{ subscriptionId: head.id, at: when }]);
      });
      await em.refresh(visible);
      return visible;
    });
  }

  async find(ctx: Request, id: string): Promise<PackageSubscription | null> {
    requireActor(ctx);
    return ctx.em.findOne(PackageSubscription, { id });
  }

  /**
   * An account's own subscriptions (its level of each chain), oldest first. Batched: the accounts of a page
   * asking for their subscriptions share one query (and one count), so a list costs the same number of
   * statements whatever its size.
   */
  async list(ctx: Request, accountId: string, args: SubscriptionListArgs): Promise<Page<SubscriptionView>> {
    requireActor(ctx);
    return subscriptionsPage(ctx.loaders.rows, accountId, args);
  }

  /** optOut and the like: a package some live subscription still uses. */
  isInUse(em: Em, packageId: string): Promise<boolean> {
    return packageInUse(em, packageId);
  }

  /**
   * A reseller's trading over [from, to), from the ledger: sales (what its children were charged, net of
   * refunds and of the commissions it credited them), costs (what it was charged, net of refunds),
   * commissions received (net of reversals), and margin = sales - costs + commissions.
   */
  async earnings(ctx: Request, accountId: string, from: Date, to: Date): Promise<Earnings> {
    requireActor(ctx);
    if (from >= to) throw badInput('to', '`to` must be after `from`');
    const account = await this.accounts.find(ctx, accountId);
    if (!account) throw notFound('Account not found');
    if (account.kind === AccountKind.CUSTOMER) throw badInput('accountId', 'Earnings are for resellers and admins');
    const row = await earningsOf(ctx.em, account.id, from, to);
    return { ...row, margin: row.sales.minus(row.costs).plus(row.commissions) };
  }
}

/**
 * A chain just charged for its first period: SUBSCRIPTION_ACTIVATED for each level, and the buyer's numbers on
 * hold from an earlier subscription to the same package come back to it (DOMAIN.md 12).
 */
async function activated(em: Em, all: NewChain[], didQuantity: number): Promise<void> {
  if (all.length === 0) return;
  await returnHeldNumbers(
    em,
    all.map(({ levels: [buyer] }) => ({
      subscriptionId: buyer.subscriptionId,
      accountId: buyer.accountId,
      packageId: buyer.packageId,
      quantity: didQuantity,
    })),
    new Date(),
  );
  await recordChainEvents(
    em,
    all.map((chain) => ({
      type: 'SUBSCRIPTION_ACTIVATED' as const,
      chainId: chain.chainId,
      levels: chain.levels,
      state: { status: 'ACTIVE', periodStart: chain.start, periodEnd: chain.end, periodsCharged: 1, endedAt: null },
    })),
  );
}
