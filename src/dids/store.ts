import { executeBound, pgArray, textArray, type Em } from '../db/orm.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';

export type DidStatusName = 'AVAILABLE' | 'ASSIGNED' | 'ON_HOLD';

/** A phone number as the API shows it. */
export interface DidRow {
  id: string;
  seq: string;
  number: string;
  country: string | null;
  tags: string[];
  status: DidStatusName;
  accountId: string | null;
  subscriptionId: string | null;
  ownerPath: string;
  assignedAt: Date | null;
  holdUntil: Date | null;
  createdAt: Date;
}

/** What a claim needs to know of the subscription, read under its lock. */
export interface ClaimTarget {
  subscriptionId: string;
  accountId: string;
  ownerPath: string;
  rootId: string;
  level: number;
  status: string;
  /** The holder's: a suspended or deleted account claims nothing. */
  accountStatus: string;
  didQuantity: number;
  allowedDidTags: string[];
  /** Numbers the subscription holds now (assigned, or on hold for it). */
  held: number;
}

const columns = (t: string) =>
  `${t}.id, ${t}.seq::text as seq, ${t}.number, ${t}.country, ${t}.tags, ${t}.status, ${t}.account_id, ${t}.subscription_id,
   ${t}.owner_path, ${t}.assigned_at, ${t}.hold_until, ${t}.created_at`;

export interface Row {
  id: string;
  seq: string;
  number: string;
  country: string | null;
  tags: string[] | string;
  status: DidStatusName;
  account_id: string | null;
  subscription_id: string | null;
  owner_path: string;
  assigned_at: Date | string | null;
  hold_until: Date | string | null;
  created_at: Date | string;
}

/** The columns of a plain list of numbers (row-pages), unqualified. */
export const DID_COLUMNS = columns('dids');

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

export function toDid(r: Row): DidRow {
  return {
    id: r.id,
    seq: r.seq,
    number: r.number,
    country: r.country,
    tags: textArray(r.tags),
    status: r.status,
    accountId: r.account_id,
    subscriptionId: r.subscription_id,
    ownerPath: r.owner_path,
    assignedAt: date(r.assigned_at),
    holdUntil: date(r.hold_until),
    createdAt: new Date(r.created_at),
  };
}

/** The platform's path: what an AVAILABLE number is scoped by. */
const rootPathSql = (t: string) => `'/' || ${t}.root_id || '/'`;

/** The columns a number takes when it goes back to the platform's stock. */
const AVAILABLE_AGAIN = `status = 'AVAILABLE', account_id = null, subscription_id = null, assigned_at = null,
  hold_until = null, owner_path = ${rootPathSql('d')}`;

/**
 * Adds numbers to a platform's inventory in one statement. Numbers already in it are not added: the caller gets
 * back only those inserted, and compares.
 */
export async function insertDids(
  em: Em,
  rootId: string,
  dids: { id: string; number: string }[],
  country: string | null,
  tags: string[],
): Promise<DidRow[]> {
  const rows = await executeBound<Row[]>(
    em,
    `insert into dids as d (id, root_id, number, country, tags, owner_path)
     select x.id, ?, x.number, ?, ?::text[], ? from unnest(?::text[], ?::text[]) as x(id, number)
     on conflict (root_id, number) where retired_at is null do nothing
     returning ${columns('d')}`,
    [rootId, country, pgArray(tags), `/${rootId}/`, pgArray(dids.map((d) => d.id)), pgArray(dids.map((d) => d.number))],
  );
  return rows.map(toDid).sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
}

/** Which of these numbers the platform's inventory holds already. */
export async function existingNumbers(em: Em, rootId: string, numbers: string[]): Promise<string[]> {
  const rows = await executeBound<{ number: string }[]>(
    em,
    `select number from dids where root_id = ? and number = any(?::text[]) and retired_at is null`,
    [rootId, pgArray(numbers)],
  );
  return rows.map((r) => r.number);
}

