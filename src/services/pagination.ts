import type { EntityName, FilterQuery } from '@mikro-orm/core';
import { executeBound, type Em } from '../db/orm.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { badInput } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** Relay's connection arguments: first/after page forwards, last/before backwards. */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** A flag known from the rows fetched, or one that takes a query: that query runs only if a client selects it. */
type Flag = boolean | (() => Promise<boolean>);

export class PageInfo {
  constructor(
    readonly startCursor: string | null,
    readonly endCursor: string | null,
    private readonly next: Flag,
    private readonly previous: Flag,
  ) {}

  get hasNextPage(): boolean | Promise<boolean> {
    return typeof this.next === 'function' ? this.next() : this.next;
  }

  get hasPreviousPage(): boolean | Promise<boolean> {
    return typeof this.previous === 'function' ? this.previous() : this.previous;
  }
}

/**
 * One page of a keyset-paginated list. totalCount is computed only when a client selects it, since it costs
 * a second query.
 */
export class Page<T> {
  constructor(
    readonly edges: Edge<T>[],
    readonly pageInfo: PageInfo,
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

/** encodeCursor in SQL, for responses PostgreSQL builds (src/graphql/planner.ts): base64url without padding. */
export function cursorSql(seq: string): string {
  return `rtrim(translate(encode(convert_to('c:' || (${seq})::text, 'UTF8'), 'base64'), '+/', '-_'), '=')`;
}

export function decodeCursor(cursor: string, field: 'after' | 'before' = 'after'): string {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const m = /^c:(\d{1,19})$/.exec(raw);
  if (!m || BigInt(m[1]) > 9_223_372_036_854_775_807n) throw badInput(field, 'Invalid cursor');
  return m[1];
}

function pageSize(field: 'first' | 'last', n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw badInput(field, `${field} must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return n;
}

/** A page request, checked: how many rows, whether they are taken from the end of the range, and its cursors as seqs. */
export interface PageWindow {
  size: number;
  backward: boolean;
  after: string | null;
  before: string | null;
}

export function pageWindow(args: PageArgs): PageWindow {
  if (args.first != null && args.last != null) throw badInput('last', 'Give first or last, not both');
  const backward = args.last != null;
  return {
    size: backward ? pageSize('last', args.last!) : pageSize('first', args.first ?? DEFAULT_PAGE_SIZE),
    backward,
    after: args.after ? decodeCursor(args.after, 'after') : null,
    before: args.before ? decodeCursor(args.before, 'before') : null,
  };
}

export type Order = 'asc' | 'desc';

/** A condition on a list's seq column: `seq <op> value`. */
export interface SeqBound {
  op: '<' | '>' | '<=' | '>=';
  seq: string;
}

/** The SQL for a bound on a bigint seq column; the value is a parameter. */
export function seqSql(column: string, bound: SeqBound): string {
  return `${column} ${bound.op} ?::bigint`;
}

/**
 * The direction logic of keyset paging, shared by every list whatever builds its query: the bounds the cursors
 * put on seq, the order to fetch in and how many rows, and the page made of what came back. A `last` page is
 * fetched from the far end of its range (reverse order, one row more than asked) and turned around, so every
 * page reads in the list's own order, oldest first or newest first.
 */
export class Keyset {
  constructor(
    readonly window: PageWindow,
    /** The list's own order on seq. */
    readonly order: Order,
  ) {}

  static of(args: PageArgs, order: Order): Keyset {
    return new Keyset(pageWindow(args), order);
  }

  private get later(): '>' | '<' {
    return this.order === 'asc' ? '>' : '<';
  }

  private get earlier(): '>' | '<' {
    return this.order === 'asc' ? '<' : '>';
  }

  /** The rows between the cursors (every bound must hold). */
  get bounds(): SeqBound[] {
    const bounds: SeqBound[] = [];
    if (this.window.after) bounds.push({ op: this.later, seq: this.window.after });
    if (this.window.before) bounds.push({ op: this.earlier, seq: this.window.before });
    return bounds;
  }

  get fetchOrder(): Order {
    if (!this.window.backward) return this.order;
    return this.order === 'asc' ? 'desc' : 'asc';
  }

  /** The extra row says whether the range goes on past the page. */
  get limit(): number {
    return this.window.size + 1;
  }

  /**
   * The page, from rows fetched within `bounds`, in `fetchOrder`, at most `limit` of them. Past a cursor, only
   * the list itself can say whether rows remain (the cursor's own row counts: it is not on this page), so
   * `exists` asks it, cursors aside; it runs only for a flag a client selects.
   */
  page<T extends { seq?: string | null }>(
    fetched: T[],
    count: () => Promise<number>,
    exists: (bound: SeqBound) => Promise<boolean>,
  ): Page<T> {
    const { size, backward, after, before } = this.window;
    const nodes = fetched.slice(0, size);
    if (backward) nodes.reverse();
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node.seq!), node }));
    const more = fetched.length > size;
    const beyondAfter: Flag = after ? once(() => exists({ op: `${this.earlier}=`, seq: after })) : false;
    const beyondBefore: Flag = before ? once(() => exists({ op: `${this.later}=`, seq: before })) : false;
    const next = !backward && more ? true : beyondBefore;
    const previous = backward && more ? true : beyondAfter;
    return new Page(edges, new PageInfo(edges[0]?.cursor ?? null, edges.at(-1)?.cursor ?? null, next, previous), count);
  }
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

const OPERATORS = { '<': '$lt', '>': '$gt', '<=': '$lte', '>=': '$gte' } as const;

/**
 * One page of an entity in keyset order on its `seq`: oldest first ('asc') or newest first ('desc'). The count
 * behind totalCount ignores the cursors and runs only if a client selects it. Queries go through the scope
 * filter like any other.
 */
export async function findPage<T extends { seq?: string | null }>(
  em: Em,
  entity: EntityName<T>,
  where: Record<string, unknown>,
  args: PageArgs,
  order: 'asc' | 'desc',
): Promise<Page<T>> {
  const keyset = Keyset.of(args, order);
  const within = (bounds: SeqBound[]) =>
    (bounds.length
      ? { $and: [where, { seq: Object.fromEntries(bounds.map((b) => [OPERATORS[b.op], b.seq])) }] }
      : where) as FilterQuery<T>;
  const rows = (await em.find(entity, within(keyset.bounds), {
    orderBy: { seq: keyset.fetchOrder } as never,
    limit: keyset.limit,
  })) as T[];
  return keyset.page(
    rows,
    () => em.count(entity, where as FilterQuery<T>),
    async (bound) => (await em.findOne(entity, within([bound]))) !== null,
  );
}

/**
 * findPage for a hand-written query that returns plain rows instead of entities (for lists too large to
 * build an entity per row): the same keyset order on `seq` (oldest first unless told), and the same lazy count.
 * The scope filter cannot reach such a query, so its condition is applied here, on the table's path column.
 */
export async function findRowsPage<R extends { seq: string }, T extends { seq?: string | null }>(
  em: Em,
  query: {
    table: string;
    columns: string;
    pathColumn: string;
    where: string[];
    values: unknown[];
    order?: Order;
    /** The subtree the rows must lie in, when it is not the caller's (a read the service widened on purpose). */
    scope?: string;
  },
  args: PageArgs & { countWithRows?: boolean },
  toNode: (row: R) => T,
): Promise<Page<T>> {
  const keyset = Keyset.of(args, query.order ?? 'asc');
  const condition = [`${query.pathColumn} like ?`, ...query.where].join(' and ');
  const values = [likePrefix(query.scope ?? scopePath(em)), ...query.values];
  // Qualified: a bare `seq` in ORDER BY would bind to the select list's text copy of it, where "10" sorts before "9".
  const seq = `${query.table}.seq`;
  const range = keyset.bounds;
  const counting = `select count(*)::int as n from ${query.table} where ${condition}`;
  // A client that selects totalCount gets it with the rows, in the same statement (computed once, cursors aside).
  const rows = await executeBound<(R & { _total?: number })[]>(
    em,
    `select ${query.columns}${args.countWithRows ? `, (${counting}) as _total` : ''} from ${query.table}
      where ${[condition, ...range.map((b) => seqSql(seq, b))].join(' and ')}
      order by ${seq} ${keyset.fetchOrder} limit ?`,
    [...(args.countWithRows ? values : []), ...values, ...range.map((b) => b.seq), keyset.limit],
  );
  const counted = rows[0]?._total;
  return keyset.page(
    rows.map(toNode),
    async () => {
      if (counted !== undefined) return counted;
      const [{ n }] = await executeBound<{ n: number }[]>(em, counting, values);
      return n;
    },
    async (bound) => {
      const [{ found }] = await executeBound<{ found: boolean }[]>(
        em,
        `select exists (select 1 from ${query.table} where ${condition} and ${seqSql(seq, bound)}) as found`,
        [...values, bound.seq],
      );
      return found;
    },
  );
}
