import { ArgsType, Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { AlertKind } from '../entities/index.js';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { MoneyScalar } from './scalars.js';

registerEnumType(AlertKind, { name: 'AlertKind' });

@ObjectType('BalanceEvent', { description: 'One balance change, pushed after it committed' })
export class BalanceEventType {
  @Field(() => MoneyScalar)
  balance!: Decimal;

  @Field(() => MoneyScalar)
  availableBalance!: Decimal;

  @Field(() => MoneyScalar)
  delta!: Decimal;

  @Field({ description: 'The ledger entry kind: TOPUP, USAGE, RENEWAL_FEE, ...' })
  kind!: string;

  @Field()
  at!: Date;
}

@ObjectType('Alert', { implements: Node })
export class AlertType extends Node {
  @Field(() => AlertKind)
  kind!: AlertKind;

  @Field(() => MoneyScalar, { description: 'Available balance right after the change that raised it' })
  availableBalance!: Decimal;

  @Field(() => MoneyScalar, { nullable: true, description: 'The low-balance threshold crossed (LOW_BALANCE)' })
  threshold!: Decimal | null;

  @Field()
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
