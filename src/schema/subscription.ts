import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { SubscriptionStatus } from '../entities/index.js';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { MoneyScalar } from './scalars.js';

registerEnumType(SubscriptionStatus, { name: 'SubscriptionStatus' });
export { SubscriptionStatus };

@ObjectType('PackageSubscription', {
  implements: Node,
  description: 'A package held by an account. A chain has one per level; each account sees only its own level.',
})
export class PackageSubscriptionType extends Node {
  @Field(() => SubscriptionStatus)
  status!: SubscriptionStatus;

  @Field()
  activatedAt!: Date;

  @Field()
  currentPeriodStart!: Date;

  @Field({ description: 'Exclusive: the period is [currentPeriodStart, currentPeriodEnd)' })
  currentPeriodEnd!: Date;

  @Field(() => Int)
  periodsCharged!: number;

  @Field(() => Int)
  freeSecondsTotal!: number;

  @Field(() => Int)
  freeSecondsUsed!: number;

  @Field(() => Date, { nullable: true })
  endedAt!: Date | null;
}

export const PackageSubscriptionConnection = Connection(PackageSubscriptionType, 'PackageSubscription');

@ArgsType()
export class SubscriptionsArgs extends PageArgs {
  @Field(() => SubscriptionStatus, { nullable: true })
  status?: SubscriptionStatus | null;
}

@InputType()
export class PurchaseInput {
  @Field(() => ID, { description: "One of the caller's offers" })
  packageId!: string;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@InputType()
export class AssignInput {
  @Field(() => ID, { description: 'A customer below the caller' })
  accountId!: string;

  @Field(() => ID, { description: "One of the account's parent's packages (it need not be purchasable)" })
  packageId!: string;

  @Field(() => Date, { nullable: true, description: 'Default now; may be in the past (backdating)' })
  startAt?: Date | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "With a past startAt: rate the account's calls since then again (rerateCalls), in the same transaction",
  })
  rerate?: boolean | null;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@ObjectType('Earnings')
export class EarningsType {
  @Field(() => MoneyScalar, { description: 'What its children were charged, net of refunds and of commissions credited to them' })
  sales!: Decimal;

  @Field(() => MoneyScalar, { description: 'What it was charged, net of refunds' })
  costs!: Decimal;

  @Field(() => MoneyScalar, { description: 'Commissions it received, net of reversals' })
  commissions!: Decimal;

  @Field(() => MoneyScalar, { description: 'sales - costs + commissions (all net of taxes)' })
  margin!: Decimal;

  @Field(() => MoneyScalar, { description: 'Taxes it charged its children, net of tax refunds (not part of the margin)' })
  taxes!: Decimal;
}

@ObjectType('RenewalReport', { description: 'Counted in chains (one per customer subscription)' })
export class RenewalReportType {
  @Field(() => Int)
  renewed!: number;

  @Field(() => Int)
  released!: number;

  @Field(() => Int, { description: 'Chains that could not pay and wait in their retry window (renewRetryHours)' })
  pastDue!: number;

  @Field(() => Int, { description: 'PENDING chains that could now pay, charged and activated' })
  activated!: number;

  @Field(() => Int, { description: 'Phone numbers whose hold had ended, AVAILABLE again' })
  didsFreed!: number;

  @Field(() => Int, { description: 'Ended periods of minimum-spend packages charged a shortfall (one per level)' })
  minimumSpend!: number;

  @Field(() => Int)
  expired!: number;
}

@ObjectType('AssignReport', { description: 'What assignToChildren did' })
export class AssignReportType {
  @Field(() => Int, { description: 'Customers whose chain was charged and is ACTIVE' })
  assigned!: number;

  @Field(() => Int, { description: 'Chains created PENDING (PENDING_IF_INSUFFICIENT): some level cannot pay yet' })
  pending!: number;

  @Field(() => Int, { description: 'Customers left out: some level cannot pay (DENY_IF_INSUFFICIENT), or another currency' })
  skipped!: number;
}
