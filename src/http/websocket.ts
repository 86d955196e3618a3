import type { Server } from 'node:http';
import {
  execute,
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import { Context, type Actor } from '../context.js';
import type { Orm } from '../db/orm.js';
import { DomainError } from '../errors.js';
import { formatError, isUnexpected } from '../graphql/format-error.js';
import { admitOperation, documentTooLarge, requestError, shapeError, shapeErrors } from '../graphql/limits.js';
import { subscribeSharingEvents } from '../graphql/shared-events.js';
import type { Logger } from '../logger.js';
import type { CredentialChange } from '../events.js';
import type { Services } from '../services/index.js';
import type { Events } from '../events.js';
import type { Metrics } from '../metrics.js';

/** One graphql-ws connection: the credential it authenticated with and its running subscriptions. */
interface Connection {
  authorization: string;
  accountId: string;
  /** Counted from the moment one is asked for (null until it is admitted), so a burst cannot slip past the caps. */
  subscriptions: Map<string, Context | null>;
  /** Credential changes that arrived while a subscription was being admitted: checked when its admission ends. */
  missed: CredentialChange[];
  /** Queries and mutations running: each holds a database connection while it runs. */
  running: Set<string>;
}

type ConnectionExtra = { socket: WebSocket; request: { socket: { remoteAddress?: string } }; connection?: Connection };

/** graphql-ws reports errors of its own hooks as they are; these carry the code the error table expects. */
function coded(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map(
    (e) => new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code } }),
  );
}

function asGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  return new GraphQLError((error as Error).message, { originalError: error as Error });
}

/** Whether a change of credentials ends the one this operation runs with. */
function ends(change: CredentialChange, actor: Actor): boolean {
  if ('apiKeyId' in change) return actor.apiKeyId === change.apiKeyId;
  if ('tokensOf' in change) return actor.via === 'token' && actor.accountId === change.tokensOf;
  return actor.path.startsWith(change.under);
}

/**
 * graphql-ws on the same path as HTTP. connection_init must carry { authorization: "Bearer ..." }: a missing
 * or bad credential closes the socket with 4403. Each operation re-checks the credential, passes the same
 * limits as HTTP (a refused one gets an `error` message; the socket and its other operations go on), and
 * gets its own context and scoped transaction, committed before the result is sent.
 */
