import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { Direction, Rate } from '../entities/index.js';
import { Decimal } from '../money.js';
import type { Page, PageArgs } from '../services/pagination.js';
import { rowPage, type RowPageLoaders } from '../services/row-pages.js';
import type { RateRow } from './decks.js';

/** A longest-prefix question: which rate of a group applies to a number, in a direction. */
export interface RateQuery {
  rateGroupId: string;
  number: string;
  direction: Direction;
}

/** A rate as validated for writing: a row without its group, which the statement gives it. */
export type RateInput = Omit<RateRow, 'rate_group_id'>;

/** One statement for the whole batch: rows travel as one JSON document and are upserted set-wise. */
export async function upsertRates(em: Em, groupId: string, ownerPath: string, rows: RateInput[]): Promise<void> {
  await executeBound(
    em,
    `insert into rates (rate_group_id, direction, prefix, owner_path, destination, rate_per_minute, connection_fee,
                        initial_increment, increment, updated_at)
     select ?, x.direction, x.prefix, ?, x.destination, x.rate_per_minute::numeric, x.connection_fee::numeric,
            x.initial_increment, x.increment, now()
       from json_to_recordset(?::json) as x(direction text, prefix text, destination text, rate_per_minute text,
                                              connection_fee text, initial_increment int, increment int)
     on conflict (rate_group_id, direction, prefix) do update set
       destination = excluded.destination, rate_per_minute = excluded.rate_per_minute,
       connection_fee = excluded.connection_fee, initial_increment = excluded.initial_increment,
       increment = excluded.increment, updated_at = excluded.updated_at`,
    [groupId, ownerPath, JSON.stringify(rows)],
  );
}

/** The groups' current versions, as the caller's transaction and scope see them (an invisible group is absent). */
export async function groupVersions(em: Em, groupIds: string[]): Promise<{ id: string; version: string }[]> {
  return executeBound(em, `select id, version::text from rate_groups where id = any(?::text[])`, [pgArray(groupIds)]);
}

/** Each group's version and its number of rates, counted up to `cap` only. */
export async function groupSizes(em: Em, groupIds: string[], cap: number): Promise<{ id: string; version: string; n: number }[]> {
  return executeBound(
    em,
    `select g.id, g.version::text as version,
            (select count(*) from (select 1 from rates r where r.rate_group_id = g.id limit ?) x)::int as n
       from rate_groups g where g.id = any(?::text[])`,
    [cap, pgArray(groupIds)],
  );
}

/** Whole groups, each read with its version in one statement, so the rates are exactly that version's. */
export async function groupRates(em: Em, groupIds: string[]): Promise<Map<string, { version: string; rates: RateRow[] }>> {
  const rows = await executeBound<(Omit<RateRow, 'prefix'> & { prefix: string | null; gid: string; gversion: string })[]>(
    em,
    `select g.id as gid, g.version::text as gversion, r.rate_group_id, r.direction, r.prefix, r.destination,
            r.rate_per_minute::text, r.connection_fee::text, r.initial_increment, r.increment
       from rate_groups g left join rates r on r.rate_group_id = g.id
      where g.id = any(?::text[])`,
    [pgArray(groupIds)],
  );
  const byGroup = new Map<string, { version: string; rates: RateRow[] }>();
  for (const { gid, gversion, ...rate } of rows) {
    const g = byGroup.get(gid) ?? { version: gversion, rates: [] };
    byGroup.set(gid, g);
    if (rate.prefix !== null) g.rates.push(rate as RateRow);
  }
  return byGroup;
}

/**
 * Every rate whose prefix starts each query's number, by query index: one equality probe of the primary key
 * (group, direction, prefix) per prefix of the number, at most 20 per query whatever the size of the group, and
 * no dependence on table statistics (a plain `prefix = any(...)` was planned as a scan of the whole group on a
 * freshly loaded table). The LIMIT inside the lateral keeps the planner from flattening it into a join, and the
 * prefixes are computed before the probe: under row-level security a comparison with `left(...)` is not
 * leakproof, so PostgreSQL would apply it after the policy filter instead of using the index.
 */
export async function rateCandidates(
  em: Em,
  queries: { k: number; grp: string; dir: Direction; num: string }[],
): Promise<Map<number, RateRow[]>> {
  const found = await executeBound<(RateRow & { k: number })[]>(
    em,
    `select q.k, r.rate_group_id, r.direction, r.prefix, r.destination, r.rate_per_minute::text,
            r.connection_fee::text, r.initial_increment, r.increment
       from json_to_recordset(?::json) as q(k int, grp text, dir text, num text)
       cross join unnest(array(select left(q.num, n) from generate_series(length(q.num), 1, -1) as n)) as g(p)
       cross join lateral (
         select * from rates where rate_group_id = q.grp and direction = q.dir and prefix = g.p limit 1
       ) r`,
    [JSON.stringify(queries)],
  );
  const candidates = new Map<number, RateRow[]>();
  for (const { k, ...rate } of found) candidates.set(Number(k), [...(candidates.get(Number(k)) ?? []), rate]);
  return candidates;
}

/** A plain object, not an entity instance: rating makes thousands per batch, and entity setters cost. */
export function toRate(row: RateRow): Rate {
  return {
    rateGroupId: row.rate_group_id,
    direction: row.direction,
    prefix: row.prefix,
    destination: row.destination,
    ratePerMinute: new Decimal(row.rate_per_minute),
    connectionFee: new Decimal(row.connection_fee),
    initialIncrement: row.initial_increment,
    increment: row.increment,
  } as Rate;
}

/**
 * One page of a rate group's rates, oldest first. Visible in the caller's subtree, and the caller's own assigned
 * group (its parent's) too, as the scope filter allows.
 */
export function ratesPage(
  loaders: RowPageLoaders,
  groupId: string,
  filter: { where: string[]; values: unknown[]; assignedGroup: string | null },
  args: PageArgs,
): Promise<Page<Rate>> {
  const list = {
    table: 'rates',
    columns: `rates.rate_group_id, rates.direction, rates.prefix, rates.destination, rates.rate_per_minute::text as rate_per_minute,
      rates.connection_fee::text as connection_fee, rates.initial_increment, rates.increment, rates.seq::text as seq`,
    pathColumn: 'owner_path',
    parentColumn: 'rate_group_id',
    where: filter.where,
    values: filter.values,
    order: 'asc' as const,
    alsoVisible: filter.assignedGroup ? { sql: 'rates.rate_group_id = ?', values: [filter.assignedGroup] } : undefined,
  };
  return rowPage(loaders, list, groupId, args, (row: RateRow & { seq: string }) => ({ ...toRate(row), seq: row.seq }) as Rate);
}
