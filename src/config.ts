import { randomBytes } from 'node:crypto';
import bytes from 'bytes';
import { bool, cleanEnv, makeValidator, str, type Spec } from 'envalid';

/** Everything the server reads from the environment, parsed once. README.md documents each variable. */
export interface Config {
  port: number;
  host: string;
  /** postgres:// URL; when absent the embedded PGlite database in dataDir is used. */
  databaseUrl?: string;
  /** PGlite data directory, or 'memory://' for a throwaway database. */
  dataDir: string;
  dbPoolMax: number;
  adminEmail: string;
  adminPassword: string;
  adminDefaults: boolean;
  jwtSecret: string;
  jwtSecretGenerated: boolean;
  jwtTtl: string;
  jwtIssuer: string;
  jwtAudience: string;
  production: boolean;
  logLevel: string;
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
  /** Lexical tokens in one GraphQL document: the parser stops at this many, before any other work. */
  maxTokens: number;
  /** Characters in one GraphQL document, checked before anything reads it. */
  maxQueryLength: number;
  maxDirectives: number;
  /** Copies of one response name in one selection set (see repeatedFieldsRule). */
  maxRepeatedFields: number;
  /** Validation stops after this many errors. */
  maxValidationErrors: number;
  bodyLimit: string;
  /** bodyLimit in bytes: the largest WebSocket frame too. */
  bodyLimitBytes: number;
  /** A WebSocket whose unsent data grows past this (a client that does not read) is closed. */
  wsMaxBufferedBytes: number;
  /** Events waiting for one subscriber before it is ended as too slow. */
  wsMaxQueuedEvents: number;
  wsMaxSubscriptionsPerConnection: number;
  /** Queries and mutations running at once on one WebSocket. */
  wsMaxRunningOperations: number;
  /** Per account on each instance: what one instance's memory has to hold. */
  wsMaxSubscriptionsPerAccount: number;
  loginFailuresPerEmail: number;
  loginFailuresPerAddress: number;
  loginFailureWindowSeconds: number;
  /** Query cost one credential may spend per window; 0 switches the budget off. */
  requestBudget: number;
  requestBudgetWindowSeconds: number;
  shutdownTimeoutMs: number;
  /** How often a running subscription re-checks its credential while events flow. */
  credentialRecheckMs: number;
  /** How often the renewal scheduler runs; 0 switches it off. */
  renewalIntervalMs: number;
  /** Renewal batches the scheduler runs at once (PostgreSQL; the embedded engine runs one). */
  renewalConcurrency: number;
  /** How often the invoice scheduler looks for ended periods; 0 switches it off. */
  invoiceIntervalMs: number;
  /** How often the webhook worker sends due deliveries; 0 switches it off on this instance. */
  webhookIntervalMs: number;
  /** The first retry of a failed webhook delivery waits this long; each next one twice as long. */
  webhookRetryBaseMs: number;
  /** Webhook endpoints may resolve to loopback, private and link-local addresses (off: SSRF guard). */
  webhookAllowPrivate: boolean;
  /** A call lease (startCall) that is neither rated nor ended counts this long, for switches that crash. */
  callLeaseSeconds: number;
  /** Rates held in memory for rating, across all rate groups; 0 looks every rate up in the database. */
  rateCacheMaxRates: number;
  /** Origins a browser may call from: '*' for any (never in production), none when empty. */
  corsOrigins: '*' | string[];
  /** Apply pending migrations on start; when off, a start with pending migrations is refused. */
  migrateOnStart: boolean;
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** After SIGTERM, how long /readyz answers 503 while requests are still served, before draining starts. */
  drainDelayMs: number;
  /** GET /graphql answers browsers with the GraphQL IDE (on by default outside production). */
  ideEnabled: boolean;
  /** Queries run compiled by graphql-jit (src/graphql/executor.ts); off, everything runs on graphql-js. */
  compiledQueries: boolean;
  /** Queries whose every field has a plan are answered by one SQL statement (src/graphql/planner.ts). */
  plannedReads: boolean;
  /**
   * Test-only: turn off the application's scope filter so a test can prove that row-level security alone
   * still hides other subtrees. Never read from the environment.
   */
  unsafeDisableAppScope?: boolean;
}

