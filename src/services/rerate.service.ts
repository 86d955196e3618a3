import { withPlatformScope, type Em } from '../db/orm.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import { Account, AccountStatus } from '../entities/index.js';
import { badInput, notFound } from '../errors.js';
import { levelRates, lockRatingOf, writePoolCounters } from '../calls/rating.js';
import {
  accountsWithCallsIn,
  callsStartedIn,
  periodPools,
  subtreeAccounts,
  writeRevisions,
  type PeriodPool,
  type RatedCallRow,
  type StoredCharge,
} from '../calls/rerate.js';
import { post, type LedgerRow, type Posting } from '../ledger/post.js';
import { taxesOf } from '../taxes/rates.js';
import { priceCalls, sumTaxes, taxesOn, type LevelCharge, type TaxAmount } from '../billing/index.js';
import { Decimal, ZERO } from '../money.js';
import type { RateService } from './rate.service.js';

/** What rerateCalls did (DOMAIN.md 14). */
export interface RerateReport {
  /** Calls rated again. */
  calls: number;
  /** Calls whose charges changed at some level: each got a new revision. */
  changed: number;
  /** Calls left as they were because a level has no rate for them today. */
  noRate: number;
  /** The USAGE_ADJUSTMENT and tax entries posted, one per account and kind (and tax rate). */
  adjustments: LedgerRow[];
}

/** The longest range one request may re-rate: calls are rated within 400 days of their start. */
const MAX_RANGE_MS = 400 * 86_400_000;

function levelIds(path: string): string[] {
  return path.split('/').filter(Boolean).slice(1).reverse();
}

/** Whether a new rating of a level is the one stored: same charge, same seconds, same pools. */
function sameCharge(stored: StoredCharge | undefined, next: LevelCharge): boolean {
  return (
    !!stored &&
    new Decimal(stored.amount).eq(next.amount) &&
    stored.billedSeconds === next.billedSeconds &&
    stored.freeSeconds === next.freeSeconds &&
    (stored.subscriptionId ?? null) === (next.volume?.subscriptionId ?? null) &&
    (stored.limitId ?? null) === (next.volume?.limitId ?? null) &&
    new Decimal(stored.moneyAmount).eq(next.moneyAmount) &&
    (stored.moneySubscriptionId ?? null) === (next.money?.subscriptionId ?? null) &&
    (stored.moneyLimitId ?? null) === (next.money?.limitId ?? null) &&
    (stored.ratePrefix ?? null) === next.ratePrefix
  );
}

export class RerateService {
  constructor(private readonly rates: RateService) {}

  /**
   * rerateCalls (DOMAIN.md 14): every call of the account and its subtree started in [from, to), rated again in
   * start order with today's rate groups and the pools of the subscriptions active at each call's start. One
   * transaction; re-running it with nothing changed changes nothing.
   */
  async rerateCalls(ctx: Request, accountId: string, from: Date, to: Date): Promise<RerateReport> {
    requireActor(ctx);
    if (!(from < to)) throw badInput('to', 'to must be after from');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw badInput('from', 'At most 400 days at a time');
    return ctx.mutate(async (em) => {
      const account = await em.findOne(Account, { id: accountId });
      if (!account || account.status === AccountStatus.DELETED) throw notFound('Account not found');
      return this.rerateIn(ctx, em, account, from, to);
    });
  }