/** Numbers by id in the caller's scope (row-level security and the path condition agree). */
export async function findDids(em: Em, ids: readonly string[]): Promise<DidRow[]> {
  const rows = await executeBound<Row[]>(
    em,
    `select ${columns('d')} from dids d where d.id = any(?::text[]) and d.retired_at is null and d.owner_path like ?`,
    [pgArray([...ids]), likePrefix(scopePath(em))],
  );
  return rows.map(toDid);
}

/** A number by id with its row locked, in whatever scope the transaction has (the platform's, for a claim). */
export async function lockDid(em: Em, id: string): Promise<(DidRow & { rootId: string }) | null> {
  const [row] = await executeBound<(Row & { root_id: string })[]>(
    em,
    `select ${columns('d')}, d.root_id from dids d where d.id = ? and d.retired_at is null for no key update`,
    [id],
  );
  return row ? { ...toDid(row), rootId: row.root_id } : null;
}

/** The numbers in the caller's scope, lowest first: the root's whole inventory, else those held in its subtree. */
export function didsPage(
  em: Em,
  filter: { status?: DidStatusName | null; tag?: string | null; accountId?: string | null },
  args: PageArgs,
): Promise<Page<DidRow>> {
  const where = ['retired_at is null'];
  const values: unknown[] = [];
  if (filter.status) {
    where.push('status = ?');
    values.push(filter.status);
  }
  if (filter.tag) {
    where.push('? = any(tags)');
    values.push(filter.tag);
  }
  if (filter.accountId) {
    where.push('account_id = ?');
    values.push(filter.accountId);
  }
  return findRowsPage(em, { table: 'dids', columns: columns('dids'), pathColumn: 'owner_path', where, values }, args, toDid);
}

/**
 * The AVAILABLE numbers of a platform that qualify for a package's tags, lowest first. They lie outside the
 * caller's subtree (they are the platform's): the transaction must be in the platform's scope.
 */
export function availablePage(em: Em, rootId: string, allowedTags: string[], args: PageArgs): Promise<Page<DidRow>> {
  return findRowsPage(
    em,
    {
      table: 'dids',
      columns: columns('dids'),
      pathColumn: 'owner_path',
      scope: `/${rootId}/`,
      where: ['root_id = ?', `status = 'AVAILABLE'`, 'retired_at is null', '(cardinality(?::text[]) = 0 or tags && ?::text[])'],
      values: [rootId, pgArray(allowedTags), pgArray(allowedTags)],
    },
    args,
    toDid,
  );
}

/** The numbers each subscription holds (assigned, or on hold for it), lowest first. */
export async function subscriptionDids(em: Em, subscriptionIds: readonly string[]): Promise<DidRow[]> {
  const rows = await executeBound<Row[]>(
    em,
    `select ${columns('d')} from dids d where d.subscription_id = any(?::text[]) and d.owner_path like ? order by d.seq`,
    [pgArray([...subscriptionIds]), likePrefix(scopePath(em))],
  );
  return rows.map(toDid);
}

/**
 * The subscription a claim is for, locked (claims for one subscription queue here, so two cannot both take its
 * last place), with its package's DID limits and how many numbers it holds. In the platform's scope.
 */
export async function lockClaimTarget(em: Em, subscriptionId: string): Promise<ClaimTarget | null> {
  const [row] = await executeBound<
    {
      id: string;
      account_id: string;
      owner_path: string;
      level: number;
      status: string;
      did_quantity: number;
      allowed_did_tags: string[] | string;
      account_status: string;
    }[]
  >(
    em,
    `select s.id, s.account_id, s.owner_path, s.level, s.status, t.did_quantity, t.allowed_did_tags,
            a.status as account_status
       from package_subscriptions s join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
       join accounts a on a.id = s.account_id
      where s.id = ? for no key update of s`,
    [subscriptionId],
  );
  if (!row) return null;
  // Counted after the lock, in a statement of its own: it sees the claims committed while this one waited.
  const [{ held }] = await executeBound<{ held: number }[]>(
    em,
    `select count(*)::int as held from dids where subscription_id = ?`,
    [subscriptionId],
  );
  return {
    subscriptionId: row.id,
    accountId: row.account_id,
    ownerPath: row.owner_path,
    rootId: row.owner_path.split('/')[1],
    level: row.level,
    status: row.status,
    accountStatus: row.account_status,
    didQuantity: row.did_quantity,
    allowedDidTags: textArray(row.allowed_did_tags),
    held,
  };
}

