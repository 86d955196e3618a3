import { Migration } from '@mikro-orm/migrations';

/**
 * The row-level-security scope as a range an index can serve. Under the request role, PostgreSQL evaluates a
 * policy before any condition of the query that is not leakproof, `LIKE` included, so no query's own subtree
 * condition could use the `text_pattern_ops` indexes on paths: every scoped read of accounts scanned every
 * account of every platform (148 ms for a page with 100,000 accounts elsewhere). A policy's own conditions are
 * used as index conditions: the subtree is the paths from the scope up to the scope with its last character
 * bumped (byte order, that of `~>=~` and `~<~`), and `starts_with` still decides.
 */
export class Migration20261205000000_indexed_scope extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
CREATE OR REPLACE FUNCTION trellis_in_scope(p text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('trellis.scope_path', true), '') <> ''
     AND p ~>=~ current_setting('trellis.scope_path', true)
     AND p ~<~ (left(current_setting('trellis.scope_path', true), -1)
                || chr(ascii(right(current_setting('trellis.scope_path', true), 1)) + 1))
     AND starts_with(p, current_setting('trellis.scope_path', true))
$$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`
CREATE OR REPLACE FUNCTION trellis_in_scope(p text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('trellis.scope_path', true), '') <> ''
     AND starts_with(p, current_setting('trellis.scope_path', true))
$$;`);
  }
}
