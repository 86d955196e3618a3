import type { Em } from '../db/orm.js';
import { requireActor, type Actor, type Request } from '../request.js';
import { Direction, likePrefix, Rate, RateGroup, SCOPE_FILTER, type ScopeParams } from '../entities/index.js';
import { DomainError, badInput, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal, ZERO } from '../money.js';
import { findPage, type Page, type PageArgs } from './pagination.js';
import { requireText } from './validate.js';
import { buildDeck, matchDeck, RateDecks, type Deck } from '../rates/decks.js';
import {
  groupRates,
  groupSizes,
  groupVersions,
  rateCandidates,
  ratesPage,
  toRate,
  upsertRates,
  type RateQuery,
} from '../rates/rates.js';
import { longestOf } from '../billing/index.js';
import { UniqueConstraintViolationException } from '@mikro-orm/core';

export interface RateData {
  prefix: string;
  destination?: string | null;
  ratePerMinute: Decimal;
  connectionFee?: Decimal | null;
  initialIncrement?: number | null;
  increment?: number | null;
  direction?: Direction | null;
}

export interface RateFilter extends PageArgs {
  /** Rates whose prefix starts with this. */
  prefix?: string | null;
  direction?: Direction | null;
}

/** A 1 MB request holds about 20,000 rates; the cap only bounds a single statement's size. */
export const MAX_RATES_PER_CALL = 50_000;

/** Destination numbers are matched on digits only: "+44 20 7946-0000" is 442079460000. */
export function normalizeNumber(value: string): string {
  return value.replace(/[\s\-().+]/g, '');
}

export class RateService {
  /** Rate decks held in memory (RATE_CACHE_MAX_RATES; 0 looks every rate up in the database). */
  constructor(private readonly decks = new RateDecks(0)) {}

