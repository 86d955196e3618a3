import { ArgsType, Extensions, Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { AlertKind } from '../entities/index.js';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { IN_MEMORY, Node } from './node.js';
import { MoneyScalar } from './scalars.js';

registerEnumType(AlertKind, { name: 'AlertKind' });

@ObjectType('BalanceEvent', { description: 'One balance change, pushed after it committed' })
export class BalanceEventType {
  @Field(() => ID, {
    description: "The ledger entry's id: de-duplicate with it; after a reconnect, page the account's ledger until it",
  })
  @Extensions(IN_MEMORY)
  id!: string;

  @Field(() => MoneyScalar)
  @Extensions(IN_MEMORY)
  balance!: Decimal;

  @Field(() => MoneyScalar)
  @Extensions(IN_MEMORY)
  availableBalance!: Decimal;

  @Field(() => MoneyScalar)
  @Extensions(IN_MEMORY)
  delta!: Decimal;

  @Field({ description: 'The ledger entry kind: TOPUP, USAGE, RENEWAL_FEE, ...' })
  @Extensions(IN_MEMORY)
  kind!: string;

  @Field()
  @Extensions(IN_MEMORY)
  at!: Date;
}

@ObjectType('Alert', { implements: Node })
export class AlertType extends Node {
  @Field(() => AlertKind)
  @Extensions(IN_MEMORY)
  kind!: AlertKind;

  @Field(() => MoneyScalar, { description: 'Available balance right after the change that raised it' })
  @Extensions(IN_MEMORY)
  availableBalance!: Decimal;

  @Field(() => MoneyScalar, { nullable: true, description: 'The low-balance threshold crossed (LOW_BALANCE)' })
  @Extensions(IN_MEMORY)
  threshold!: Decimal | null;

  @Field()
  @Extensions(IN_MEMORY)
  at!: Date;
}

export const AlertConnection = Connection(AlertType, 'Alert');

@ArgsType()
export class AlertsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: "Default: every account in the caller's scope" })
  accountId?: string | null;
}

@ArgsType()
export class EventArgs {
  @Field(() => ID, { nullable: true, description: "Default: every account in the caller's scope" })
  accountId?: string | null;
}
