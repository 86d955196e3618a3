import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { nodeTypeOf, type NodeTypeName } from '../ids.js';

/** Types with an id prefix that are not GraphQL nodes. */
type Internal = 'PackageTerms' | 'WebhookEvent' | 'PackageLimit';
import { Node } from '../schema/node.js';

type NodeFinder = (ctx: Context, id: string) => Promise<unknown>;

/** One finder per node type; each applies the caller's scope, so foreign ids come back null. */
const FINDERS: Record<Exclude<NodeTypeName, Internal>, NodeFinder> = {
  Account: (ctx, id) => ctx.services.accounts.view(ctx, id),
  LedgerEntry: (ctx, id) => ctx.services.balances.entry(ctx, id),
  ApiKey: (ctx, id) => ctx.services.auth.findApiKey(ctx, id),
  RateGroup: (ctx, id) => ctx.services.rates.findGroup(ctx, id),
  Package: (ctx, id) => ctx.services.packages.find(ctx, id),
  PackageSubscription: (ctx, id) => ctx.services.subscriptions.find(ctx, id),
  CallRecord: (ctx, id) => ctx.services.rating.find(ctx, id),
  Alert: (ctx, id) => ctx.services.alerts.find(ctx, id),
  TaxRate: (ctx, id) => ctx.services.taxes.find(ctx, id),
  Invoice: (ctx, id) => ctx.services.invoices.find(ctx, id),
  WebhookEndpoint: (ctx, id) => ctx.services.webhooks.find(ctx, id),
  WebhookDelivery: (ctx, id) => ctx.services.webhooks.findDelivery(ctx, id),
  Did: (ctx, id) => ctx.services.dids.find(ctx, id),
};

@Resolver()
export class NodeResolver {
  @Query(() => Node, { nullable: true })
  @Authorized()
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    const type = nodeTypeOf(id);
    const finder = type && type in FINDERS ? FINDERS[type as keyof typeof FINDERS] : undefined;
    return finder ? ((await finder(ctx, id)) ?? null) : null;
  }
}
