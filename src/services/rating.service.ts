import { requireActor, type AuthedRequest, type Request } from '../request.js';
import { executeBound, pgArray, withPlatformScope, type Em } from '../db/orm.js';
import { Account, AccountStatus, Applicability, CallRecord, Direction } from '../entities/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { post } from '../ledger/post.js';
import {
  billedSeconds,
  chargeFor,
  chooseSubscription,
  drawFree,
  longestBilledWithin,
  longestOf,
  MAX_CALL_SECONDS,
  secondsBudget,
  spendableMoney,
  type FreeSource,
} from '../billing/index.js';
import { Decimal, ZERO } from '../money.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { normalizeNumber, type RateService } from './rate.service.js';
import type { AccountService } from './account.service.js';

export interface CallData {
  accountId: string;
  callId: string;
  destination: string;
  direction: Direction;
  durationSeconds: number;
  startedAt: Date;
}

export interface CallAuthorization {
  allowed: boolean;
  maxDurationSeconds: number | null;
  reason: string | null;
}

/** A CDR's start: a switch posts within the year (and its retries), never for calls yet to come (DOMAIN.md 5). */
const MAX_CALL_AGE_MS = 400 * 86_400_000;
const MAX_CALL_LEAD_MS = 5 * 60_000;

/** The most calls one rateCalls request may carry. */
export const MAX_CALLS_PER_BATCH = 5_000;

interface LevelAccount {
  id: string;
  path: string;
  depth: number;
  rate_group_id: string | null;
  balance: string;
  credit_limit: string;
  status: AccountStatus;
  daily_spend_limit: string | null;
  monthly_spend_limit: string | null;
}

interface PlannedCharge {
  level: number;
  accountId: string;
  amount: Decimal;
  billedSeconds: number;
  freeSeconds: number;
  subscriptionId: string | null;
  ratePrefix: string | null;
}

interface PlannedCall {
  id: string;
  input: CallData & { destination: string };
  account: Account;
  charges: PlannedCharge[];
}

function levelIds(path: string): string[] {
  // "/root/a/b/c/" -> [c, b, a]: the call's account first, then each reseller up; the root is never charged.
  return path.split('/').filter(Boolean).slice(1).reverse();
}

