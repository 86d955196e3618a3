import { Arg, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { LedgerEntry } from '../entities/index.js';
import { AccountType } from '../schema/account.js';
import { BalanceChangeInput, LedgerEntryType } from '../schema/ledger.js';
import { TaxRateType } from '../schema/tax.js';
import { Role } from './roles.js';

@Resolver(() => LedgerEntryType)
export class BalanceResolver {
  @Mutation(() => LedgerEntryType, { description: 'Credit a descendant account (amount > 0)' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  topUp(@Arg('input') input: BalanceChangeInput, @Ctx() ctx: Context) {
    return ctx.services.balances.topUp(ctx, input);
  }

  @Mutation(() => LedgerEntryType, { description: "Correct a descendant's balance; amount may be negative" })
  @Authorized(Role.ADMIN, Role.RESELLER)
  adjustBalance(@Arg('input') input: BalanceChangeInput, @Ctx() ctx: Context) {
    return ctx.services.balances.adjustBalance(ctx, input);
  }

  @FieldResolver(() => AccountType)
  account(@Root() entry: LedgerEntry, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(entry.accountId);
  }

  @FieldResolver(() => TaxRateType, { nullable: true, description: 'The tax rate of a TAX or TAX_REFUND entry' })
  taxRate(@Root() entry: LedgerEntry, @Ctx() ctx: Context) {
    return entry.taxRateId ? ctx.services.taxes.find(ctx, entry.taxRateId) : null;
  }
}