/** A configuration that must not start: every problem found, each naming its variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const count = makeValidator<number>((raw) => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new Error(`must be a non-negative integer, got "${raw}"`);
  return n;
});

const listenPort = makeValidator<number>((raw) => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new Error(`must be a port number from 0 to 65535, got "${raw}"`);
  return n;
});

const size = makeValidator<string>((raw) => {
  const n = bytes.parse(raw);
  if (n === null || !(n > 0)) throw new Error(`must be a size such as 1mb or 500kb, got "${raw}"`);
  return raw;
});

/** The forms jsonwebtoken's `expiresIn` understands (the `ms` package), with a bare number meaning seconds. */
const DURATION =
  /^(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)?$/i;
const duration = makeValidator<string>((raw) => {
  const match = DURATION.exec(raw.trim());
  if (!match || !(Number(match[1]) > 0)) throw new Error(`must be a duration such as 60 (seconds), 15m, 12h or 7d, got "${raw}"`);
  // jsonwebtoken reads a unitless string as milliseconds: "60" would make tokens that expire at once.
  return match[2] ? raw.trim() : `${match[1]}s`;
});

const postgresUrl = makeValidator<string>((raw) => {
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new Error('must be a postgres:// URL');
  return raw;
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const origins = makeValidator<'*' | string[]>((raw) => {
  const list = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (list.includes('*')) {
    if (list.length > 1) throw new Error('"*" cannot be combined with other origins');
    return '*';
  }
  for (const origin of list) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      /* reported below */
    }
    if (!parsed || parsed.origin !== origin)
      throw new Error(`must list origins such as https://console.example.com (scheme, host and port only), got "${origin}"`);
  }
  return list;
});

const optional = <T>(spec: { _parse: (raw: string) => T }) =>
  ({ ...spec, default: undefined }) as Spec<T | undefined> & { _parse: (raw: string) => T };

const SPECS = {
  PORT: listenPort({ default: 4000 }),
  HOST: str({ default: '0.0.0.0' }),
  DATABASE_URL: optional(postgresUrl()),
  DATA_DIR: str({ default: './data' }),
  DB_POOL_MAX: count({ default: 10 }),
  ADMIN_EMAIL: str({ default: 'admin@example.com' }),
  ADMIN_PASSWORD: str({ default: 'admin' }),
  JWT_SECRET: optional(str()),
  JWT_TTL: duration({ default: '12h' }),
  JWT_ISSUER: str({ default: 'trellis' }),
  JWT_AUDIENCE: str({ default: 'trellis-api' }),
  NODE_ENV: optional(str()),
  LOG_LEVEL: str({ default: 'info', choices: LOG_LEVELS }),
  MAX_QUERY_DEPTH: count({ default: 12 }),
  MAX_QUERY_COMPLEXITY: count({ default: 10_000 }),
  MAX_QUERY_ALIASES: count({ default: 30 }),
  MAX_QUERY_TOKENS: count({ default: 2000 }),
  MAX_QUERY_LENGTH: count({ default: 100_000 }),
  MAX_QUERY_DIRECTIVES: count({ default: 50 }),
  MAX_QUERY_REPEATED_FIELDS: count({ default: 10 }),
  MAX_VALIDATION_ERRORS: count({ default: 10 }),
  BODY_LIMIT: size({ default: '1mb' }),
  WS_MAX_BUFFERED_BYTES: count({ default: 4 * 1024 * 1024 }),
  WS_MAX_QUEUED_EVENTS: count({ default: 500 }),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: count({ default: 100 }),
  WS_MAX_RUNNING_OPERATIONS: count({ default: 16 }),
  WS_MAX_SUBSCRIPTIONS_PER_ACCOUNT: count({ default: 1000 }),
  LOGIN_FAILURES_PER_EMAIL: count({ default: 10 }),
  LOGIN_FAILURES_PER_ADDRESS: count({ default: 100 }),
  LOGIN_FAILURE_WINDOW_SECONDS: count({ default: 900 }),
  REQUEST_BUDGET: count({ default: 2_000_000 }),
  REQUEST_BUDGET_WINDOW_SECONDS: count({ default: 60 }),
  SHUTDOWN_TIMEOUT_MS: count({ default: 10_000 }),
  DRAIN_DELAY_MS: count({ default: 0 }),
  RENEWAL_INTERVAL_MS: count({ default: 60_000 }),
  RENEWAL_CONCURRENCY: count({ default: 2 }),
  INVOICE_INTERVAL_MS: count({ default: 300_000 }),
  WEBHOOK_INTERVAL_MS: count({ default: 1000 }),
  WEBHOOK_RETRY_BASE_MS: count({ default: 60_000 }),
  WEBHOOK_ALLOW_PRIVATE: bool({ default: false }),
  CREDENTIAL_RECHECK_MS: count({ default: 10_000 }),
  RATE_CACHE_MAX_RATES: count({ default: 500_000 }),
  CALL_LEASE_SECONDS: count({ default: 10_800 }),
  CORS_ORIGINS: optional(origins()),
  MIGRATE_ON_START: bool({ default: true }),
  METRICS_TOKEN: optional(str()),
  IDE_ENABLED: optional(bool()),
  COMPILED_QUERIES: bool({ default: true }),
  PLANNED_READS: bool({ default: true }),
};

