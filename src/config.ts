import { randomBytes } from 'node:crypto';

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
  bodyLimit: string;
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
    bodyLimit: env.BODY_LIMIT || '1mb',
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000),
    renewalIntervalMs: int(env, 'RENEWAL_INTERVAL_MS', 60_000),
    credentialRecheckMs: int(env, 'CREDENTIAL_RECHECK_MS', 10_000),
    rateCacheMaxRates: int(env, 'RATE_CACHE_MAX_RATES', 500_000),
    ...overrides,
  };
}
