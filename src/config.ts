import { randomBytes } from 'node:crypto';
import bytes from 'bytes';

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
  wsMaxSubscriptionsPerConnection: number;
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
  /** Rates held in memory for rating, across all rate groups; 0 looks every rate up in the database. */
  rateCacheMaxRates: number;
  /**
   * Test-only: turn off the application's scope filter so a test can prove that row-level security alone
   * still hides other subtrees. Never read from the environment.
   */
  unsafeDisableAppScope?: boolean;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const adminEmail = env.ADMIN_EMAIL || 'admin@example.com';
  const adminPassword = env.ADMIN_PASSWORD || 'admin';
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must be a postgres:// URL');
  }
  const bodyLimit = env.BODY_LIMIT || '1mb';
  const bodyLimitBytes = bytes.parse(bodyLimit);
  if (bodyLimitBytes === null || !(bodyLimitBytes > 0)) throw new Error(`BODY_LIMIT must be a size such as 1mb or 500kb, got "${bodyLimit}"`);
  return {
    port: int(env, 'PORT', 4000),
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    dataDir: env.DATA_DIR || './data',
    dbPoolMax: int(env, 'DB_POOL_MAX', 10),
    adminEmail,
    adminPassword,
    adminDefaults: !env.ADMIN_EMAIL || !env.ADMIN_PASSWORD,
    jwtSecret: env.JWT_SECRET || randomBytes(32).toString('base64url'),
    jwtSecretGenerated: !env.JWT_SECRET,
    jwtTtl: env.JWT_TTL || '12h',
    jwtIssuer: env.JWT_ISSUER || 'trellis',
    jwtAudience: env.JWT_AUDIENCE || 'trellis-api',
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL || 'info',
    maxDepth: int(env, 'MAX_QUERY_DEPTH', 12),
    maxComplexity: int(env, 'MAX_QUERY_COMPLEXITY', 10_000),
    maxAliases: int(env, 'MAX_QUERY_ALIASES', 30),
    maxTokens: int(env, 'MAX_QUERY_TOKENS', 2000),
    maxDirectives: int(env, 'MAX_QUERY_DIRECTIVES', 50),
    maxRepeatedFields: int(env, 'MAX_QUERY_REPEATED_FIELDS', 10),
    maxValidationErrors: int(env, 'MAX_VALIDATION_ERRORS', 10),
    bodyLimit,
    bodyLimitBytes,
    wsMaxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 4 * 1024 * 1024),
    wsMaxSubscriptionsPerConnection: int(env, 'WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', 100),
    wsMaxSubscriptionsPerAccount: int(env, 'WS_MAX_SUBSCRIPTIONS_PER_ACCOUNT', 1000),
    loginFailuresPerEmail: int(env, 'LOGIN_FAILURES_PER_EMAIL', 10),
    loginFailuresPerAddress: int(env, 'LOGIN_FAILURES_PER_ADDRESS', 100),
    loginFailureWindowSeconds: int(env, 'LOGIN_FAILURE_WINDOW_SECONDS', 900),
    requestBudget: int(env, 'REQUEST_BUDGET', 2_000_000),
    requestBudgetWindowSeconds: int(env, 'REQUEST_BUDGET_WINDOW_SECONDS', 60),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000),
    renewalIntervalMs: int(env, 'RENEWAL_INTERVAL_MS', 60_000),
    credentialRecheckMs: int(env, 'CREDENTIAL_RECHECK_MS', 10_000),
    rateCacheMaxRates: int(env, 'RATE_CACHE_MAX_RATES', 500_000),
    ...overrides,
  };
}
