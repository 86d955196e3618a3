import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import type { Database } from '../db/orm.js';
import { DomainError } from '../errors.js';

export const rateLimited = (retryAfterMs: number, message: string) =>
  new DomainError('RATE_LIMITED', message, { details: { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) } });

/**
 * Login throttling and per-credential request budgets (rate-limiter-flexible). On PostgreSQL the counters
 * live in the rate_limits table, so every instance counts against the same numbers; the embedded engine is
 * one process with one session (a query on it would run inside whichever request transaction is open), so
 * it counts in memory.
 */
export class ThrottleService {
  private readonly failuresByEmail?: RateLimiterAbstract;
  private readonly failuresByAddress?: RateLimiterAbstract;
  private readonly budget?: RateLimiterAbstract;

  constructor(config: Config, db: Pick<Database, 'engine' | 'orm'>) {
    const limiter = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract | undefined => {
      if (points === 0) return undefined;
      if (db.engine === 'pglite') return new RateLimiterMemory({ keyPrefix, points, duration });
      return new RateLimiterPostgres({
        storeClient: db.orm.em.getConnection().getKnex(),
        storeType: 'knex',
        tableName: 'rate_limits',
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix,
        points,
        duration,
      });
    };
    this.failuresByEmail = limiter('login-email', config.loginFailuresPerEmail, config.loginFailureWindowSeconds);
    this.failuresByAddress = limiter('login-address', config.loginFailuresPerAddress, config.loginFailureWindowSeconds);
    this.budget = limiter('budget', config.requestBudget, config.requestBudgetWindowSeconds);
  }

  /** Refuses a login attempt while its email or its client address has used up its failures. */
  async beforeLogin(email: string, address: string): Promise<void> {
    const [byEmail, byAddress] = await Promise.all([this.failuresByEmail?.get(email), this.failuresByAddress?.get(address)]);
    const waits = [
      exhausted(byEmail, this.failuresByEmail),
      exhausted(byAddress, this.failuresByAddress),
    ].filter((ms): ms is number => ms !== null);
    if (waits.length > 0) throw rateLimited(Math.max(...waits), 'Too many failed logins; try again later');
  }

  async loginFailed(email: string, address: string): Promise<void> {
    await Promise.all([consumeQuietly(this.failuresByEmail, email, 1), consumeQuietly(this.failuresByAddress, address, 1)]);
  }

  /** A right password clears its email's failures (not the address's: one address may guess many emails). */
  async loginSucceeded(email: string): Promise<void> {
    await this.failuresByEmail?.delete(email);
  }

  /** Spends a request's cost from its credential's budget, or refuses the request. */
  async spend(credential: string, cost: number): Promise<void> {
    if (!this.budget) return;
    try {
      await this.budget.consume(credential, Math.max(1, cost));
    } catch (error) {
      if (error instanceof RateLimiterRes) throw rateLimited(error.msBeforeNext, 'Request budget used up for this credential; try again later');
      throw error;
    }
  }
}

function exhausted(res: RateLimiterRes | null | undefined, limiter: RateLimiterAbstract | undefined): number | null {
  if (!res || !limiter) return null;
  return res.consumedPoints >= limiter.points ? res.msBeforeNext : null;
}

/** Counting a failure past the limit "rejects"; the failure is counted all the same. */
async function consumeQuietly(limiter: RateLimiterAbstract | undefined, key: string, points: number): Promise<void> {
  if (!limiter) return;
  await limiter.consume(key, points).catch((error: unknown) => {
    if (!(error instanceof RateLimiterRes)) throw error;
  });
}
