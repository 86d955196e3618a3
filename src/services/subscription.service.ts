import { requireActor, type AuthedRequest, type Request } from '../request.js';
import { executeBound, pgArray, withPlatformScope, type Em } from '../db/orm.js';
import {
  Account,
  AccountKind,
  AccountStatus,
  ActivationPolicy,
  ChargeType,
  Package,
  PackageStatus,
  PackageSubscription,
  PackageTerms,
  ResellerModel,
  SubscriptionStatus,
} from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal, ZERO, formatMoney, roundMoney } from '../money.js';
import { FloorNotMet, post, type Posting } from '../ledger/post.js';
import type { IdempotencyService } from './idempotency.service.js';
import type { AccountService } from './account.service.js';
import { Keyset, pageWindow, type Page, type PageArgs } from './pagination.js';
import {
  CHARGE_KINDS,
  COMMISSION_KINDS,
  commissionOn,
  commissionReversal,
  DAY_MS,
  periodEnd,
  refundFor,
} from '../billing/index.js';

export interface PurchaseData {
  packageId: string;
  idempotencyKey?: string | null;
}

export interface AssignData extends PurchaseData {
  accountId: string;
  startAt?: Date | null;
}

export interface SubscriptionListArgs extends PageArgs {
  status?: SubscriptionStatus | null;
}

export interface Earnings {
  sales: Decimal;
  costs: Decimal;
  commissions: Decimal;
  margin: Decimal;
}

interface ChainPackageRow {
  id: string;
  owner_id: string;
  status: PackageStatus;
  opted_out_at: Date | null;
  price: string;
  setup_fee: string;
  commission_rate: string;
}

interface ChainAccountRow {
  id: string;
  path: string;
  currency: string;
  reseller_model: ResellerModel | null;
  status: AccountStatus;
}

interface Level {
  level: number;
  subscriptionId: string;
  account: ChainAccountRow;
  pkg: ChainPackageRow;
  setupFee: Decimal;
  price: Decimal;
  commissionRate: Decimal;
  commission: Decimal;
}

interface ChainSubscriptionRow {
  id: string;
  account_id: string;
  owner_path: string;
  package_id: string;
  level: number;
  status: SubscriptionStatus;
  activated_at: Date;
  current_period_start: Date;
  current_period_end: Date;
  periods_charged: number;
  current_period_number: number;
  free_seconds_total: number;
  free_seconds_used: number;
}

export class SubscriptionService {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly accounts: AccountService,
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
      return this.activate(ctx, em, buyer, pkg, startAt);
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
    if ((terms.startDate && terms.startDate > now) || (terms.endDate && terms.endDate <= now)) {
      throw new DomainError('INVALID_STATE', 'The package is outside its sale dates');
    }

