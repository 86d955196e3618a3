import { Entity, Enum, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { Direction } from './rate.entity.js';
import { ScopedByPath } from './scope.js';
import type { Decimal } from '../money.js';

/** A rated call. Written in bulk by RatingService; the entities are for scoped reads. */
@Entity({ tableName: 'calls' })
@ScopedByPath('ownerPath')
export class CallRecord {
  [OptionalProps]?: 'seq' | 'createdAt' | 'revision';

  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  rootId!: string;

  @Property({ type: 'text' })
  callId!: string;

  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  destination!: string;

  @Enum({ items: () => Direction, type: 'text' })
  direction!: Direction;

  @Property({ type: 'integer' })
  durationSeconds!: number;

  @Property({ type: 'integer' })
  billedSeconds!: number;

  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  cost!: Decimal;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Ratings after the first (rerateCalls); the earlier ones are in call_revisions. */
  @Property({ type: 'integer' })
  revision: number = 0;
}

@Entity({ tableName: 'call_charges' })
@ScopedByPath('ownerPath')
export class CallCharge {
  @PrimaryKey({ type: 'text' })
  callId!: string;

  @PrimaryKey({ type: 'integer' })
  level!: number;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  amount!: Decimal;

  @Property({ type: 'integer' })
  billedSeconds!: number;

  @Property({ type: 'integer' })
  freeSeconds!: number;

  @Property({ type: 'text', nullable: true })
  subscriptionId?: string | null;

  @Property({ type: 'text', nullable: true })
  ratePrefix?: string | null;
}
