import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { Account } from '../entities/index.js';
import { AccountConnection, AccountsArgs, AccountType, ChildrenArgs, CreateAccountInput, UpdateAccountInput } from '../schema/account.js';
import { PageArgs } from '../schema/connection.js';
import { LedgerEntryConnection } from '../schema/ledger.js';
import { Role } from './roles.js';

@Resolver(() => AccountType)
@Authorized()
export class AccountResolver {
  @Query(() => AccountType)
  me(@Ctx() ctx: Context) {
    return ctx.services.accounts.me(ctx);
  }

  @Query(() => AccountType, { nullable: true })
  account(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.accounts.find(ctx, id);
  }

  @Query(() => AccountConnection, { description: "The caller's descendants (not the caller)" })
  accounts(@Args() args: AccountsArgs, @Ctx() ctx: Context) {
    return ctx.services.accounts.list(ctx, args);
  }

  @Mutation(() => AccountType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  createAccount(@Arg('input') input: CreateAccountInput, @Ctx() ctx: Context) {
    return ctx.services.accounts.create(ctx, input);
  }

  @Mutation(() => AccountType)
  updateAccount(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateAccountInput, @Ctx() ctx: Context) {
    return ctx.services.accounts.update(ctx, id, input);
  }

  @Mutation(() => AccountType, { description: 'Soft delete: status DELETED, data kept' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  deleteAccount(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.accounts.delete(ctx, id);
  }

  @FieldResolver(() => AccountType, { nullable: true, description: "null when the parent is outside the caller's scope" })
  parent(@Root() account: Account, @Ctx() ctx: Context) {
    return account.parentId ? ctx.loaders.account.load(account.parentId) : null;
  }

  @FieldResolver(() => AccountConnection)
  children(@Root() account: Account, @Args() args: ChildrenArgs, @Ctx() ctx: Context) {
    return ctx.services.accounts.children(ctx, account, args);
  }

  @FieldResolver(() => LedgerEntryConnection, { description: 'Newest first' })
  ledger(@Root() account: Account, @Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.balances.ledger(ctx, account.id, args);
  }
}