    const chainId = newId('PackageSubscription');
    await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
      const levels = await this.loadChain(em, buyer, pkg, chainId);
      const end = periodEnd(terms.billingType, terms.billingDays, start, 1);
      const freeSeconds = terms.freeMinutes * 60;
      await em.execute(
        `insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                            current_period_start, current_period_end, periods_charged, free_seconds_total)
         select x.id, x.account_id, x.owner_path, x.package_id, ?, x.level, 'ACTIVE', ?, ?, ?, 1, ?
           from json_to_recordset(?::json) as x(id text, account_id text, owner_path text, package_id text, level int)`,
        [
          chainId,
          start,
          start,
          end,
          freeSeconds,
          JSON.stringify(
            levels.map((l) => ({
              id: l.subscriptionId,
              account_id: l.account.id,
              owner_path: l.account.path,
              package_id: l.pkg.id,
              level: l.level,
            })),
          ),
        ],
      );
      await em.execute(
        `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee,
                                           price, commission_rate, commission, charged_at)
         select x.id, 1, x.owner_path, ?, ?, x.setup_fee::numeric, x.price::numeric, x.rate::numeric, x.commission::numeric, now()
           from json_to_recordset(?::json) as x(id text, owner_path text, setup_fee text, price text, rate text, commission text)`,
        [
          start,
          end,
          JSON.stringify(
            levels.map((l) => ({
              id: l.subscriptionId,
              owner_path: l.account.path,
              setup_fee: l.setupFee.toFixed(),
              price: l.price.toFixed(),
              rate: l.commissionRate.toFixed(),
              commission: l.commission.toFixed(),
            })),
          ),
        ],
      );
      // Bottom-up, each level's fees then its commission. DENY_IF_INSUFFICIENT is a floor on every level's
      // available balance, checked under the posting engine's locks, so the check and the charge cannot drift.
      const postings = levels.flatMap((l) => {
        const base = { accountId: l.account.id, actorId: ctx.actor.accountId, subscriptionId: l.subscriptionId };
        const description = `${l.pkg.id} period 1`;
        return [
          { ...base, amount: l.setupFee.neg(), kind: 'SETUP_FEE' as const, description },
          { ...base, amount: l.price.neg(), kind: 'PACKAGE_FEE' as const, description },
          { ...base, amount: l.commission, kind: 'COMMISSION' as const, description },
        ];
      });
      const deny = terms.activationPolicy === ActivationPolicy.DENY_IF_INSUFFICIENT;
      const floors = new Map(deny ? levels.map((l) => [l.account.id, l.setupFee.plus(l.price)]) : []);
      try {
        await post(em, postings, { floors });
      } catch (error) {
        if (!(error instanceof FloorNotMet)) throw error;
        const l = levels.find((x) => x.account.id === error.accountId)!;
        throw new DomainError(
          'INSUFFICIENT_FUNDS',
          l.level === 0
            ? `Insufficient funds: ${formatMoney(error.floor)} needed, ${formatMoney(error.available)} available`
            : `Insufficient funds at level ${l.level} of the chain (the reseller ${l.level} level${l.level > 1 ? 's' : ''} up)`,
          { details: { level: l.level } },
        );
      }
    });
    return em.findOneOrFail(PackageSubscription, { id: chainId });
  }

  /** Levels from the buyer (0) up to the reseller that cloned the original (the posting engine locks them). */
  private async loadChain(em: Em, buyer: Account, pkg: Package, chainId: string): Promise<Level[]> {
    const ids = [...pkg.lineage, pkg.id];
    const rows = await em.execute<ChainPackageRow[]>(
      `select id, owner_id, status, opted_out_at, price::text, setup_fee::text, commission_rate::text
         from packages where id = any(?::text[])`,
      [`{${ids.join(',')}}`],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const chain = ids.map((id) => byId.get(id));
    if (chain.some((p) => !p || p.status !== PackageStatus.ACTIVE || p.opted_out_at)) {
      throw new DomainError('INVALID_STATE', 'The package is not available from upstream at the moment');
    }
    // Level 0: the buyer subscribes to P_k; level j: the owner of P_(k-j+1) subscribes to P_(k-j).
    const plan = [{ accountId: buyer.id, pkg: chain.at(-1)! }];
    for (let i = chain.length - 1; i >= 1; i--) plan.push({ accountId: chain[i]!.owner_id, pkg: chain[i - 1]! });

    const accounts = await em.execute<ChainAccountRow[]>(
      `select id, path, currency, reseller_model, status from accounts where id = any(?::text[])`,
      [`{${plan.map((p) => p.accountId).join(',')}}`],
    );
    const accountById = new Map(accounts.map((a) => [a.id, a]));
    return plan.map((p, level) => {
      const account = accountById.get(p.accountId)!;
      if (account.status === AccountStatus.DELETED) throw new DomainError('INVALID_STATE', 'A reseller of this chain is deleted');
      const setupFee = roundMoney(new Decimal(p.pkg.setup_fee));
      const price = roundMoney(new Decimal(p.pkg.price));
      const earnsCommission = level > 0 && account.reseller_model === ResellerModel.COMMISSION;
      const commissionRate = earnsCommission ? new Decimal(p.pkg.commission_rate) : ZERO;
      return {
        level,
        subscriptionId: level === 0 ? chainId : newId('PackageSubscription'),
        account,
        pkg: p.pkg,
        setupFee,
        price,
        commissionRate,
        commission: commissionOn(commissionRate, setupFee.plus(price)),
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
        const chain = await em.execute<ChainSubscriptionRow[]>(
          `select id, account_id, owner_path, package_id, level, status, activated_at, current_period_start,
                  current_period_end, periods_charged, current_period_number, free_seconds_total, free_seconds_used
             from package_subscriptions where chain_id = ? order by id for no key update`,
          [visible.chainId],
        );
        // Locked in id order, as rating locks subscriptions across chains; processed bottom-up.
        chain.sort((a, b) => a.level - b.level);
        const head = chain[0];
        if (!head.owner_path.startsWith(ctx.actor.path)) throw notFound('Subscription not found');
        if (head.status !== SubscriptionStatus.ACTIVE)
          throw new DomainError('INVALID_STATE', `The subscription is ${head.status}`);
        const [terms] = await em.execute<{ charge_type: ChargeType; minimum_days: number }[]>(
          `select t.charge_type, t.minimum_days from packages p join package_terms t on t.id = p.terms_id where p.id = ?`,
          [head.package_id],
        );
        const periodStart = new Date(head.current_period_start);
        if (when < periodStart) throw badInput('at', 'Termination cannot be before the current period started');
        if (when.getTime() - new Date(head.activated_at).getTime() < terms.minimum_days * DAY_MS) {
          throw new DomainError('MINIMUM_TERM', `The minimum term is ${terms.minimum_days} days from activation`);
        }
        // The running period by its charge type; periods paid ahead (advance renew) come back whole.
        const periods = await executeBound<
          { subscription_id: string; period_number: number; price: string; commission: string; commission_rate: string }[]
        >(
          em,
          `select p.subscription_id, p.period_number, p.price::text, p.commission::text, p.commission_rate::text
             from subscription_periods p join package_subscriptions s on s.id = p.subscription_id
            where p.subscription_id = any(?::text[])
              and p.period_number between s.current_period_number and s.periods_charged`,
          [pgArray(chain.map((sub) => sub.id))],
        );
        const subById = new Map(chain.map((sub) => [sub.id, sub]));
        const level = (id: string) => subById.get(id)!.level;
        periods.sort((x, y) => level(x.subscription_id) - level(y.subscription_id) || x.period_number - y.period_number);
        const postings: Posting[] = [];
        const returned = periods.map((period) => {
          const sub = subById.get(period.subscription_id)!;
          const price = new Decimal(period.price);
          const refund =
            period.period_number === sub.current_period_number
              ? refundFor({
                  chargeType: terms.charge_type,
                  price,
                  periodStart: new Date(sub.current_period_start),
                  periodEnd: new Date(sub.current_period_end),
                  at: when,
                  freeSecondsTotal: sub.free_seconds_total,
                  freeSecondsUsed: sub.free_seconds_used,
                })
              : price;
          const reversal = commissionReversal(new Decimal(period.commission), new Decimal(period.commission_rate), refund);
          const base = { accountId: sub.account_id, actorId: ctx.actor.accountId, subscriptionId: sub.id };
          const description = `${sub.package_id} period ${period.period_number}`;
          postings.push(
            { ...base, amount: refund, kind: 'REFUND', description },
            { ...base, amount: reversal.neg(), kind: 'COMMISSION_REVERSAL', description },
          );
          return { ...period, refund: refund.toFixed(), reversal: reversal.toFixed() };
        });
        await executeBound(
          em,
          `update subscription_periods p set refund = x.refund, commission_reversal = x.reversal
             from unnest(?::text[], ?::int[], ?::numeric[], ?::numeric[]) as x(subscription_id, period_number, refund, reversal)
            where p.subscription_id = x.subscription_id and p.period_number = x.period_number`,
          [
            pgArray(returned.map((r) => r.subscription_id)),
            pgArray(returned.map((r) => r.period_number)),
            pgArray(returned.map((r) => r.refund)),
            pgArray(returned.map((r) => r.reversal)),
          ],
        );
        await post(em, postings);
        await em.execute(`update package_subscriptions set status = 'TERMINATED', ended_at = ? where chain_id = ?`, [
          when,
          visible.chainId,
        ]);
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
  async list(ctx: Request, accountId: string, args: SubscriptionListArgs): Promise<Page<PackageSubscription>> {
    requireActor(ctx);
    const window = pageWindow(args);
    const status = args.status ?? null;
    const rows = await ctx.loaders.subscriptionPages.load({ accountId, window, status });
    return new Keyset(window, 'asc').page(
      rows,
      () => ctx.loaders.subscriptionCounts.load({ accountId, status }),
      (bound) => ctx.loaders.subscriptionExists.load({ accountId, status, bound }),
    );
  }

  /** optOut and the like: a package some live subscription still uses. */
  async isInUse(em: Em, packageId: string): Promise<boolean> {
    const [row] = await em.execute<{ used: boolean }[]>(
      `select exists (select 1 from package_subscriptions where package_id = ? and status = 'ACTIVE') as used`,
      [packageId],
    );
    return row.used;
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
    const childKinds = [...CHARGE_KINDS, ...COMMISSION_KINDS];
    const [row] = await ctx.em.execute<{ sales: string; costs: string; commissions: string }[]>(
      `select
         (select coalesce(-sum(l.amount), 0)::text from ledger_entries l join accounts c on c.id = l.account_id
           where c.parent_id = ? and l.kind = any(?::text[]) and l.created_at >= ? and l.created_at < ?) as sales,
         (select coalesce(-sum(amount), 0)::text from ledger_entries
           where account_id = ? and kind = any(?::text[]) and created_at >= ? and created_at < ?) as costs,
         (select coalesce(sum(amount), 0)::text from ledger_entries
           where account_id = ? and kind = any(?::text[]) and created_at >= ? and created_at < ?) as commissions`,
      [
        account.id,
        `{${childKinds.join(',')}}`,
        from,
        to,
        account.id,
        `{${CHARGE_KINDS.join(',')}}`,
        from,
        to,
        account.id,
        `{${COMMISSION_KINDS.join(',')}}`,
        from,
        to,
      ],
    );
    const sales = new Decimal(row.sales);
    const costs = new Decimal(row.costs);
    const commissions = new Decimal(row.commissions);
    return { sales, costs, commissions, margin: sales.minus(costs).plus(commissions) };
  }
}
