import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { Connection } from './connection.js';
import { Node } from './node.js';

@ObjectType('TaxRate', { implements: Node, description: 'A tax a parent adds to what it charges a child (never compound)' })
export class TaxRateType extends Node {
  @Field()
  name!: string;

  @Field({ description: 'Percent, e.g. "20" or "2.5"' })
  percent!: string;

  @Field(() => Int, { description: 'Lower first, for display' })
  priority!: number;

  @Field({ description: 'An inactive rate is no longer applied to new charges' })
  active!: boolean;
}

export const TaxRateConnection = Connection(TaxRateType, 'TaxRate');

@InputType()
export class CreateTaxRateInput {
  @Field()
  name!: string;

  @Field({ description: 'Percent from 0 to 100, up to 4 decimals, as a string ("20", "2.5"); never changes' })
  percent!: string;

  @Field(() => Int, { nullable: true, description: 'Lower first, for display; default 0' })
  priority?: number | null;
}

@InputType({ description: 'The percent never changes: create a new rate and deactivate this one' })
export class UpdateTaxRateInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Int, { nullable: true })
  priority?: number | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}
