import { Entity, Enum, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { ScopedByPath } from './scope.js';

export enum SubscriptionStatus {
  PENDING = 'PENDING',
  ACTIVE = 'ACTIVE',
  PAST_DUE = 'PAST_DUE',
  EXPIRED = 'EXPIRED',
  RELEASED = 'RELEASED',
  TERMINATED = 'TERMINATED',
}

/**
 * One level of a chain. Written by SubscriptionService with SQL (a chain spans accounts above the buyer's
 * scope); the entity is for scoped reads, so an account sees only the levels held in its subtree.
 */
@Entity({ tableName: 'package_subscriptions' })
@ScopedByPath('ownerPath')
export class PackageSubscription {
  [OptionalProps]?: 'seq' | 'createdAt';

  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  packageId!: string;

  /** The customer-level subscription's id: shared by every level of the chain. */
  @Property({ type: 'text' })
  chainId!: string;

  /** 0 for the customer, j for the j-th reseller above it. */
  @Property({ type: 'integer' })
  level!: number;

  @Enum({ items: () => SubscriptionStatus, type: 'text' })
  status!: SubscriptionStatus;

  @Property({ type: 'timestamptz' })
  activatedAt!: Date;

  @Property({ type: 'timestamptz' })
  currentPeriodStart!: Date;

  @Property({ type: 'timestamptz' })
  currentPeriodEnd!: Date;

  @Property({ type: 'integer' })
  periodsCharged!: number;

  /** The period running now; one less than periodsCharged while the next one is paid ahead. */
  @Property({ type: 'integer' })
  currentPeriodNumber!: number;

  @Property({ type: 'integer' })
  freeSecondsTotal!: number;

  @Property({ type: 'integer' })
  freeSecondsUsed!: number;

  @Property({ type: 'timestamptz', nullable: true })
  endedAt?: Date | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
