import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { queryExecutor } from './graphql/executor.js';
import { stringifyResult } from './graphql/planned-reads.js';
import { ApolloServer, type ApolloServerPlugin, type HTTPGraphQLHead } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, type FormattedExecutionResult } from 'graphql';
import type { Config } from './config.js';
import { Context } from './context.js';
import { openDatabase, systemEm, type Database } from './db/orm.js';
import { DomainError } from './errors.js';
import { formatError, isUnexpected } from './graphql/format-error.js';
import { limitsPlugin, shapeGuard } from './graphql/limits.js';
import { createSchema } from './graphql/schema.js';
import { consoleRouter, ideHandler } from './http/console.js';
import { exportRouter } from './http/export.js';
import { requestId } from './http/request-id.js';
import { accessLog } from './http/access-log.js';
import { corsMiddleware } from './http/cors.js';
import { checkRequestRole, healthRouter } from './http/health.js';
import { createMetrics, type Metrics } from './metrics.js';
import { attachWebSocket } from './http/websocket.js';
import { createLogger, type Logger } from './logger.js';
import { createEvents, relayDatabaseEvents } from './events.js';
import { startRenewalScheduler } from './jobs/renew-subscriptions.job.js';
import { startInvoiceScheduler } from './jobs/issue-invoices.job.js';
import { startWebhookWorker } from './jobs/deliver-webhooks.job.js';
import { bootstrapRoot } from './services/bootstrap.service.js';
import { createServices, type Services } from './services/index.js';

/** PostgreSQL text cannot hold U+0000: refuse it at the door rather than fail deep inside a query. */
function refuseNulCharacters(_req: unknown, _res: unknown, body: Buffer): void {
  if (body.includes('\\u0000')) throw new Error('Strings cannot contain the NUL character (\\u0000)');
}

export interface App {
  config: Config;
  log: Logger;
  db: Database;
  services: Services;
  httpServer: Server;
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Statuses of requests refused before they ran (their errors decide) and of throttled ones (always 429). */
const REFUSED_STATUS: Record<string, number> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403 };

function httpStatusOf(result: FormattedExecutionResult, http: HTTPGraphQLHead): void {
  const errors = result.errors ?? [];
  const limited = errors.find((e) => e.extensions?.code === 'RATE_LIMITED');
  if (limited) {
    http.status = 429;
    http.headers.set('retry-after', String(limited.extensions?.retryAfter ?? 1));
    return;
  }
  const status = result.data === undefined && errors.length > 0 ? REFUSED_STATUS[String(errors[0].extensions?.code)] : undefined;
  if (status) http.status = status;
}

/** Commits each request's transaction before its response leaves, and logs what went wrong with the request id. */
function lifecyclePlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ contextValue, request }) {
      contextValue.inPipeline = true;
      const started = performance.now();
      let unexpected = false;
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (isUnexpected(error)) {
              unexpected = true;
              contextValue.log.error({ err: unwrapResolverError(error) }, 'unexpected error');
            }
          }
        },
        async willSendResponse({ response, operationName }) {
          try {
            await contextValue.finish({ verify: unexpected });
          } catch (error) {
            contextValue.log.error({ err: error }, 'commit failed');
            if (response.body.kind === 'single') {
              response.body.singleResult = {
                errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
              };
            }
          }
          if (response.body.kind === 'single') httpStatusOf(response.body.singleResult, response.http);
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors?.length ?? 0) : 0;
          const code =
            response.body.kind === 'single' ? String(response.body.singleResult.errors?.[0]?.extensions?.code ?? 'OK') : 'OK';
          metrics.operation(operationName ?? request.operationName, code, (performance.now() - started) / 1000);
          contextValue.log.info(
            { operation: operationName ?? request.operationName ?? null, ms: Math.round(performance.now() - started), errors },
            'graphql request',
          );
        },
      };
    },
  };
}

