import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import {
  ActivationPolicy,
  Applicability,
  BillingType,
  ChargeType,
  PackageStatus,
  PackageStatusReason,
} from '../entities/index.js';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { MoneyScalar } from './scalars.js';

registerEnumType(PackageStatus, { name: 'PackageStatus' });
registerEnumType(PackageStatusReason, {
  name: 'PackageStatusReason',
  valuesConfig: { BELOW_COST: { description: "Disabled by the service: the source's price rose above this price" } },
});
registerEnumType(BillingType, { name: 'BillingType' });
registerEnumType(Applicability, { name: 'Applicability' });
registerEnumType(ChargeType, { name: 'ChargeType' });
registerEnumType(ActivationPolicy, { name: 'ActivationPolicy' });

export enum LimitKind {
  VOLUME = 'VOLUME',
  MONEY = 'MONEY',
}
registerEnumType(LimitKind, {
  name: 'LimitKind',
  valuesConfig: {
    VOLUME: { description: 'A pool of seconds, free or at an in-bundle rate' },
    MONEY: { description: 'An amount in the package currency that pays the charge of covered calls' },
  },
});

export { ActivationPolicy, Applicability, BillingType, ChargeType, PackageStatus };

@ObjectType('PackageLimit', { description: 'A pool for each period besides the free minutes (DOMAIN.md 13)' })
export class PackageLimitType {
  @Field(() => ID)
  id!: string;

  @Field(() => LimitKind)
  kind!: LimitKind;

  @Field(() => [String], { description: 'Prefixes; a trailing "$" matches that exact number only; empty: every number' })
  patterns!: string[];

  @Field({ description: 'Seconds (VOLUME) or an amount (MONEY) per period' })
  amount!: string;

  @Field(() => MoneyScalar, { description: 'VOLUME: covered seconds are charged at this rate (0: free)' })
  inBundleRatePerMinute!: Decimal;

  @Field({ description: "At renewal the unused part of the period's own allowance is added to the next" })
  carryOver!: boolean;

  @Field({ description: 'Once the pool is empty, authorizeCall refuses calls it covers (BUNDLE_EXHAUSTED)' })
  rejectWhenExhausted!: boolean;
}

@ObjectType('LimitUsage', { description: "A limit's pool in the subscription's current period" })
export class LimitUsageType {
  @Field(() => PackageLimitType)
  limit!: PackageLimitType;

  @Field({ description: 'The allowance plus what was carried over' })
  total!: string;

  @Field()
  used!: string;

  @Field()
  carriedOver!: string;
}

@InputType()
export class PackageLimitInput {
  @Field(() => LimitKind)
  kind!: LimitKind;

  @Field(() => [String], { nullable: true, description: 'Default [] (every number)' })
  patterns?: string[] | null;

  @Field({ description: 'Whole seconds (VOLUME) or an amount (MONEY)' })
  amount!: string;

  @Field(() => MoneyScalar, { nullable: true, description: 'VOLUME only; default 0 (free)' })
  inBundleRatePerMinute?: Decimal | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  carryOver?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  rejectWhenExhausted?: boolean | null;
}

@ObjectType('Discount')
export class DiscountType {
  @Field(() => Int, { description: 'From the N-th charged period on (N >= 2)' })
  fromActivation!: number;

  @Field(() => MoneyScalar, { description: 'Taken off the price, never below 0' })
  amount!: Decimal;
}

@ObjectType('Package', { implements: Node })
export class PackageType extends Node {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => String, { nullable: true })
  country!: string | null;

  @Field(() => String, { nullable: true })
  category!: string | null;

  @Field(() => PackageStatus)
  status!: PackageStatus;

  @Field(() => PackageStatusReason, { nullable: true, description: 'Set when the service changed the status' })
  statusReason!: PackageStatusReason | null;

  @Field()
  currency!: string;

  @Field(() => MoneyScalar, { description: 'Excluding tax' })
  price!: Decimal;

  @Field(() => MoneyScalar, { description: 'Charged with the first period only' })
  setupFee!: Decimal;

  @Field({ description: 'Percent given to COMMISSION sub-resellers, e.g. "10"' })
  commissionRate!: string;

  @Field(() => BillingType)
  billingType!: BillingType;

  @Field(() => Int)
  billingDays!: number;

  @Field(() => Int)
  freeMinutes!: number;

  @Field(() => Applicability)
  applicableFor!: Applicability;

  @Field(() => [String], { description: 'Prefixes of digits' })
  destinations!: string[];

  @Field(() => ChargeType, { description: 'Refund rule on early termination' })
  chargeType!: ChargeType;

  @Field()
  releaseIfNoBalance!: boolean;

  @Field()
  canBePurchased!: boolean;

  @Field()
  resellerCanResell!: boolean;

  @Field({ description: "Price and setup fee include the buyer's taxes" })
  taxInclusive!: boolean;

  @Field({ description: 'Assigned to every new direct child customer of the owner; only the owner or above ends it' })
  mandatory!: boolean;

  @Field(() => Int, { description: '1 beats 2' })
  priority!: number;

  @Field(() => Int)
  minimumDays!: number;

  @Field(() => ActivationPolicy)
  activationPolicy!: ActivationPolicy;

  @Field(() => Int)
  advanceRenewHours!: number;

  @Field(() => Int, {
    nullable: true,
    description: 'With releaseIfNoBalance: hours after the period end a renewal is retried (PAST_DUE) before release',
  })
  renewRetryHours!: number | null;

  @Field(() => Int, { description: 'How many phone numbers a subscriber may hold through this package' })
  didQuantity!: number;

  @Field(() => [String], { description: 'A number qualifies when it has one of these tags; empty: any number' })
  allowedDidTags!: string[];

  @Field(() => Int, { description: "Days a subscription's numbers are kept for it after it ends or goes past due" })
  didHoldDays!: number;

  @Field({ description: 'The price is a spend commitment: no fee; each period end charges the shortfall (MINIMUM_SPEND)' })
  minimumSpend!: boolean;

  @Field(() => [DiscountType])
  discounts!: DiscountType[];

  @Field(() => Date, { nullable: true })
  startDate!: Date | null;

  @Field(() => Date, { nullable: true })
  endDate!: Date | null;

  @Field()
  createdAt!: Date;
}

