import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { ScopedByPath } from './scope.js';
import type { Decimal } from '../money.js';

export enum AlertKind {
  LOW_BALANCE = 'LOW_BALANCE',
  CREDIT_EXHAUSTED = 'CREDIT_EXHAUSTED',
}

/** Raised by the database on each ledger entry that crosses a threshold (see the alerts migration). */
@Entity({ tableName: 'alerts' })
@ScopedByPath('ownerPath')
export class Alert {
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Enum({ items: () => AlertKind, type: 'text' })
  kind!: AlertKind;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  availableBalance!: Decimal;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)', nullable: true })
  threshold?: Decimal | null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
