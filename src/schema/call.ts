import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { Direction } from './rate.js';
import { MoneyScalar } from './scalars.js';
import { LedgerEntryType } from './ledger.js';

@ObjectType('CallCharge', { description: 'What one level was charged for a call' })
export class CallChargeType {
  @Field(() => MoneyScalar, { description: "What the level's balance paid (before taxes)" })
  amount!: Decimal;

  @Field(() => MoneyScalar, { description: 'What a MONEY limit paid of the charge, besides amount' })
  bundleAmount!: Decimal;

  @Field(() => Int, { description: "Seconds covered by a package (free, or at a limit's in-bundle rate)" })
  freeSeconds!: number;

  @Field(() => Int, { description: "Seconds billed at this level (its own rate's increments)" })
  billedSeconds!: number;
}

@ObjectType('CallRecord', { implements: Node })
export class CallRecordType extends Node {
  @Field()
  callId!: string;

  @Field()
  destination!: string;

  @Field(() => Direction)
  direction!: Direction;

  @Field(() => Int)
  durationSeconds!: number;

  @Field(() => Int, { description: "Billed seconds at the call's own account" })
  billedSeconds!: number;

  @Field()
  startedAt!: Date;

  @Field(() => MoneyScalar, { description: "What the call's account itself was charged" })
  cost!: Decimal;

  @Field(() => Int, { description: 'Ratings after the first (rerateCalls): 0 for a call never re-rated' })
  revision!: number;
}

export const CallRecordConnection = Connection(CallRecordType, 'CallRecord');

@ArgsType()
export class CallsArgs extends PageArgs {
  @Field(() => ID)
  accountId!: string;
}

/** What names a call for the switch: the account (or an INBOUND number's holder), its id, number and direction. */
@InputType()
abstract class SwitchCallInput {
  @Field(() => ID, {
    nullable: true,
    description: "May be left out for an INBOUND call to a number that is ASSIGNED: the call is its holder's",
  })
  accountId?: string | null;

  @Field({ description: "The switch's id for the call: rating it again returns the first record, and ends its lease" })
  callId!: string;

  @Field()
  destination!: string;

  @Field(() => Direction)
  direction!: Direction;
}

@InputType()
export class CallInput extends SwitchCallInput {
  @Field(() => Int)
  durationSeconds!: number;

  @Field()
  startedAt!: Date;
}

@InputType()
export class StartCallInput extends SwitchCallInput {
  @Field(() => Int, {
    nullable: true,
    description: 'The longest the switch lets this call run: the lease allows and holds no more than that',
  })
  maxDurationSeconds?: number | null;
}

@ObjectType('CallLease', { description: 'A call started by startCall and not yet rated, ended or expired' })
export class CallLeaseType {
  @Field()
  callId!: string;

  @Field()
  destination!: string;

  @Field(() => Direction)
  direction!: Direction;

  @Field(() => Int, { nullable: true, description: 'What startCall allowed; null when nothing limited it' })
  maxDurationSeconds!: number | null;

  @Field()
  startedAt!: Date;

  @Field()
  expiresAt!: Date;
}

/** Why authorizeCall refuses a call (DOMAIN.md 13-14). */
export enum CallDenialReason {
  NO_RATE = 'NO_RATE',
  INSUFFICIENT_FUNDS = 'INSUFFICIENT_FUNDS',
  LIMIT_REACHED = 'LIMIT_REACHED',
  BUNDLE_EXHAUSTED = 'BUNDLE_EXHAUSTED',
  CONCURRENCY_LIMIT = 'CONCURRENCY_LIMIT',
  BELOW_MINIMUM_BALANCE = 'BELOW_MINIMUM_BALANCE',
  NEGATIVE_MARGIN = 'NEGATIVE_MARGIN',
  ACCOUNT_INACTIVE = 'ACCOUNT_INACTIVE',
}
registerEnumType(CallDenialReason, { name: 'CallDenialReason' });

@ObjectType('CallAuthorization')
export class CallAuthorizationType {
  @Field()
  allowed!: boolean;

  @Field(() => Int, { nullable: true, description: 'The longest duration every level can pay for; null when nothing limits it' })
  maxDurationSeconds!: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'When not allowed: the name of reasonCode',
  })
  reason!: string | null;

  @Field(() => CallDenialReason, { nullable: true, description: 'Why the call is refused, as an enum (reason as a string)' })
  reasonCode!: CallDenialReason | null;
}

@ObjectType('RerateReport', { description: 'What rerateCalls did (DOMAIN.md 14)' })
export class RerateReportType {
  @Field(() => Int, { description: 'Calls rated again' })
  calls!: number;

  @Field(() => Int, { description: 'Calls whose charges changed at some level: each has a new revision' })
  changed!: number;

  @Field(() => Int, { description: 'Calls left as they were: some level has no rate for them today' })
  noRate!: number;

  @Field(() => [LedgerEntryType], { description: 'USAGE_ADJUSTMENT and tax entries, one per account and kind' })
  adjustments!: LedgerEntryType[];
}
