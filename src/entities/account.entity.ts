import { Entity, PrimaryKey, Property, Enum, Index, OptionalProps } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { ScopedByPath } from './scope.js';
import { Decimal } from '../money.js';

export enum AccountKind {
  ADMIN = 'ADMIN',
  RESELLER = 'RESELLER',
  CUSTOMER = 'CUSTOMER',
}
export enum AccountStatus {
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
  DELETED = 'DELETED',
}
export enum BillingMode {
  PREPAID = 'PREPAID',
  POSTPAID = 'POSTPAID',
}
export enum ResellerModel {
  MARGIN = 'MARGIN',
  COMMISSION = 'COMMISSION',
}

@Entity({ tableName: 'accounts' })
@ScopedByPath('path')
export class Account {
  [OptionalProps]?:
    | 'seq'
    | 'status'
    | 'billingMode'
    | 'balance'
    | 'creditLimit'
    | 'createdAt'
    | 'updatedAt'
    | 'tokenVersion'
    | 'timezone'
    | 'billingDay'
    | 'paymentTermsDays'
    | 'invoicePrefix';

  @PrimaryKey({ type: 'text' })
  id!: string;

  /** Insertion order; the keyset for cursors. Assigned by the database. */
  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  number!: string;

  @Enum({ items: () => AccountKind, nativeEnumName: undefined, type: 'text' })
  kind!: AccountKind;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  passwordHash?: string | null;

  /** Signed into login tokens; bumped in SQL by what ends them (AuthService.endCredentials), never by the ORM. */
  @Property({ type: 'integer', hidden: true })
  tokenVersion: number = 0;

  @Property({ type: 'text', nullable: true })
  parentId?: string | null;

  @Property({ type: 'text' })
  rootId!: string;

  /** "/<root id>/.../<own id>/": immutable, since accounts never move. */
  @Property({ type: 'text' })
  @Index()
  path!: string;

  @Property({ type: 'integer' })
  depth!: number;

  @Enum({ items: () => AccountStatus, type: 'text' })
  status: AccountStatus = AccountStatus.ACTIVE;

  @Property({ type: 'text' })
  currency!: string;

  @Enum({ items: () => BillingMode, type: 'text' })
  billingMode: BillingMode = BillingMode.PREPAID;

  /** Moved only by the posting engine (src/ledger/post.ts), which writes the ledger entry in the same statement. */
  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  balance: Decimal = new Decimal(0);

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  creditLimit: Decimal = new Decimal(0);

  @Enum({ items: () => ResellerModel, type: 'text', nullable: true })
  resellerModel?: ResellerModel | null;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)', nullable: true })
  lowBalanceThreshold?: Decimal | null;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)', nullable: true })
  dailySpendLimit?: Decimal | null;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)', nullable: true })
  monthlySpendLimit?: Decimal | null;

  /** Call admission (DOMAIN.md 14): the available balance a call must leave. */
  @Property({ type: DecimalType, columnType: 'numeric(20,6)', nullable: true })
  minimumBalanceToCall?: Decimal | null;

  /** Call admission: open call leases allowed at once in the account's subtree. */
  @Property({ type: 'integer', nullable: true })
  maxConcurrentCalls?: number | null;

  /** Call admission: false refuses calls on which a reseller above would pay more than it charges. */
  @Property({ type: 'boolean' })
  allowNegativeMargin: boolean = true;

  /** available = balance + creditLimit (DOMAIN.md 2). */
  get availableBalance(): Decimal {
    return this.balance.plus(this.creditLimit);
  }

  /** One of the parent's rate groups: what this account pays per minute. */
  @Property({ type: 'text', nullable: true })
  rateGroupId?: string | null;

  /** IANA name: the account's invoice periods and daily and monthly spend limits run on its local days. */
  @Property({ type: 'text' })
  timezone: string = 'UTC';

  /** 1-28: each invoice period starts at 00:00 local time on this day of the month (DOMAIN.md 9). */
  @Property({ type: 'integer' })
  billingDay: number = 1;

  @Property({ type: 'integer' })
  paymentTermsDays: number = 15;

  /** Prefixes the numbers of the invoices this account issues to its children. */
  @Property({ type: 'text' })
  invoicePrefix: string = 'INV-';

  @Property({ type: 'text', nullable: true })
  companyName?: string | null;

  @Property({ type: 'text', nullable: true })
  addressLine1?: string | null;

  @Property({ type: 'text', nullable: true })
  addressLine2?: string | null;

  @Property({ type: 'text', nullable: true })
  city?: string | null;

  @Property({ type: 'text', nullable: true })
  region?: string | null;

  @Property({ type: 'text', nullable: true })
  postalCode?: string | null;

  @Property({ type: 'text', nullable: true })
  country?: string | null;

  @Property({ type: 'text', nullable: true })
  taxNumber?: string | null;

  @Property({ type: 'text', nullable: true })
  notificationEmail?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
