import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { AccountType } from './account.js';
import { Connection } from './connection.js';
import { Node } from './node.js';

@ObjectType('AuthPayload')
export class AuthPayload {
  @Field({ description: 'A JWT to send as "Authorization: Bearer <token>"' })
  token!: string;

  @Field(() => AccountType)
  account!: AccountType;
}

export enum ApiKeyScope {
  FULL = 'FULL',
  READ_ONLY = 'READ_ONLY',
  RATING = 'RATING',
}
registerEnumType(ApiKeyScope, {
  name: 'ApiKeyScope',
  valuesConfig: {
    FULL: { description: 'Everything its creator may do, except managing credentials' },
    READ_ONLY: { description: 'Queries and subscriptions' },
    RATING: { description: 'Only rateCall, rateCalls and authorizeCall' },
  },
});

@ObjectType('ApiKey', { implements: Node })
export class ApiKeyType extends Node {
  @Field()
  name!: string;

  @Field(() => [ApiKeyScope])
  scopes!: ApiKeyScope[];

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

export const ApiKeyConnection = Connection(ApiKeyType, 'ApiKey');

@ObjectType('ApiKeyPayload')
export class ApiKeyPayload {
  @Field({ description: 'Shown once; only a hash is stored' })
  secret!: string;

  @Field(() => ApiKeyType)
  apiKey!: ApiKeyType;
}
