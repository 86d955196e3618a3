import { Entity, Enum, Filter, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { likePrefix, SCOPE_FILTER, type ScopeParams } from './scope.js';
import type { Decimal } from '../money.js';

export enum Direction {
  INBOUND = 'INBOUND',
  OUTBOUND = 'OUTBOUND',
}

/** The caller's subtree, plus the group the caller is assigned (what it pays, read-only). */
@Entity({ tableName: 'rate_groups' })
@Filter({
  name: SCOPE_FILTER,
  default: true,
  cond: (args: ScopeParams) => {
    const subtree = { ownerPath: { $like: likePrefix(args.path) } };
    return args.rateGroupId ? { $or: [subtree, { id: args.rateGroupId }] } : subtree;
  },
})
export class RateGroup {
  [OptionalProps]?: 'seq' | 'createdAt';

  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  ownerId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

/** Written in bulk by SQL (RateService.write); the entity is for reads. Scoped like its group. */
@Entity({ tableName: 'rates' })
@Filter({
  name: SCOPE_FILTER,
  default: true,
  cond: (args: ScopeParams) => {
    const subtree = { ownerPath: { $like: likePrefix(args.path) } };
    return args.rateGroupId ? { $or: [subtree, { rateGroupId: args.rateGroupId }] } : subtree;
  },
})
export class Rate {
  [OptionalProps]?: 'seq' | 'updatedAt';

  @PrimaryKey({ type: 'text' })
  rateGroupId!: string;

  @Enum({ items: () => Direction, type: 'text', primary: true })
  direction!: Direction;

  @PrimaryKey({ type: 'text' })
  prefix!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text', nullable: true })
  destination?: string | null;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  ratePerMinute!: Decimal;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  connectionFee!: Decimal;

  @Property({ type: 'integer' })
  initialIncrement!: number;

  @Property({ type: 'integer' })
  increment!: number;

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
