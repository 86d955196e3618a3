import { ArgsType, Field, InputType, Int, ObjectType } from 'type-graphql';
import { Direction } from '../entities/index.js';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { MoneyScalar } from './scalars.js';
import { registerEnumType } from 'type-graphql';

registerEnumType(Direction, { name: 'Direction' });
export { Direction };

@ObjectType('Rate')
export class RateType {
  @Field()
  prefix!: string;

  @Field(() => String, { nullable: true })
  destination!: string | null;

  @Field(() => MoneyScalar)
  ratePerMinute!: Decimal;

  @Field(() => MoneyScalar)
  connectionFee!: Decimal;

  @Field(() => Int, { description: 'Seconds billed at least, once a call has any duration' })
  initialIncrement!: number;

  @Field(() => Int, { description: 'Seconds the rest is rounded up to' })
  increment!: number;

  @Field(() => Direction)
  direction!: Direction;
}

export const RateConnection = Connection(RateType, 'Rate');

@ObjectType('RateGroup', { implements: Node })
export class RateGroupType extends Node {
  @Field()
  name!: string;

  @Field()
  createdAt!: Date;
}

export const RateGroupConnection = Connection(RateGroupType, 'RateGroup');

@ArgsType()
export class RatesArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only rates whose prefix starts with this' })
  prefix?: string | null;

  @Field(() => Direction, { nullable: true })
  direction?: Direction | null;
}

@ArgsType()
export class RateLookupArgs {
  @Field({ description: 'A dialled number; spaces, dashes and a leading + are ignored' })
  destination!: string;

  @Field(() => Direction, { defaultValue: Direction.OUTBOUND })
  direction!: Direction;
}

@InputType()
export class RateInput {
  @Field({ description: 'Digits only, 1 to 20' })
  prefix!: string;

  @Field(() => String, { nullable: true })
  destination?: string | null;

  @Field(() => MoneyScalar)
  ratePerMinute!: Decimal;

  @Field(() => MoneyScalar, { nullable: true, description: 'Default 0' })
  connectionFee?: Decimal | null;

  @Field(() => Int, { nullable: true, description: 'Default 60' })
  initialIncrement?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 60' })
  increment?: number | null;

  @Field(() => Direction, { nullable: true, description: 'Default OUTBOUND' })
  direction?: Direction | null;
}

@InputType()
export class CreateRateGroupInput {
  @Field()
  name!: string;

  @Field(() => [RateInput], { description: 'Upserted like upsertRates' })
  rates!: RateInput[];
}
