import 'reflect-metadata';
import {
  defaultFieldResolver,
  isObjectType,
  Kind,
  printSchema,
  type GraphQLFieldResolver,
  type GraphQLInterfaceType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { buildSchema } from 'type-graphql';
import type { Context } from '../context.js';
import { RESOLVERS } from '../resolvers/index.js';
import { authChecker } from '../resolvers/roles.js';
import { Decimal } from '../money.js';
import { DomainError } from '../errors.js';
import { PublicAccount } from '../accounts/rows.js';
import { DateTimeScalar, MoneyScalar } from '../schema/scalars.js';
import { createEvents } from '../events.js';
import { resolveNodeType } from '../schema/node.js';

/**
 * Wraps the resolver of every field of the schema (one place, applied after the schema is built):
 * - Waits for the request's scoped transaction, which opens on first use. Fields marked `outsideScope`
 *   (login) skip it: they must not open a transaction before the caller is known. Fields marked IN_MEMORY
 *   skip it too while none is open: they read the object in hand, so an event pushed to a thousand
 *   subscribers costs no transaction per subscriber.
 * - On a parent account seen only through something it owns (a PublicAccount), lets through the fields
 *   marked `publicIdentity` and `id`, and refuses the rest: deny by default.
 * It stays synchronous whenever it can: a page of fifty accounts resolves about a thousand fields, and a
 * promise for each (as a type-graphql global middleware makes) was a large share of the request's CPU.
 */
function withScope(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve: GraphQLFieldResolver<unknown, Context> = field.resolve ?? defaultFieldResolver;
      const publicIdentity = field.name === 'id' || !!field.extensions?.publicIdentity;
      const withoutTransaction = !!(field.extensions?.outsideScope || field.extensions?.inMemory);
      const paged = field.args.some((a) => a.name === 'first') && field.args.some((a) => a.name === 'last');
      field.resolve = (root, givenArgs, context: Context, info) => {
        const args = paged ? pagedArgs(givenArgs, info) : givenArgs;
        if (!publicIdentity && root instanceof PublicAccount) {
          throw new DomainError('FORBIDDEN', `${info.fieldName} of an account outside your scope is not visible`);
        }
        if (context.transactionReady || !context.actor || (withoutTransaction && !context.transactionStarted)) {
          return resolve(root, args, context, info);
        }
        return context.ensureTransaction()!.then(() => resolve(root, args, context, info));
      };
    }
  }
  return schema;
}

/**
 * `first` has a default of 50 (API.md), which graphql-js fills in whenever a client leaves it out, `last` alone
 * included. Written in the query (or given by a variable that was sent), `first` stands, and with `last` is
 * refused; filled in by the default, it gives way to `last`.
 */
function pagedArgs(args: Record<string, unknown>, info: GraphQLResolveInfo): Record<string, unknown> {
  if (args.last == null || args.first == null) return args;
  const node = info.fieldNodes[0]?.arguments?.find((a) => a.name.value === 'first');
  const given = !!node && (node.value.kind !== Kind.VARIABLE || info.variableValues[node.value.name.value] !== undefined);
  return given ? args : { ...args, first: undefined };
}

let cached: Promise<GraphQLSchema> | undefined;

/**
 * The schema is built once per process. Subscriptions take their event source from the context
 * (context.events), so the pub/sub given here only satisfies type-graphql and is never published to.
 */
export function createSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    pubSub: createEvents(),
    resolvers: RESOLVERS,
    authChecker,
    authMode: 'error',
    validate: false,
    scalarsMap: [
      { type: Decimal, scalar: MoneyScalar },
      { type: Date, scalar: DateTimeScalar },
    ],
  }).then((schema) => {
    // type-graphql wraps resolveType in an async function, which a compiled executor does not await
    // (src/graphql/executor.ts): the interface gets the synchronous one back.
    (schema.getType('Node') as GraphQLInterfaceType).resolveType = (value) => resolveNodeType(value as { id: string });
    return withScope(schema);
  });
  return cached;
}

export async function printedSchema(): Promise<string> {
  return `${printSchema(await createSchema())}\n`;
}
