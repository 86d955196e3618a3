import { Filter } from '@mikro-orm/core';

/**
 * The application half of scoping: every tenant-owned entity carries the materialized path of the account
 * that owns it, and this default-on filter restricts every ORM query to the caller's subtree
 * (paths look like "/acc_root/acc_reseller/acc_customer/"). PostgreSQL row-level security applies the same
 * rule again underneath (see migrations), so a query that escapes the filter still sees nothing.
 */
export interface ScopeParams {
  path: string;
  /** The caller's own rate group (its parent's), which it may read though it is outside its subtree. */
  rateGroupId?: string | null;
}

export const SCOPE_FILTER = 'scope';

/** The subtree a fork's scope filter is bound to, for the hand-written queries that must apply it themselves. */
export function scopePath(em: { getFilterParams(name: string): unknown }): string {
  return (em.getFilterParams(SCOPE_FILTER) as ScopeParams).path;
}

/** Escapes LIKE wildcards; ids never contain them, but the filter must not depend on that. */
export function likePrefix(path: string): string {
  return `${path.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export const ScopedByPath = (column: 'path' | 'ownerPath') =>
  Filter({
    name: SCOPE_FILTER,
    default: true,
    cond: (args: ScopeParams) => ({ [column]: { $like: likePrefix(args.path) } }),
  });
