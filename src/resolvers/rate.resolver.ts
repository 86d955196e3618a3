import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { RateGroup } from '../entities/index.js';
import { AccountType } from '../schema/account.js';
import { PageArgs } from '../schema/connection.js';
import {
  CreateRateGroupInput,
  RateConnection,
  RateGroupConnection,
  RateGroupType,
  RateInput,
  RateLookupArgs,
  RatesArgs,
  RateType,
} from '../schema/rate.js';
import { Role } from './roles.js';

@Resolver(() => RateGroupType)
export class RateResolver {
  @Query(() => RateGroupConnection, { description: "Rate groups owned in the caller's subtree" })
  @Authorized()
  rateGroups(@Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.rates.listGroups(ctx, args);
  }

  @Mutation(() => RateGroupType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  createRateGroup(@Arg('input') input: CreateRateGroupInput, @Ctx() ctx: Context) {
    return ctx.services.rates.createGroup(ctx, input);
  }

  @Mutation(() => RateGroupType, { description: 'Adds or replaces rates by (direction, prefix), up to 50,000 per call' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  upsertRates(
    @Arg('rateGroupId', () => ID) rateGroupId: string,
    @Arg('rates', () => [RateInput]) rates: RateInput[],
    @Ctx() ctx: Context,
  ) {
    return ctx.services.rates.upsertRates(ctx, rateGroupId, rates);
  }

  @FieldResolver(() => AccountType)
  owner(@Root() group: RateGroup, @Ctx() ctx: Context) {
    return ctx.services.accounts.ownerView(ctx, group.ownerId);
  }

  @FieldResolver(() => RateConnection)
  rates(@Root() group: RateGroup, @Args() args: RatesArgs, @Ctx() ctx: Context) {
    return ctx.services.rates.listRates(ctx, group, args);
  }

  @FieldResolver(() => RateType, { nullable: true, description: 'The longest prefix matching a number' })
  rateFor(@Root() group: RateGroup, @Args() args: RateLookupArgs, @Ctx() ctx: Context) {
    return ctx.loaders.rate.load({ rateGroupId: group.id, number: args.destination, direction: args.direction });
  }
}
