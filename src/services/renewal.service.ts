import {
  minimumSpendCharge,
  planChainRenewal,
  renewalDueAt,
  type ChargedPeriod,
  type Funds,
  type RenewalOutcome,
} from '../billing/index.js';
import { claimDueCommitments, settleCommitments } from '../chains/minimum-spend.js';
import { taxesOf } from '../taxes/rates.js';
import { ZERO } from '../money.js';
import {
  findDueChains,
  insertRenewedPeriods,
  lockChains,
  maxAdvanceRenewHours,
  updateRenewedChains,
} from '../chains/renewals.js';
import { inScopedTransaction, type Em } from '../db/orm.js';
import { pendingChains } from '../chains/activation.js';
import { recordChainEvents } from '../chains/events.js';
import { freeEndedHolds, holdNumbers, restoreNumbers } from '../dids/store.js';
import type { SubscriptionService } from './subscription.service.js';
import { AccountKind } from '../entities/index.js';
import { badInput, forbidden } from '../errors.js';
import { lockAccounts, post, StaleBalance, type Posting } from '../ledger/post.js';
import type { Decimal } from '../money.js';
import { requireActor, type Request } from '../request.js';

export interface RenewalReport {
  renewed: number;
  released: number;
  expired: number;
  /** Chains that became PAST_DUE in this run. */
  pastDue: number;
  /** PENDING chains that could pay and were activated. */
  activated: number;
  /** Numbers whose hold ended by asOf, back in the stock (DOMAIN.md 12). */
  didsFreed: number;
  /** Ended periods of minimum-spend packages charged a shortfall (DOMAIN.md 13), one per level and period. */
  minimumSpend: number;
}

/** The webhook event each renewal outcome raises (DOMAIN.md 11); an ACTIVE chain only when it was charged. */
const OUTCOME_EVENTS = {
  ACTIVE: 'SUBSCRIPTION_RENEWED',
  PAST_DUE: 'SUBSCRIPTION_PAST_DUE',
  RELEASED: 'SUBSCRIPTION_RELEASED',
  EXPIRED: 'SUBSCRIPTION_EXPIRED',
} as const;

/** PENDING chains tried per run, oldest first. */
const PENDING_PER_RUN = 1000;

/** Chains taken per transaction: bounded so a large run commits as it goes and a crash loses one batch at most. */
export const RENEWAL_BATCH = 500;
/** Batches' worth of due chains found per search. */
const CANDIDATE_BATCHES = 10;
/**
 * How far past now runRenewals may renew, beyond the platform's longest advance-renew interval. Renewing ahead
 * charges real money for periods that have not begun: operators and tests go minutes or hours ahead, while a
 * far-future instant (year 9999) would charge MAX_PERIODS_PER_RUN future periods on every call.
 */
const RENEW_AHEAD_MS = 86_400_000;

/** How many times a batch is planned from balances read without a lock; the last attempt locks them first. */
const PLAN_ATTEMPTS = 5;

/**
 * Renews what is due as of an instant (DOMAIN.md 6), for the scheduler and for runRenewals alike. The rules
 * (what is due, catch-up, advance renew, discounts, commission, release, expiry) are planChainRenewal's in
 * src/billing/renewals.ts; this service finds and locks chains, plans them, writes the plan and posts it.
 *
 * Exactly once per (subscription, period): chains are claimed with FOR NO KEY UPDATE SKIP LOCKED (two
 * schedulers, or the mutation racing the scheduler, take different chains), re-read under the lock, and the
 * primary key of subscription_periods refuses a second charge for a period even if all else failed.
 */
export class RenewalService {
  /** runRenewals: the caller's platform, in the mutation's own transaction. */
  run(ctx: Request, asOf: Date): Promise<RenewalReport> {
    requireActor(ctx);
    if (ctx.actor.kind !== AccountKind.ADMIN) throw forbidden('Renewals are run by the platform admin');
    const rootPath = ctx.actor.path;
    return ctx.mutate(async (em) => {
      await this.refuseTooFarAhead(em, rootPath, asOf);
      return this.runAll(em, asOf, {
        rootPath,
        transactional: false,
        ...(this.separateTransactions
          ? { activateIn: <T>(fn: (tx: Em) => Promise<T>) => inScopedTransaction(em, rootPath, fn) }
          : {}),
      });
    });
  }

