import { compareDidNumbers, didNumber } from '../billing/index.js';
import { withPlatformScope } from '../db/orm.js';
import {
  availablePage,
  claimNumber,
  didsPage,
  existingNumbers,
  findDids,
  insertDids,
  lockClaimTarget,
  lockDid,
  packageDidTags,
  releaseNumber,
  retireNumber,
  type DidRow,
  type DidStatusName,
  DID_COLUMNS,
  toDid,
} from '../dids/store.js';
import { AccountKind, PackageSubscription, SubscriptionStatus } from '../entities/index.js';
import { badInput, DomainError, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { requireActor, type AuthedRequest, type Request } from '../request.js';
import type { Page, PageArgs } from './pagination.js';
import { rowPage } from './row-pages.js';
import { didTags, normalizeCountry } from './validate.js';

/** The most numbers one addDids call takes. */
export const MAX_DIDS_PER_CALL = 10_000;

export interface AddDidsData {
  numbers: string[];
  country?: string | null;
  tags?: string[] | null;
}

/**
 * Phone numbers (DOMAIN.md 12): the root's inventory, claimed for subscriptions within their packages' DID
 * limits and released by their holders. What happens to numbers when subscriptions end or are bought again is
 * done by the chain operations themselves (src/dids/store.ts: holdNumbers, restoreNumbers, returnHeldNumbers).
 */
export class DidService {
  /** addDids: the root only. A number already in the inventory (or given twice) refuses the whole call. */
  add(ctx: Request, data: AddDidsData): Promise<DidRow[]> {
    requireActor(ctx);
    this.requireRoot(ctx);
    if (data.numbers.length === 0 || data.numbers.length > MAX_DIDS_PER_CALL) {
      throw badInput('numbers', `Give 1 to ${MAX_DIDS_PER_CALL} numbers`);
    }
    const numbers = data.numbers.map((n, i) => {
      const number = didNumber(n);
      if (!number) throw badInput(`numbers[${i}]`, `"${n}" is not a phone number of 1 to 15 digits`);
      return number;
    });
    const seen = new Set<string>();
    const twice = [...new Set(numbers.filter((n) => seen.size === seen.add(n).size))];
    if (twice.length) {
      throw new DomainError('ALREADY_EXISTS', `Given twice: ${twice.slice(0, 10).join(', ')}`, {
        field: 'numbers',
        details: { numbers: twice.slice(0, 100) },
      });
    }
    const country = data.country ? normalizeCountry('country', data.country) : null;
    const tags = didTags('tags', data.tags ?? []);
    return ctx.mutate(async (em) => {
      const rows = await insertDids(
        em,
        ctx.actor.rootId,
        numbers.map((number) => ({ id: newId('Did'), number })),
        country,
        tags,
      );
      if (rows.length < numbers.length) {
        // What this statement inserted is visible here too: the numbers that were there before are the others.
        const inserted = new Set(rows.map((r) => r.number));
        const taken = numbers.filter((n) => !inserted.has(n)).sort(compareDidNumbers);
        const shown = taken.slice(0, 10).join(', ');
        throw new DomainError(
          'ALREADY_EXISTS',
          `Already in the inventory: ${shown}${taken.length > 10 ? ` and ${taken.length - 10} more` : ''}`,
          { field: 'numbers', details: { numbers: taken.slice(0, 100) } },
        );
      }
      return rows;
    });
  }

  /** retireDid: the root takes an AVAILABLE number out of the inventory. */
  retire(ctx: Request, id: string): Promise<DidRow> {
    requireActor(ctx);
    this.requireRoot(ctx);
    return ctx.mutate(async (em) => {
      const did = await lockDid(em, id);
      if (!did) throw notFound('Number not found');
      if (did.status !== 'AVAILABLE') throw new DomainError('INVALID_STATE', `The number is ${did.status}; release it first`);
      return (await retireNumber(em, id))!;
    });
  }

  /**
   * claimDid: for an ACTIVE subscription the caller can see (its own, or a descendant's), the number named if it
   * is AVAILABLE and qualifies, else the lowest that does; within the package's didQuantity.
   */
  claim(ctx: Request, subscriptionId: string, number: string | null | undefined): Promise<DidRow> {
    requireActor(ctx);
    const named = number === undefined || number === null ? null : didNumber(number);
    if (number !== undefined && number !== null && !named) throw badInput('number', 'Not a phone number of 1 to 15 digits');
    return ctx.mutate(async (em) => {
      const visible = await em.findOne(PackageSubscription, { id: subscriptionId });
      if (!visible) throw notFound('Subscription not found');
      return withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, async () => {
        const target = (await lockClaimTarget(em, subscriptionId))!;
        if (target.level !== 0) throw new DomainError('INVALID_STATE', "Numbers are held through a customer's own subscription");
        if (target.accountStatus !== 'ACTIVE') throw new DomainError('INVALID_STATE', 'The account is not active');
        if (target.status !== SubscriptionStatus.ACTIVE) {
          throw new DomainError('INVALID_STATE', `The subscription is ${target.status}`);
        }
        if (target.held >= target.didQuantity) {
          throw new DomainError(
            'INVALID_STATE',
            target.didQuantity === 0
              ? 'The package comes with no numbers'
              : `The subscription holds its ${target.didQuantity} number${target.didQuantity > 1 ? 's' : ''} already`,
          );
        }
        const claimed = await claimNumber(em, target, named);
        if (claimed) return claimed;
        if (!named) throw new DomainError('INVALID_STATE', 'No qualifying number is available');
        if ((await existingNumbers(em, target.rootId, [named])).length === 0) throw notFound('Number not found');
        throw new DomainError('INVALID_STATE', `${named} is not available, or does not qualify for this package`);
      });
    });
  }

  /** releaseDid: the holder or an ancestor puts a number back in the stock at once, with no hold. */
  release(ctx: Request, id: string): Promise<DidRow> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const [did] = await findDids(em, [id]);
      if (!did || did.status === 'AVAILABLE') {
        if (did) throw new DomainError('INVALID_STATE', 'The number is not held');
        throw notFound('Number not found');
      }
      // Back to the platform's stock: outside the caller's subtree, so in the platform's scope.
      const released = await withPlatformScope(em, ctx.actor.rootId, ctx.actor.path, () => releaseNumber(em, id, ctx.actor.path));
      if (!released) throw new DomainError('INVALID_STATE', 'The number is not held');
      return released;
    });
  }

  async find(ctx: Request, id: string): Promise<DidRow | null> {
    requireActor(ctx);
    const [did] = await findDids(ctx.em, [id]);
    return did ?? null;
  }

  /** The caller's numbers: the root's whole inventory, anyone else's held (or on hold) in its subtree. */
  list(ctx: Request, args: PageArgs & { status?: DidStatusName | null; tag?: string | null }): Promise<Page<DidRow>> {
    requireActor(ctx);
    return didsPage(ctx.em, { status: args.status, tag: args.tag?.trim().toLowerCase() }, args);
  }

  /** An account's own numbers, lowest first; the accounts of a list share one statement. */
  ofAccount(ctx: Request, accountId: string, args: PageArgs & { status?: DidStatusName | null }): Promise<Page<DidRow>> {
    requireActor(ctx);
    const list = {
      table: 'dids',
      columns: DID_COLUMNS,
      pathColumn: 'owner_path',
      parentColumn: 'account_id',
      where: ['dids.retired_at is null', ...(args.status ? ['dids.status = ?'] : [])],
      values: args.status ? [args.status] : [],
      order: 'asc' as const,
    };
    return rowPage(ctx.loaders.rows, list, accountId, args, toDid);
  }

  /** The AVAILABLE numbers that qualify for one of the caller's (or its subtree's) subscriptions, lowest first. */
  async available(ctx: Request, subscriptionId: string, args: PageArgs): Promise<Page<DidRow>> {
    requireActor(ctx);
    const visible = await ctx.em.findOne(PackageSubscription, { id: subscriptionId });
    if (!visible) throw notFound('Subscription not found');
    const tags = await packageDidTags(ctx.em, visible.packageId);
    return availablePage(ctx.em, ctx.actor.rootId, tags, args);
  }

  /** The numbers a subscription holds (assigned, or on hold for it), batched for lists. */
  ofSubscription(ctx: Request, subscriptionId: string): Promise<DidRow[]> {
    return ctx.loaders.subscriptionDids.load(subscriptionId);
  }

  private requireRoot(ctx: AuthedRequest): void {
    if (ctx.actor.kind !== AccountKind.ADMIN) throw forbidden("The number inventory is the platform admin's");
  }
}
