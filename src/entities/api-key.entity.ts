import { Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';
import { ScopedByPath } from './scope.js';

@Entity({ tableName: 'api_keys' })
@ScopedByPath('ownerPath')
export class ApiKey {
  [OptionalProps]?: 'seq' | 'createdAt' | 'scopes';

  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'bigint', defaultRaw: 'identity', nullable: true })
  seq?: string;

  /** The key acts as this account. */
  @Property({ type: 'text' })
  accountId!: string;

  @Property({ type: 'text' })
  ownerPath!: string;

  @Property({ type: 'text' })
  name!: string;

  /** SHA-256 of the secret: the secret is 256 random bits, so a slow hash adds nothing. */
  @Property({ type: 'text', hidden: true })
  keyHash!: string;

  /** FULL, READ_ONLY and/or RATING (src/graphql/credential-scopes.ts). */
  @Property({ type: 'text[]' })
  scopes: string[] = ['FULL'];

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;
}
