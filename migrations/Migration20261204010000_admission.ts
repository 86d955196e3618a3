import { Migration } from '@mikro-orm/migrations';

/**
 * Call admission (DOMAIN.md 14): each account's settings, set by its parent, and call leases. A lease is taken by
 * startCall for a call about to start and ended by rating that call, by endCall, or by its expiry; while open it
 * counts against maxConcurrentCalls and holds, at every level of the call, what its authorized maximum would
 * cost (with taxes, against the balance; net, against spend limits). One hold row per level makes both a
 * per-level index probe.
 */
export class Migration20261204010000_admission extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
ALTER TABLE accounts
  ADD COLUMN minimum_balance_to_call numeric(20,6),
  ADD COLUMN max_concurrent_calls integer CHECK (max_concurrent_calls >= 0),
  ADD COLUMN allow_negative_margin boolean NOT NULL DEFAULT true;`);
    this.addSql(`
CREATE TABLE call_leases (
  account_id text NOT NULL REFERENCES accounts (id),
  call_id text NOT NULL,
  root_id text NOT NULL,
  owner_path text NOT NULL,
  destination text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('INBOUND', 'OUTBOUND')),
  max_duration_seconds integer,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, call_id)
);`);
    this.addSql(`CREATE INDEX call_leases_expiry_idx ON call_leases (expires_at);`);
    this.addSql(`
CREATE TABLE call_lease_holds (
  account_id text NOT NULL,
  call_id text NOT NULL,
  level_account_id text NOT NULL REFERENCES accounts (id),
  owner_path text NOT NULL,
  amount numeric(20,6) NOT NULL CHECK (amount >= 0),
  spend numeric(20,6) NOT NULL DEFAULT 0 CHECK (spend >= 0),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, call_id, level_account_id),
  FOREIGN KEY (account_id, call_id) REFERENCES call_leases (account_id, call_id) ON DELETE CASCADE
);`);
    this.addSql(`CREATE INDEX call_lease_holds_level_idx ON call_lease_holds (level_account_id, expires_at) INCLUDE (amount);`);
    for (const table of ['call_leases', 'call_lease_holds']) {
      this.addSql(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;`);
      this.addSql(`CREATE POLICY ${table}_scope ON ${table} USING (trellis_in_scope(owner_path));`);
    }
    this.addSql(`GRANT SELECT, INSERT, DELETE ON call_leases, call_lease_holds TO trellis_app;`);

    // authorizeCall's levels (trellis_admission_levels) with each level's admission settings, its open leases and
    // the funds they hold, which lie above the caller's scope for the levels above it.
    this.addSql(`
CREATE FUNCTION trellis_call_admission(p_account text, p_number text, p_direction text, p_now timestamptz)
RETURNS TABLE (level integer, account_id text, status text, balance numeric, credit_limit numeric,
               daily_spend_limit numeric, monthly_spend_limit numeric, day_spend numeric, month_spend numeric,
               rates json, taxes json, minimum_balance_to_call numeric, max_concurrent_calls integer,
               allow_negative_margin boolean, open_calls integer, held numeric, held_spend numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT l.level, l.account_id, l.status, l.balance, l.credit_limit, l.daily_spend_limit, l.monthly_spend_limit,
         l.day_spend, l.month_spend, l.rates, l.taxes, a.minimum_balance_to_call, a.max_concurrent_calls,
         a.allow_negative_margin, h.open_calls::int, h.held, h.held_spend
    FROM trellis_admission_levels(p_account, p_number, p_direction, p_now) l
    JOIN accounts a ON a.id = l.account_id
    CROSS JOIN LATERAL (
      SELECT count(*) AS open_calls, coalesce(sum(x.amount), 0) AS held, coalesce(sum(x.spend), 0) AS held_spend
        FROM call_lease_holds x
       WHERE x.level_account_id = l.account_id AND x.expires_at > p_now) h
   ORDER BY l.level
$$;`);
  }
}
