import { callsPage, type CallRecordView } from '../calls/records.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import { withPlatformScope, type Em } from '../db/orm.js';
import { didHolders } from '../dids/store.js';
import {
  authorizationLevels,
  inboundRatedOn,
  lockPools,
  lockRatingOf,
  poolsForAuthorization,
  ratedCalls,
  levelRates,
  writeCalls,
  type AuthorizationLevel,
  type CallToWrite,
} from '../calls/rating.js';
import { currentLease, endLeases, insertLease, lockLeaseLevels, type LeaseRow } from '../calls/leases.js';
import { Account, AccountStatus, CallRecord, Direction } from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { post, type Posting } from '../ledger/post.js';
import { taxesOf } from '../taxes/rates.js';
import {
  billedSeconds,
  rejectingPools,
  chargeCall,
  chargeFor,
  priceCalls,
  grossOf,
  choosePool,
  poolLeft,
  longestBilledWithin,
  longestOf,
  MAX_CALL_SECONDS,
  secondsBudget,
  spendableMoney,
  netOfTaxes,
  sumTaxes,
  taxesOn,
  type LevelTerms,
  type Pool,
  type TaxAmount,
} from '../billing/index.js';
import { Decimal, ZERO } from '../money.js';
import { type Page, type PageArgs } from './pagination.js';
import { normalizeNumber, type RateService } from './rate.service.js';
import type { AccountService } from './account.service.js';

export interface CallData {
  /** Optional for an INBOUND call to an ASSIGNED number (DOMAIN.md 12): its holder is the account. */
  accountId?: string | null;
  callId: string;
  destination: string;
  direction: Direction;
  durationSeconds: number;
  startedAt: Date;
}

/** A call with its account known (named, or the holder of the number dialled). */
type RatedCall = CallData & { accountId: string };

interface UsageTotal {
  amount: Decimal;
  calls: number;
  /** Billed seconds not covered by free seconds: what the account paid for. */
  seconds: number;
}

export type CallDenialReasonName =
  | 'NO_RATE'
  | 'INSUFFICIENT_FUNDS'
  | 'LIMIT_REACHED'
  | 'BUNDLE_EXHAUSTED'
  | 'CONCURRENCY_LIMIT'
  | 'BELOW_MINIMUM_BALANCE'
  | 'NEGATIVE_MARGIN'
  | 'ACCOUNT_INACTIVE';

interface Judgement {
  allowed: boolean;
  maxDurationSeconds: number | null;
  reason: CallDenialReasonName | null;
}

export interface CallAuthorization extends Judgement {
  /** The reason as an enum; `reason` keeps the same name as a string for clients written before. */
  reasonCode: CallDenialReasonName | null;
}

/** A CDR's start: a switch posts within the year (and its retries), never for calls yet to come (DOMAIN.md 5). */
const MAX_CALL_AGE_MS = 400 * 86_400_000;
const MAX_CALL_LEAD_MS = 5 * 60_000;

/** The most calls one rateCalls request may carry. */
export const MAX_CALLS_PER_BATCH = 5_000;

function levelIds(path: string): string[] {
  // "/root/a/b/c/" -> [c, b, a]: the call's account first, then each reseller up; the root is never charged.
  return path.split('/').filter(Boolean).slice(1).reverse();
}

export class RatingService {
  constructor(
    private readonly rates: RateService,
    private readonly accounts: AccountService,
    /** How long a call lease counts when its call is neither rated nor ended (CALL_LEASE_SECONDS). */
    private readonly leaseSeconds: number,
  ) {}

  rateCall(ctx: Request, call: CallData): Promise<CallRecord> {
    return this.rateCalls(ctx, [call]).then(([record]) => record);
  }

