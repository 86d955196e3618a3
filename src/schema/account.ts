import { ArgsType, Extensions, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Decimal } from '../money.js';
import { AccountKind, AccountStatus, BillingMode, ResellerModel } from './enums.js';
import { Connection, PageArgs } from './connection.js';
import { MoneyScalar } from './scalars.js';
import { Node } from './node.js';

/**
 * Fields readable on a parent account seen only as the owner of a package or rate group the caller reads.
 * Every other field answers FORBIDDEN there (deny by default; see withScope in src/graphql/schema.ts).
 */
export const PUBLIC_IDENTITY = { publicIdentity: true };

@ObjectType('Account', { implements: Node })
export class AccountType extends Node {
  @Field({ description: 'Unique 10-digit account number' })
  @Extensions(PUBLIC_IDENTITY)
  number!: string;

  @Field(() => AccountKind)
  @Extensions(PUBLIC_IDENTITY)
  kind!: AccountKind;

  @Field()
  @Extensions(PUBLIC_IDENTITY)
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => AccountStatus)
  status!: AccountStatus;

  @Field({ description: 'ISO 4217 code' })
  @Extensions(PUBLIC_IDENTITY)
  currency!: string;

  @Field(() => BillingMode)
  billingMode!: BillingMode;

  @Field(() => MoneyScalar, { description: 'Position with the parent: positive means prepaid funds' })
  balance!: Decimal;

  @Field(() => MoneyScalar)
  creditLimit!: Decimal;

  @Field(() => MoneyScalar, { description: 'balance + creditLimit' })
  availableBalance!: Decimal;

  @Field(() => MoneyScalar, { nullable: true })
  lowBalanceThreshold!: Decimal | null;

  @Field(() => ResellerModel, { nullable: true, description: 'Resellers only' })
  resellerModel!: ResellerModel | null;

  @Field(() => MoneyScalar, { nullable: true })
  dailySpendLimit!: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true })
  monthlySpendLimit!: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'Calls must leave at least this available balance' })
  minimumBalanceToCall!: Decimal | null;

  @Field(() => Int, { nullable: true, description: 'Open call leases allowed at once in its subtree; null: any' })
  maxConcurrentCalls!: number | null;

  @Field({ description: 'false: refuse calls on which a reseller above would pay more than it charges' })
  allowNegativeMargin!: boolean;

  @Field({ description: 'IANA timezone: invoice periods and daily/monthly spend limits follow its local days' })
  timezone!: string;

  @Field(() => Int, { description: '1-28: invoice periods start at 00:00 local time on this day' })
  billingDay!: number;

  @Field(() => Int, { description: 'Days from an invoice to its due date' })
  paymentTermsDays!: number;

  @Field({ description: 'Prefixes the numbers of the invoices this account issues to its children' })
  invoicePrefix!: string;

  @Field(() => String, { nullable: true })
  companyName!: string | null;

  @Field(() => String, { nullable: true })
  addressLine1!: string | null;

  @Field(() => String, { nullable: true })
  addressLine2!: string | null;

  @Field(() => String, { nullable: true })
  city!: string | null;

  @Field(() => String, { nullable: true })
  region!: string | null;

  @Field(() => String, { nullable: true })
  postalCode!: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 3166 alpha-2' })
  country!: string | null;

  @Field(() => String, { nullable: true })
  taxNumber!: string | null;

  @Field(() => String, { nullable: true, description: 'Where invoices and notices go' })
  notificationEmail!: string | null;

  @Field()
  @Extensions(PUBLIC_IDENTITY)
  createdAt!: Date;
}

export const AccountConnection = Connection(AccountType, 'Account');

@ArgsType()
export class AccountsArgs extends PageArgs {
  @Field(() => AccountKind, { nullable: true })
  kind?: AccountKind | null;

  @Field(() => AccountStatus, { nullable: true, description: 'Deleted accounts are listed only when asked for' })
  status?: AccountStatus | null;

  @Field(() => String, { nullable: true, description: 'Matches name, email or account number' })
  search?: string | null;
}

@ArgsType()
export class ChildrenArgs extends PageArgs {
  @Field(() => AccountKind, { nullable: true })
  kind?: AccountKind | null;
}

