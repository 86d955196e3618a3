import DataLoader from 'dataloader';
import { executeBound, type Em } from '../db/orm.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { Keyset, seqSql, type Order, type Page, type PageArgs, type PageWindow, type SeqBound } from './pagination.js';

/**
 * A list read as plain rows, children of one parent row: the table, its columns, its path column (the scope
 * condition is applied here, as findRowsPage does), the column naming the parent, and any further conditions.
 */
export interface RowList {
  table: string;
  columns: string;
  pathColumn: string;
  parentColumn: string;
  where: string[];
  values: unknown[];
  order: Order;
  /** Rows also visible outside the subtree (a rate group's rates, to the accounts it is assigned to). */
  alsoVisible?: { sql: string; values: unknown[] };
}

interface PageKey {
  list: RowList;
  parent: string;
  window: PageWindow;
}
interface CountKey {
  list: RowList;
  parent: string;
}
interface ExistsKey extends CountKey {
  bound: SeqBound;
}

export interface RowPageLoaders {
  pages: DataLoader<PageKey, Record<string, unknown>[], string>;
  counts: DataLoader<CountKey, number, string>;
  exists: DataLoader<ExistsKey, boolean, string>;
}

/** DataLoader options for object keys: equal keys are one key. */
export const byValue = { cacheKeyFn: (key: unknown) => JSON.stringify(key) };

/**
 * Keys that share every argument but the parent: one statement serves each group. Returns the groups (by their
 * arguments, with one key of each and all its parents) and each key's group.
 */
function groupByArgs<K>(keys: readonly K[], parentOf: (key: K) => string, args: (key: K) => unknown) {
  // Groups are numbered: their numbers, not their arguments' text, key the rows found, one per row.
  const numbers = new Map<string, number>();
  const byArgs = new Map<number, { key: K; parents: string[] }>();
  const groupOf = keys.map((key) => {
    const text = JSON.stringify(args(key));
    let g = numbers.get(text);
    if (g === undefined) {
      g = numbers.size;
      numbers.set(text, g);
      byArgs.set(g, { key, parents: [] });
    }
    byArgs.get(g)!.parents.push(parentOf(key));
    return g;
  });
  return { byArgs, groupOf };
}

/** The scope, the parents (`parents`: an SQL expression) and the list's own conditions. */
function condition(em: Em, list: RowList, parents = 'any(?::text[])'): { sql: string; values: unknown[] } {
  const scope = `${list.table}.${list.pathColumn} like ?`;
  return {
    sql: [
      list.alsoVisible ? `(${scope} or ${list.alsoVisible.sql})` : scope,
      `${list.table}.${list.parentColumn} = ${parents}`,
      ...list.where,
    ].join(' and '),
    values: [likePrefix(scopePath(em)), ...(list.alsoVisible?.values ?? [])],
  };
}

/**
 * Pages of many parents' lists in one statement per list level: every parent of a level asks for its page with
 * the same arguments, and one query answers them all (a limited index scan per parent); counts and the
 * pageInfo probes are grouped the same way, and run only when a client selects them.
 */
export function createRowPageLoaders(em: Em): RowPageLoaders {
  return {
    pages: new DataLoader<PageKey, Record<string, unknown>[], string>(async (keys) => {
      const { byArgs, groupOf } = groupByArgs(
        keys,
        (k) => k.parent,
        (k) => [k.list, k.window],
      );
      const found = new Map<string, Record<string, unknown>[]>();
      for (const [g, { key, parents }] of byArgs) {
        const { list, window } = key;
        const keyset = new Keyset(window, list.order);
        const seq = `${list.table}.seq`;
        const where = condition(em, list, 'p.id');
        // Each parent's page probed by its own (parent, seq) index scan with a limit: a window over all of a
        // parent's rows would read a long ledger whole for a page of 50.
        const rows = await executeBound<(Record<string, unknown> & { _parent: string; _seq: string })[]>(
          em,
          `select x.* from unnest(?::text[]) as p(id)
            cross join lateral (
              select ${list.columns}, p.id as _parent, ${seq} as _seq from ${list.table}
               where ${[where.sql, ...keyset.bounds.map((b) => seqSql(seq, b))].join(' and ')}
               order by ${seq} ${keyset.fetchOrder} limit ?) x
            order by x._parent, x._seq ${keyset.fetchOrder}`,
          [`{${parents.join(',')}}`, ...where.values, ...list.values, ...keyset.bounds.map((b) => b.seq), keyset.limit],
        );
        for (const row of rows) {
          const at = `${g}|${row._parent}`;
          const page = found.get(at);
          if (page) page.push(row);
          else found.set(at, [row]);
        }
      }
      return keys.map((k, i) => found.get(`${groupOf[i]}|${k.parent}`) ?? []);
    }, byValue),
    counts: new DataLoader<CountKey, number, string>(async (keys) => {
      const { byArgs, groupOf } = groupByArgs(
        keys,
        (k) => k.parent,
        (k) => [k.list],
      );
      const counts = new Map<string, number>();
      for (const [g, { key, parents }] of byArgs) {
        const where = condition(em, key.list);
        const rows = await executeBound<{ parent: string; n: number }[]>(
          em,
          `select ${key.list.table}.${key.list.parentColumn} as parent, count(*)::int as n from ${key.list.table}
            where ${where.sql} group by 1`,
          [...where.values, `{${parents.join(',')}}`, ...key.list.values],
        );
        for (const r of rows) counts.set(`${g}|${r.parent}`, r.n);
      }
      return keys.map((k, i) => counts.get(`${groupOf[i]}|${k.parent}`) ?? 0);
    }, byValue),
    exists: new DataLoader<ExistsKey, boolean, string>(async (keys) => {
      const { byArgs, groupOf } = groupByArgs(
        keys,
        (k) => k.parent,
        (k) => [k.list, k.bound],
      );
      const found = new Set<string>();
      for (const [g, { key, parents }] of byArgs) {
        const where = condition(em, key.list);
        const seq = `${key.list.table}.seq`;
        const rows = await executeBound<{ parent: string }[]>(
          em,
          `select distinct ${key.list.table}.${key.list.parentColumn} as parent from ${key.list.table}
            where ${where.sql} and ${seqSql(seq, key.bound)}`,
          [...where.values, `{${parents.join(',')}}`, ...key.list.values, key.bound.seq],
        );
        for (const r of rows) found.add(`${g}|${r.parent}`);
      }
      return keys.map((k, i) => found.has(`${groupOf[i]}|${k.parent}`));
    }, byValue),
  };
}

/** One parent's page of a list, batched with every other parent asking for the same list in this request. */
export async function rowPage<R, T extends { seq?: string | null }>(
  loaders: RowPageLoaders,
  list: RowList,
  parent: string,
  args: PageArgs,
  toNode: (row: R) => T,
): Promise<Page<T>> {
  const keyset = Keyset.of(args, list.order);
  const rows = (await loaders.pages.load({ list, parent, window: keyset.window })) as R[];
  return keyset.page(
    rows.map(toNode),
    () => loaders.counts.load({ list, parent }),
    (bound) => loaders.exists.load({ list, parent, bound }),
  );
}
