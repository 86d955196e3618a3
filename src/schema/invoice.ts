import { ArgsType, Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Decimal } from '../money.js';
import { Connection, PageArgs } from './connection.js';
import { Node } from './node.js';
import { MoneyScalar } from './scalars.js';

export enum InvoiceStatus {
  FINALIZED = 'FINALIZED',
  VOID = 'VOID',
}
registerEnumType(InvoiceStatus, { name: 'InvoiceStatus' });

@ObjectType('InvoiceLine')
export class InvoiceLineType {
  @Field()
  description!: string;

  @Field({ description: 'The ledger kind the line comes from (USAGE for a usage line)' })
  kind!: string;

  @Field(() => Int, { description: '1, or the number of calls of a usage line' })
  quantity!: number;

  @Field(() => String, { nullable: true, description: 'Billed minutes of a usage line' })
  minutes!: string | null;

  @Field(() => MoneyScalar, { description: 'Net, owed: charges positive, refunds, commissions and credits negative' })
  amount!: Decimal;
}

@ObjectType('InvoiceTax')
export class InvoiceTaxType {
  @Field({ description: 'As the rate was named when the invoice was issued' })
  name!: string;

  @Field()
  percent!: string;

  @Field(() => MoneyScalar, { description: 'Its TAX entries less its TAX_REFUND entries' })
  amount!: Decimal;
}

@ObjectType('Invoice', { implements: Node, description: 'A statement a parent (the issuer) gives a child for one period' })
export class InvoiceType extends Node {
  @Field({ description: "The issuer's prefix and its gapless sequence, e.g. INV-000001" })
  number!: string;

  @Field(() => InvoiceStatus)
  status!: InvoiceStatus;

  @Field()
  periodStart!: Date;

  @Field({ description: 'Exclusive' })
  periodEnd!: Date;

  @Field()
  issuedAt!: Date;

  @Field()
  dueAt!: Date;

  @Field()
  currency!: string;

  @Field(() => [InvoiceLineType])
  lines!: InvoiceLineType[];

  @Field(() => MoneyScalar, { description: 'Sum of the lines (net)' })
  subtotal!: Decimal;

  @Field(() => [InvoiceTaxType])
  taxes!: InvoiceTaxType[];

  @Field(() => MoneyScalar)
  taxTotal!: Decimal;

  @Field(() => MoneyScalar, { description: 'subtotal + taxTotal' })
  total!: Decimal;

  @Field(() => MoneyScalar, { description: 'Top-ups received in the period' })
  payments!: Decimal;

  @Field(() => MoneyScalar, { description: 'The balance at the period start, from the ledger (positive: funds held)' })
  openingBalance!: Decimal;

  @Field(() => MoneyScalar, { description: 'The balance at the period end, from the ledger (positive: funds held)' })
  closingBalance!: Decimal;

  @Field(() => String, { nullable: true })
  voidReason!: string | null;
}

export const InvoiceConnection = Connection(InvoiceType, 'Invoice');

@ArgsType()
export class InvoicesArgs extends PageArgs {
  @Field(() => InvoiceStatus, { nullable: true })
  status?: InvoiceStatus | null;
}

@ObjectType('InvoiceReport')
export class InvoiceReportType {
  @Field(() => Int)
  issued!: number;
}
