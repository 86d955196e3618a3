import { createHash } from 'node:crypto';
import type { Em } from '../db/orm.js';
import type { AuthedRequest } from '../request.js';
import { Decimal } from '../money.js';
import { DomainError, badInput } from '../errors.js';

/** Stable JSON for hashing: sorted keys, amounts in canonical form ("10.00" and "10" are the same input). */
function canonical(value: unknown): unknown {
  if (value instanceof Decimal) return value.toFixed();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export interface IdempotentCall<T> {
  key: string | null | undefined;
  operation: string;
  input: unknown;
  /** Does the work; returns the result and the id that finds it again. */
  execute: () => Promise<{ id: string; result: T }>;
  /** Loads the first call's result for a replay. */
  replay: (id: string) => Promise<T>;
}

/**
 * Same key and input: the first result, nothing moved again. Same key, other input: IDEMPOTENCY_CONFLICT.
 * Keys belong to the caller. The claim row is inserted in the caller's transaction, so a concurrent call with
 * the same key waits on the primary key until the first commits (then replays) or rolls back (then runs).
 */
export class IdempotencyService {
  async run<T>(ctx: AuthedRequest, em: Em, call: IdempotentCall<T>): Promise<T> {
    if (call.key === undefined || call.key === null) return (await call.execute()).result;
    if (call.key.length < 1 || call.key.length > 200) {
      throw badInput('idempotencyKey', 'idempotencyKey must be 1 to 200 characters');
    }
    const hash = createHash('sha256')
      .update(call.operation)
      .update('\0')
      .update(JSON.stringify(canonical(call.input)))
      .digest('hex');
    const claimed = await em.execute(
      `insert into idempotency_keys (actor_id, key, owner_path, operation, request_hash)
       values (?, ?, ?, ?, ?) on conflict do nothing returning key`,
      [ctx.actor.accountId, call.key, ctx.actor.path, call.operation, hash],
    );
    if (claimed.length === 0) {
      const [prior] = await em.execute<{ operation: string; request_hash: string; result_id: string | null }[]>(
        `select operation, request_hash, result_id from idempotency_keys where actor_id = ? and key = ?`,
        [ctx.actor.accountId, call.key],
      );
      if (!prior || prior.operation !== call.operation || prior.request_hash !== hash || !prior.result_id) {
        throw new DomainError('IDEMPOTENCY_CONFLICT', 'This idempotencyKey was already used with a different input');
      }
      return call.replay(prior.result_id);
    }
    const { id, result } = await call.execute();
    await em.execute(`update idempotency_keys set result_id = ? where actor_id = ? and key = ?`, [
      id,
      ctx.actor.accountId,
      call.key,
    ]);
    return result;
  }
}
