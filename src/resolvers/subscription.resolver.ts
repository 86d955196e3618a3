import type { SubscriptionView } from '../chains/subscriptions.js';
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import { DidType } from '../schema/did.js';
import { AccountType } from '../schema/account.js';
import { LimitUsageType, PackageType } from '../schema/package.js';
import type { LimitUsageRow } from '../packages/limits.js';
import {
  AssignInput,
  AssignReportType,
  EarningsType,
  PackageSubscriptionType,
  PurchaseInput,
  RenewalReportType,
} from '../schema/subscription.js';
import { Role } from './roles.js';

@Resolver(() => PackageSubscriptionType)
export class SubscriptionResolver {
  @Query(() => PackageSubscriptionType, { nullable: true })
  @Authorized()
  packageSubscription(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.subscriptions.find(ctx, id);
  }

  @Mutation(() => PackageSubscriptionType, { description: 'The caller (a customer) buys one of its offers' })
  @Authorized(Role.CUSTOMER)
  purchasePackage(@Arg('input') input: PurchaseInput, @Ctx() ctx: Context) {
    return ctx.services.subscriptions.purchase(ctx, input);
  }

  @Mutation(() => PackageSubscriptionType, { description: "An ancestor subscribes a customer to its parent's package" })
  @Authorized(Role.ADMIN, Role.RESELLER)
  assignPackage(@Arg('input') input: AssignInput, @Ctx() ctx: Context) {
    return ctx.services.subscriptions.assign(ctx, input);
  }

  @Mutation(() => AssignReportType, {
    description: "One of the caller's packages to every direct child customer not holding it yet (on a rate group, if given)",
  })
  @Authorized(Role.ADMIN, Role.RESELLER)
  assignToChildren(
    @Arg('packageId', () => ID) packageId: string,
    @Arg('rateGroupId', () => ID, { nullable: true }) rateGroupId: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.subscriptions.assignToChildren(ctx, packageId, rateGroupId);
  }

  @Mutation(() => PackageSubscriptionType, { description: 'Ends the whole chain early, with refunds by charge type' })
  @Authorized()
  terminateSubscription(
    @Arg('id', () => ID) id: string,
    @Arg('at', () => Date, { nullable: true }) at: Date | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.subscriptions.terminate(ctx, id, at);
  }

  @Mutation(() => RenewalReportType, {
    description: "Renews what is due as of an instant, in the caller's platform (ADMIN only)",
  })
  @Authorized(Role.ADMIN)
  runRenewals(
    @Arg('asOf', () => Date, {
      description: 'At most one day ahead of now, plus the longest advance-renew interval of the platform',
    })
    asOf: Date,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.renewals.run(ctx, asOf);
  }

  @Query(() => EarningsType, { description: "A reseller's sales, costs, commissions and margin over [from, to)" })
  @Authorized()
  earnings(
    @Arg('accountId', () => ID) accountId: string,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.subscriptions.earnings(ctx, accountId, from, to);
  }

  @FieldResolver(() => AccountType)
  account(@Root() sub: SubscriptionView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(sub.accountId);
  }

  @FieldResolver(() => PackageType)
  package(@Root() sub: SubscriptionView, @Ctx() ctx: Context) {
    return ctx.loaders.package.load(sub.packageId);
  }

  @FieldResolver(() => [DidType], { description: 'The numbers held through it (assigned, or on hold for it), lowest first' })
  dids(@Root() sub: SubscriptionView, @Ctx() ctx: Context) {
    return ctx.services.dids.ofSubscription(ctx, sub.id);
  }

  @FieldResolver(() => [LimitUsageType], { description: "Its package's limits with their pools this period (DOMAIN.md 13)" })
  limitUsage(@Root() sub: SubscriptionView, @Ctx() ctx: Context): Promise<LimitUsageRow[]> {
    return ctx.loaders.limitUsage.load(sub.id);
  }
}
