import type { Server } from 'node:http';
import {
  execute,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config.js';
import { Context, type Actor } from '../context.js';
import type { Orm } from '../db/orm.js';
import { DomainError } from '../errors.js';
import { formatError, isUnexpected } from '../graphql/format-error.js';
import { costOf, tooExpensive, validationRules } from '../graphql/limits.js';
import { subscribeSharingEvents } from '../graphql/shared-events.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import type { Events } from '../events.js';

type ConnectionExtra = Record<string, unknown> & {
  authorization?: string;
};

/**
 * graphql-ws on the same path as HTTP. connection_init must carry { authorization: "Bearer ..." }: a missing
 * or bad credential closes the socket with 4403. Each operation re-checks the credential and gets its own
 * context and scoped transaction, committed before the result is sent.
 */
export function attachWebSocket(deps: {
  httpServer: Server;
  schema: GraphQLSchema;
  orm: Orm;
  services: Services;
  config: Config;
  events: Events;
  log: Logger;
}) {
  const { httpServer, schema, orm, services, config, events, log } = deps;
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const rules = [
    ...specifiedRules,
    ...validationRules(config),
    // Apollo turns introspection off in production over HTTP; the same holds here.
    ...(config.production ? [NoSchemaIntrospectionCustomRule] : []),
  ];

  const authenticate = async (authorization: unknown): Promise<Actor | null> => {
    if (typeof authorization !== 'string') return null;
    try {
      return await services.auth.authenticate(authorization);
    } catch (error) {
      if (error instanceof DomainError) return null;
      throw error;
    }
  };

  const cleanup = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema,
      async onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        const actor = await authenticate(authorization);
        if (!actor) return false;
        (ctx.extra as ConnectionExtra).authorization = authorization as string;
        return true;
      },
      async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const actor = await authenticate((ctx.extra as ConnectionExtra).authorization);
        if (!actor) return [new GraphQLError('Invalid or expired credentials', { extensions: { code: 'UNAUTHENTICATED' } })];
        if (JSON.stringify(payload).includes('\\u0000')) {
          return [new GraphQLError('Strings cannot contain the NUL character (\\u0000)', { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors;
        const cost = costOf(schema, document, payload.variables ?? {}, payload.operationName ?? undefined);
        if (cost > config.maxComplexity) return [tooExpensive(cost, config.maxComplexity)];
        const contextValue = new Context(orm, services, config, events, log);
        contextValue.bindActor(actor);
        contextValue.watchCredential((ctx.extra as ConnectionExtra).authorization!);
        return {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue,
        };
      },
      subscribe: subscribeSharingEvents,
      async execute(args) {
        const ctx = args.contextValue as Context;
        try {
          const result = await execute(args);
          await ctx.finish({ verify: (result.errors ?? []).some(isUnexpected) });
          return result;
        } catch (error) {
          await ctx.abort();
          throw error;
        }
      },
      async onNext(_ctx, _id, _payload, args, result) {
        // A subscription resolves each event in a short transaction of its own, committed here before the next.
        const ctx = args.contextValue as Context;
        await ctx.finish();
        ctx.em.clear();
        ctx.loaders.account.clearAll();
        if (!result.errors) return;
        for (const error of result.errors) {
          if (isUnexpected(error)) (args.contextValue as Context).log.error({ err: error.originalError ?? error }, 'unexpected error');
        }
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onError(_ctx, _id, _payload, errors) {
        return errors.map((e) => formatError(e.toJSON(), e));
      },
    },
    wsServer,
  );

  return {
    wsServer,
    async close() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
