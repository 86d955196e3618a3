import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { PackageView } from '../packages/view.js';
import type { LimitRow } from '../packages/limits.js';
import { AccountType } from '../schema/account.js';
import { PageArgs } from '../schema/connection.js';
import {
  CreatePackageInput,
  OptInInput,
  PackageConnection,
  PackageLimitType,
  PackageStatus,
  PackageType,
  UpdatePackageInput,
} from '../schema/package.js';
import { Role } from './roles.js';

@Resolver(() => PackageType)
export class PackageResolver {
  @Query(() => PackageType, { nullable: true })
  @Authorized()
  package(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.packages.find(ctx, id);
  }

  @Query(() => PackageConnection, { description: 'What the caller may buy (customers) or opt into (resellers)' })
  @Authorized()
  offers(@Args() args: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.packages.offers(ctx, args);
  }

  @Mutation(() => PackageType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  createPackage(@Arg('input') input: CreatePackageInput, @Ctx() ctx: Context) {
    return ctx.services.packages.create(ctx, input);
  }

  @Mutation(() => PackageType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  updatePackage(@Arg('id', () => ID) id: string, @Arg('input') input: UpdatePackageInput, @Ctx() ctx: Context) {
    return ctx.services.packages.update(ctx, id, input);
  }

  @Mutation(() => PackageType)
  @Authorized(Role.ADMIN, Role.RESELLER)
  setPackageStatus(
    @Arg('id', () => ID) id: string,
    @Arg('status', () => PackageStatus) status: PackageStatus,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.packages.setStatus(ctx, id, status);
  }

  @Mutation(() => PackageType, { description: "Clone one of the parent's offers to resell it" })
  @Authorized(Role.RESELLER)
  optIn(@Arg('input') input: OptInInput, @Ctx() ctx: Context) {
    return ctx.services.packages.optIn(ctx, input);
  }

  @Mutation(() => PackageType, { description: 'Archive a clone; refused while sub-resellers resell it' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  optOut(@Arg('packageId', () => ID) packageId: string, @Ctx() ctx: Context) {
    return ctx.services.packages.optOut(ctx, packageId);
  }

  @FieldResolver(() => [PackageLimitType], { description: 'Pools besides the free minutes, in the order given' })
  limits(@Root() pkg: PackageView, @Ctx() ctx: Context): Promise<LimitRow[]> {
    return ctx.loaders.limits.load(pkg.termsId);
  }

  @FieldResolver(() => AccountType)
  owner(@Root() pkg: PackageView, @Ctx() ctx: Context) {
    return ctx.services.accounts.ownerView(ctx, pkg.ownerId);
  }

  @FieldResolver(() => PackageType, {
    nullable: true,
    description: 'The package this one was opted in from (null if original or not visible)',
  })
  source(@Root() pkg: PackageView, @Ctx() ctx: Context) {
    return pkg.sourceId ? ctx.loaders.package.load(pkg.sourceId) : null;
  }
}
