import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GraphQLInputObjectType, GraphQLObjectType } from 'graphql';
import { createSchema, printedSchema } from '../src/graphql/schema.js';

describe('schema.graphql', () => {
  it('is the schema the server runs (run `npm run schema` after changing it)', async () => {
    const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(await printedSchema());
  });

  it('keeps the fixed names, arguments and types of the public contract', async () => {
    const schema = await createSchema();
    const expectField = (typeName: string, field: string, type: string, args: Record<string, string> = {}) => {
      const t = schema.getType(typeName) as GraphQLObjectType;
      const f = t.getFields()[field];
      expect(f, `${typeName}.${field}`).toBeDefined();
      expect(String(f.type), `${typeName}.${field}`).toBe(type);
      expect(Object.fromEntries(f.args.map((a) => [a.name, String(a.type)])), `${typeName}.${field} args`).toEqual(args);
    };
    const page = { first: 'Int', after: 'String', last: 'Int', before: 'String' };
    expectField('Query', 'me', 'Account!');
    expectField('Query', 'node', 'Node', { id: 'ID!' });
    expectField('Query', 'account', 'Account', { id: 'ID!' });
    expectField('Query', 'accounts', 'AccountConnection!', {
      ...page,
      kind: 'AccountKind',
      status: 'AccountStatus',
      search: 'String',
    });
    expectField('Mutation', 'login', 'AuthPayload!', { email: 'String!', password: 'String!' });
    expectField('Mutation', 'createAccount', 'Account!', { input: 'CreateAccountInput!' });
    expectField('Mutation', 'updateAccount', 'Account!', { id: 'ID!', input: 'UpdateAccountInput!' });
    expectField('Mutation', 'deleteAccount', 'Account!', { id: 'ID!' });
    expectField('Mutation', 'topUp', 'LedgerEntry!', { input: 'BalanceChangeInput!' });
    expectField('Mutation', 'adjustBalance', 'LedgerEntry!', { input: 'BalanceChangeInput!' });
    expectField('Mutation', 'createApiKey', 'ApiKeyPayload!', { name: 'String!', scopes: '[ApiKeyScope!]' });
    expectField('Mutation', 'revokeApiKey', 'ApiKey!', { id: 'ID!' });
    expectField('Account', 'parent', 'Account');
    expectField('Account', 'balance', 'Money!');
    expectField('Account', 'availableBalance', 'Money!');
    expectField('Account', 'children', 'AccountConnection!', { ...page, kind: 'AccountKind' });
    expectField('Account', 'ledger', 'LedgerEntryConnection!', page);
    expectField('LedgerEntry', 'balanceAfter', 'Money!');
    expectField('AccountConnection', 'totalCount', 'Int!');
    expectField('PageInfo', 'endCursor', 'String');
    expectField('PageInfo', 'hasNextPage', 'Boolean!');
    expectField('PageInfo', 'hasPreviousPage', 'Boolean!');
    expectField('PageInfo', 'startCursor', 'String');
    expectField('ApiKeyPayload', 'secret', 'String!');
    const input = schema.getType('BalanceChangeInput') as GraphQLInputObjectType;
    expect(Object.fromEntries(Object.values(input.getFields()).map((f) => [f.name, String(f.type)]))).toEqual({
      accountId: 'ID!',
      amount: 'Money!',
      description: 'String',
      idempotencyKey: 'String',
    });
  });
});
