import { ArgsType, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';

export enum DidStatus {
  AVAILABLE = 'AVAILABLE',
  ASSIGNED = 'ASSIGNED',
  ON_HOLD = 'ON_HOLD',
}
registerEnumType(DidStatus, {
  name: 'DidStatus',
  valuesConfig: {
    AVAILABLE: { description: "In the platform's stock" },
    ASSIGNED: { description: 'Held by an account through one of its subscriptions' },
    ON_HOLD: { description: 'Kept for its last holder until holdUntil' },
  },
});

@ObjectType('Did', { implements: Node, description: 'A phone number of the platform inventory (DOMAIN.md 12)' })
export class DidType extends Node {
  @Field({ description: 'Digits only, unique in the platform' })
  number!: string;

  @Field(() => String, { nullable: true, description: 'ISO 3166 alpha-2' })
  country!: string | null;

  @Field(() => [String])
  tags!: string[];

  @Field(() => DidStatus)
  status!: DidStatus;

  @Field(() => Date, { nullable: true })
  assignedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'ON_HOLD: when it is AVAILABLE again' })
  holdUntil!: Date | null;
}

export const DidConnection = Connection(DidType, 'Did');

@InputType({ description: 'Numbers for the inventory, all with the same country and tags' })
export class AddDidsInput {
  @Field(() => [String], { description: 'Digits (a leading + and spaces are dropped), up to 10,000 per call' })
  numbers!: string[];

  @Field(() => String, { nullable: true })
  country?: string | null;

  @Field(() => [String], { nullable: true })
  tags?: string[] | null;
}

@ArgsType()
export class DidsArgs extends PageArgs {
  @Field(() => DidStatus, { nullable: true })
  status?: DidStatus | null;

  @Field(() => String, { nullable: true })
  tag?: string | null;
}

@ArgsType()
export class AccountDidsArgs extends PageArgs {
  @Field(() => DidStatus, { nullable: true })
  status?: DidStatus | null;
}

@ArgsType()
export class AvailableDidsArgs extends PageArgs {
  @Field(() => ID)
  subscriptionId!: string;
}
