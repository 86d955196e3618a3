import type { Config } from '../config.js';
import { withPlatformScope, type Database } from '../db/orm.js';
import { AccountService } from './account.service.js';
import { AlertService } from './alert.service.js';
import { AuthService } from './auth.service.js';
import { BalanceService } from './balance.service.js';
import { DidService } from './did.service.js';
import { IdempotencyService } from './idempotency.service.js';
import { InvoiceService } from './invoice.service.js';
import { PackageService } from './package.service.js';
import { RateDecks } from '../rates/decks.js';
import { RateService } from './rate.service.js';
import { RatingService } from './rating.service.js';
import { RenewalService } from './renewal.service.js';
import { RerateService } from './rerate.service.js';
import { SubscriptionService } from './subscription.service.js';
import { TaxService } from './tax.service.js';
import { ThrottleService } from './throttle.service.js';
import { WebhookService } from './webhook.service.js';

export interface Services {
  accounts: AccountService;
  auth: AuthService;
  balances: BalanceService;
  idempotency: IdempotencyService;
  rates: RateService;
  packages: PackageService;
  subscriptions: SubscriptionService;
  rating: RatingService;
  rerate: RerateService;
  renewals: RenewalService;
  alerts: AlertService;
  throttle: ThrottleService;
  taxes: TaxService;
  invoices: InvoiceService;
  webhooks: WebhookService;
  dids: DidService;
}

/**
 * Services are stateless apart from configuration and the rate decks held in memory (which are checked
 * against the database's versions on every use): one set per server, shared by every request.
 */
export function createServices(config: Config, db: Pick<Database, 'engine' | 'orm' | 'bookkeeping'>): Services {
  const throttle = new ThrottleService(config, db);
  const auth = new AuthService(config, db.orm, throttle);
  // A new customer gets its parent's mandatory packages: the account service calls back into the subscriptions.
  const late: { subscriptions?: SubscriptionService } = {};
  const accounts = new AccountService(auth, (ctx, em, customer) => late.subscriptions!.assignMandatory(ctx, em, customer));
  const idempotency = new IdempotencyService();
  const rates = new RateService(new RateDecks(config.rateCacheMaxRates));
  const rerate = new RerateService(rates);
  // A backdated assignment with rerate catches its chain's renewals up, then re-rates (both in its transaction).
  const subscriptions = (late.subscriptions = new SubscriptionService(
    idempotency,
    accounts,
    async (ctx, em, buyer, chainId, from, to) => {
      await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, () => renewals.renewBatch(em, to, [chainId]));
      return rerate.rerateIn(ctx, em, buyer, from, to);
    },
  ));
  const renewals = new RenewalService(
    db.engine === 'pglite' ? 1 : config.renewalConcurrency,
    subscriptions,
    db.engine !== 'pglite',
  );
  return {
    accounts,
    auth,
    balances: new BalanceService(accounts, idempotency, subscriptions),
    idempotency,
    rates,
    packages: new PackageService(accounts, subscriptions),
    subscriptions,
    rating: new RatingService(rates, accounts, config.callLeaseSeconds),
    rerate,
    renewals,
    alerts: new AlertService(accounts),
    throttle,
    taxes: new TaxService(accounts),
    invoices: new InvoiceService(db.engine !== 'pglite'),
    dids: new DidService(),
    webhooks: new WebhookService({ retryBaseMs: config.webhookRetryBaseMs, allowPrivate: config.webhookAllowPrivate }),
  };
}