  /**
   * At most a day ahead of now plus the longest advance-renew interval among the packages of the caller's
   * platform (DOMAIN.md 6): the renewals it runs are its own, so another platform's terms do not widen it.
   */
  private async refuseTooFarAhead(em: Em, rootPath: string, asOf: Date): Promise<void> {
    const hours = await maxAdvanceRenewHours(em, rootPath);
    const limit = Date.now() + RENEW_AHEAD_MS + hours * 3_600_000;
    if (asOf.getTime() > limit) {
      throw badInput(
        'asOf',
        `asOf may be at most one day ahead of now, plus the longest advance-renew interval (${hours} hours)`,
      );
    }
  }

  /**
   * `concurrency`: batches run at once by the scheduler, each in its own transaction on its own connection. They
   * take disjoint chains, and accounts are locked only for a batch's posting and commit, so two batches of
   * chains sold by the same resellers overlap in everything but that. 1 on the embedded engine (one session).
   */
  private readonly concurrency: number;

  constructor(
    concurrency = 1,
    /** Activates PENDING chains that can now pay: every run tries them (DOMAIN.md 10). */
    private readonly pending?: Pick<SubscriptionService, 'activatePending'>,
    /**
     * runRenewals activates each pending chain in a transaction of its own (a chain's accounts, locked in one
     * posting after another's in a single transaction, could deadlock with rating). False on the embedded
     * engine: one session, nothing runs beside it.
     */
    private readonly separateTransactions = false,
  ) {
    this.concurrency = Math.max(1, concurrency);
  }

  /**
   * Runs batches until nothing is due; each batch is its own transaction on a fork of `em` (up to
   * `concurrency` at once), or all in the caller's transaction when `transactional` is false. Due chains are
   * found CANDIDATE_BATCHES batches at a time: finding them sorts every active chain, whatever the limit.
   */
  async runAll(
    em: Em,
    asOf: Date,
    options: {
      rootPath?: string;
      transactional?: boolean;
      /** How a pending chain's activation runs: by default its own transaction, or the caller's when not transactional. */
      activateIn?: <T>(fn: (tx: Em) => Promise<T>) => Promise<T>;
    } = {},
  ): Promise<RenewalReport> {
    const total: RenewalReport = { renewed: 0, released: 0, expired: 0, pastDue: 0, activated: 0, didsFreed: 0, minimumSpend: 0 };
    const own = options.transactional !== false;
    if (this.pending) {
      const pending = this.pending;
      // Oldest first, a bounded number per run: each its own transaction (or savepoint in the mutation's).
      for (const chainId of await pendingChains(em, options.rootPath, PENDING_PER_RUN)) {
        const activate = (tx: Em) => pending.activatePending(tx, [chainId], null);
        total.activated += await (options.activateIn
          ? options.activateIn(activate)
          : own
            ? em.fork().transactional(activate)
            : activate(em));
      }
    }
    for (;;) {
      const candidates = await findDueChains(em, asOf, options.rootPath, RENEWAL_BATCH * CANDIDATE_BATCHES);
      const batches: string[][] = [];
      for (let i = 0; i < candidates.length; i += RENEWAL_BATCH) batches.push(candidates.slice(i, i + RENEWAL_BATCH));
      let moved = 0;
      let failing = false;
      const worker = async () => {
        for (let chainIds = batches.shift(); chainIds && !failing; chainIds = batches.shift()) {
          const run = (tx: Em) => this.renewBatch(tx, asOf, chainIds);
          const report = await (own ? em.fork().transactional(run) : run(em)).catch((error: unknown) => {
            failing = true;
            throw error;
          });
          total.renewed += report.renewed;
          total.released += report.released;
          total.expired += report.expired;
          total.pastDue += report.pastDue;
          moved += report.renewed + report.released + report.expired + report.pastDue;
        }
      };
      // After a failure no worker takes another batch, and each finishes the one it has before the failure is
      // reported: none is left running behind the caller.
      const settled = await Promise.allSettled(Array.from({ length: own ? this.concurrency : 1 }, worker));
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      // Stop when all that was due fitted, or nothing moved (never spin on chains that are due but cannot move).
      if (candidates.length < RENEWAL_BATCH * CANDIDATE_BATCHES || moved === 0) break;
    }
    // Periods the renewals above ended (and any ended earlier) settle their minimum spend, batch by batch.
    for (;;) {
      const settle = (tx: Em) => this.settleMinimumSpend(tx, asOf, options.rootPath);
      const { claimed, charged } = await (own ? em.fork().transactional(settle) : settle(em));
      total.minimumSpend += charged;
      if (claimed < RENEWAL_BATCH) break;
    }
    // After the renewals: a past-due chain whose numbers' hold has ended was released above, so its numbers go too.
    const free = (tx: Em) => freeEndedHolds(tx, asOf, options.rootPath);
    total.didsFreed = await (own ? em.fork().transactional(free) : free(em));
    return total;
  }

