import { Migration } from '@mikro-orm/migrations';

/** An ISO 8601 UTC time as JavaScript's toISOString writes it: the same form as every other event's times. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The ledger trigger's statement, with or without the webhook events of its entries (see below). */
function ledgerStatement(webhooks: boolean): string {
  const wants = (type: string, path: string) =>
    `EXISTS (SELECT 1 FROM webhook_endpoints w
              WHERE w.enabled AND '${type}' = ANY (w.events) AND starts_with(${path}, w.owner_path))`;
  return `
  WITH entries AS (
    SELECT n.seq, n.id, n.account_id, n.owner_path, n.created_at, n.balance_after, n.amount, n.kind, a.low_balance_threshold,
           n.balance_after + a.credit_limit AS after_available, n.balance_after + a.credit_limit - n.amount AS before_available
      FROM new_entries n JOIN accounts a ON a.id = n.account_id
  ), crossed AS (
    -- Referenced twice, so computed once: the stored alert and its notification carry the same id.
    SELECT 'alr_' || replace(gen_random_uuid()::text, '-', '') AS id, x.*
      FROM (SELECT e.seq, 1 AS k, e.account_id, e.owner_path, 'LOW_BALANCE' AS kind, e.after_available,
                   e.low_balance_threshold AS threshold, e.created_at
              FROM entries e
             WHERE e.low_balance_threshold IS NOT NULL AND e.before_available > e.low_balance_threshold
               AND e.after_available <= e.low_balance_threshold
            UNION ALL
            SELECT e.seq, 2, e.account_id, e.owner_path, 'CREDIT_EXHAUSTED', e.after_available, NULL, e.created_at
              FROM entries e
             WHERE e.before_available > 0 AND e.after_available <= 0) x
  ), stored AS (
    INSERT INTO alerts (id, account_id, owner_path, kind, available_balance, threshold, created_at)
    SELECT c.id, c.account_id, c.owner_path, c.kind, c.after_available, c.threshold, c.created_at
      FROM crossed c ORDER BY c.seq, c.k
    RETURNING 1
  ), events AS (
    SELECT e.seq, 0 AS k, json_build_object(
             'type', 'balance', 'id', e.id, 'accountId', e.account_id, 'path', e.owner_path, 'balance', e.balance_after::text,
             'available', e.after_available::text, 'delta', e.amount::text, 'kind', e.kind, 'at', e.created_at)::text AS payload
      FROM entries e
    UNION ALL
    SELECT c.seq, c.k, json_build_object(
             'type', 'alert', 'id', c.id, 'accountId', c.account_id, 'path', c.owner_path, 'kind', c.kind,
             'available', c.after_available::text, 'threshold', c.threshold::text, 'at', c.created_at)::text
      FROM crossed c
  )${
    webhooks
      ? `, hooks AS (
    -- Only for accounts some endpoint listens to: one platform's webhooks must not store every other's entries.
    INSERT INTO webhook_events (id, type, account_id, owner_path, data, created_at)
    SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), h.type, h.account_id, h.owner_path, h.data, h.created_at
      FROM (SELECT e.seq, 0 AS k, 'BALANCE_CHANGED' AS type, e.account_id, e.owner_path, e.created_at, jsonb_build_object(
                     'entryId', e.id, 'accountId', e.account_id, 'kind', e.kind, 'amount', trim_scale(e.amount)::text,
                     'balanceAfter', trim_scale(e.balance_after)::text,
                     'availableBalance', trim_scale(e.after_available)::text,
                     'createdAt', ${iso('e.created_at')}) AS data
              FROM entries e WHERE ${wants('BALANCE_CHANGED', 'e.owner_path')}
            UNION ALL
            SELECT c.seq, c.k, 'ALERT_RAISED', c.account_id, c.owner_path, c.created_at, jsonb_build_object(
                     'alertId', c.id, 'accountId', c.account_id, 'kind', c.kind,
                     'availableBalance', trim_scale(c.after_available)::text, 'threshold', trim_scale(c.threshold)::text,
                     'createdAt', ${iso('c.created_at')})
              FROM crossed c WHERE ${wants('ALERT_RAISED', 'c.owner_path')}) h
     ORDER BY h.seq, h.k
    RETURNING 1
  )`
      : ''
  }
  -- Each entry's balance event, then the alerts it raised, entry by entry (what the per-row trigger sent).
  SELECT count(pg_notify('trellis_events', o.payload)) INTO sent
    FROM (SELECT payload FROM events ORDER BY seq, k) o;`;
}