/**
 * Assigns an AVAILABLE number that qualifies to the subscription: the one named, or else the lowest. A number
 * another claim holds is skipped (SKIP LOCKED) when none is named, waited for when named; either way the
 * status condition is checked again on the row as it is after that claim, so only one of them gets it.
 */
export async function claimNumber(em: Em, target: ClaimTarget, number: string | null): Promise<DidRow | null> {
  const pick = number
    ? `select id from dids where root_id = ? and number = ? and retired_at is null and status = 'AVAILABLE'
          and (cardinality(?::text[]) = 0 or tags && ?::text[])
        for no key update`
    : `select id from dids where root_id = ? and status = 'AVAILABLE' and retired_at is null
          and (cardinality(?::text[]) = 0 or tags && ?::text[])
        order by seq limit 1 for no key update skip locked`;
  const tags = pgArray(target.allowedDidTags);
  const [row] = await executeBound<Row[]>(
    em,
    // Materialized: picked once. Joined as a subquery, the pick could be run again for further rows, and SKIP
    // LOCKED then passes over the row this statement has just taken and picks the next one too. The pick locks
    // its row and checks its conditions again on the row as it is then (after another claim, say), so the
    // update needs only the id: a primary-key lookup, whatever the table's statistics say.
    `with c as materialized (${pick})
     update dids d set status = 'ASSIGNED', account_id = ?, subscription_id = ?, owner_path = ?, assigned_at = now(),
            hold_until = null
      where d.id = (select id from c)
      returning ${columns('d')}`,
    [target.rootId, ...(number ? [number] : []), tags, tags, target.accountId, target.subscriptionId, target.ownerPath],
  );
  return row ? toDid(row) : null;
}

/** A number back in the platform's stock at once (no hold), if it was held. */
export async function releaseNumber(em: Em, id: string, holderWithin: string): Promise<DidRow | null> {
  // The holder must still be in the caller's subtree as the row is now: it may have been freed and claimed by
  // another account since the caller read it (the condition is checked again after any wait for the row).
  const [row] = await executeBound<Row[]>(
    em,
    `update dids d set ${AVAILABLE_AGAIN}
      where d.id = ? and d.status <> 'AVAILABLE' and d.owner_path like ? returning ${columns('d')}`,
    [id, likePrefix(holderWithin)],
  );
  return row ? toDid(row) : null;
}

/** Takes an AVAILABLE number out of the inventory. */
export async function retireNumber(em: Em, id: string): Promise<DidRow | null> {
  const [row] = await executeBound<Row[]>(
    em,
    `update dids d set retired_at = now() where d.id = ? and d.status = 'AVAILABLE' and d.retired_at is null
      returning ${columns('d')}`,
    [id],
  );
  return row ? toDid(row) : null;
}

/**
 * The subscriptions ended (or went past due) at their instants: the numbers assigned through them go ON_HOLD
 * for their package's didHoldDays, or back to the stock at once when it is 0. Numbers already on hold (a
 * past-due chain's, now ended) keep the hold they have. Then they go to another ACTIVE subscription of the holder
 * to the same package, if it has room (offerHeldToSiblings).
 */