  /**
   * Minimum spend (DOMAIN.md 13): ended periods of minimum-spend packages, one batch, each level charged its
   * shortfall as MINIMUM_SPEND with its taxes, regardless of its balance (it committed to the spend), and the
   * period marked settled in the same transaction: exactly once per (subscription, period), whatever runs
   * alongside. A chain that ended inside the period owes nothing for it.
   */
  private async settleMinimumSpend(em: Em, asOf: Date, rootPath?: string): Promise<{ claimed: number; charged: number }> {
    const due = await claimDueCommitments(em, asOf, rootPath, RENEWAL_BATCH);
    if (due.length === 0) return { claimed: 0, charged: 0 };
    const taxes = await taxesOf(em, [...new Set(due.map((d) => d.accountId))]);
    const postings: Posting[] = [];
    const settled = due.map((d) => {
      const fee = minimumSpendCharge(d.endedEarly ? ZERO : d.commitment, d.inclusive, d.usage, taxes.get(d.accountId) ?? []);
      const base = {
        accountId: d.accountId,
        subscriptionId: d.subscriptionId,
        description: `${d.packageId} period ${d.periodNumber}`,
      };
      postings.push(
        { ...base, amount: fee.net.neg(), kind: 'MINIMUM_SPEND' },
        ...fee.taxes.map((t) => ({ ...base, amount: t.amount.neg(), kind: 'TAX' as const, taxRateId: t.taxRateId })),
      );
      return { subscriptionId: d.subscriptionId, periodNumber: d.periodNumber, amount: fee.net };
    });
    await settleCommitments(em, settled);
    await post(em, postings);
    return { claimed: due.length, charged: settled.filter((s) => s.amount.gt(0)).length };
  }

  /**
   * One batch of chains in the caller's transaction. Their rows are locked with SKIP LOCKED, so a renewer
   * never waits on a subscription and cannot deadlock with rating or termination (which wait, in id order);
   * a chain not locked whole is left for later, and what was locked is re-checked for being due before
   * anything is charged.
   */
  async renewBatch(em: Em, asOf: Date, chainIds: string[]): Promise<RenewalReport> {
    for (let attempt = 1; ; attempt++) {
      // The last attempt holds the accounts from the start: balances that kept moving under every plan so far
      // cannot move under this one.
      const lockFirst = attempt === PLAN_ATTEMPTS;
      try {
        return await em.transactional((tx) => this.renewOnce(tx, asOf, chainIds, lockFirst));
      } catch (error) {
        if (!(error instanceof StaleBalance) || lockFirst) throw error;
      }
    }
  }

