import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import type { Database } from '../db/orm.js';
import { DomainError } from '../errors.js';

export const rateLimited = (retryAfterMs: number, message: string) =>
  new DomainError('RATE_LIMITED', message, { details: { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) } });

/** Keys of a bounded length whatever the client sent (the table's key is varchar(255)). */
const keyOf = (subject: string) => createHash('sha256').update(subject).digest('base64url');

/**
 * Password-check throttling and per-credential request budgets (rate-limiter-flexible). On PostgreSQL the
 * counters live in the rate_limits table, so every instance counts against the same numbers, with a counter
 * in memory standing in while the database cannot answer; the embedded engine is one process with one session
 * (a query on it would run inside whichever request transaction is open), so it counts in memory.
 */
export class ThrottleService {
  private readonly failuresBySubject?: RateLimiterAbstract;
  private readonly failuresByAddress?: RateLimiterAbstract;
  private readonly budget?: { consume(key: string, cost: number): Promise<unknown> };

  constructor(config: Config, db: Pick<Database, 'engine' | 'bookkeeping'>) {
    const limiter = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract | undefined => {
      if (points === 0) return undefined;
      const inMemory = new RateLimiterMemory({ keyPrefix, points, duration });
      if (!db.bookkeeping) return inMemory;
      return new RateLimiterPostgres({
        storeClient: db.bookkeeping,
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        // Rows expired an hour ago are deleted every few minutes, by every instance.
        clearExpiredByTimeout: true,
        insuranceLimiter: inMemory,
        keyPrefix,
        points,
        duration,
      });
    };
    this.failuresBySubject = limiter('login-email', config.loginFailuresPerEmail, config.loginFailureWindowSeconds);
    this.failuresByAddress = limiter('login-address', config.loginFailuresPerAddress, config.loginFailureWindowSeconds);
    const budget = limiter('budget', config.requestBudget, config.requestBudgetWindowSeconds);
    this.budget = budget && db.engine !== 'pglite' ? new LeasedBudget(budget, Math.floor(config.requestBudget / 100)) : budget;
  }

  /**
   * Takes a password check's place in its subject's count (an email for logins, an account for the current
   * password) and its client address's, before the password is checked, so that guesses sent in parallel are
   * counted too. Past either limit the check is refused, right password included.
   */
  async beforePasswordCheck(subject: string, address?: string): Promise<void> {
    const results = await Promise.allSettled([
      this.failuresBySubject?.consume(keyOf(subject), 1),
      address ? this.failuresByAddress?.consume(address, 1) : undefined,
    ]);
    const waits: number[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      if (!(r.reason instanceof RateLimiterRes)) throw r.reason;
      waits.push(r.reason.msBeforeNext);
    }
    if (waits.length > 0) throw rateLimited(Math.max(...waits), 'Too many failed password attempts; try again later');
  }

  /** A right password clears its subject's count, and gives back its address's place (not the others'). */
  async passwordAccepted(subject: string, address?: string): Promise<void> {
    await Promise.all([
      this.failuresBySubject?.delete(keyOf(subject)),
      address ? this.failuresByAddress?.reward(address, 1) : undefined,
    ]);
  }

  /** Spends a request's cost from its credential's budget, or refuses the request. */
  async spend(credential: string, cost: number): Promise<void> {
    if (!this.budget) return;
    try {
      await this.budget.consume(credential, Math.max(1, cost));
    } catch (error) {
      if (error instanceof RateLimiterRes)
        throw rateLimited(error.msBeforeNext, 'Request budget used up for this credential; try again later');
      throw error;
    }
  }
}

/**
 * A request budget spent from leases: an instance takes a hundredth of the budget from the shared counter at once
 * and spends it in memory, so the counter's row is written once every many requests instead of once per request
 * (that write was a sixth of a small request's cost). Leases come out of the shared count, so instances together
 * never spend more than the budget within a window; requests that find the lease spent wait for the one taking
 * the next instead of each taking one, so an instance holds at most one lease per credential and may refuse at
 * most that much early. A lease ends a second before the window it was taken in, so that instances whose clocks
 * differ by less cannot carry one into the next window: in that last second, requests take exactly their cost. A
 * request costing more than a lease takes exactly its cost.
 */
class LeasedBudget {
  /** `exact`: the window's last second, where a lease could not be kept: requests take their own cost. */
  private readonly leases = new LRUCache<string, { points: number; exact?: boolean }>({ max: 100_000 });
  private readonly taking = new Map<string, Promise<void>>();

  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly lease: number,
  ) {}

  async consume(key: string, cost: number): Promise<void> {
    for (;;) {
      const held = this.leases.get(key);
      if (held && held.points >= cost) {
        held.points -= cost;
        return;
      }
      const pending = this.taking.get(key);
      if (!pending) break;
      await pending;
    }
    const exact = this.leases.get(key)?.exact === true;
    const take = exact ? cost : Math.max(cost, this.lease);
    const taking = this.shared.consume(key, take).then((taken) => {
      if (exact) return;
      // What is left of the last lease was taken in this window too (an expired one is gone): it is kept.
      const left = this.leases.get(key);
      const ttl = taken.msBeforeNext - 1000;
      if (left) left.points += take - cost;
      else if (ttl > 0) this.leases.set(key, { points: take - cost }, { ttl });
      // Too close to the window's end to keep a lease (what this one took beyond its cost is left unspent):
      // without this mark, every request would take a whole lease, and a hundred of them the whole budget.
      else this.leases.set(key, { points: 0, exact: true }, { ttl: Math.max(1, taken.msBeforeNext) });
    });
    this.taking.set(key, taking);
    try {
      await taking;
    } finally {
      this.taking.delete(key);
    }
  }
}
