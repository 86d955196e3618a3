import { Migration } from '@mikro-orm/migrations';

/**
 * Throughput found by `npm run bench` (docs/performance.md):
 * - Rate groups carry a version, taken from a sequence by every statement that writes their rates, so an
 *   instance holding a group's rates in memory can tell, in any transaction, whether they are still current.
 * - call_charges, four rows per call at four levels, loses its two foreign keys: checking them was half the cost
 *   of inserting a batch's charges (each row's check is a query of its own). Both referenced rows are written or
 *   locked by the same rating statement sequence in the same transaction (the call just before, the accounts
 *   locked first), and neither calls nor accounts are ever deleted. The calls table keeps its key to accounts.
 * - Events and alerts are raised once per INSERT statement over its new entries, instead of once per entry:
 *   renewals and rating write hundreds of entries in one statement. Same payloads, same order: each entry's
 *   balance event, then the alerts it raised, entry by entry in seq order.
 */
export class Migration20261122000000_throughput extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE call_charges DROP CONSTRAINT call_charges_call_id_fkey;`);
    this.addSql(`ALTER TABLE call_charges DROP CONSTRAINT call_charges_account_id_fkey;`);

    this.addSql(`CREATE SEQUENCE rate_group_versions;`);
    this.addSql(`ALTER TABLE rate_groups ADD COLUMN version bigint NOT NULL DEFAULT 0;`);
    this.addSql(`
CREATE FUNCTION trellis_rate_group_written() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- A rate moved to another group changes both.
    UPDATE rate_groups SET version = nextval('rate_group_versions')
     WHERE id IN (SELECT rate_group_id FROM changed UNION SELECT rate_group_id FROM previous);
  ELSE
    UPDATE rate_groups SET version = nextval('rate_group_versions') WHERE id IN (SELECT rate_group_id FROM changed);
  END IF;
  RETURN NULL;
END $$;`);
    for (const [event, tables] of [
      ['INSERT', 'NEW TABLE AS changed'],
      ['UPDATE', 'OLD TABLE AS previous NEW TABLE AS changed'],
      ['DELETE', 'OLD TABLE AS changed'],
    ]) {
      this.addSql(`CREATE TRIGGER rates_${event.toLowerCase()}_version AFTER ${event} ON rates
        REFERENCING ${tables} FOR EACH STATEMENT EXECUTE FUNCTION trellis_rate_group_written();`);
    }

    this.addSql(`DROP TRIGGER ledger_entries_events ON ledger_entries;`);
    this.addSql(`DROP FUNCTION trellis_on_ledger_entry();`);
    this.addSql(`
CREATE FUNCTION trellis_on_ledger_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  sent integer;
BEGIN
  WITH entries AS (
    SELECT n.seq, n.account_id, n.owner_path, n.created_at, n.balance_after, n.amount, n.kind, a.low_balance_threshold,
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
             'type', 'balance', 'accountId', e.account_id, 'path', e.owner_path, 'balance', e.balance_after::text,
             'available', e.after_available::text, 'delta', e.amount::text, 'kind', e.kind, 'at', e.created_at)::text AS payload
      FROM entries e
    UNION ALL
    SELECT c.seq, c.k, json_build_object(
             'type', 'alert', 'id', c.id, 'accountId', c.account_id, 'path', c.owner_path, 'kind', c.kind,
             'available', c.after_available::text, 'threshold', c.threshold::text, 'at', c.created_at)::text
      FROM crossed c
  )
  -- Each entry's balance event, then the alerts it raised, entry by entry (what the per-row trigger sent).
  SELECT count(pg_notify('trellis_events', o.payload)) INTO sent
    FROM (SELECT payload FROM events ORDER BY seq, k) o;
  RETURN NULL;
END $$;`);
    this.addSql(`CREATE TRIGGER ledger_entries_events AFTER INSERT ON ledger_entries
      REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION trellis_on_ledger_entries();`);
  }
}
