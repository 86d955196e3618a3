import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { DecimalType } from './decimal.type.js';
import { ScopedByPath } from './scope.js';
import type { Decimal } from '../money.js';

/** Append-only. Written only by the posting engine (src/ledger/post.ts), in the statement that moves the balance. */
@Entity({ tableName: 'ledger_entries' })
@ScopedByPath('ownerPath')
export class LedgerEntry {
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  amount!: Decimal;

  @Property({ type: DecimalType, columnType: 'numeric(20,6)' })
  balanceAfter!: Decimal;

  @Property({ type: 'text' })
  kind!: string;

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  /** The account whose request caused the entry (null for the scheduler). */
  @Property({ type: 'text', nullable: true })
  actorId?: string | null;

  /** The subscription a fee, refund or commission belongs to. */
  @Property({ type: 'text', nullable: true })
  subscriptionId?: string | null;

  /** The tax rate of a TAX or TAX_REFUND entry. */
  @Property({ type: 'text', nullable: true })
  taxRateId?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;
}
