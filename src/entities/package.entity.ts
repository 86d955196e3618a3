import { Entity, Enum, Filter, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { likePrefix, SCOPE_FILTER, type ScopeParams } from './scope.js';
import type { Decimal } from '../money.js';

export enum PackageStatus {
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
  ARCHIVED = 'ARCHIVED',
}
export enum BillingType {
  ONE_TIME = 'ONE_TIME',
  RECURRING = 'RECURRING',
  MONTHLY = 'MONTHLY',
}
export enum Applicability {
  INBOUND = 'INBOUND',
  OUTBOUND = 'OUTBOUND',
  BOTH = 'BOTH',
}
export enum ChargeType {
  FULL = 'FULL',
  UTILIZED_DAYS = 'UTILIZED_DAYS',
  UTILIZED_MINUTES = 'UTILIZED_MINUTES',
  HIGHEST_UTILIZATION = 'HIGHEST_UTILIZATION',
}
export enum ActivationPolicy {
  DENY_IF_INSUFFICIENT = 'DENY_IF_INSUFFICIENT',
  ALLOW_IF_INSUFFICIENT = 'ALLOW_IF_INSUFFICIENT',
  PENDING_IF_INSUFFICIENT = 'PENDING_IF_INSUFFICIENT',
}

export interface DiscountRule {
  fromActivation: number;
  /** Decimal string. */
  amount: string;
}

/** Why the service, not the owner, disabled a package. */
export enum PackageStatusReason {
  BELOW_COST = 'BELOW_COST',
}

/**
 * The lifecycle rules of an original package, shared by every clone down its chain. Only ever reached through
 * a package the caller may see, so it has no scope filter of its own; row-level security makes terms visible
 * exactly where a package using them is.
 */
@Entity({ tableName: 'package_terms' })
export class PackageTerms {
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  currency!: string;

  @Property({ type: 'text', nullable: true })
  country?: string | null;

  @Property({ type: 'text', nullable: true })
  category?: string | null;

  @Enum({ items: () => BillingType, type: 'text' })
  billingType!: BillingType;

  @Property({ type: 'integer' })
  billingDays!: number;

  @Property({ type: 'integer' })
  freeMinutes!: number;

  @Enum({ items: () => Applicability, type: 'text' })
  applicableFor!: Applicability;

  @Property({ type: 'text[]', columnType: 'text[]' })
  destinations!: string[];

  @Enum({ items: () => ChargeType, type: 'text' })
  chargeType!: ChargeType;

  @Property({ type: 'boolean' })
  releaseIfNoBalance!: boolean;

  @Property({ type: 'integer' })
  priority!: number;

  @Property({ type: 'integer' })
  minimumDays!: number;

  @Enum({ items: () => ActivationPolicy, type: 'text' })
  activationPolicy!: ActivationPolicy;

  @Property({ type: 'integer' })
  advanceRenewHours!: number;

  /** With releaseIfNoBalance: hours after the boundary a chain that cannot renew stays PAST_DUE (DOMAIN.md 10). */
  @Property({ type: 'integer', nullable: true })
  renewRetryHours?: number | null;

  /** DID limits (DOMAIN.md 12). */
  @Property({ type: 'integer' })
  didQuantity!: number;

  @Property({ type: 'text[]', columnType: 'text[]' })
  allowedDidTags!: string[];

  @Property({ type: 'integer' })
  didHoldDays!: number;

  /** The price is a spend commitment settled at each period's end (DOMAIN.md 13); fixed at creation. */
  @Property({ type: 'boolean' })
  minimumSpend!: boolean;

  @Property({ type: 'json', columnType: 'jsonb' })
  discounts!: DiscountRule[];

  @Property({ type: 'timestamptz', nullable: true })
  startDate?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  endDate?: Date | null;
}

/**
 * A package an account owns: an original (no source) or a clone made by opting into the parent's package.
 * Besides its own subtree, an account may read its direct parent's packages (offers, and the sources of its
 * own clones), hence the wider filter than other tenant-owned entities.
 */
@Entity({ tableName: 'packages' })
@Filter({
  name: SCOPE_FILTER,
  default: true,
  cond: (args: ScopeParams) => {
    const parentPath = args.path.replace(/[^/]+\/$/, '');
    return parentPath
      ? { $or: [{ ownerPath: { $like: likePrefix(args.path) } }, { ownerPath: parentPath }] }
      : { ownerPath: { $like: likePrefix(args.path) } };
  },
})
export class Package {
  [OptionalProps]?: 'seq' | 'createdAt' | 'updatedAt' | 'lineage' | 'priceFollowsSource' | 'statusReason' | 'optedOutAt';

  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  ownerId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text', nullable: true })
  sourceId?: string | null;

  /** Ids of the sources up the chain, the original first. Immutable. */
  @Property({ type: 'text[]', columnType: 'text[]' })
  lineage: string[] = [];

  @Property({ type: 'text' })
  termsId!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Enum({ items: () => PackageStatus, type: 'text' })
  status!: PackageStatus;

  @Enum({ items: () => PackageStatusReason, type: 'text', nullable: true })
  statusReason?: PackageStatusReason | null = null;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  price!: Decimal;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  setupFee!: Decimal;

  /** COMMISSION clones sell at their source's prices, always: kept equal by PackageService. */
  @Property({ type: 'boolean' })
  priceFollowsSource = false;

  @Property({ type: DecimalType, columnType: 'numeric(9,4)' })
  commissionRate!: Decimal;

  @Property({ type: 'boolean' })
  canBePurchased!: boolean;

  @Property({ type: 'boolean' })
  resellerCanResell!: boolean;

  /** Price and setup fee include the buyer's taxes (DOMAIN.md 8); the package's own, not shared by clones. */
  @Property({ type: 'boolean' })
  taxInclusive: boolean = false;

  /** Assigned to every new direct child customer of the owner; only the owner or above terminates it (DOMAIN.md 13). */
  @Property({ type: 'boolean' })
  mandatory: boolean = false;

  @Property({ type: 'timestamptz', nullable: true })
  optedOutAt?: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
