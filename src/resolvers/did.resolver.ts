import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { DidRow } from '../dids/store.js';
import { AccountType } from '../schema/account.js';
import { AddDidsInput, AvailableDidsArgs, DidConnection, DidsArgs, DidType } from '../schema/did.js';
import { PackageSubscriptionType } from '../schema/subscription.js';
import { Role } from './roles.js';

@Resolver(() => DidType)
export class DidResolver {
  @Query(() => DidConnection, {
    description: "Lowest first: the root's whole inventory; for anyone else the numbers held (or on hold) in its subtree",
  })
  @Authorized()
  dids(@Args() args: DidsArgs, @Ctx() ctx: Context) {
    return ctx.services.dids.list(ctx, args);
  }

  @Query(() => DidConnection, { description: 'The AVAILABLE numbers that qualify for a subscription, lowest first' })
  @Authorized()
  availableDids(@Args() { subscriptionId, ...args }: AvailableDidsArgs, @Ctx() ctx: Context) {
    return ctx.services.dids.available(ctx, subscriptionId, args);
  }

  @Mutation(() => [DidType], { description: 'Root only; a number already in the inventory is ALREADY_EXISTS' })
  @Authorized(Role.ADMIN)
  addDids(@Arg('input') input: AddDidsInput, @Ctx() ctx: Context) {
    return ctx.services.dids.add(ctx, input);
  }

  @Mutation(() => DidType, { description: 'Root only: an AVAILABLE number leaves the inventory' })
  @Authorized(Role.ADMIN)
  retireDid(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.dids.retire(ctx, id);
  }

  @Mutation(() => DidType, {
    description: 'For an ACTIVE subscription: the number named, or the lowest qualifying AVAILABLE one',
  })
  @Authorized()
  claimDid(
    @Arg('subscriptionId', () => ID) subscriptionId: string,
    @Arg('number', () => String, { nullable: true }) number: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.dids.claim(ctx, subscriptionId, number);
  }

  @Mutation(() => DidType, { description: 'The holder or an ancestor: AVAILABLE again at once, with no hold' })
  @Authorized()
  releaseDid(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.dids.release(ctx, id);
  }

  @FieldResolver(() => AccountType, { nullable: true, description: "The holder (assigned or on hold), if in the caller's scope" })
  account(@Root() did: DidRow, @Ctx() ctx: Context) {
    return did.accountId ? ctx.loaders.accountView.load(did.accountId) : null;
  }

  @FieldResolver(() => PackageSubscriptionType, { nullable: true, description: 'The subscription it is held through' })
  subscription(@Root() did: DidRow, @Ctx() ctx: Context) {
    return did.subscriptionId ? ctx.loaders.subscription.load(did.subscriptionId) : null;
  }
}