  async createGroup(ctx: Request, data: { name: string; rates?: RateData[] | null }) {
    requireActor(ctx);
    const name = requireText('name', data.name, 100);
    return ctx.mutate(async (em) => {
      const group = em.create(RateGroup, {
        id: newId('RateGroup'),
        ownerId: ctx.actor.accountId,
        ownerPath: ctx.actor.path,
        name,
      });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new DomainError('ALREADY_EXISTS', 'A rate group with this name already exists', { field: 'name' });
        }
        throw error;
      }
      if (data.rates?.length) await this.write(em, group, data.rates);
      return group;
    });
  }

  async upsertRates(ctx: Request, rateGroupId: string, rates: RateData[]) {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const group = await this.requireOwnedGroup(ctx, em, rateGroupId);
      await this.write(em, group, rates);
      return group;
    });
  }

  /** Validated, then upserted in one statement. */
  private async write(em: Em, group: RateGroup, rates: RateData[]): Promise<void> {
    if (rates.length > MAX_RATES_PER_CALL) throw badInput('rates', `At most ${MAX_RATES_PER_CALL} rates per call`);
    const seen = new Set<string>();
    const rows = rates.map((r, i) => {
      const field = (name: string) => `rates[${i}].${name}`;
      const prefix = normalizeNumber(r.prefix);
      if (!/^[0-9]{1,20}$/.test(prefix)) throw badInput(field('prefix'), 'A prefix is 1 to 20 digits');
      const direction = r.direction ?? Direction.OUTBOUND;
      const key = `${direction}:${prefix}`;
      if (seen.has(key)) throw badInput(field('prefix'), `Prefix ${prefix} (${direction}) appears twice`);
      seen.add(key);
      if (r.ratePerMinute.isNegative()) throw badInput(field('ratePerMinute'), 'A rate cannot be negative');
      const connectionFee = r.connectionFee ?? ZERO;
      if (connectionFee.isNegative()) throw badInput(field('connectionFee'), 'A connection fee cannot be negative');
      const initialIncrement = r.initialIncrement ?? 60;
      const increment = r.increment ?? 60;
      if (!Number.isInteger(initialIncrement) || initialIncrement < 0) {
        throw badInput(field('initialIncrement'), 'initialIncrement is a whole number of seconds, 0 or more');
      }
      if (!Number.isInteger(increment) || increment < 1)
        throw badInput(field('increment'), 'increment is a whole number of seconds, 1 or more');
      const destination = r.destination?.trim() || null;
      if (destination && destination.length > 200) throw badInput(field('destination'), 'destination is at most 200 characters');
      return {
        direction,
        prefix,
        destination,
        rate_per_minute: r.ratePerMinute.toFixed(),
        connection_fee: connectionFee.toFixed(),
        initial_increment: initialIncrement,
        increment,
      };
    });
    if (rows.length === 0) return;
    await upsertRates(em, group.id, group.ownerPath, rows);
  }

  /** The rate for a number at one level; see findRates. */
  async findRate(em: Em, rateGroupId: string, number: string, direction: Direction): Promise<Rate | null> {
    const [rate] = await this.findRates(em, [{ rateGroupId, number, direction }]);
    return rate;
  }

  /**
   * Longest-prefix rates for many (group, number, direction) at once. The groups' current versions are read
   * in the caller's transaction and scope (a group it cannot see has no rates for it); decks held at those
   * versions answer in memory, the others are loaded first, and groups too large to hold are looked up in the
   * database (lookupInDatabase).
   */
  async findRates(em: Em, queries: RateQuery[]): Promise<(Rate | null)[]> {
    const rows = queries
      .map((q, k) => ({ k, grp: q.rateGroupId, dir: q.direction, num: normalizeNumber(q.number) }))
      .filter((q) => /^[0-9]{1,20}$/.test(q.num));
    const result: (Rate | null)[] = queries.map(() => null);
    if (rows.length === 0) return result;
    if (!this.decks.enabled) return this.lookupInDatabase(em, rows, result);

    const groupIds = [...new Set(rows.map((q) => q.grp))];
    const versions = await groupVersions(em, groupIds);
    const decks = new Map<string, Deck>();
    const missing: string[] = [];
    for (const v of versions) {
      const deck = this.decks.get(v.id, v.version);
      if (deck) decks.set(v.id, deck);
      else missing.push(v.id);
    }
    if (missing.length) {
      for (const [id, deck] of await this.loadDecks(em, missing)) {
        this.decks.put(id, deck);
        decks.set(id, deck);
      }
    }
    const inDatabase: typeof rows = [];
    for (const q of rows) {
      const deck = decks.get(q.grp);
      if (!deck) continue;
      if (deck.oversized) inDatabase.push(q);
      else {
        const hit = matchDeck(deck, q.num, q.dir);
        result[q.k] = hit ? toRate(hit) : null;
      }
    }
    return inDatabase.length ? this.lookupInDatabase(em, inDatabase, result) : result;
  }

  /**
   * Whole decks, each read with its group's version in one statement (so the rates are exactly that
   * version's). Sizes are counted first: a group with more rates than the cache holds is marked oversized
   * under its version, without its rates crossing the wire.
   */
  private async loadDecks(em: Em, groupIds: string[]): Promise<Map<string, Deck>> {
    const sizes = await groupSizes(em, groupIds, this.decks.maxRates + 1);
    const decks = new Map<string, Deck>();
    const small: string[] = [];
    for (const g of sizes) {
      if (g.n > this.decks.maxRates) decks.set(g.id, buildDeck(g.version, [], true));
      else small.push(g.id);
    }
    if (small.length === 0) return decks;
    const byGroup = await groupRates(em, small);
    // A group that grew past the limit between the two statements is held anyway, once: it is still exact.
    for (const [id, g] of byGroup) decks.set(id, buildDeck(g.version, g.rates));
    return decks;
  }

  /** Groups too large to hold: every candidate is fetched (rateCandidates), and the one matcher chooses. */
  private async lookupInDatabase(
    em: Em,
    rows: { k: number; grp: string; dir: Direction; num: string }[],
    result: (Rate | null)[],
  ): Promise<(Rate | null)[]> {
    const candidates = await rateCandidates(em, rows);
    for (const q of rows) {
      const hit = longestOf(q.num, candidates.get(q.k) ?? []);
      result[q.k] = hit ? toRate(hit) : null;
    }
    return result;
  }

  async findGroup(ctx: Request, id: string): Promise<RateGroup | null> {
    requireActor(ctx);
    return ctx.em.findOne(RateGroup, { id });
  }

  /** Rate groups owned by the caller's subtree. */
  async listGroups(ctx: Request, args: PageArgs): Promise<Page<RateGroup>> {
    requireActor(ctx);
    return findPage(ctx.em, RateGroup, { ownerPath: { $like: likePrefix(ctx.actor.path) } }, args, 'asc');
  }

  /** A group's rates, batched with every other group of a list level asking the same (src/services/row-pages.ts). */
  async listRates(ctx: Request, group: RateGroup, filter: RateFilter): Promise<Page<Rate>> {
    requireActor(ctx);
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.direction) {
      where.push('rates.direction = ?');
      values.push(filter.direction);
    }
    if (filter.prefix) {
      const prefix = normalizeNumber(filter.prefix);
      if (!/^[0-9]{1,20}$/.test(prefix)) throw badInput('prefix', 'A prefix is 1 to 20 digits');
      where.push('rates.prefix like ?');
      values.push(`${prefix}%`);
    }
    const { rateGroupId } = ctx.em.getFilterParams(SCOPE_FILTER) as ScopeParams;
    return ratesPage(ctx.loaders.rows, group.id, { where, values, assignedGroup: rateGroupId ?? null }, filter);
  }

  /** Writable only by the owner's subtree (an account may read its assigned group but not edit it). */
  private async requireOwnedGroup(ctx: Request & { actor: Actor }, em: Em, id: string): Promise<RateGroup> {
    const group = await em.findOne(RateGroup, { id });
    if (!group || !group.ownerPath.startsWith(ctx.actor.path)) throw notFound('Rate group not found');
    return group;
  }
}
