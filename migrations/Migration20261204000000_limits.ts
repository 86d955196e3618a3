import { Migration } from '@mikro-orm/migrations';

/**
 * Limits and usage counters (DOMAIN.md 13): a package's further pools besides its free minutes, on its terms so
 * that clones share them, and each subscription's counters for them. A counter row holds one period, the one it
 * was last written in: the next period's pool (with what carries over) is worked out from it when it is next
 * read, so renewals never touch these rows. Rating writes them under its lock on the subscription row.
 * call_charges records which limit covered a call's seconds and what a MONEY pool paid of its charge.
 */
export class Migration20261204000000_limits extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
CREATE TABLE package_limits (
  id text PRIMARY KEY,
  terms_id text NOT NULL REFERENCES package_terms (id),
  owner_path text NOT NULL,
  place integer NOT NULL CHECK (place >= 1),
  kind text NOT NULL CHECK (kind IN ('VOLUME', 'MONEY')),
  patterns text[] NOT NULL DEFAULT '{}',
  amount numeric(20,6) NOT NULL CHECK (amount >= 0),
  in_bundle_rate numeric(20,6) NOT NULL DEFAULT 0 CHECK (in_bundle_rate >= 0),
  carry_over boolean NOT NULL DEFAULT false,
  reject_when_exhausted boolean NOT NULL DEFAULT false,
  UNIQUE (terms_id, place),
  CHECK (kind = 'VOLUME' OR in_bundle_rate = 0),
  CHECK (kind = 'MONEY' OR amount = trunc(amount))
);`);
    this.addSql(`
CREATE TABLE subscription_limits (
  subscription_id text NOT NULL REFERENCES package_subscriptions (id),
  limit_id text NOT NULL REFERENCES package_limits (id) ON DELETE CASCADE,
  owner_path text NOT NULL,
  period_number integer NOT NULL,
  total numeric(20,6) NOT NULL,
  used numeric(20,6) NOT NULL DEFAULT 0,
  carried_over numeric(20,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (subscription_id, limit_id),
  CHECK (used >= 0 AND used <= total),
  CHECK (carried_over >= 0 AND carried_over <= total)
);`);
    this.addSql(`CREATE INDEX subscription_limits_limit_idx ON subscription_limits (limit_id);`);
    // Whether the terms have limits, kept with the list: rating asks it of every chain it locks, and reading
    // package_limits there would bring its row-level security policies (and theirs) into every plan.
    this.addSql(`ALTER TABLE package_terms ADD COLUMN has_limits boolean NOT NULL DEFAULT false;`);
    this.addSql(`
ALTER TABLE call_charges
  ADD COLUMN limit_id text,
  ADD COLUMN money_amount numeric(20,6) NOT NULL DEFAULT 0,
  ADD COLUMN money_subscription_id text,
  ADD COLUMN money_limit_id text;`);
    this.addSql(`ALTER TABLE package_limits ENABLE ROW LEVEL SECURITY;`);
    this.addSql(`ALTER TABLE subscription_limits ENABLE ROW LEVEL SECURITY;`);
    this.addSql(`CREATE POLICY package_limits_scope ON package_limits USING (trellis_in_scope(owner_path));`);
    // Limits are readable wherever their terms are (the package_terms policies apply inside the subquery).
    this.addSql(`CREATE POLICY package_limits_visible ON package_limits FOR SELECT USING (
      EXISTS (SELECT 1 FROM package_terms t WHERE t.id = package_limits.terms_id));`);
    this.addSql(`CREATE POLICY subscription_limits_scope ON subscription_limits USING (trellis_in_scope(owner_path));`);
    this.addSql(`GRANT SELECT, INSERT, UPDATE, DELETE ON package_limits TO trellis_app;`);
    this.addSql(`GRANT SELECT, INSERT, UPDATE ON subscription_limits TO trellis_app;`);

    // authorizeCall's view of the limits of the chains an account draws on, levels above the caller included
    // (as trellis_call_free_sources): the counters as last written, for the caller to work out the period's pool.
    this.addSql(`
CREATE FUNCTION trellis_call_limits(p_account text)
RETURNS TABLE (subscription_id text, limit_id text, place integer, kind text, patterns text[], amount numeric,
               in_bundle_rate numeric, carry_over boolean, reject_when_exhausted boolean, period_number integer,
               current_period integer, total numeric, used numeric, carried_over numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT s.id, l.id, l.place, l.kind, l.patterns, l.amount, l.in_bundle_rate, l.carry_over, l.reject_when_exhausted,
         u.period_number, s.current_period_number, u.total, u.used, u.carried_over
    FROM package_subscriptions s JOIN packages p ON p.id = s.package_id
    JOIN package_limits l ON l.terms_id = p.terms_id
    LEFT JOIN subscription_limits u ON u.subscription_id = s.id AND u.limit_id = l.id
   WHERE s.status = 'ACTIVE' AND s.chain_id IN (
           SELECT h.chain_id FROM package_subscriptions h JOIN accounts a ON a.id = h.account_id
            WHERE h.account_id = p_account AND h.level = 0 AND h.status = 'ACTIVE'
              AND coalesce(current_setting('trellis.scope_path', true), '') <> ''
              AND starts_with(a.path, current_setting('trellis.scope_path', true)))
$$;`);
  }
}
