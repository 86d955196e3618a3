import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { CallChargeView, CallRecordView } from '../calls/records.js';
import type { LeaseRow } from '../calls/leases.js';
import { AccountType } from '../schema/account.js';
import {
  CallAuthorizationType,
  CallChargeType,
  CallInput,
  CallLeaseType,
  CallRecordConnection,
  CallRecordType,
  CallsArgs,
  RerateReportType,
  StartCallInput,
} from '../schema/call.js';
import { Direction } from '../schema/rate.js';
import { PackageSubscriptionType } from '../schema/subscription.js';
import { Role } from './roles.js';

@Resolver(() => CallRecordType)
export class CallResolver {
  // Rating is a platform operation (DOMAIN.md 5): a reseller posting calls could charge its ancestors for calls
  // that never happened. Only the root admin, by login or by an API key it created (RATING or FULL).
  @Mutation(() => CallRecordType, { description: 'Platform only: the root admin or its RATING key' })
  @Authorized(Role.ADMIN)
  rateCall(@Arg('input') input: CallInput, @Ctx() ctx: Context) {
    return ctx.services.rating.rateCall(ctx, input);
  }

  @Mutation(() => [CallRecordType], {
    description: 'A batch of CDRs, rated atomically (at most 5,000); platform only, as rateCall',
  })
  @Authorized(Role.ADMIN)
  rateCalls(@Arg('input', () => [CallInput]) input: CallInput[], @Ctx() ctx: Context) {
    return ctx.services.rating.rateCalls(ctx, input);
  }

  @Mutation(() => CallAuthorizationType, {
    description: 'authorizeCall, and when allowed a lease on the call until it is rated or ended (platform only, as rateCall)',
  })
  @Authorized(Role.ADMIN)
  startCall(@Arg('input') input: StartCallInput, @Ctx() ctx: Context) {
    return ctx.services.rating.startCall(ctx, input);
  }

  @Mutation(() => Boolean, { description: 'Ends a lease without rating the call; false when none was open' })
  @Authorized(Role.ADMIN)
  endCall(@Arg('callId') callId: string, @Arg('accountId', () => ID) accountId: string, @Ctx() ctx: Context) {
    return ctx.services.rating.endCall(ctx, accountId, callId);
  }

  @Mutation(() => RerateReportType, {
    description: "Rates again an account's and its subtree's calls started in [from, to) (platform only, as rateCall)",
  })
  @Authorized(Role.ADMIN)
  rerateCalls(@Arg('accountId', () => ID) accountId: string, @Arg('from') from: Date, @Arg('to') to: Date, @Ctx() ctx: Context) {
    return ctx.services.rerate.rerateCalls(ctx, accountId, from, to);
  }

  @Query(() => CallRecordConnection, { description: "An account's calls, newest first" })
  @Authorized()
  calls(@Args() args: CallsArgs, @Ctx() ctx: Context) {
    return ctx.services.rating.list(ctx, args.accountId, args);
  }

  @Query(() => CallAuthorizationType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  authorizeCall(
    @Arg('accountId', () => ID) accountId: string,
    @Arg('destination') destination: string,
    @Arg('direction', () => Direction) direction: Direction,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.rating.authorize(ctx, accountId, destination, direction);
  }

  @FieldResolver(() => AccountType)
  account(@Root() call: CallRecordView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(call.accountId);
  }

  @FieldResolver(() => [CallChargeType], { description: "One per level: the call's account first, then each reseller up" })
  charges(@Root() call: CallRecordView, @Ctx() ctx: Context) {
    return call.charges ?? ctx.loaders.callCharges.load(call.id);
  }

  @FieldResolver(() => [CallRecordType], { description: 'Its earlier ratings (rerateCalls), oldest first' })
  revisions(@Root() call: CallRecordView, @Ctx() ctx: Context): Promise<CallRecordView[]> | CallRecordView[] {
    return call.charges || !call.revision ? [] : ctx.loaders.callRevisions.load(call);
  }
}

@Resolver(() => CallChargeType)
export class CallChargeResolver {
  @FieldResolver(() => AccountType, { nullable: true, description: "null for levels above the viewer's scope" })
  account(@Root() charge: CallChargeView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(charge.accountId);
  }

  @FieldResolver(() => PackageSubscriptionType, { nullable: true, description: 'The subscription the free seconds came from' })
  subscription(@Root() charge: CallChargeView, @Ctx() ctx: Context) {
    return charge.subscriptionId ? ctx.loaders.subscription.load(charge.subscriptionId) : null;
  }
}

@Resolver(() => CallLeaseType)
export class CallLeaseResolver {
  @FieldResolver(() => AccountType)
  account(@Root() lease: LeaseRow, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(lease.accountId);
  }
}