export const PackageConnection = Connection(PackageType, 'Package');

@ArgsType()
export class PackagesArgs extends PageArgs {
  @Field(() => PackageStatus, { nullable: true })
  status?: PackageStatus | null;
}

@InputType()
export class DiscountInput {
  @Field(() => Int)
  fromActivation!: number;

  @Field(() => MoneyScalar)
  amount!: Decimal;
}

/** The optional fields of createPackage and updatePackage. */
@InputType()
abstract class PackageFieldsInput {
  @Field(() => String, { nullable: true })
  country?: string | null;

  @Field(() => String, { nullable: true })
  category?: string | null;

  @Field(() => BillingType, { nullable: true, description: 'Default RECURRING' })
  billingType?: BillingType | null;

  @Field(() => Int, { nullable: true, description: 'Default 30; at least 1' })
  billingDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 0' })
  freeMinutes?: number | null;

  @Field(() => Applicability, { nullable: true, description: 'Default OUTBOUND' })
  applicableFor?: Applicability | null;

  @Field(() => [String], { nullable: true, description: 'Prefixes of digits' })
  destinations?: string[] | null;

  @Field(() => ChargeType, { nullable: true, description: 'Default FULL' })
  chargeType?: ChargeType | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  releaseIfNoBalance?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Default 1 (1 beats 2)' })
  priority?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 0' })
  minimumDays?: number | null;

  @Field(() => ActivationPolicy, { nullable: true, description: 'Default DENY_IF_INSUFFICIENT' })
  activationPolicy?: ActivationPolicy | null;

  @Field(() => Int, { nullable: true, description: 'Default 0' })
  advanceRenewHours?: number | null;

  @Field(() => Int, { nullable: true, description: '1 or more, with releaseIfNoBalance; null: released at once' })
  renewRetryHours?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 0 (no numbers)' })
  didQuantity?: number | null;

  @Field(() => [String], { nullable: true, description: 'Default [] (any number qualifies)' })
  allowedDidTags?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Default 0 (numbers are available again at once)' })
  didHoldDays?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false; set when the package is created' })
  minimumSpend?: boolean | null;

  @Field(() => [PackageLimitInput], {
    nullable: true,
    description: 'Replaces the list; a limit left at its place with its kind keeps its counters',
  })
  limits?: PackageLimitInput[] | null;

  @Field(() => [DiscountInput], { nullable: true })
  discounts?: DiscountInput[] | null;

  @Field(() => Date, { nullable: true })
  startDate?: Date | null;

  @Field(() => Date, { nullable: true })
  endDate?: Date | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'Default 0' })
  setupFee?: Decimal | null;

  @Field(() => String, { nullable: true, description: 'Percent, 0 to 100; default "0"' })
  commissionRate?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true' })
  canBePurchased?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  resellerCanResell?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Price and setup fee include the buyer's taxes; default false" })
  taxInclusive?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  mandatory?: boolean | null;
}

@InputType()
export class CreatePackageInput extends PackageFieldsInput {
  @Field()
  name!: string;

  @Field(() => MoneyScalar)
  price!: Decimal;

  @Field(() => String, { nullable: true, description: "ISO 4217; defaults to the owner's currency" })
  currency?: string | null;
}

@InputType({
  description:
    'On a clone only name, description, price, setupFee, commissionRate, taxInclusive, mandatory and the two flags apply',
})
export class UpdatePackageInput extends PackageFieldsInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => MoneyScalar, { nullable: true })
  price?: Decimal | null;
}

@InputType()
export class OptInInput {
  @Field(() => ID, { description: "One of the parent's offers" })
  packageId!: string;

  @Field(() => String, { nullable: true, description: "Default: the source's" })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "Default: the source's" })
  description?: string | null;

  @Field(() => MoneyScalar, { nullable: true, description: "MARGIN only; at least the source's price (the cost)" })
  price?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true, description: "MARGIN only; at least the source's setup fee" })
  setupFee?: Decimal | null;

  @Field(() => String, { nullable: true, description: 'Percent given to COMMISSION sub-resellers; default "0"' })
  commissionRate?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true' })
  canBePurchased?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  resellerCanResell?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Default: the source's" })
  taxInclusive?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false' })
  mandatory?: boolean | null;
}