export async function createApp(config: Config, logger?: Logger): Promise<App> {
  const log = logger ?? createLogger(config.logLevel);
  if (config.jwtSecretGenerated) {
    log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when the server restarts');
  }
  const db = await openDatabase(config, log);
  const role = await checkRequestRole(db);
  // The server still starts (so /livez answers and /readyz says why), but no request can succeed until then.
  if (!role.ok)
    log.error(
      { grant: role.grant },
      `requests will fail: ${role.problem}${role.grant ? `; run as the owner: ${role.grant}` : ''}`,
    );
  const services = createServices(config, db);
  await bootstrapRoot(db.orm, services.accounts, config, log);
  const schema = await createSchema();
  const events = createEvents();

  const app = express();
  app.disable('x-powered-by');
  // Answers are per caller and no-store: an ETag would hash every response body for nothing.
  app.set('etag', false);
  app.set('trust proxy', false);
  const httpServer = createServer(app);
  const metrics = createMetrics();
  const ws = attachWebSocket({ httpServer, schema, orm: db.orm, services, config, events, log, metrics });
  const stopRelay = await relayDatabaseEvents(db, events, log, (change) => ws.endCredentials(change));
  metrics.watch(db, { sockets: () => ws.stats().sockets, subscriptions: () => ws.stats().subscriptions });

  const apollo = new ApolloServer<Context>({
    ...(config.compiledQueries || config.plannedReads
      ? {
          gateway: queryExecutor(schema, {
            compiled: config.compiledQueries,
            planned: config.plannedReads,
            ran: (path) => metrics.queryPath(path),
          }),
        }
      : { schema }),
    formatError,
    stringifyResult,
    parseOptions: { maxTokens: config.maxTokens },
    validationOptions: { maxErrors: config.maxValidationErrors },
    introspection: !config.production,
    hideSchemaDetailsFromClientErrors: config.production,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    persistedQueries: false,
    // main.ts owns shutdown: Apollo's own handler would re-raise the signal and exit with 143 mid-drain.
    stopOnTerminationSignals: false,
    plugins: [
      // Responses are per caller and never cached (no-store is set below for every response); the default
      // cache-control plugin, which set it before, wrapped every field's resolver to compute cache hints.
      ApolloServerPluginCacheControlDisabled(),
      // Apollo's landing page loads Sandbox from a CDN, which fails offline; the IDE is served by ideHandler.
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        async serverWillStart() {
          return { drainServer: () => ws.close() };
        },
      },
      limitsPlugin(schema),
      lifecyclePlugin(metrics),
    ],
  });
  await apollo.start();

  const contextFor = async (req: Request, readOnly = false): Promise<Context> => {
    const ctx = new Context(db.orm, services, config, events, log, req.requestId);
    ctx.clientAddress = req.socket.remoteAddress ?? 'unknown';
    await ctx.authenticate(req.headers.authorization, readOnly);
    return ctx;
  };

  const apolloMiddleware = expressMiddleware(apollo, {
    context: async ({ req, res }) => {
      try {
        const ctx = await contextFor(req, res.locals.readOnly === true);
        res.locals.context = ctx;
        return ctx;
      } catch (error) {
        if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
          throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
        }
        log.error({ err: error, requestId: req.requestId }, 'request context failed');
        throw error;
      }
    },
  });
  // A read's transaction opens with its context, before Apollo's pipeline; a request Apollo refuses before the
  // pipeline takes it (a malformed body) is never committed by the lifecycle plugin, so it is rolled back here,
  // once Apollo has answered, whether or not the client is still there.
  const graphqlMiddleware = async (req: Request, res: Response) => {
    try {
      await apolloMiddleware(req, res, () => undefined);
    } finally {
      const ctx = res.locals.context as Context | undefined;
      if (ctx && !ctx.inPipeline) await ctx.abort();
    }
  };

  app.use(requestId);
  app.use(accessLog(log, metrics));
  app.use(corsMiddleware(config));
  // Balances, calls and ledgers belong to one caller: no browser or shared cache may keep them.
  app.use(['/graphql', '/export'], (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // GraphQL first: nearly every request is one, and each route before it is a match attempted on every request.
  if (config.ideEnabled) app.get('/graphql', ideHandler());
  app.use(
    '/graphql',
    express.json({ limit: config.bodyLimit, verify: refuseNulCharacters }),
    shapeGuard(schema, config),
    graphqlMiddleware,
  );
  let draining = false;
  app.use(healthRouter({ db, log, metrics, metricsToken: config.metricsToken, draining: () => draining }));
  app.get('/healthz', async (_req, res) => {
    try {
      await systemEm(db.orm).execute('select 1');
      res.json({ status: 'ok', database: db.engine });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });
  app.use(
    '/export',
    exportRouter((req) => contextFor(req)),
  );
  app.use(consoleRouter());
  app.use((error: Error & { type?: string; status?: number }, req: Request, res: Response, _next: NextFunction) => {
    // The client hung up while sending its body: nobody is left to answer, and the access log records it.
    if (error.type === 'request.aborted') return;
    if (error.type === 'entity.too.large') {
      res.status(413).json({
        errors: [{ message: `Request body is larger than ${config.bodyLimit}`, extensions: { code: 'BAD_USER_INPUT' } }],
      });
      return;
    }
    if (error.type === 'entity.verify.failed') {
      res.status(400).json({ errors: [{ message: error.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      return;
    }
    if (error.type === 'entity.parse.failed') {
      res.status(400).json({ errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_USER_INPUT' } }] });
      return;
    }
    log.error({ err: error, requestId: req.requestId }, 'unhandled HTTP error');
    res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  });

  const scheduler = startRenewalScheduler({
    orm: db.orm,
    renewals: services.renewals,
    intervalMs: config.renewalIntervalMs,
    log,
    onRun: (report, seconds) => metrics.renewalRun(report, seconds),
  });
  const invoicing = startInvoiceScheduler({
    orm: db.orm,
    invoices: services.invoices,
    intervalMs: config.invoiceIntervalMs,
    log,
    onRun: (report) => metrics.invoiceRun(report),
  });
  const webhooks = startWebhookWorker({
    orm: db.orm,
    webhooks: services.webhooks,
    intervalMs: config.webhookIntervalMs,
    log,
  });

  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    db,
    services,
    httpServer,
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          const { port } = httpServer.address() as AddressInfo;
          resolve(`http://127.0.0.1:${port}`);
        });
      }),
    /** Stops taking requests, lets in-flight ones finish, closes sockets, then the database. */
    close() {
      closing ??= (async () => {
        // /readyz turns 503 first; load balancers stop sending new requests during DRAIN_DELAY_MS, still served.
        draining = true;
        if (config.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
        await apollo.stop();
        await scheduler.stop();
        await invoicing.stop();
        await webhooks.stop();
        await stopRelay();
        if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await db.close();
      })();
      return closing;
    },
  };
}