export function attachWebSocket(deps: {
  httpServer: Server;
  schema: GraphQLSchema;
  orm: Orm;
  services: Services;
  config: Config;
  events: Events;
  log: Logger;
  metrics: Metrics;
}) {
  const { httpServer, schema, orm, services, config, events, log, metrics } = deps;
  // A frame is read whole before anything else happens, authentication included: cap it like an HTTP body.
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: config.bodyLimitBytes });
  const rules = [
    ...specifiedRules,
    // Apollo turns introspection off in production over HTTP; the same holds here.
    ...(config.production ? [NoSchemaIntrospectionCustomRule] : []),
  ];
  const connections = new Set<Connection>();

  // A client that stops reading makes the server buffer everything sent to it: past a bound, it is cut off.
  // Registered before graphql-ws's own listener, so every send of the connection goes through it.
  wsServer.on('connection', (socket) => {
    const send = socket.send.bind(socket) as (data: unknown, cb?: (err?: Error) => void) => void;
    let cutOff = false;
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      const cb = rest.find((r): r is (err?: Error) => void => typeof r === 'function');
      if (socket.readyState !== socket.OPEN) {
        cb?.();
        return;
      }
      if (socket.bufferedAmount > config.wsMaxBufferedBytes) {
        log.warn({ buffered: socket.bufferedAmount }, 'closing a WebSocket that does not read what it is sent');
        cutOff = true;
        socket.terminate();
        // Reported as sent: graphql-ws sends nothing more to a closed socket and ends its operations on close.
        cb?.();
        return;
      }
      // What was queued when the socket was cut off fails to write: expected, and not graphql-ws's concern.
      send(data, (err) => cb?.(cutOff ? undefined : err));
    }) as WebSocket['send'];
  });

  const authenticate = async (authorization: unknown): Promise<Actor | null> => {
    if (typeof authorization !== 'string') return null;
    try {
      return await services.auth.authenticate(authorization);
    } catch (error) {
      if (error instanceof DomainError) return null;
      throw error;
    }
  };

  const subscriptionsOf = (accountId: string): number => {
    let n = 0;
    for (const c of connections) if (c.accountId === accountId) n += c.subscriptions.size;
    return n;
  };

  const cleanup = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema,
      async onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        const actor = await authenticate(authorization);
        if (!actor) return false;
        const connection: Connection = {
          authorization: authorization as string,
          accountId: actor.accountId,
          subscriptions: new Map(),
          missed: [],
          running: new Set(),
        };
        connections.add(connection);
        ctx.extra.connection = connection;
        return true;
      },
      onClose(ctx) {
        const connection = ctx.extra.connection;
        if (connection) connections.delete(connection);
      },
      async onSubscribe(ctx, id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const connection = ctx.extra.connection!;
        // Everything up to the caps runs synchronously, so operations sent together are counted one by one.
        if (JSON.stringify(payload).includes('\\u0000')) {
          return [requestError('Strings cannot contain the NUL character (\\u0000)')];
        }
        const tooLarge = documentTooLarge(payload.query, config);
        if (tooLarge) return [requestError(tooLarge)];
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return coded([asGraphQLError(error)], 'GRAPHQL_PARSE_FAILED');
        }
        const [shape] = shapeErrors(schema, document, config);
        if (shape) return [shapeError(shape)];
        const errors = validate(schema, document, rules, { maxErrors: config.maxValidationErrors });
        if (errors.length > 0) return coded(errors, 'GRAPHQL_VALIDATION_FAILED');
        const operationName = payload.operationName ?? undefined;
        const subscription = getOperationAST(document, operationName)?.operation === 'subscription';
        if (subscription) {
          if (connection.subscriptions.size >= config.wsMaxSubscriptionsPerConnection) {
            return [requestError(`At most ${config.wsMaxSubscriptionsPerConnection} subscriptions per connection`)];
          }
          if (subscriptionsOf(connection.accountId) >= config.wsMaxSubscriptionsPerAccount) {
            return [requestError(`At most ${config.wsMaxSubscriptionsPerAccount} subscriptions per account`)];
          }
          connection.subscriptions.set(id, null);
        } else {
          // Sent all at once on one socket, queries would otherwise each take one of the pool's connections.
          if (connection.running.size >= config.wsMaxRunningOperations) {
            return [requestError(`At most ${config.wsMaxRunningOperations} queries and mutations at once per connection`)];
          }
          connection.running.add(id);
        }
        try {
          const actor = await authenticate(connection.authorization);
          if (!actor) throw new DomainError('UNAUTHENTICATED', 'Invalid or expired credentials');
          const contextValue = new Context(orm, services, config, events, log);
          contextValue.clientAddress = ctx.extra.request.socket.remoteAddress ?? 'unknown';
          contextValue.bindActor(actor);
          contextValue.watchCredential(connection.authorization);
          await admitOperation(contextValue, schema, document, payload.variables ?? {}, operationName);
          if (subscription) {
            // A revocation that arrived while this was authenticated found no context to end.
            if (connection.missed.some((change) => ends(change, actor)))
              throw new DomainError('UNAUTHENTICATED', 'Invalid or expired credentials');
            connection.subscriptions.set(id, contextValue);
            if (![...connection.subscriptions.values()].includes(null)) connection.missed = [];
          }
          return { schema, document, variableValues: payload.variables, operationName, contextValue };
        } catch (error) {
          connection.subscriptions.delete(id);
          connection.running.delete(id);
          if (![...connection.subscriptions.values()].includes(null)) connection.missed = [];
          if (error instanceof DomainError || error instanceof GraphQLError) return [asGraphQLError(error)];
          throw error;
        }
      },
      subscribe: subscribeSharingEvents,
      async execute(args) {
        const ctx = args.contextValue as Context;
        const started = performance.now();
        let code = 'INTERNAL_SERVER_ERROR';
        try {
          const result = await execute(args);
          await ctx.finish({ verify: (result.errors ?? []).some(isUnexpected) });
          const [first] = result.errors ?? [];
          code = first ? String(formatError(first.toJSON(), first).extensions?.code) : 'OK';
          return result;
        } catch (error) {
          await ctx.abort();
          throw error;
        } finally {
          metrics.operation(
            getOperationAST(args.document, args.operationName)?.name?.value,
            code,
            (performance.now() - started) / 1000,
          );
        }
      },
      async onNext(_ctx, _id, _payload, args, result) {
        // A subscription resolves each event in a short transaction of its own, committed here before the next.
        const ctx = args.contextValue as Context;
        await ctx.finish();
        ctx.em.clear();
        ctx.loaders.clearAll();
        if (!result.errors) return;
        for (const error of result.errors) {
          if (isUnexpected(error))
            (args.contextValue as Context).log.error({ err: error.originalError ?? error }, 'unexpected error');
        }
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onComplete(ctx, id) {
        ctx.extra.connection?.subscriptions.delete(id);
        ctx.extra.connection?.running.delete(id);
      },
      onError(ctx, id, _payload, errors) {
        ctx.extra.connection?.subscriptions.delete(id);
        ctx.extra.connection?.running.delete(id);
        return errors.map((e) => formatError(e.toJSON(), e));
      },
    },
    wsServer,
  );

  return {
    wsServer,
    /** Open sockets (authenticated or not) and running subscriptions, for metrics. */
    stats() {
      let subscriptions = 0;
      for (const c of connections) subscriptions += c.subscriptions.size;
      return { sockets: wsServer.clients.size, subscriptions };
    },
    /**
     * Ends, on this instance, every running subscription whose credential a committed change has ended. Called
     * synchronously as the notification arrives, so no event committed after the change reaches them.
     */
    endCredentials(change: CredentialChange) {
      for (const c of connections) {
        for (const ctx of c.subscriptions.values()) {
          if (ctx === null) c.missed.push(change);
          else if (ctx.actor && ends(change, ctx.actor)) ctx.endCredential();
        }
      }
    },
    async close() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