  /**
   * Plans from balances read without a lock, writes the periods and the chains, and posts last: the accounts
   * are locked only by the posting engine, for its statement and the commit. Chains that release when short
   * were judged on those balances, so the posting carries what each judgement assumed: a floor for every charge
   * (the account could pay it) and a ceiling for every release (the account could not). A balance that moved
   * across one (a concurrent debit or top-up) throws StaleBalance and renewBatch plans the batch again.
   */
  private async renewOnce(em: Em, asOf: Date, chainIds: string[], lockFirst: boolean): Promise<RenewalReport> {
    const report: RenewalReport = {
      renewed: 0,
      released: 0,
      expired: 0,
      pastDue: 0,
      activated: 0,
      didsFreed: 0,
      minimumSpend: 0,
    };
    const due = (await lockChains(em, chainIds)).filter((c) => renewalDueAt(c.chain) <= asOf);
    // Everything due is held by another renewer right now: stop here, it is being renewed.
    if (due.length === 0) return report;

    let funds = new Map<string, Funds>();
    for (const c of due) for (const f of c.funds) funds.set(f.accountId, f);
    if (lockFirst) for (const [id, held] of await lockAccounts(em, [...funds.keys()])) funds.set(id, held);
    const read = new Map(funds);
    const periods: (ChargedPeriod & { ownerPath: string })[] = [];
    const postings: Posting[] = [];
    const updates: { chainId: string; outcome: RenewalOutcome }[] = [];
    const floors = new Map<string, Decimal>();
    const ceilings = new Map<string, Decimal>();
    // What a judgement at running balance `before` assumed of the available balance before the batch.
    const bound = (accountId: string, price: Decimal, before: Decimal) => price.minus(before.minus(read.get(accountId)!.balance));
    for (const c of due) {
      const plan = planChainRenewal(c.chain, c.levels, funds, asOf);
      funds = plan.balances;
      if (!plan.outcome.changed) continue;
      if (plan.outcome.status === 'RELEASED') report.released++;
      else if (plan.outcome.status === 'PAST_DUE') report.pastDue++;
      else if (plan.outcome.status === 'EXPIRED') report.expired++;
      else if (plan.outcome.chargedAny) report.renewed++;
      updates.push({ chainId: c.chainId, outcome: plan.outcome });
      periods.push(...plan.periods.map((p) => ({ ...p, ownerPath: c.ownerPaths.get(p.subscriptionId)! })));
      postings.push(
        ...plan.postings.map((p) => ({
          accountId: p.accountId,
          amount: p.amount,
          kind: p.kind,
          description: p.description,
          subscriptionId: p.subscriptionId,
          taxRateId: p.taxRateId ?? null,
        })),
      );
      if (c.chain.releaseIfNoBalance) {
        for (const p of plan.periods) {
          const floor = bound(p.accountId, p.gross, p.balanceBefore);
          if (!floors.get(p.accountId)?.gte(floor)) floors.set(p.accountId, floor);
        }
        const short = plan.outcome.shortfall;
        if (short) {
          const ceiling = bound(short.accountId, short.price, short.balanceBefore);
          if (!ceilings.get(short.accountId)?.lte(ceiling)) ceilings.set(short.accountId, ceiling);
        }
      }
    }
    await insertRenewedPeriods(em, periods);
    await updateRenewedChains(em, updates);
    await post(em, postings, { floors, ceilings });
    // The buyer's numbers (the level-0 subscription's, whose id is the chain's), after the accounts (the lock
    // order: subscriptions, accounts, numbers). A past-due chain that paid gets them back; one that ends or is
    // past due (again) holds them from its boundary.
    await restoreNumbers(
      em,
      updates
        .filter((u) => u.outcome.chargedAny && due.find((c) => c.chainId === u.chainId)!.chain.status === 'PAST_DUE')
        .map((u) => u.chainId),
    );
    await holdNumbers(
      em,
      updates
        .filter((u) => u.outcome.status !== 'ACTIVE')
        .map((u) => ({ subscriptionId: u.chainId, at: u.outcome.endedAt ?? u.outcome.periodEnd })),
    );
    await recordChainEvents(
      em,
      updates.flatMap(({ chainId, outcome }) => {
        const type = OUTCOME_EVENTS[outcome.status];
        const chain = due.find((c) => c.chainId === chainId)!;
        if (!type || (outcome.status === 'ACTIVE' && !outcome.chargedAny)) return [];
        const levels = chain.levels.map((l) => ({ ...l, ownerPath: chain.ownerPaths.get(l.subscriptionId)! }));
        return [{ type, chainId, levels, state: outcome }];
      }),
    );
    return report;
  }
}