/**
 * Webhooks (DOMAIN.md 11): an outbox in the database.
 * - webhook_endpoints are owned by any account and hear its subtree; the secret is kept as given (it signs).
 * - webhook_events are written in the transaction of the change that caused them; the insert trigger creates a
 *   delivery then for every enabled endpoint of the account or an ancestor that wants the type, so every writer
 *   (the ledger trigger, the services, a future job) gets the fan-out without knowing of endpoints.
 * - webhook_deliveries carry the endpoint owner's path: its log is read in the owner's scope.
 * - The ledger trigger now also records BALANCE_CHANGED and ALERT_RAISED, but it first asks whether any enabled
 *   endpoint wants either type at all: rating's entries pay one probe of a small table when nobody uses webhooks.
 */
export class Migration20261202010000_webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
CREATE TABLE webhook_endpoints (
  id text PRIMARY KEY,
  seq bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  owner_id text NOT NULL REFERENCES accounts (id),
  owner_path text NOT NULL,
  url text NOT NULL CHECK (length(url) <= 2000),
  events text[] NOT NULL CHECK (cardinality(events) > 0),
  description text,
  enabled boolean NOT NULL DEFAULT true,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`);
    this.addSql(`CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_id, seq);`);
    this.addSql(`
CREATE TABLE webhook_events (
  id text PRIMARY KEY,
  seq bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  type text NOT NULL,
  account_id text NOT NULL,
  owner_path text NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);`);
    this.addSql(`
CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  seq bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id text NOT NULL REFERENCES webhook_events (id),
  account_id text NOT NULL,
  owner_path text NOT NULL,
  status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);`);
    // The worker's two questions: what is due, and is anything older still pending for the same account.
    this.addSql(`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';`);
    this.addSql(`CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (endpoint_id, account_id, seq)
      WHERE status = 'PENDING';`);
    this.addSql(`CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, seq);`);
    this.addSql(`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);`);

    for (const table of ['webhook_endpoints', 'webhook_events', 'webhook_deliveries']) {
      this.addSql(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;`);
      this.addSql(`CREATE POLICY ${table}_scope ON ${table} USING (trellis_in_scope(owner_path));`);
    }

    this.addSql(`
CREATE FUNCTION trellis_on_webhook_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  -- Definer: the endpoints of an account's ancestors, and their deliveries, are outside the writer's scope.
  INSERT INTO webhook_deliveries (id, endpoint_id, event_id, account_id, owner_path, next_attempt_at)
  SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), w.id, e.id, e.account_id, w.owner_path, clock_timestamp()
    FROM new_events e
    JOIN webhook_endpoints w ON w.enabled AND e.type = ANY (w.events) AND starts_with(e.owner_path, w.owner_path)
    -- A suspended or deleted owner's streams end (DOMAIN.md 1): its endpoints hear nothing more.
    JOIN accounts o ON o.id = w.owner_id AND o.status = 'ACTIVE'
   ORDER BY e.seq, w.seq;
  RETURN NULL;
END $$;`);
    this.addSql(`CREATE TRIGGER webhook_events_fanout AFTER INSERT ON webhook_events
      REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION trellis_on_webhook_events();`);

    // Whether an event of this type about an account at this path has a listener: writers skip the rest.
    this.addSql(`
CREATE FUNCTION trellis_webhook_wanted(p_type text, p_path text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT EXISTS (SELECT 1 FROM webhook_endpoints w
                  WHERE w.enabled AND p_type = ANY (w.events) AND starts_with(p_path, w.owner_path))
$$;`);

    this.addSql(`
CREATE OR REPLACE FUNCTION trellis_on_ledger_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  sent integer;
BEGIN
  IF EXISTS (SELECT 1 FROM webhook_endpoints
              WHERE enabled AND events && ARRAY['BALANCE_CHANGED', 'ALERT_RAISED']::text[]) THEN
    ${ledgerStatement(true)}
  ELSE
    ${ledgerStatement(false)}
  END IF;
  RETURN NULL;
END $$;`);

    this.addSql(`GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO trellis_app;`);
    this.addSql(`GRANT SELECT, INSERT ON webhook_events TO trellis_app;`);
    this.addSql(`GRANT SELECT, UPDATE ON webhook_deliveries TO trellis_app;`);
    this.addSql(`GRANT EXECUTE ON FUNCTION trellis_webhook_wanted(text, text) TO trellis_app;`);
    this.addSql(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO trellis_app;`);
  }
}
