import { requireActor, type Request } from '../request.js';
import { executeBound, type Em } from '../db/orm.js';
import { badInput, forbidden } from '../errors.js';
import { AccountKind, BillingType, ResellerModel, SubscriptionStatus, type DiscountRule } from '../entities/index.js';
import { likePrefix } from '../entities/scope.js';
import { FloorNotMet, post, type Posting } from '../ledger/post.js';
import { Decimal, ZERO } from '../money.js';
import { periodEnd } from './periods.js';
import { commissionOn, discountedPrice } from './subscription.service.js';

export interface RenewalReport {
  renewed: number;
  released: number;
  expired: number;
}

/** Chains taken per transaction: bounded so a large run commits as it goes and a crash loses one batch at most. */
export const RENEWAL_BATCH = 200;
/** Batches' worth of due chains found per search. */
const CANDIDATE_BATCHES = 10;
/** A chain that was down for longer than this many periods is caught up over several runs. */
const MAX_PERIODS_PER_RUN = 120;
/**
 * How far past now runRenewals may renew, beyond the platform's longest advance-renew interval. Renewing ahead
 * charges real money for periods that have not begun: operators and tests go minutes or hours ahead, while a
 * far-future instant (year 9999) would charge MAX_PERIODS_PER_RUN future periods on every call.
 */
const RENEW_AHEAD_MS = 86_400_000;

interface ChainTerms {
  activated_at: Date;
  current_period_start: Date;
  current_period_end: Date;
  periods_charged: number;
  current_period_number: number;
  billing_type: BillingType;
  billing_days: number;
  free_minutes: number;
  release_if_no_balance: boolean;
  discounts: DiscountRule[];
  end_date: Date | null;
  advance_renew_hours: number;
}

interface DueChain extends ChainTerms {
  chain_id: string;
  levels: LevelRow[];
}

interface LevelRow {
  id: string;
  chain_id: string;
  level: number;
  account_id: string;
  owner_path: string;
  package_id: string;
  price: string;
  commission_rate: string;
  reseller_model: ResellerModel | null;
}

interface AccountRow {
  balance: string;
  credit_limit: string;
}

/** Plans made from moving balances: how many times a batch is planned again before it is left to the next run. */
const PLAN_ATTEMPTS = 5;

