import 'reflect-metadata';
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type MiddlewareFn } from 'type-graphql';
import type { Context } from '../context.js';
import { RESOLVERS } from '../resolvers/index.js';
import { authChecker } from '../resolvers/roles.js';
import { Decimal } from '../money.js';
import { DomainError } from '../errors.js';
import { PublicAccount } from '../services/account.service.js';
import { DateTimeScalar, MoneyScalar } from '../schema/scalars.js';
import { createEvents } from '../events.js';

/**
 * Runs before every resolver.
 * - Waits for the request's scoped transaction, which opens on first use. Fields marked `outsideScope`
 *   (login) skip it: they must not open a transaction before the caller is known. Fields marked IN_MEMORY
 *   skip it too while none is open: they read the object in hand, so an event pushed to a thousand
 *   subscribers costs no transaction per subscriber.
 * - On a parent account seen only through something it owns (a PublicAccount), lets through the fields
 *   marked `publicIdentity` and `id`, and refuses the rest: deny by default.
 */
const scopeMiddleware: MiddlewareFn<Context> = ({ context, info, root }, next) => {
  if (root instanceof PublicAccount && info.fieldName !== 'id') {
    const field = info.parentType.getFields()[info.fieldName];
    if (!field?.extensions?.publicIdentity) {
      throw new DomainError('FORBIDDEN', `${info.fieldName} of an account outside your scope is not visible`);
    }
  }
  // The common case, every field after the first: no promise, no await (this runs for every field).
  if (context.transactionReady || !context.actor) return next();
  const field = info.parentType.getFields()[info.fieldName];
  if (!context.transactionStarted && (field?.extensions?.outsideScope || field?.extensions?.inMemory)) return next();
  return context.ensureTransaction()!.then(() => next());
};

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
    globalMiddlewares: [scopeMiddleware],
  });
  return cached;
}

export async function printedSchema(): Promise<string> {
  return `${printSchema(await createSchema())}\n`;
}