  /**
   * Rates a batch in one transaction: every level of every call with its own rate group, free seconds drawn
   * from the chosen chain, one balance update and one USAGE ledger entry per account for the whole batch, and
   * one CallRecord with a charge row per level for each call. Locks: subscriptions by id, then accounts by
   * depth (deepest first) and id, the same order every other multi-account operation uses. The batch is
   * atomic: a call with no outbound rate at some level (NO_RATE) or bad input refuses it all, naming the
   * index. Call ids already rated return their first record and charge nothing again.
   */
  async rateCalls(ctx: Request, calls: CallData[]): Promise<CallRecord[]> {
    requireActor(ctx);
    if (calls.length === 0) return [];
    if (calls.length > MAX_CALLS_PER_BATCH) throw badInput('input', `At most ${MAX_CALLS_PER_BATCH} calls per request`);
    const checked = calls.map((c, i) => this.validate(c, i));
    return ctx.mutate(async (em) => {
      const inputs = await this.withHolders(ctx, em, checked);
      const accountIds = [...new Set(inputs.map((c) => c.accountId))];
      const accounts = await em.find(Account, { id: { $in: accountIds } });
      const byId = new Map(accounts.map((a) => [a.id, a]));
      inputs.forEach((c, i) => {
        const account = byId.get(c.accountId);
        if (!account) throw new DomainError('NOT_FOUND', 'Account not found', { details: { index: i } });
        if (account.id === ctx.actor.accountId) throw forbidden('Calls are rated by an ancestor of the account (its switch)');
        if (account.status === AccountStatus.DELETED) {
          throw new DomainError('INVALID_STATE', 'The account is deleted', { details: { index: i } });
        }
      });
      const { ids, created } = await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, () =>
        this.rateInScope(ctx, em, inputs, byId),
      );
      // Records written just now are returned as written; only ids rated before are read back.
      const earlier = [...new Set(ids.filter((id) => !created.has(id)))];
      const records = earlier.length ? await em.find(CallRecord, { id: { $in: earlier } }) : [];
      const recordById = new Map([...created, ...records.map((r) => [r.id, r] as const)]);
      return ids.map((id) => recordById.get(id)!);
    });
  }

  /**
   * Calls that name the number dialled instead of the account are rated on its holder: the number must be
   * ASSIGNED to an account in the caller's subtree (NOT_FOUND otherwise, naming the index).
   */
  private async withHolders(ctx: AuthedRequest, em: Em, calls: CallData[]): Promise<RatedCall[]> {
    const byNumber = calls.filter((c) => !c.accountId);
    if (byNumber.length === 0) return calls as RatedCall[];
    const numbers = [...new Set(byNumber.map((c) => c.destination))];
    const holders = await didHolders(em, ctx.actor.rootId, numbers);
    // A retried call keeps the account it was first rated on (its record is returned, nothing charged again).
    const rated = await inboundRatedOn(em, ctx.actor.rootId, byNumber);
    return calls.map((c, i) => {
      if (c.accountId) return c as RatedCall;
      const holder = rated.get(`${c.callId}\u0000${c.destination}`) ?? holders.get(c.destination);
      if (!holder) throw new DomainError('NOT_FOUND', `No assigned number ${c.destination}`, { details: { index: i } });
      return { ...c, accountId: holder };
    });
  }

  private validate(c: CallData, i: number): CallData {
    const field = (name: string) => `input[${i}].${name}`;
    if (!c.accountId && c.direction !== Direction.INBOUND) {
      throw badInput(field('accountId'), 'accountId may be left out for INBOUND calls to an assigned number only');
    }
    const callId = c.callId.trim();
    if (callId.length < 1 || callId.length > 200) throw badInput(field('callId'), 'callId is 1 to 200 characters');
    const destination = normalizeNumber(c.destination);
    if (!/^[0-9]{1,20}$/.test(destination)) throw badInput(field('destination'), 'destination is a number of 1 to 20 digits');
    if (!Number.isInteger(c.durationSeconds) || c.durationSeconds < 0 || c.durationSeconds > MAX_CALL_SECONDS) {
      throw badInput(field('durationSeconds'), 'durationSeconds is a whole number from 0 to 604800');
    }
    const now = Date.now();
    const startedAt = c.startedAt.getTime();
    if (!(startedAt >= now - MAX_CALL_AGE_MS && startedAt <= now + MAX_CALL_LEAD_MS)) {
      throw badInput(field('startedAt'), 'startedAt must lie within the last 400 days and at most 5 minutes ahead');
    }
    return { ...c, callId, destination };
  }

  /**
   * Everything above the caller: the levels' rates, subscriptions and balances. Returns the record id of every
   * input (a retried call's first record) and the records written now.
   */
  private async rateInScope(
    ctx: AuthedRequest,
    em: Em,
    inputs: RatedCall[],
    accounts: Map<string, Account>,
  ): Promise<{ ids: string[]; created: Map<string, CallRecord> }> {
    const callKey = (accountId: string, callId: string) => `${accountId}\u0000${callId}`;
    await lockRatingOf(em, [...new Set(inputs.map((c) => c.accountId))]);
    const known = new Map((await ratedCalls(em, inputs)).map((r) => [callKey(r.accountId, r.callId), r.id]));

    // Each new call once (a batch may repeat a call id), with its levels: the call's account, then each reseller up.
    const fresh = new Map<string, RatedCall & { index: number; levels: string[] }>();
    inputs.forEach((c, index) => {
      const key = callKey(c.accountId, c.callId);
      if (!known.has(key) && !fresh.has(key)) fresh.set(key, { ...c, index, levels: levelIds(accounts.get(c.accountId)!.path) });
    });
    const calls = [...fresh.values()];
    const rates = await levelRates(em, this.rates, calls);

    // Pools: the call accounts' chains that give any, locked by id, drawn on in the batch's order.
    const pools = await lockPools(em, [...new Set(calls.map((c) => c.accountId))]);
    const plans = priceCalls(
      calls.map((c, ci) => ({ ...c, levels: c.levels.map((accountId, level) => ({ accountId, rate: rates[ci][level] })) })),
      pools,
    );
    const planned: CallToWrite[] = calls.map(({ index, levels, ...c }, ci) => {
      if (levels.length === 0) throw new DomainError('NO_RATE', 'A root account has no rate group', { details: { index } });
      const plan = plans[ci];
      if ('noRateAt' in plan) {
        throw new DomainError('NO_RATE', `No rate for ${c.destination} at level ${plan.noRateAt}`, {
          details: { index, level: plan.noRateAt },
        });
      }
      const account = accounts.get(c.accountId)!;
      return { ...c, id: newId('CallRecord'), ownerPath: account.path, charges: plan.charges };
    });
    const newIds = new Map(planned.map((p) => [callKey(p.accountId, p.callId), p.id]));
    const ids = inputs.map((c) => known.get(callKey(c.accountId, c.callId)) ?? newIds.get(callKey(c.accountId, c.callId))!);
    if (planned.length === 0) return { ids, created: new Map() };

    const drawn = new Set(planned.flatMap((p) => p.charges.flatMap((c) => [c.volume?.key, c.money?.key])));
    const created = await writeCalls(
      em,
      ctx.actor.rootId,
      planned,
      pools.filter((p) => drawn.has(p.key)),
    );
    // A call rated ends its lease (startCall), at once freeing what it held.
    await endLeases(
      em,
      planned.map((p) => ({ accountId: p.accountId, callId: p.callId })),
    );
    // Per account, one USAGE entry per call direction for the batch (with the calls' count and charged seconds,
    // for invoices), then one TAX entry per tax rate: each call's charge taxed on its own (DOMAIN.md 8), summed.
    // Each call's share is in call_charges. Entries (and so events and alerts) in the accounts' lock order:
    // deepest first, then id.
    const taxes = await taxesOf(em, [...new Set(planned.flatMap((p) => p.charges.map((c) => c.accountId)))]);
    const totals = new Map<string, { depth: number; usage: Map<string, UsageTotal>; taxes: TaxAmount[][] }>();
    for (const call of planned) {
      const depth = accounts.get(call.accountId)!.depth;
      for (const charge of call.charges) {
        if (charge.amount.isZero()) continue;
        const t = totals.get(charge.accountId) ?? { depth: depth - charge.level, usage: new Map(), taxes: [] as TaxAmount[][] };
        const u = t.usage.get(call.direction) ?? { amount: ZERO, calls: 0, seconds: 0 };
        t.usage.set(call.direction, {
          amount: u.amount.plus(charge.amount),
          calls: u.calls + 1,
          seconds: u.seconds + charge.chargedSeconds,
        });
        t.taxes.push(taxesOn(charge.amount, taxes.get(charge.accountId) ?? []));
        totals.set(charge.accountId, t);
      }
    }
    const single = planned.length === 1 ? `call ${planned[0].callId}` : null;
    const actorId = ctx.actor.accountId;
    await post(
      em,
      [...totals]
        .sort(([a, x], [b, y]) => y.depth - x.depth || (a < b ? -1 : a > b ? 1 : 0))
        .flatMap(([accountId, t]): Posting[] => [
          ...[...t.usage].map(([direction, u]) => ({
            accountId,
            amount: u.amount.neg(),
            kind: 'USAGE' as const,
            description: single ?? `${u.calls} ${direction.toLowerCase()} calls`,
            actorId,
            calls: { direction, count: u.calls, billedSeconds: u.seconds },
          })),
          ...sumTaxes(t.taxes).map((tax) => ({
            accountId,
            amount: tax.amount.neg(),
            kind: 'TAX' as const,
            description: single ?? `${t.taxes.length} calls`,
            actorId,
            taxRateId: tax.taxRateId,
          })),
        ]),
    );
    return { ids, created };
  }

  async find(ctx: Request, id: string): Promise<CallRecord | null> {
    requireActor(ctx);
    return ctx.em.findOne(CallRecord, { id });
  }

  /** Calls of one account, newest first. */
  async list(ctx: Request, accountId: string, args: PageArgs): Promise<Page<CallRecordView>> {
    requireActor(ctx);
    const account = await this.accounts.view(ctx, accountId);
    if (!account) throw notFound('Account not found');
    return callsPage(ctx.em, accountId, args);
  }

  /**
   * Whether a call may start now, and for how long at most (DOMAIN.md 5, 13, 14): at every level, the rate
   * (NO_RATE if an outbound level has none), the pools the call would draw on, the available balance less
   * what open call leases hold and the minimum balance to call, and, where set, what is left of the daily and
   * monthly spend limits (charges for calls started since midnight or the 1st in that level's timezone). A
   * level at its maxConcurrentCalls refuses (CONCURRENCY_LIMIT), as does a negative margin above an account
   * that does not allow one. A level whose rate is free does not limit the duration; null means no limit at all.
   */
  async authorize(ctx: Request, accountId: string, destination: string, direction: Direction): Promise<CallAuthorization> {
    requireActor(ctx);
    const number = normalizeNumber(destination);
    if (!/^[0-9]{1,20}$/.test(number)) throw badInput('destination', 'destination is a number of 1 to 20 digits');
    const account = await this.accounts.find(ctx, accountId);
    if (!account) throw notFound('Account not found');
    // The answer reflects the balances of the levels above the account: it is for the switch, an ancestor.
    if (account.id === ctx.actor.accountId) throw forbidden('Calls are authorized by an ancestor of the account (its switch)');
    const { holds: _holds, ...judgement } = await this.judge(ctx.em, account, number, direction);
    return { ...judgement, reasonCode: judgement.reason };
  }

  /**
   * startCall (DOMAIN.md 14): authorizeCall's answer, and when allowed a lease on the call until it is rated,
   * ended or expires, holding at every level what its longest allowed duration would cost. The levels are
   * locked top first for the count, so concurrent starts never open more leases than allowed. The same call
   * id again while its lease is open answers as the lease did, and takes nothing more.
   */
  async startCall(
    ctx: Request,
    input: {
      accountId?: string | null;
      callId: string;
      destination: string;
      direction: Direction;
      maxDurationSeconds?: number | null;
    },
  ): Promise<CallAuthorization> {
    requireActor(ctx);
    const callId = input.callId.trim();
    if (callId.length < 1 || callId.length > 200) throw badInput('callId', 'callId is 1 to 200 characters');
    const number = normalizeNumber(input.destination);
    if (!/^[0-9]{1,20}$/.test(number)) throw badInput('destination', 'destination is a number of 1 to 20 digits');
    if (!input.accountId && input.direction !== Direction.INBOUND) {
      throw badInput('accountId', 'accountId may be left out for INBOUND calls to an assigned number only');
    }
    const cap = input.maxDurationSeconds ?? null;
    if (cap !== null && (!Number.isInteger(cap) || cap < 1 || cap > MAX_CALL_SECONDS)) {
      throw badInput('maxDurationSeconds', 'maxDurationSeconds is a whole number from 1 to 604800');
    }
    return ctx.mutate(async (em) => {
      let accountId = input.accountId;
      if (!accountId) {
        accountId = (await didHolders(em, ctx.actor.rootId, [number])).get(number);
        if (!accountId) throw notFound(`No assigned number ${number}`);
      }
      const account = await em.findOne(Account, { id: accountId });
      if (!account || account.status === AccountStatus.DELETED) throw notFound('Account not found');
      if (account.id === ctx.actor.accountId) throw forbidden('Calls are started by an ancestor of the account (its switch)');
      await lockLeaseLevels(em, [...levelIds(account.path)].reverse());
      const open = await currentLease(em, account.id, callId);
      if (open) return { allowed: true, maxDurationSeconds: open.maxDurationSeconds, reason: null, reasonCode: null };
      const { holds, ...judgement } = await this.judge(em, account, number, input.direction, cap);
      // A call already rated has ended: a late start answers, but takes no lease nothing would end.
      const rated = (await ratedCalls(em, [{ accountId: account.id, callId }])).length > 0;
      if (judgement.allowed && !rated) {
        await insertLease(
          em,
          {
            accountId: account.id,
            callId,
            rootId: ctx.actor.rootId,
            ownerPath: account.path,
            destination: number,
            direction: input.direction,
            maxDurationSeconds: judgement.maxDurationSeconds,
            seconds: this.leaseSeconds,
          },
          holds,
        );
      }
      return { ...judgement, reasonCode: judgement.reason };
    });
  }

  /** Ends a call's lease without rating it (the call never connected): false when none was open. */
  async endCall(ctx: Request, accountId: string, callId: string): Promise<boolean> {
    requireActor(ctx);
    return ctx.mutate(async (em) => (await endLeases(em, [{ accountId, callId: callId.trim() }])) > 0);
  }

  /** The open leases of an account (Account.openCalls), batched across a list. */
  openCalls(ctx: Request, accountId: string): Promise<LeaseRow[]> {
    return ctx.loaders.openCalls.load(accountId);
  }

  private async judge(
    em: Em,
    account: Pick<Account, 'id' | 'status'>,
    number: string,
    direction: Direction,
    /** The switch's own limit on the call (startCall): what is allowed and held goes no further. */
    cap: number | null = null,
  ): Promise<Judgement & { holds: { accountId: string; amount: Decimal; spend: Decimal }[] }> {
    const refuse = (reason: CallDenialReasonName) => ({ allowed: false, maxDurationSeconds: 0, reason, holds: [] });
    if (account.status !== AccountStatus.ACTIVE) return refuse('ACCOUNT_INACTIVE');
    const now = new Date();
    const levels = await authorizationLevels(em, account.id, number, direction, now);
    if (levels.length === 0) return refuse('NO_RATE');
    // The pools rating would draw on (DOMAIN.md 13): each level its own subscription in the chosen chains.
    const pools = await poolsForAuthorization(em, account.id);
    const volume = choosePool(pools, 'VOLUME', number, direction, now);
    const moneyPool = choosePool(pools, 'MONEY', number, direction, now);
    const atLevel = (chosen: Pool | null, level: number) =>
      chosen &&
      (level === 0
        ? chosen
        : pools.find((p) => p.chainId === chosen.chainId && p.level === level && p.limitId === chosen.limitId));
    const hardCaps = rejectingPools(pools, number, direction, now);

    const priced = levels.map((l) => ({ l, found: longestOf(number, l.rates) }));
    if (direction === Direction.OUTBOUND && priced.some((p) => !p.found)) return refuse('NO_RATE');
    if (levels.some((l) => l.maxConcurrentCalls !== null && l.openCalls >= l.maxConcurrentCalls))
      return refuse('CONCURRENCY_LIMIT');
    if (!levels[0].allowNegativeMargin && negativeMargin(priced.map((p) => p.found))) return refuse('NEGATIVE_MARGIN');

    let max: number | null = null;
    let reason: CallDenialReasonName | null = null;
    // A pool's hard cap wins a tie: refused at 0 by both, the empty bundle is the reason, not the balance.
    const bound = (longest: number, why: CallDenialReasonName) => {
      if (max === null || longest < max || (longest === max && why === 'BUNDLE_EXHAUSTED')) {
        max = longest;
        reason = why;
      }
    };
    const terms: LevelTerms[] = [];
    for (const { l, found } of priced) {
      const v = atLevel(volume, l.level);
      const m = atLevel(moneyPool, l.level);
      if (!found) {
        terms.push({ accountId: l.accountId, rate: null });
        continue;
      }
      const rate = { ratePerMinute: new Decimal(found.ratePerMinute), connectionFee: new Decimal(found.connectionFee) };
      terms.push({ accountId: l.accountId, rate: { ...found, ...rate }, volume: v ?? undefined, money: m ?? undefined });
      const covered = { left: v ? poolLeft(v).toNumber() : 0, inBundleRate: v ? v.inBundleRate : ZERO };
      const moneyLeft = m ? poolLeft(m) : ZERO;
      const within = (budget: number | null) =>
        budget === null ? null : longestBilledWithin(budget, found.initialIncrement, found.increment);
      // Funds pay the charge and its taxes, less what open leases hold and the balance a call must leave;
      // spend limits count net charges, so only the funds are reduced. A MONEY pool pays before them, untaxed.
      const available = new Decimal(l.balance).plus(l.creditLimit).minus(l.held);
      const minimum = l.minimumBalanceToCall === null ? ZERO : new Decimal(l.minimumBalanceToCall);
      const limits = [
        // Open leases will spend what they hold: it counts as spent already.
        {
          limit: l.dailySpendLimit === null ? null : new Decimal(l.dailySpendLimit),
          spent: new Decimal(l.daySpend).plus(l.heldSpend),
        },
        {
          limit: l.monthlySpendLimit === null ? null : new Decimal(l.monthlySpendLimit),
          spent: new Decimal(l.monthSpend).plus(l.heldSpend),
        },
      ];
      const { money, limited } = spendableMoney(netOfTaxes(available.minus(minimum), l.taxes), ZERO, limits);
      const longest = within(secondsBudget(rate, covered, money.plus(moneyLeft)));
      if (longest !== null) {
        // The minimum is what binds when the same funds without it would buy more.
        const withoutMinimum = minimum.gt(0)
          ? within(
              secondsBudget(rate, covered, spendableMoney(netOfTaxes(available, l.taxes), ZERO, limits).money.plus(moneyLeft)),
            )
          : longest;
        const why = limited ? 'LIMIT_REACHED' : withoutMinimum !== longest ? 'BELOW_MINIMUM_BALANCE' : 'INSUFFICIENT_FUNDS';
        bound(longest, why);
      }
      if (l.level === 0) {
        // A pool that rejects calls once exhausted allows calls it covers no further than what it has left:
        // seconds, or what its money pays at the level's rate.
        for (const cap of hardCaps) {
          const left = poolLeft(cap);
          const reach = cap.kind === 'VOLUME' ? left.toNumber() : secondsBudget(rate, 0, left);
          if (reach !== null) bound(within(reach)!, 'BUNDLE_EXHAUSTED');
        }
      }
    }
    if (max !== null && max <= 0) return { ...refuse(reason ?? 'INSUFFICIENT_FUNDS') };
    // Capped at the longest call rating accepts (and within GraphQL's Int).
    const ceiling = max === null ? MAX_CALL_SECONDS : Math.min(max, MAX_CALL_SECONDS);
    const maxDurationSeconds = cap !== null ? Math.min(cap, ceiling) : max === null ? null : ceiling;
    // What the longest allowed call would cost each level, with its taxes: what a lease holds.
    const plan = maxDurationSeconds === null ? null : chargeCall(maxDurationSeconds, direction, terms);
    const holds = levels.map((l, i) => {
      const charge = plan && 'charges' in plan ? plan.charges[i].amount : ZERO;
      return { accountId: l.accountId, amount: grossOf({ net: charge, taxes: taxesOn(charge, l.taxes) }), spend: charge };
    });
    return { allowed: true, maxDurationSeconds, reason: null, holds };
  }
}

/** A reseller level charged more for a one-minute call than it charges the level below (DOMAIN.md 14). */
function negativeMargin(rates: (AuthorizationLevel['rates'][number] | null)[]): boolean {
  const minute = rates.map((r) => {
    if (!r) return null;
    const rate = { ratePerMinute: new Decimal(r.ratePerMinute), connectionFee: new Decimal(r.connectionFee) };
    return chargeFor(rate, billedSeconds(60, r.initialIncrement, r.increment));
  });
  return minute.some((cost, k) => k > 0 && cost !== null && minute[k - 1] !== null && cost.gt(minute[k - 1]!));
}