export async function holdNumbers(em: Em, ends: { subscriptionId: string; at: Date }[]): Promise<number> {
  if (ends.length === 0) return 0;
  const rows = await executeBound<{ id: string }[]>(
    em,
    // Rows locked lowest first, the order every statement taking several numbers locks them in.
    `with held as materialized (
       select id from dids where subscription_id = any(?::text[]) and status = 'ASSIGNED' order by seq for no key update
     )
     update dids d set
       status = case when t.did_hold_days > 0 then 'ON_HOLD' else 'AVAILABLE' end,
       hold_until = case when t.did_hold_days > 0 then x.at + t.did_hold_days * interval '86400 seconds' end,
       account_id = case when t.did_hold_days > 0 then d.account_id end,
       subscription_id = case when t.did_hold_days > 0 then d.subscription_id end,
       assigned_at = case when t.did_hold_days > 0 then d.assigned_at end,
       owner_path = case when t.did_hold_days > 0 then d.owner_path else ${rootPathSql('d')} end
      from held, unnest(?::text[], ?::timestamptz[]) as x(subscription_id, at)
      join package_subscriptions s on s.id = x.subscription_id
      join packages p on p.id = s.package_id join package_terms t on t.id = p.terms_id
     where d.id = held.id and d.subscription_id = x.subscription_id and d.status = 'ASSIGNED'
     returning d.id`,
    [
      pgArray(ends.map((e) => e.subscriptionId)),
      pgArray(ends.map((e) => e.subscriptionId)),
      pgArray(ends.map((e) => e.at.toISOString())),
    ],
  );
  await offerHeldToSiblings(
    em,
    ends.map((e) => e.subscriptionId),
  );
  return rows.length;
}

/**
 * The numbers just put on hold for ended (or past-due) subscriptions go at once to another ACTIVE subscription of
 * the same account to the same package, with room under its quantity (the oldest such), lowest first. A
 * subscription another transaction holds (a claim) is passed over rather than waited for: the caller holds
 * account locks, which come after subscriptions in the lock order.
 */
export async function offerHeldToSiblings(em: Em, subscriptionIds: string[]): Promise<number> {
  if (subscriptionIds.length === 0) return 0;
  const rows = await executeBound<{ id: string }[]>(
    em,
    `with sibling as materialized (
       select e.id as ended_id, o.id, o.room
         from unnest(?::text[]) as e(id)
         join package_subscriptions s on s.id = e.id
         cross join lateral (
           select o.id, t.did_quantity - (select count(*)::int from dids x where x.subscription_id = o.id) as room
             from package_subscriptions o join packages p on p.id = o.package_id join package_terms t on t.id = p.terms_id
            where o.account_id = s.account_id and o.package_id = s.package_id and o.level = 0 and o.status = 'ACTIVE'
              and o.id <> s.id
            order by o.seq limit 1 for no key update of o skip locked
         ) o
     ), held as (
       select h.id, sibling.id as sibling_id, sibling.room,
              row_number() over (partition by sibling.ended_id order by h.seq) as n
         from sibling join dids h on h.subscription_id = sibling.ended_id and h.status = 'ON_HOLD'
     )
     update dids d set status = 'ASSIGNED', subscription_id = held.sibling_id, hold_until = null
       from held where d.id = held.id and held.n <= held.room and d.status = 'ON_HOLD'
     returning d.id`,
    [pgArray(subscriptionIds)],
  );
  return rows.length;
}

/** A past-due chain was paid: the numbers on hold for its subscriptions are assigned to them again. */
export async function restoreNumbers(em: Em, subscriptionIds: string[]): Promise<number> {
  if (subscriptionIds.length === 0) return 0;
  // Rows locked lowest first, the order every statement taking several numbers locks them in.
  const rows = await executeBound<{ id: string }[]>(
    em,
    `with held as materialized (
       select id from dids where subscription_id = any(?::text[]) and status = 'ON_HOLD' order by seq for no key update
     )
     update dids d set status = 'ASSIGNED', hold_until = null from held where d.id = held.id and d.status = 'ON_HOLD'
     returning d.id`,
    [pgArray(subscriptionIds)],
  );
  return rows.length;
}

