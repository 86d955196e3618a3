import type { NonEmptyArray } from 'type-graphql';
import { AccountResolver } from './account.resolver.js';
import { AuthResolver } from './auth.resolver.js';
import { CallChargeResolver, CallLeaseResolver, CallResolver } from './call.resolver.js';
import { AlertResolver, BalanceEventResolver } from './event.resolver.js';
import { BalanceResolver } from './balance.resolver.js';
import { DidResolver } from './did.resolver.js';
import { InvoiceResolver, InvoiceTaxResolver } from './invoice.resolver.js';
import { NodeResolver } from './node.resolver.js';
import { PackageResolver } from './package.resolver.js';
import { RateResolver } from './rate.resolver.js';
import { SubscriptionResolver } from './subscription.resolver.js';
import { TaxRateResolver } from './tax.resolver.js';
import { WebhookDeliveryResolver, WebhookEndpointResolver } from './webhook.resolver.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  AccountResolver,
  AlertResolver,
  BalanceEventResolver,
  AuthResolver,
  BalanceResolver,
  CallChargeResolver,
  CallResolver,
  CallLeaseResolver,
  DidResolver,
  InvoiceResolver,
  InvoiceTaxResolver,
  NodeResolver,
  PackageResolver,
  RateResolver,
  SubscriptionResolver,
  TaxRateResolver,
  WebhookDeliveryResolver,
  WebhookEndpointResolver,
];