export class RatingService {
  constructor(
    private readonly rates: RateService,
    private readonly accounts: AccountService,
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
    const inputs = calls.map((c, i) => this.validate(c, i));
    return ctx.mutate(async (em) => {
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

  private validate(c: CallData, i: number): CallData {
    const field = (name: string) => `input[${i}].${name}`;
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
   * Everything above the caller: the levels' accounts, rates, subscriptions and balances. Returns the record id
   * of every input (a retried call's first record) and the records written now.
   */
  private async rateInScope(
    ctx: AuthedRequest,
    em: Em,
    inputs: CallData[],
    accounts: Map<string, Account>,
  ): Promise<{ ids: string[]; created: Map<string, CallRecord> }> {
    const rootId = ctx.actor.rootId;
    // Concurrent ratings of one account (a switch retrying a batch) queue here, in a fixed order, so the check
    // for ids already rated below sees what the other committed.
    for (const accountId of [...new Set(inputs.map((c) => c.accountId))].sort()) {
      await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`rating:${accountId}`]);
    }
    const existing = await executeBound<{ id: string; account_id: string; call_id: string }[]>(
      em,
      // One probe of the unique (account_id, call_id) index per call, whatever the number of calls stored.
      `select c.id, c.account_id, c.call_id from json_to_recordset(?::json) as j(account_id text, call_id text)
         cross join lateral (select id, account_id, call_id from calls where account_id = j.account_id and call_id = j.call_id limit 1) c`,
      [JSON.stringify(inputs.map((c) => ({ account_id: c.accountId, call_id: c.callId })))],
    );
    const callKey = (accountId: string, callId: string) => `${accountId}\u0000${callId}`;
    const known = new Map(existing.map((r) => [callKey(r.account_id, r.call_id), r.id]));

    // Level accounts of every new call.
    const fresh = inputs.filter((c) => !known.has(callKey(c.accountId, c.callId)));
    const allLevelIds = [...new Set(fresh.flatMap((c) => levelIds(accounts.get(c.accountId)!.path)))];
    const levelRows = allLevelIds.length
      ? await em.execute<LevelAccount[]>(
          `select id, path, depth, rate_group_id, balance::text, credit_limit::text, status,
                  daily_spend_limit::text, monthly_spend_limit::text
             from accounts where id = any(?::text[])`,
          [`{${allLevelIds.join(',')}}`],
        )
      : [];
    const levelById = new Map(levelRows.map((a) => [a.id, a]));

    // Rates for every (level, call), in one statement.
    const queries: { call: number; level: number; rateGroupId: string; number: string; direction: Direction }[] = [];
    fresh.forEach((c, ci) =>
      levelIds(accounts.get(c.accountId)!.path).forEach((id, level) => {
        const groupId = levelById.get(id)?.rate_group_id;
        if (groupId) queries.push({ call: ci, level, rateGroupId: groupId, number: c.destination, direction: c.direction });
      }),
    );
    const found = await this.rates.findRates(em, queries);
    const rateOf = new Map(queries.map((q, i) => [`${q.call}:${q.level}`, found[i]]));

    // Free seconds: the call accounts' chains that have any, locked by id.
    const sources = await this.lockFreeSources(em, [...new Set(fresh.map((c) => c.accountId))]);
    const byAccount = new Map<string, FreeSource[]>();
    const byChainLevel = new Map<string, FreeSource>();
    for (const s of sources) {
      if (s.level === 0) byAccount.set(s.accountId, [...(byAccount.get(s.accountId) ?? []), s]);
      byChainLevel.set(`${s.chainId}:${s.level}`, s);
    }

    const planned: PlannedCall[] = [];
    const ids: string[] = [];
    const seenInBatch = new Map<string, string>();
    fresh.forEach((c, ci) => {
      if (seenInBatch.has(callKey(c.accountId, c.callId))) return;
      const account = accounts.get(c.accountId)!;
      const levels = levelIds(account.path);
      if (levels.length === 0)
        throw new DomainError('NO_RATE', 'A root account has no rate group', { details: { index: inputs.indexOf(c) } });
      const chosen = chooseSubscription(byAccount.get(c.accountId) ?? [], c.destination, c.direction, c.startedAt);
      const charges: PlannedCharge[] = levels.map((accountId, level) => {
        const rate = rateOf.get(`${ci}:${level}`) ?? null;
        if (!rate) {
          if (c.direction === Direction.OUTBOUND) {
            throw new DomainError('NO_RATE', `No rate for ${c.destination} at level ${level}`, {
              details: { index: inputs.indexOf(c), level },
            });
          }
          // An inbound call with no inbound rate costs nothing at this level.
          return { level, accountId, amount: ZERO, billedSeconds: 0, freeSeconds: 0, subscriptionId: null, ratePrefix: null };
        }
        const billed = billedSeconds(c.durationSeconds, rate.initialIncrement, rate.increment);
        const source = chosen ? (level === 0 ? chosen : byChainLevel.get(`${chosen.chainId}:${level}`)) : undefined;
        const free = drawFree(source, billed);
        if (source && free > 0) source.freeUsed += free;
        return {
          level,
          accountId,
          amount: chargeFor(rate, billed - free),
          billedSeconds: billed,
          freeSeconds: free,
          subscriptionId: source && free > 0 ? source.id : null,
          ratePrefix: rate.prefix,
        };
      });
      const id = newId('CallRecord');
      seenInBatch.set(callKey(c.accountId, c.callId), id);
      planned.push({ id, input: c, account, charges });
    });
    for (const c of inputs)
      ids.push(known.get(callKey(c.accountId, c.callId)) ?? seenInBatch.get(callKey(c.accountId, c.callId))!);
    if (planned.length === 0) return { ids, created: new Map() };
    return { ids, created: await this.write(ctx, em, rootId, planned, sources) };
  }

  private async lockFreeSources(em: Em, accountIds: string[]): Promise<FreeSource[]> {
    const rows = await em.execute<FreeSourceRow[]>(
      `select s.id, s.chain_id, s.account_id, s.level, s.seq, s.current_period_start, s.current_period_end,
              s.free_seconds_total, s.free_seconds_used, t.destinations, t.applicable_for, t.priority
         from package_subscriptions s
         join packages p on p.id = s.package_id
         join package_terms t on t.id = p.terms_id
        where s.status = 'ACTIVE' and s.chain_id in (
                select chain_id from package_subscriptions
                 where account_id = any(?::text[]) and level = 0 and status = 'ACTIVE' and free_seconds_total > 0)
        order by s.id
          for no key update of s`,
      [`{${accountIds.join(',')}}`],
    );
    return rows.map(toFreeSource);
  }

  private async write(
    ctx: AuthedRequest,
    em: Em,
    rootId: string,
    planned: PlannedCall[],
    sources: FreeSource[],
  ): Promise<Map<string, CallRecord>> {
    // One balance movement and one USAGE entry per account for the batch; each call's share is in call_charges.
    const totals = new Map<string, { amount: Decimal; calls: number }>();
    for (const p of planned) {
      for (const c of p.charges) {
        if (c.amount.isZero()) continue;
        const t = totals.get(c.accountId) ?? { amount: ZERO, calls: 0 };
        totals.set(c.accountId, { amount: t.amount.plus(c.amount), calls: t.calls + 1 });
      }
    }
    const inserted = await executeBound<{ id: string; seq: string; created_at: Date }[]>(
      em,
      `insert into calls (id, root_id, call_id, account_id, owner_path, destination, direction, duration_seconds,
                          billed_seconds, started_at, cost)
       select x.id, ?, x.call_id, x.account_id, x.owner_path, x.destination, x.direction, x.duration, x.billed,
              x.started_at, x.cost
         from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[],
                     ?::timestamptz[], ?::numeric[])
              as x(id, call_id, account_id, owner_path, destination, direction, duration, billed, started_at, cost)
       returning id, seq::text as seq, created_at`,
      [
        rootId,
        pgArray(planned.map((p) => p.id)),
        pgArray(planned.map((p) => p.input.callId)),
        pgArray(planned.map((p) => p.account.id)),
        pgArray(planned.map((p) => p.account.path)),
        pgArray(planned.map((p) => p.input.destination)),
        pgArray(planned.map((p) => p.input.direction)),
        pgArray(planned.map((p) => p.input.durationSeconds)),
        pgArray(planned.map((p) => p.charges[0].billedSeconds)),
        pgArray(planned.map((p) => p.input.startedAt.toISOString())),
        pgArray(planned.map((p) => p.charges[0].amount.toFixed())),
      ],
    );
    const charges = planned.flatMap((p) => p.charges.map((c) => ({ p, c })));
    await executeBound(
      em,
      `insert into call_charges (call_id, level, owner_path, account_id, started_at, amount, billed_seconds, free_seconds,
                                 subscription_id, rate_prefix)
       select * from unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::timestamptz[], ?::numeric[], ?::int[], ?::int[],
                            ?::text[], ?::text[])`,
      [
        pgArray(charges.map(({ p }) => p.id)),
        pgArray(charges.map(({ c }) => c.level)),
        pgArray(charges.map(({ p }) => p.account.path)),
        pgArray(charges.map(({ c }) => c.accountId)),
        pgArray(charges.map(({ p }) => p.input.startedAt.toISOString())),
        pgArray(charges.map(({ c }) => c.amount.toFixed())),
        pgArray(charges.map(({ c }) => c.billedSeconds)),
        pgArray(charges.map(({ c }) => c.freeSeconds)),
        pgArray(charges.map(({ c }) => c.subscriptionId)),
        pgArray(charges.map(({ c }) => c.ratePrefix)),
      ],
    );
    const used = new Set(charges.map(({ c }) => c.subscriptionId));
    const usedSources = sources.filter((s) => used.has(s.id));
    if (usedSources.length) {
      await executeBound(
        em,
        `update package_subscriptions s set free_seconds_used = x.used
           from json_to_recordset(?::json) as x(id text, used int) where s.id = x.id`,
        [JSON.stringify(usedSources.map((s) => ({ id: s.id, used: s.freeUsed })))],
      );
    }

    // The records as the API returns them, built from what was written rather than read back.
    const generated = new Map(inserted.map((r) => [r.id, r]));
    // Plain objects, not entity instances: the entity's property setters were a tenth of a batch's CPU.
    const created = new Map(
      planned.map((p): [string, CallRecord] => {
        const { seq, created_at } = generated.get(p.id)!;
        return [
          p.id,
          {
            id: p.id,
            seq,
            rootId,
            callId: p.input.callId,
            accountId: p.account.id,
            ownerPath: p.account.path,
            destination: p.input.destination,
            direction: p.input.direction,
            durationSeconds: p.input.durationSeconds,
            billedSeconds: p.charges[0].billedSeconds,
            startedAt: p.input.startedAt,
            cost: p.charges[0].amount,
            createdAt: new Date(created_at),
          },
        ];
      }),
    );

    const single = planned.length === 1 ? `call ${planned[0].input.callId}` : null;
    await post(
      em,
      [...totals].map(([accountId, t]) => ({
        accountId,
        amount: t.amount.neg(),
        kind: 'USAGE' as const,
        description: single ?? `${t.calls} calls`,
        actorId: ctx.actor.accountId,
      })),
    );
    return created;
  }

  async find(ctx: Request, id: string): Promise<CallRecord | null> {
    requireActor(ctx);
    return ctx.em.findOne(CallRecord, { id });
  }

  /** Calls of one account, newest first. */
  async list(ctx: Request, accountId: string, args: PageArgs): Promise<Page<CallRecord>> {
    requireActor(ctx);
    const account = await this.accounts.find(ctx, accountId);
    if (!account) throw notFound('Account not found');
    return findPage(ctx.em, CallRecord, { accountId }, args, 'desc');
  }

  /**
   * Whether a call may start now, and for how long at most: at every level, the rate (NO_RATE if an outbound
   * level has none), the free seconds the call would draw, the available balance and, where set, what is
   * left of the daily and monthly spend limits (charges for calls started that UTC day or month). A level
   * whose rate is free does not limit the duration; null means no limit at all.
   */
  async authorize(ctx: Request, accountId: string, destination: string, direction: Direction): Promise<CallAuthorization> {
    requireActor(ctx);
    const number = normalizeNumber(destination);
    if (!/^[0-9]{1,20}$/.test(number)) throw badInput('destination', 'destination is a number of 1 to 20 digits');
    const account = await this.accounts.find(ctx, accountId);
    if (!account) throw notFound('Account not found');
    // The answer reflects the balances of the levels above the account: it is for the switch, an ancestor.
    if (account.id === ctx.actor.accountId) throw forbidden('Calls are authorized by an ancestor of the account (its switch)');
    if (account.status !== AccountStatus.ACTIVE) return { allowed: false, maxDurationSeconds: 0, reason: 'ACCOUNT_INACTIVE' };
    const now = new Date();
    const levels = await ctx.em.execute<
      {
        level: number;
        account_id: string;
        status: AccountStatus;
        balance: string;
        credit_limit: string;
        daily_spend_limit: string | null;
        monthly_spend_limit: string | null;
        day_spend: string;
        month_spend: string;
        rates: { prefix: string; ratePerMinute: string; connectionFee: string; initialIncrement: number; increment: number }[];
      }[]
    >(
      `select level, account_id, status, balance::text, credit_limit::text, daily_spend_limit::text,
              monthly_spend_limit::text, day_spend::text, month_spend::text, rates
         from trellis_call_levels(?, ?, ?, ?, ?)`,
      [
        account.id,
        number,
        direction,
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
      ],
    );
    if (levels.length === 0) return { allowed: false, maxDurationSeconds: 0, reason: 'NO_RATE' };
    const sources = (await ctx.em.execute<FreeSourceRow[]>(`select * from trellis_call_free_sources(?)`, [account.id])).map(
      toFreeSource,
    );
    const chosen = chooseSubscription(sources, number, direction, now);

    let max: number | null = null;
    let reason: string | null = null;
    for (const l of levels) {
      // Every rate whose prefix starts the number; the one rule rating uses picks the longest.
      const found = longestOf(number, l.rates);
      if (!found) {
        if (direction === Direction.OUTBOUND) return { allowed: false, maxDurationSeconds: 0, reason: 'NO_RATE' };
        continue;
      }
      const rate = { ratePerMinute: new Decimal(found.ratePerMinute), connectionFee: new Decimal(found.connectionFee) };
      const source = chosen
        ? l.level === 0
          ? chosen
          : sources.find((s) => s.chainId === chosen.chainId && s.level === l.level)
        : undefined;
      const free = source ? source.freeTotal - source.freeUsed : 0;
      const { money, limited } = spendableMoney(new Decimal(l.balance), new Decimal(l.credit_limit), [
        { limit: l.daily_spend_limit === null ? null : new Decimal(l.daily_spend_limit), spent: new Decimal(l.day_spend) },
        { limit: l.monthly_spend_limit === null ? null : new Decimal(l.monthly_spend_limit), spent: new Decimal(l.month_spend) },
      ]);
      const budget = secondsBudget(rate, free, money);
      if (budget === null) continue;
      const longest = longestBilledWithin(budget, found.initialIncrement, found.increment);
      if (max === null || longest < max) {
        max = longest;
        reason = limited ? 'LIMIT_REACHED' : 'INSUFFICIENT_FUNDS';
      }
    }
    if (max !== null && max <= 0) return { allowed: false, maxDurationSeconds: 0, reason };
    // Capped at the longest call rating accepts (and within GraphQL's Int).
    return { allowed: true, maxDurationSeconds: max === null ? null : Math.min(max, MAX_CALL_SECONDS), reason: null };
  }
}

interface FreeSourceRow {
  id: string;
  chain_id: string;
  account_id: string;
  level: number;
  seq: string;
  current_period_start: Date;
  current_period_end: Date;
  free_seconds_total: number;
  free_seconds_used: number;
  destinations: string[];
  applicable_for: Applicability;
  priority: number;
}

function toFreeSource(r: FreeSourceRow): FreeSource {
  return {
    id: r.id,
    chainId: r.chain_id,
    accountId: r.account_id,
    level: r.level,
    seq: Number(r.seq),
    periodStart: new Date(r.current_period_start),
    periodEnd: new Date(r.current_period_end),
    freeTotal: r.free_seconds_total,
    freeUsed: r.free_seconds_used,
    destinations: r.destinations,
    applicableFor: r.applicable_for,
    priority: r.priority,
  };
}