/**
 * Accounts have an ACTIVE subscription to a package again: the numbers on hold for each from an earlier
 * subscription to the same package, whose hold has not ended, return to the new one (lowest first, up to its
 * quantity). One statement for any number of subscriptions.
 */
export async function returnHeldNumbers(
  em: Em,
  to: { subscriptionId: string; accountId: string; packageId: string; quantity: number }[],
  at: Date,
): Promise<number> {
  const wanted = to.filter((t) => t.quantity > 0);
  if (wanted.length === 0) return 0;
  const rows = await executeBound<{ id: string }[]>(
    em,
    `with x as (
       select * from unnest(?::text[], ?::text[], ?::text[], ?::int[]) as x(subscription_id, account_id, package_id, quantity)
     ), held as (
       select h.id, x.subscription_id, x.quantity, row_number() over (partition by x.subscription_id order by h.seq) as n
         from x join dids h on h.account_id = x.account_id and h.status = 'ON_HOLD' and h.hold_until > ?
         join package_subscriptions s on s.id = h.subscription_id and s.package_id = x.package_id
                                     and s.id <> x.subscription_id
     )
     update dids d set status = 'ASSIGNED', subscription_id = held.subscription_id, hold_until = null
       from held where d.id = held.id and held.n <= held.quantity and d.status = 'ON_HOLD'
     returning d.id`,
    [
      pgArray(wanted.map((t) => t.subscriptionId)),
      pgArray(wanted.map((t) => t.accountId)),
      pgArray(wanted.map((t) => t.packageId)),
      pgArray(wanted.map((t) => t.quantity)),
      at,
    ],
  );
  return rows.length;
}

/**
 * Holds that ended by `asOf` go back to the stock, except those of a chain still past due (it is released
 * first, by the same run, once their hold has ended). Within a platform when `rootPath` is given.
 */
export async function freeEndedHolds(em: Em, asOf: Date, rootPath?: string): Promise<number> {
  const rows = await executeBound<{ id: string }[]>(
    em,
    `update dids d set ${AVAILABLE_AGAIN}
      where d.status = 'ON_HOLD' and d.hold_until <= ? and (?::text is null or starts_with(d.owner_path, ?))
        and not exists (select 1 from package_subscriptions s where s.id = d.subscription_id and s.status = 'PAST_DUE')
      returning d.id`,
    [asOf, rootPath ?? null, rootPath ?? null],
  );
  return rows.length;
}

/** An account deleted: what it held goes back to the stock. */
export async function releaseAccountNumbers(em: Em, accountId: string): Promise<number> {
  const rows = await executeBound<{ id: string }[]>(
    em,
    `update dids d set ${AVAILABLE_AGAIN} where d.account_id = ? returning d.id`,
    [accountId],
  );
  return rows.length;
}

/** The holders of ASSIGNED numbers of a platform, by number (for calls that name the number dialled). */
export async function didHolders(em: Em, rootId: string, numbers: string[]): Promise<Map<string, string>> {
  if (numbers.length === 0) return new Map();
  const rows = await executeBound<{ number: string; account_id: string }[]>(
    em,
    `select number, account_id from dids
      where root_id = ? and number = any(?::text[]) and status = 'ASSIGNED' and retired_at is null and owner_path like ?`,
    [rootId, pgArray(numbers), likePrefix(scopePath(em))],
  );
  return new Map(rows.map((r) => [r.number, r.account_id]));
}

/** The tags a package's numbers must carry one of (empty: any), as the caller may read the package. */
export async function packageDidTags(em: Em, packageId: string): Promise<string[]> {
  const [row] = await executeBound<{ tags: string[] | string }[]>(
    em,
    `select t.allowed_did_tags as tags from packages p join package_terms t on t.id = p.terms_id where p.id = ?`,
    [packageId],
  );
  return row ? textArray(row.tags) : [];
}
