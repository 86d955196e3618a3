import { Migration } from '@mikro-orm/migrations';

/**
 * A ledger entry's time is the moment its row is written, after the account's row lock: entries of one account
 * are then in the same order by time as by seq. now() is the start of the transaction, which may have waited
 * for the lock behind later-starting ones, and a time taken by the application before the statement has the
 * same flaw. clock_timestamp() is read when the row is formed; every writer leaves the column to this default.
 * Truncated to milliseconds, the precision of a JavaScript Date: what a mutation returns is exactly what is
 * stored, and truncation keeps the order. Entries written before this migration keep their recorded times.
 */
export class Migration20261201010000_ledger_clock extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE ledger_entries ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());`);
  }
}