/** Profile and billing settings, on create and update alike. */
@InputType('AccountProfileInput')
export abstract class AccountProfileInput {
  @Field(() => String, { nullable: true, description: 'IANA name; default UTC' })
  timezone?: string | null;

  @Field(() => Int, { nullable: true, description: '1-28; default 1' })
  billingDay?: number | null;

  @Field(() => Int, { nullable: true, description: '0-365; default 15' })
  paymentTermsDays?: number | null;

  @Field(() => String, { nullable: true, description: 'Default "INV-"' })
  invoicePrefix?: string | null;

  @Field(() => String, { nullable: true })
  companyName?: string | null;

  @Field(() => String, { nullable: true })
  addressLine1?: string | null;

  @Field(() => String, { nullable: true })
  addressLine2?: string | null;

  @Field(() => String, { nullable: true })
  city?: string | null;

  @Field(() => String, { nullable: true })
  region?: string | null;

  @Field(() => String, { nullable: true })
  postalCode?: string | null;

  @Field(() => String, { nullable: true })
  country?: string | null;

  @Field(() => String, { nullable: true })
  taxNumber?: string | null;

  @Field(() => String, { nullable: true })
  notificationEmail?: string | null;

  @Field(() => [ID], { nullable: true, description: "The parent's tax rates to add to what it charges (as setAccountTaxes)" })
  taxRateIds?: string[] | null;
}

@InputType()
export class CreateAccountInput extends AccountProfileInput {
  @Field(() => ID, { nullable: true, description: 'Defaults to the caller' })
  parentId?: string | null;

  @Field(() => AccountKind, { description: 'RESELLER or CUSTOMER' })
  kind!: AccountKind;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Lets the account log in; needs an email' })
  password?: string | null;

  @Field(() => String, { nullable: true, description: "ISO 4217; defaults to the parent's currency" })
  currency?: string | null;

  @Field(() => BillingMode, { nullable: true })
  billingMode?: BillingMode | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'POSTPAID only' })
  creditLimit?: Decimal | null;

  @Field(() => ResellerModel, { nullable: true, description: 'Resellers only; default MARGIN' })
  resellerModel?: ResellerModel | null;

  @Field(() => MoneyScalar, { nullable: true })
  lowBalanceThreshold?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true })
  dailySpendLimit?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true })
  monthlySpendLimit?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true })
  minimumBalanceToCall?: Decimal | null;

  @Field(() => Int, { nullable: true })
  maxConcurrentCalls?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true' })
  allowNegativeMargin?: boolean | null;

  @Field(() => ID, { nullable: true, description: "One of the parent's own rate groups" })
  rateGroupId?: string | null;
}

@InputType({
  description:
    'Never balance, parent or kind. An account may change its own name, email, password, threshold, profile and invoice prefix.',
})
export class UpdateAccountInput extends AccountProfileInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'At least 10 characters, not the email, not a common password; ends the tokens issued before it',
  })
  password?: string | null;

  @Field(() => String, { nullable: true, description: "Required with password when changing one's own password" })
  currentPassword?: string | null;

  @Field(() => AccountStatus, { nullable: true, description: 'ACTIVE or SUSPENDED' })
  status?: AccountStatus | null;

  @Field(() => BillingMode, { nullable: true })
  billingMode?: BillingMode | null;

  @Field(() => MoneyScalar, { nullable: true })
  creditLimit?: Decimal | null;

  @Field(() => ResellerModel, { nullable: true })
  resellerModel?: ResellerModel | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'null clears it' })
  lowBalanceThreshold?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'null clears it' })
  dailySpendLimit?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'null clears it' })
  monthlySpendLimit?: Decimal | null;

  @Field(() => MoneyScalar, { nullable: true, description: 'null clears it' })
  minimumBalanceToCall?: Decimal | null;

  @Field(() => Int, { nullable: true, description: 'null clears it' })
  maxConcurrentCalls?: number | null;

  @Field(() => Boolean, { nullable: true })
  allowNegativeMargin?: boolean | null;

  @Field(() => ID, { nullable: true, description: "One of the parent's own rate groups; null removes it" })
  rateGroupId?: string | null;
}