  /**
   * The same, inside the caller's transaction (assignPackage with rerate). Levels above the caller are charged
   * too, so it runs in the platform's scope. Locks: each account with calls in the range as rating does (so
   * live rating of them waits), then the chains' subscriptions by id, then the accounts posted to.
   */
  async rerateIn(ctx: AuthedRequest, em: Em, account: Pick<Account, 'path'>, from: Date, to: Date): Promise<RerateReport> {
    return withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
      const subtree = (await subtreeAccounts(em, account.path)).map((a) => a.id);
      const withCalls = await accountsWithCallsIn(em, subtree, from, to);
      if (withCalls.length === 0) return { calls: 0, changed: 0, noRate: 0, adjustments: [] };
      await lockRatingOf(em, withCalls);
      const pools = await periodPools(em, withCalls, from, to);
      const calls = await callsStartedIn(em, withCalls, from, to);
      const levels = calls.map((c) => levelIds(c.ownerPath));
      const rates = await levelRates(
        em,
        this.rates,
        calls.map((c, i) => ({ ...c, levels: levels[i] })),
      );
      // A call some level has no rate for today keeps its rating, and so what it drew: counted first.
      const unrated = new Set(
        calls.filter((c, ci) => c.direction === 'OUTBOUND' && rates[ci].some((r) => r === null)).map((c) => c.id),
      );
      settlePools(pools, calls, (call) => unrated.has(call.id));
      const priced = calls.flatMap((call, ci) => (unrated.has(call.id) ? [] : [{ call, ci }]));
      const plans = priceCalls(
        priced.map(({ call, ci }) => ({
          ...call,
          levels: levels[ci].map((accountId, level) => ({ accountId, rate: rates[ci][level] })),
        })),
        pools,
      );

      const changed: { call: RatedCallRow; charges: LevelCharge[] }[] = [];
      priced.forEach(({ call }, i) => {
        const plan = plans[i];
        if (!('charges' in plan)) return;
        if (plan.charges.length !== call.charges.length || plan.charges.some((c, level) => !sameCharge(call.charges[level], c))) {
          changed.push({ call, charges: plan.charges });
        }
      });
      const noRate = unrated.size;
      await writePoolCounters(
        em,
        pools.filter((p) => p.current),
      );
      await writeRevisions(em, changed, new Date());
      const adjustments = await this.post(ctx, em, changed, from, to);
      return { calls: calls.length, changed: changed.length, noRate, adjustments };
    });
  }

  /**
   * Each level's difference, once per account: USAGE_ADJUSTMENT for the charges, and per tax rate the taxes on
   * the new charges less those on the old (today's rates for both), as TAX or TAX_REFUND. In the accounts' lock
   * order: deepest first, then id.
   */
  private async post(
    ctx: AuthedRequest,
    em: Em,
    changed: { call: RatedCallRow; charges: LevelCharge[] }[],
    from: Date,
    to: Date,
  ): Promise<LedgerRow[]> {
    if (changed.length === 0) return [];
    const accountIds = [...new Set(changed.flatMap((c) => c.charges.map((x) => x.accountId)))];
    const taxes = await taxesOf(em, accountIds);
    const totals = new Map<string, { depth: number; delta: Decimal; taxes: TaxAmount[][]; calls: number }>();
    for (const { call, charges } of changed) {
      const depth = call.ownerPath.split('/').filter(Boolean).length - 1;
      for (const charge of charges) {
        const before = new Decimal(call.charges[charge.level].amount);
        if (before.eq(charge.amount)) continue;
        const applied = taxes.get(charge.accountId) ?? [];
        const t = totals.get(charge.accountId) ?? { depth: depth - charge.level, delta: ZERO, taxes: [], calls: 0 };
        t.delta = t.delta.plus(charge.amount.minus(before));
        t.taxes.push(
          taxesOn(charge.amount, applied),
          taxesOn(before, applied).map((x) => ({ ...x, amount: x.amount.neg() })),
        );
        t.calls++;
        totals.set(charge.accountId, t);
      }
    }
    const span = `${from.toISOString()} to ${to.toISOString()}`;
    return post(
      em,
      [...totals]
        .sort(([a, x], [b, y]) => y.depth - x.depth || (a < b ? -1 : a > b ? 1 : 0))
        .flatMap(([accountId, t]): Posting[] => [
          {
            accountId,
            amount: t.delta.neg(),
            kind: 'USAGE_ADJUSTMENT',
            description: `${t.calls} calls re-rated, ${span}`,
            actorId: ctx.actor.accountId,
          },
          ...sumTaxes(t.taxes)
            .filter((tax) => !tax.amount.isZero())
            .map((tax): Posting => ({
              accountId,
              amount: tax.amount.neg(),
              kind: tax.amount.gt(0) ? 'TAX' : 'TAX_REFUND',
              description: `${t.calls} calls re-rated`,
              actorId: ctx.actor.accountId,
              taxRateId: tax.taxRateId,
            })),
        ]),
    );
  }
}

/**
 * Before the calls are priced again: what calls kept as they are (no rate today) drew is drawn again, and a past
 * period's pool is at least what all its calls drew, so that its allowance then (carry-over included, or an
 * amount changed since) stands even though only today's is kept.
 */
function settlePools(pools: PeriodPool[], calls: RatedCallRow[], kept: (call: RatedCallRow) => boolean): void {
  const bySubscription = new Map<string, PeriodPool[]>();
  for (const p of pools) {
    const key = `${p.subscriptionId}/${p.limitId ?? ''}`;
    bySubscription.set(key, [...(bySubscription.get(key) ?? []), p]);
  }
  const poolOf = (subscriptionId: string | null, limitId: string | null, at: Date) =>
    subscriptionId === null
      ? undefined
      : bySubscription.get(`${subscriptionId}/${limitId ?? ''}`)?.find((p) => p.periodStart <= at && at < p.periodEnd);
  const drawnInRange = new Map<PeriodPool, Decimal>();
  for (const call of calls) {
    for (const c of call.charges) {
      const draws: [PeriodPool | undefined, Decimal][] = [
        [poolOf(c.subscriptionId, c.limitId, call.startedAt), new Decimal(c.freeSeconds)],
        [poolOf(c.moneySubscriptionId, c.moneyLimitId, call.startedAt), new Decimal(c.moneyAmount)],
      ];
      for (const [pool, amount] of draws) {
        if (!pool || amount.isZero()) continue;
        drawnInRange.set(pool, (drawnInRange.get(pool) ?? ZERO).plus(amount));
        if (kept(call)) pool.used = pool.used.plus(amount);
      }
    }
  }
  for (const [pool, inRange] of drawnInRange) {
    if (pool.current) continue;
    const before = pool.used.plus(inRange);
    if (pool.total.lt(before)) pool.total = before;
  }
}
