import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { Em } from '../db/orm.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { badInput } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/**
 * One page of a keyset-paginated list. totalCount is computed only when a client selects it, since it costs
 * a second query.
 */
export class Page<T> {
  constructor(
    readonly edges: Edge<T>[],
    readonly pageInfo: { hasNextPage: boolean; endCursor: string | null },
    private readonly count: () => Promise<number>,
  ) {}

  get totalCount(): Promise<number> {
    return this.count();
  }

  get nodes(): T[] {
    return this.edges.map((e) => e.node);
  }

  /** The same page with each node transformed (cursors and counts unchanged). */
  map<U>(fn: (node: T) => U): Page<U> {
    return new Page(
      this.edges.map((e) => ({ cursor: e.cursor, node: fn(e.node) })),
      this.pageInfo,
      this.count,
    );
  }
}

/** Cursors wrap the row's insertion sequence number; clients treat them as opaque. */
export function encodeCursor(seq: string | number | bigint): string {
  return Buffer.from(`c:${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const m = /^c:(\d{1,19})$/.exec(raw);
  if (!m || BigInt(m[1]) > 9_223_372_036_854_775_807n) throw badInput('after', 'Invalid cursor');
  return m[1];
}

export function pageSize(first: number | null | undefined): number {
  const n = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw badInput('first', `first must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return n;
}

/** Builds a page from rows fetched with limit size + 1, ordered by seq. */
export function toPage<T extends { seq?: string | null }>(
  rows: T[],
  size: number,
  count: () => Promise<number>,
): Page<T> {
  const hasNextPage = rows.length > size;
  const slice = rows.slice(0, size);
  const edges = slice.map((node) => ({ cursor: encodeCursor(node.seq!), node }));
  return new Page(edges, { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, count);
}

/**
 * One page of an entity in keyset order on its `seq`: oldest first ('asc') or newest first ('desc'). The count
 * behind totalCount ignores the cursor and runs only if a client selects it. Queries go through the scope
 * filter like any other.
 */
export async function findPage<T extends { seq?: string | null }>(
  em: Em,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  args: PageArgs,
  order: 'asc' | 'desc',
): Promise<Page<T>> {
  const size = pageSize(args.first);
  const page = args.after ? { ...where, seq: { [order === 'asc' ? '$gt' : '$lt']: decodeCursor(args.after) } } : where;
  const rows = (await em.find(entity, page as FilterQuery<T>, { orderBy: { seq: order } as never, limit: size + 1 })) as T[];
  return toPage(rows, size, () => em.count(entity, where as FilterQuery<T>));
}

/**
 * findPage for a hand-written query that returns plain rows instead of entities (for lists too large to
 * build an entity per row): the same keyset order on `seq`, oldest first, and the same lazy count. The scope
 * filter cannot reach such a query, so its condition is applied here, on the table's path column.
 */
export async function findRowsPage<R extends { seq: string }, T extends { seq?: string | null }>(
  em: Em,
  query: { table: string; columns: string; pathColumn: string; where: string[]; values: unknown[] },
  args: PageArgs,
  toNode: (row: R) => T,
): Promise<Page<T>> {
  const size = pageSize(args.first);
  const condition = [`${query.pathColumn} like ?`, ...query.where].join(' and ');
  const values = [likePrefix(scopePath(em)), ...query.values];
  const after = args.after ? [decodeCursor(args.after)] : [];
  const rows = await em.execute<R[]>(
    `select ${query.columns} from ${query.table} where ${condition} ${after.length ? 'and seq > ?' : ''} order by seq limit ?`,
    [...values, ...after, size + 1],
  );
  return toPage(rows.map(toNode), size, async () => {
    const [{ n }] = await em.execute<{ n: number }[]>(`select count(*)::int as n from ${query.table} where ${condition}`, values);
    return n;
  });
}
