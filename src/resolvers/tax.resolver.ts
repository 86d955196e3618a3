import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { AccountView } from '../accounts/rows.js';
import { formatMoney } from '../money.js';
import type { TaxRateRow } from '../taxes/rates.js';
import { AccountType } from '../schema/account.js';
import { PageArgs } from '../schema/connection.js';
import { CreateTaxRateInput, TaxRateConnection, TaxRateType, UpdateTaxRateInput } from '../schema/tax.js';
import { Role } from './roles.js';

@Resolver(() => TaxRateType)
export class TaxRateResolver {
  @Query(() => TaxRateConnection, { description: "The caller's own tax rates" })
  @Authorized()
  taxRates(@Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.taxes.list(ctx, args);
  }

  @Mutation(() => TaxRateType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  createTaxRate(@Arg('input') input: CreateTaxRateInput, @Ctx() ctx: Context) {
    return ctx.services.taxes.create(ctx, input);
  }

  @Mutation(() => TaxRateType, { description: 'Name, priority and active; the percent never changes' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  updateTaxRate(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateTaxRateInput, @Ctx() ctx: Context) {
    return ctx.services.taxes.update(ctx, id, input);
  }

  @Mutation(() => AccountType, { description: "The account's parent's own rates only; replaces what was assigned" })
  @Authorized(Role.ADMIN, Role.RESELLER)
  setAccountTaxes(
    @Arg('accountId', () => ID) accountId: string,
    @Arg('taxRateIds', () => [ID]) taxRateIds: string[],
    @Ctx() ctx: Context,
  ): Promise<AccountView> {
    return ctx.services.taxes.setAccountTaxes(ctx, accountId, taxRateIds);
  }

  @FieldResolver(() => String)
  percent(@Root() rate: TaxRateRow) {
    return formatMoney(rate.percent);
  }

  @FieldResolver(() => AccountType)
  owner(@Root() rate: TaxRateRow, @Ctx() ctx: Context) {
    return ctx.services.accounts.ownerView(ctx, rate.ownerId);
  }
}
