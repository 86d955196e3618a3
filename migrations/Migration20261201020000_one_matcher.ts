import { Migration } from '@mikro-orm/migrations';

/**
 * authorizeCall chose each level's rate inside trellis_call_levels, by a longest-prefix rule of its own, so an
 * authorization could disagree with the rating of the same call. trellis_authorization_levels returns instead,
 * per level, every rate whose prefix is a prefix of the number (at most one per length, each found by a
 * primary-key probe), and the application picks the longest with the one matcher rating uses
 * (src/billing/prefix.ts). The old function stays for instances still running the previous release during a
 * rolling deploy; a later migration drops it.
 */
export class Migration20261201020000_one_matcher extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
CREATE FUNCTION trellis_authorization_levels(p_account text, p_number text, p_direction text, p_day timestamptz, p_month timestamptz)
RETURNS TABLE (level integer, account_id text, status text, balance numeric, credit_limit numeric,
               daily_spend_limit numeric, monthly_spend_limit numeric, day_spend numeric, month_spend numeric,
               rates json)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  WITH target AS (
    SELECT a.path FROM accounts a
     WHERE a.id = p_account AND coalesce(current_setting('trellis.scope_path', true), '') <> ''
       AND starts_with(a.path, current_setting('trellis.scope_path', true))
  ), ids AS (
    SELECT u.id, u.n - 1 AS level
      FROM target, unnest(array_remove(string_to_array(target.path, '/'), '')) WITH ORDINALITY AS u(id, n)
  ), levels AS (
    SELECT (SELECT max(level) FROM ids) - ids.level AS level, ids.id FROM ids WHERE ids.level > 0
  )
  SELECT l.level::int, a.id, a.status, a.balance, a.credit_limit, a.daily_spend_limit, a.monthly_spend_limit,
         coalesce((SELECT sum(c.amount) FROM call_charges c WHERE c.account_id = a.id AND c.started_at >= p_day), 0),
         coalesce((SELECT sum(c.amount) FROM call_charges c WHERE c.account_id = a.id AND c.started_at >= p_month), 0),
         coalesce((
           SELECT json_agg(json_build_object(
                    'prefix', r.prefix, 'ratePerMinute', r.rate_per_minute::text, 'connectionFee', r.connection_fee::text,
                    'initialIncrement', r.initial_increment, 'increment', r.increment))
             FROM unnest(array(SELECT left(p_number, n) FROM generate_series(length(p_number), 1, -1) AS n)) AS g(p)
             CROSS JOIN LATERAL (
               SELECT * FROM rates WHERE rate_group_id = a.rate_group_id AND direction = p_direction AND prefix = g.p LIMIT 1
             ) r), '[]'::json)
    FROM levels l JOIN accounts a ON a.id = l.id
   ORDER BY l.level
$$;`);
  }
}
