import { Migration } from '@mikro-orm/migrations';

/**
 * Phone numbers (DOMAIN.md 12): the root's inventory of DIDs, handed out through packages' DID limits (shared by
 * clones, so on package_terms), held by an account through one of its subscriptions and kept ON_HOLD for it
 * for a while after that subscription ends.
 */
export class Migration20261203000000_dids extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
ALTER TABLE package_terms
  ADD COLUMN did_quantity integer NOT NULL DEFAULT 0 CHECK (did_quantity BETWEEN 0 AND 10000),
  ADD COLUMN allowed_did_tags text[] NOT NULL DEFAULT '{}',
  ADD COLUMN did_hold_days integer NOT NULL DEFAULT 0 CHECK (did_hold_days BETWEEN 0 AND 366);`);
    // seq orders numbers as numbers (shorter first, then by digits), so a keyset page lists the lowest first, as
    // claims take them. An AVAILABLE number belongs to the platform (owner_path is the root's); a held one to its
    // holder, so row-level security shows it to the holder's ancestors only.
    this.addSql(`
CREATE TABLE dids (
  id text PRIMARY KEY,
  root_id text NOT NULL REFERENCES accounts (id),
  number text NOT NULL CHECK (number ~ '^[0-9]{1,15}$'),
  seq bigint NOT NULL GENERATED ALWAYS AS (length(number)::bigint * 1000000000000000 + number::bigint) STORED,
  country text,
  tags text[] NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'ASSIGNED', 'ON_HOLD')),
  account_id text REFERENCES accounts (id),
  subscription_id text REFERENCES package_subscriptions (id),
  owner_path text NOT NULL,
  assigned_at timestamptz,
  hold_until timestamptz,
  retired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'AVAILABLE') = (account_id IS NULL) AND (account_id IS NULL) = (subscription_id IS NULL)),
  CHECK ((status = 'ON_HOLD') = (hold_until IS NOT NULL)),
  CHECK (retired_at IS NULL OR status = 'AVAILABLE')
);`);
    this.addSql(`CREATE UNIQUE INDEX dids_number_key ON dids (root_id, number) WHERE retired_at IS NULL;`);
    this.addSql(`CREATE INDEX dids_available_idx ON dids (root_id, seq) WHERE status = 'AVAILABLE' AND retired_at IS NULL;`);
    this.addSql(`CREATE INDEX dids_subscription_idx ON dids (subscription_id) WHERE subscription_id IS NOT NULL;`);
    this.addSql(`CREATE INDEX dids_account_idx ON dids (account_id, seq) WHERE account_id IS NOT NULL;`);
    this.addSql(`CREATE INDEX dids_hold_idx ON dids (hold_until) WHERE status = 'ON_HOLD';`);
    this.addSql(`CREATE INDEX dids_path_idx ON dids (owner_path text_pattern_ops, seq);`);
    // An inbound call rated by the number dialled is found again by its call id and number when the switch
    // retries it, whoever holds the number by then.
    this.addSql(`CREATE INDEX calls_inbound_idx ON calls (root_id, call_id) WHERE direction = 'INBOUND';`);
    this.addSql(`ALTER TABLE dids ENABLE ROW LEVEL SECURITY;`);
    this.addSql(`CREATE POLICY dids_scope ON dids USING (trellis_in_scope(owner_path));`);
    // Every account of a platform may read the platform's AVAILABLE numbers (the service shows them only as the
    // numbers that qualify for one of its subscriptions); taking one still needs the platform's scope.
    this.addSql(`
CREATE POLICY dids_available ON dids FOR SELECT USING (
  status = 'AVAILABLE' AND coalesce(current_setting('trellis.scope_path', true), '') <> ''
  AND starts_with(current_setting('trellis.scope_path', true), owner_path));`);
    this.addSql(`GRANT SELECT, INSERT, UPDATE ON dids TO trellis_app;`);
  }
}
