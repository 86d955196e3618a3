import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Decimal } from '../money.js';
import { Connection } from './connection.js';
import { MoneyScalar } from './scalars.js';
import { Node } from './node.js';

@ObjectType('LedgerEntry', { implements: Node })
export class LedgerEntryType extends Node {
  @Field(() => MoneyScalar, { description: 'Signed: negative is a debit' })
  amount!: Decimal;

  @Field(() => MoneyScalar)
  balanceAfter!: Decimal;

  @Field({
    description:
      'TOPUP, ADJUSTMENT, SETUP_FEE, PACKAGE_FEE, RENEWAL_FEE, MINIMUM_SPEND, REFUND, COMMISSION, COMMISSION_REVERSAL, USAGE, USAGE_ADJUSTMENT, TAX, TAX_REFUND',
  })
  kind!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field()
  createdAt!: Date;
}

export const LedgerEntryConnection = Connection(LedgerEntryType, 'LedgerEntry');

@InputType()
export class BalanceChangeInput {
  @Field(() => ID)
  accountId!: string;

  @Field(() => MoneyScalar, { description: 'topUp: greater than 0; adjustBalance: non-zero, may be negative' })
  amount!: Decimal;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Same key and input returns the first result and moves no money again',
  })
  idempotencyKey?: string | null;
}