/**
 * Renews what is due as of an instant (DOMAIN.md 6), for the scheduler and for runRenewals alike.
 *
 * - Due: a chain whose current period ends (less the package's advance-renew hours) at or before `asOf`.
 * - The next period starts at the previous end, not at "now"; MONTHLY periods stay on the activation day.
 *   Renewing ahead (advance-renew hours) charges the next period early, but it becomes current (free
 *   seconds reset, calls and refunds move to it) only when the running period ends.
 * - Catching up after downtime: every missed period is charged in turn, oldest first, as of its own start,
 *   until the chain is current (at most MAX_PERIODS_PER_RUN periods per run; the next run continues).
 * - Each level pays its package's current price with the discount for that period number, no setup fee; a
 *   COMMISSION level is credited its commission; free seconds are reset to the package's current minutes.
 * - If a level cannot pay and the package releases on no balance, the whole chain is RELEASED (ended at the
 *   period end, nothing charged); otherwise every level is charged regardless of its balance.
 * - ONE_TIME chains, and chains whose package's end date has come, EXPIRE at their period end.
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
      return this.runAll(em, asOf, { rootPath, transactional: false });
    });
  }

  /**
   * At most a day ahead of now plus the longest advance-renew interval among the packages of the caller's
   * platform (DOMAIN.md 6): the renewals it runs are its own, so another platform's terms do not widen it.
   */
  private async refuseTooFarAhead(em: Em, rootPath: string, asOf: Date): Promise<void> {
    const [{ hours }] = await em.execute<{ hours: number }[]>(
      `select coalesce(max(advance_renew_hours), 0)::int as hours from package_terms where owner_path like ?`,
      [likePrefix(rootPath)],
    );
    const limit = Date.now() + RENEW_AHEAD_MS + Number(hours) * 3_600_000;
    if (asOf.getTime() > limit) {
      throw badInput(
        'asOf',
        `asOf may be at most one day ahead of now, plus the longest advance-renew interval (${hours} hours)`,
      );
    }
  }

  /**
   * Runs batches until nothing is due; each batch is its own transaction on a fork of `em`. Due chains are
   * found CANDIDATE_BATCHES batches at a time: finding them sorts every active chain, whatever the limit.
   */
  async runAll(em: Em, asOf: Date, options: { rootPath?: string; transactional?: boolean } = {}): Promise<RenewalReport> {
    const total: RenewalReport = { renewed: 0, released: 0, expired: 0 };
    for (;;) {
      const candidates = await this.findDue(em, asOf, options.rootPath, RENEWAL_BATCH * CANDIDATE_BATCHES);
      let moved = 0;
      for (let i = 0; i < candidates.length; i += RENEWAL_BATCH) {
        const chainIds = candidates.slice(i, i + RENEWAL_BATCH);
        const run = (tx: Em) => this.renewBatch(tx, asOf, chainIds);
        const report = options.transactional === false ? await run(em) : await em.fork().transactional(run);
        total.renewed += report.renewed;
        total.released += report.released;
        total.expired += report.expired;
        moved += report.renewed + report.released + report.expired;
      }
      // Stop when all that was due fitted, or nothing moved (never spin on chains that are due but cannot move).
      if (candidates.length < RENEWAL_BATCH * CANDIDATE_BATCHES || moved === 0) return total;
    }
  }

  /** Heads of due chains, oldest period end first, read without locks (renewBatch locks and re-checks). */
  private async findDue(em: Em, asOf: Date, rootPath: string | undefined, limit: number): Promise<string[]> {
    const rows = await em.execute<{ chain_id: string }[]>(
      `select s.chain_id from package_subscriptions s
         join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
        where s.level = 0 and s.status = 'ACTIVE'
          and (case when s.periods_charged > s.current_period_number   -- paid ahead: due to switch at its end
                      or t.billing_type = 'ONE_TIME' or t.end_date <= s.current_period_end  -- it ends: due at its end
                    then s.current_period_end
                    else s.current_period_end - make_interval(hours => t.advance_renew_hours) end) <= ?
          and (?::text is null or starts_with(s.owner_path, ?))
        order by s.current_period_end, s.id
        limit ?`,
      [asOf, rootPath ?? null, rootPath ?? null, limit],
    );
    return rows.map((r) => r.chain_id);
  }

  /**
   * One batch of chains in the caller's transaction. Their rows are locked with SKIP LOCKED, so a renewer
   * never waits on a subscription and cannot deadlock with rating or termination (which wait, in id order);
   * a chain not locked whole is left for later, and what was locked is re-checked for being due before
   * anything is charged.
   */
  async renewBatch(em: Em, asOf: Date, chainIds: string[]): Promise<RenewalReport> {
    for (let attempt = 0; attempt < PLAN_ATTEMPTS; attempt++) {
      try {
        return await em.transactional((tx) => this.renewOnce(tx, asOf, chainIds));
      } catch (error) {
        if (!(error instanceof FloorNotMet)) throw error;
      }
    }
    // Balances kept moving under this batch's plans: its chains stay due and the next run takes them.
    return { renewed: 0, released: 0, expired: 0 };
  }

  /**
   * Plans from balances read without a lock, writes the periods and the chains, and posts last: the accounts
   * are locked only by the posting engine, for its statement and the commit. A chain that releases when short
   * was judged on those balances, so its charges carry floors; a floor missed (a concurrent debit) throws
   * FloorNotMet and renewBatch plans the batch again.
   */
  private async renewOnce(em: Em, asOf: Date, chainIds: string[]): Promise<RenewalReport> {
    const report: RenewalReport = { renewed: 0, released: 0, expired: 0 };
    if (chainIds.length === 0) return report;
    const rows = await em.execute<(LevelRow & ChainTerms & AccountRow & { chain_size: number; status: SubscriptionStatus })[]>(
      `select s.id, s.chain_id, s.level, s.status, s.account_id, s.owner_path, s.package_id, s.activated_at,
              a.balance::text, a.credit_limit::text,
              s.current_period_start, s.current_period_end, s.periods_charged, s.current_period_number, p.price::text, p.commission_rate::text, a.reseller_model,
              t.billing_type, t.billing_days, t.free_minutes, t.release_if_no_balance, t.discounts, t.end_date,
              t.advance_renew_hours,
              (select count(*)::int from package_subscriptions x where x.chain_id = s.chain_id) as chain_size
         -- Each chain probed by its index (OFFSET 0 keeps it a lateral probe: the planner otherwise hashed
         -- every subscription) and locked there, skipping rows another renewer holds.
         from unnest(?::text[]) c(id)
         cross join lateral (
           select * from package_subscriptions x where x.chain_id = c.id offset 0 for no key update skip locked
         ) s
         join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
         join accounts a on a.id = s.account_id
        order by s.id`,
      [`{${chainIds.join(',')}}`],
    );
    const chainLevels = new Map<string, typeof rows>();
    for (const l of rows) chainLevels.set(l.chain_id, [...(chainLevels.get(l.chain_id) ?? []), l]);
    const due: DueChain[] = [];
    for (const [, chainRows] of chainLevels) {
      chainRows.sort((x, y) => x.level - y.level);
      const head = chainRows[0];
      if (head.level !== 0 || chainRows.length !== head.chain_size || head.status !== SubscriptionStatus.ACTIVE) continue;
      const aheadOrEnding =
        head.periods_charged > head.current_period_number ||
        head.billing_type === BillingType.ONE_TIME ||
        (head.end_date !== null && new Date(head.end_date) <= new Date(head.current_period_end));
      const dueAt = new Date(head.current_period_end).getTime() - (aheadOrEnding ? 0 : head.advance_renew_hours * 3_600_000);
      if (dueAt > asOf.getTime()) continue;
      due.push({ ...head, levels: chainRows });
    }
    // Everything due is held by another renewer right now: stop here, it is being renewed.
    if (due.length === 0) return report;

    const balance = new Map(rows.map((a) => [a.account_id, new Decimal(a.balance)]));
    const credit = new Map(rows.map((a) => [a.account_id, new Decimal(a.credit_limit)]));
    const before = new Map(balance);
    const floors = new Map<string, Decimal>();
    const periods: Record<string, unknown>[] = [];
    const postings: Posting[] = [];
    const updates: Record<string, unknown>[] = [];
    const charge = (l: LevelRow, amount: Decimal, kind: 'RENEWAL_FEE' | 'COMMISSION', n: number) => {
      balance.set(l.account_id, balance.get(l.account_id)!.plus(amount));
      postings.push({ accountId: l.account_id, amount, kind, description: `${l.package_id} period ${n}`, subscriptionId: l.id });
    };

    for (const chain of due) {
      const chainRows = chain.levels;
      const activated = new Date(chain.activated_at);
      const advanceMs = chain.advance_renew_hours * 3_600_000;
      let charged = chain.periods_charged;
      let current = chain.current_period_number;
      let start = new Date(chain.current_period_start);
      let end = new Date(chain.current_period_end);
      let outcome: SubscriptionStatus = SubscriptionStatus.ACTIVE;
      let chargedAny = false;
      let switched = false;
      for (let i = 0; i < MAX_PERIODS_PER_RUN * 2; i++) {
        // A period paid ahead becomes current at the boundary, not before: until then calls, free seconds and
        // refunds still belong to the running period.
        if (charged > current) {
          if (asOf < end) break;
          current++;
          start = end;
          end = periodEnd(chain.billing_type, chain.billing_days, activated, current);
          switched = true;
          continue;
        }
        const ends = chain.billing_type === BillingType.ONE_TIME || (chain.end_date !== null && new Date(chain.end_date) <= end);
        if (ends) {
          if (asOf >= end) outcome = SubscriptionStatus.EXPIRED; // at its period end, whatever the advance hours
          break;
        }
        if (asOf.getTime() < end.getTime() - advanceMs) break;
        const next = charged + 1;
        const charges = chainRows.map((l) => {
          const price = discountedPrice(new Decimal(l.price), chain.discounts, next);
          const earns = l.level > 0 && l.reseller_model === ResellerModel.COMMISSION;
          return { l, price, commission: earns ? commissionOn(new Decimal(l.commission_rate), price) : ZERO };
        });
        const short = charges.some((c) => balance.get(c.l.account_id)!.plus(credit.get(c.l.account_id)!).lt(c.price));
        if (short && chain.release_if_no_balance) {
          outcome = SubscriptionStatus.RELEASED;
          break;
        }
        if (chain.release_if_no_balance) {
          // Judged on balances read without a lock: the available balance this decision needed beforehand.
          for (const c of charges) {
            const id = c.l.account_id;
            const floor = c.price.minus(balance.get(id)!.minus(before.get(id)!));
            if (!floors.has(id) || floors.get(id)!.lt(floor)) floors.set(id, floor);
          }
        }
        const nextEnd = periodEnd(chain.billing_type, chain.billing_days, activated, next);
        for (const c of charges) {
          charge(c.l, c.price.neg(), 'RENEWAL_FEE', next);
          charge(c.l, c.commission, 'COMMISSION', next);
          periods.push({
            subscription_id: c.l.id,
            period_number: next,
            owner_path: c.l.owner_path,
            period_start: end.toISOString(),
            period_end: nextEnd.toISOString(),
            price: c.price.toFixed(),
            commission_rate: c.commission.gt(0) ? c.l.commission_rate : '0',
            commission: c.commission.toFixed(),
          });
        }
        charged = next;
        chargedAny = true;
      }
      if (outcome === SubscriptionStatus.ACTIVE && !chargedAny && !switched) continue;
      if (outcome === SubscriptionStatus.RELEASED) report.released++;
      else if (outcome === SubscriptionStatus.EXPIRED) report.expired++;
      else if (chargedAny) report.renewed++;
      updates.push({
        chain_id: chain.chain_id,
        status: outcome,
        periods_charged: charged,
        current_period_number: current,
        period_start: start.toISOString(),
        period_end: end.toISOString(),
        free_seconds: chain.free_minutes * 60,
        reset: switched,
        ended_at: outcome === SubscriptionStatus.ACTIVE ? null : end.toISOString(),
      });
    }

    if (periods.length) {
      // The primary key (subscription_id, period_number) is the last word: a period cannot be charged twice.
      await executeBound(
        em,
        `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee,
                                           price, commission_rate, commission, charged_at)
         select x.subscription_id, x.period_number, x.owner_path, x.period_start, x.period_end, 0, x.price::numeric,
                x.commission_rate::numeric, x.commission::numeric, now()
           from json_to_recordset(?::json) as x(subscription_id text, period_number int, owner_path text,
                                                  period_start timestamptz, period_end timestamptz, price text,
                                                  commission_rate text, commission text)`,
        [JSON.stringify(periods)],
      );
    }
    if (updates.length) {
      await executeBound(
        em,
        `update package_subscriptions s set
           status = x.status, periods_charged = x.periods_charged, current_period_number = x.current_period_number,
           current_period_start = x.period_start,
           current_period_end = x.period_end, ended_at = x.ended_at,
           free_seconds_total = case when x.reset then x.free_seconds else s.free_seconds_total end,
           free_seconds_used = case when x.reset then 0 else s.free_seconds_used end
          from json_to_recordset(?::json) as x(chain_id text, status text, periods_charged int, current_period_number int,
                                                 period_start timestamptz,
                                                 period_end timestamptz, free_seconds int, reset boolean, ended_at timestamptz)
         where s.chain_id = x.chain_id`,
        [JSON.stringify(updates)],
      );
    }
    await post(em, postings, { floors });
    return report;
  }
}