/** Reads and checks every setting; throws a ConfigError naming each bad variable, before anything opens. */
function readEnv(env: NodeJS.ProcessEnv) {
  // An empty variable means "unset", as it always has here (`FOO= npm start`).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  return cleanEnv(present, SPECS, {
    reporter: ({ errors }) => {
      const problems = Object.entries(errors).map(([name, error]) => `${name}: ${(error as Error).message}`);
      if (problems.length) throw new ConfigError(problems);
    },
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const e = readEnv(env);
  const production = e.NODE_ENV === 'production';
  const refusals: string[] = [];
  if (production) {
    // A random secret logs everyone out at each restart and splits instances; a default password is an open door.
    if (!e.JWT_SECRET) refusals.push('JWT_SECRET: must be set in production');
    if (e.ADMIN_PASSWORD === 'admin')
      refusals.push('ADMIN_PASSWORD: must be set to something other than the default "admin" in production');
    if (e.CORS_ORIGINS === '*') refusals.push('CORS_ORIGINS: "*" is not allowed in production; list the origins');
  }
  if (refusals.length) throw new ConfigError(refusals);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    dbPoolMax: e.DB_POOL_MAX,
    adminEmail: e.ADMIN_EMAIL,
    adminPassword: e.ADMIN_PASSWORD,
    adminDefaults: !env.ADMIN_EMAIL || !env.ADMIN_PASSWORD,
    jwtSecret: e.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: !e.JWT_SECRET,
    jwtTtl: e.JWT_TTL,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    production,
    logLevel: e.LOG_LEVEL,
    maxDepth: e.MAX_QUERY_DEPTH,
    maxComplexity: e.MAX_QUERY_COMPLEXITY,
    maxAliases: e.MAX_QUERY_ALIASES,
    maxTokens: e.MAX_QUERY_TOKENS,
    maxQueryLength: e.MAX_QUERY_LENGTH,
    maxDirectives: e.MAX_QUERY_DIRECTIVES,
    maxRepeatedFields: e.MAX_QUERY_REPEATED_FIELDS,
    maxValidationErrors: e.MAX_VALIDATION_ERRORS,
    bodyLimit: e.BODY_LIMIT,
    bodyLimitBytes: bytes.parse(e.BODY_LIMIT)!,
    wsMaxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
    wsMaxQueuedEvents: e.WS_MAX_QUEUED_EVENTS,
    wsMaxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    wsMaxRunningOperations: e.WS_MAX_RUNNING_OPERATIONS,
    wsMaxSubscriptionsPerAccount: e.WS_MAX_SUBSCRIPTIONS_PER_ACCOUNT,
    loginFailuresPerEmail: e.LOGIN_FAILURES_PER_EMAIL,
    loginFailuresPerAddress: e.LOGIN_FAILURES_PER_ADDRESS,
    loginFailureWindowSeconds: e.LOGIN_FAILURE_WINDOW_SECONDS,
    requestBudget: e.REQUEST_BUDGET,
    requestBudgetWindowSeconds: e.REQUEST_BUDGET_WINDOW_SECONDS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    renewalIntervalMs: e.RENEWAL_INTERVAL_MS,
    renewalConcurrency: e.RENEWAL_CONCURRENCY,
    invoiceIntervalMs: e.INVOICE_INTERVAL_MS,
    webhookIntervalMs: e.WEBHOOK_INTERVAL_MS,
    webhookRetryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    credentialRecheckMs: e.CREDENTIAL_RECHECK_MS,
    callLeaseSeconds: e.CALL_LEASE_SECONDS,
    rateCacheMaxRates: e.RATE_CACHE_MAX_RATES,
    // Open while developing, so a console on another port just works; production lists its origins.
    corsOrigins: e.CORS_ORIGINS ?? (production ? [] : '*'),
    migrateOnStart: e.MIGRATE_ON_START,
    metricsToken: e.METRICS_TOKEN,
    drainDelayMs: e.DRAIN_DELAY_MS,
    ideEnabled: e.IDE_ENABLED ?? !production,
    compiledQueries: e.COMPILED_QUERIES,
    plannedReads: e.PLANNED_READS,
    ...overrides,
  };
}
