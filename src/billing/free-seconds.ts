import type { Applicability, Direction } from '../entities/index.js';
import { matchLength } from './prefix.js';

/** A subscription that may give free seconds, as loaded (and locked) for a batch. */
export interface FreeSource {
  id: string;
  chainId: string;
  accountId: string;
  level: number;
  seq: number;
  periodStart: Date;
  periodEnd: Date;
  freeTotal: number;
  freeUsed: number;
  destinations: string[];
  applicableFor: `${Applicability}`;
  priority: number;
}

/**
 * The customer-level subscription a call draws free seconds from (DOMAIN.md 5): active at the call's start,
 * for its direction, matching the number, with seconds left. Longest pattern, then priority (1 beats 2), then
 * the earlier period end, then the older subscription. Returns the candidate object itself, so the caller can
 * record what it draws on it for the next call of a batch.
 */
export function chooseSubscription<S extends FreeSource>(
  candidates: readonly S[],
  number: string,
  direction: `${Direction}`,
  at: Date,
): S | null {
  let best: { s: S; len: number } | null = null;
  for (const s of candidates) {
    if (s.level !== 0 || s.freeUsed >= s.freeTotal) continue;
    if (!(s.periodStart <= at && at < s.periodEnd)) continue;
    if (s.applicableFor !== 'BOTH' && s.applicableFor !== direction) continue;
    const len = matchLength(s.destinations, number);
    if (len < 0) continue;
    if (
      !best ||
      len > best.len ||
      (len === best.len &&
        (s.priority < best.s.priority ||
          (s.priority === best.s.priority &&
            (s.periodEnd < best.s.periodEnd || (s.periodEnd.getTime() === best.s.periodEnd.getTime() && s.seq < best.s.seq)))))
    ) {
      best = { s, len };
    }
  }
  return best?.s ?? null;
}

/**
 * The free seconds one level's subscription covers of a call: min(seconds left, the level's own billed
 * seconds); 0 without a subscription. Does not record the draw: the caller adds it to `freeUsed` when it is
 * positive, so that later calls of the same batch see it.
 */
export function drawFree(source: Pick<FreeSource, 'freeTotal' | 'freeUsed'> | null | undefined, billed: number): number {
  return source ? Math.min(source.freeTotal - source.freeUsed, billed) : 0;
}
