import { CallLeaseType } from '../schema/call.js';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Authorized, Ctx, Extensions, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import { selects } from '../graphql/selection.js';
import type { Context } from '../context.js';
import { AccountDidsArgs, DidConnection } from '../schema/did.js';
import type { AccountView, PublicAccount } from '../accounts/rows.js';
import {
  AccountConnection,
  AccountsArgs,
  AccountType,
  ChildrenArgs,
  CreateAccountInput,
  PUBLIC_IDENTITY,
  UpdateAccountInput,
} from '../schema/account.js';
import { PackageConnection, PackagesArgs } from '../schema/package.js';
import { RateGroupType, RateLookupArgs, RateType } from '../schema/rate.js';
import { PackageSubscriptionConnection, SubscriptionsArgs } from '../schema/subscription.js';
import { PageArgs } from '../schema/connection.js';
import { LedgerEntryConnection } from '../schema/ledger.js';
import { TaxRateType } from '../schema/tax.js';
import { InvoiceConnection, InvoicesArgs } from '../schema/invoice.js';
import type { Page } from '../services/pagination.js';
import { Role } from './roles.js';

@Resolver(() => AccountType)
export class AccountResolver {
  @Query(() => AccountType)
  @Authorized()
  me(@Ctx() ctx: Context): Promise<AccountView> {
    return ctx.services.accounts.me(ctx);
  }

  @Query(() => AccountType, { nullable: true })
  @Authorized()
  account(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<AccountView | null> {
    return ctx.services.accounts.view(ctx, id);
  }

  @Query(() => AccountConnection, { description: "The caller's descendants (not the caller)" })
  @Authorized()
  accounts(@Args() args: AccountsArgs, @Ctx() ctx: Context, @Info() info: GraphQLResolveInfo): Promise<Page<AccountView>> {
    return ctx.services.accounts.list(ctx, { ...args, countWithRows: selects(info, 'totalCount') });
  }

  @Mutation(() => AccountType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  createAccount(@Arg('input') input: CreateAccountInput, @Ctx() ctx: Context): Promise<AccountView> {
    return ctx.services.accounts.create(ctx, input);
  }

  @Mutation(() => AccountType)
  @Authorized()
  updateAccount(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateAccountInput,
    @Ctx() ctx: Context,
  ): Promise<AccountView> {
    return ctx.services.accounts.update(ctx, id, input);
  }

  @Mutation(() => AccountType, { description: 'Soft delete: status DELETED, data kept' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  deleteAccount(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<AccountView> {
    return ctx.services.accounts.delete(ctx, id);
  }

  @FieldResolver(() => AccountType, { nullable: true, description: "null when the parent is outside the caller's scope" })
  @Extensions(PUBLIC_IDENTITY)
  parent(@Root() account: AccountView | PublicAccount, @Ctx() ctx: Context) {
    return account.parentId ? ctx.loaders.accountView.load(account.parentId) : null;
  }

  @FieldResolver(() => [CallLeaseType], { description: 'Calls started (startCall) and not yet rated, ended or expired' })
  openCalls(@Root() account: AccountView, @Ctx() ctx: Context) {
    return ctx.services.rating.openCalls(ctx, account.id);
  }

  @FieldResolver(() => [TaxRateType], { description: 'Assigned by the parent: the taxes it adds to what it charges' })
  taxRates(@Root() account: AccountView, @Ctx() ctx: Context) {
    return ctx.services.taxes.ofAccount(ctx, account);
  }

  @FieldResolver(() => InvoiceConnection, { description: 'Received from the parent, newest first' })
  invoices(@Root() account: AccountView, @Args() args: InvoicesArgs, @Ctx() ctx: Context) {
    return ctx.services.invoices.received(ctx, account, args);
  }

  @FieldResolver(() => InvoiceConnection, { description: 'Issued to its children, newest first' })
  issuedInvoices(@Root() account: AccountView, @Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.invoices.issued(ctx, account, args);
  }

  @FieldResolver(() => AccountConnection)
  children(@Root() account: AccountView, @Args() args: ChildrenArgs, @Ctx() ctx: Context): Promise<Page<AccountView>> {
    return ctx.services.accounts.children(ctx, account, args);
  }

  @FieldResolver(() => LedgerEntryConnection, { description: 'Newest first' })
  ledger(@Root() account: AccountView, @Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.balances.ledger(ctx, account.id, args);
  }

  @FieldResolver(() => RateGroupType, { nullable: true, description: "One of the parent's rate groups: what this account pays" })
  rateGroup(@Root() account: AccountView, @Ctx() ctx: Context) {
    return account.rateGroupId ? ctx.loaders.rateGroup.load(account.rateGroupId) : null;
  }

  @FieldResolver(() => RateType, {
    nullable: true,
    description: 'What this account pays for a number: the longest matching prefix of its rate group',
  })
  rate(@Root() account: AccountView, @Args() args: RateLookupArgs, @Ctx() ctx: Context) {
    // The account is in scope (it is being resolved): its group's rate, batched with the rest of the list.
    return account.rateGroupId
      ? ctx.loaders.rate.load({ rateGroupId: account.rateGroupId, number: args.destination, direction: args.direction })
      : null;
  }

  @FieldResolver(() => PackageSubscriptionConnection, { description: 'Its own level of each chain, oldest first' })
  subscriptions(@Root() account: AccountView, @Args() args: SubscriptionsArgs, @Ctx() ctx: Context) {
    return ctx.services.subscriptions.list(ctx, account.id, args);
  }

  @FieldResolver(() => DidConnection, { description: 'The numbers it holds (assigned or on hold), lowest first' })
  dids(@Root() account: AccountView, @Args() args: AccountDidsArgs, @Ctx() ctx: Context) {
    return ctx.services.dids.ofAccount(ctx, account.id, args);
  }

  @FieldResolver(() => PackageConnection)
  ownedPackages(@Root() account: AccountView, @Args() args: PackagesArgs, @Ctx() ctx: Context) {
    return ctx.services.packages.owned(ctx, account.id, args);
  }
}
