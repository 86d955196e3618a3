import { Migration } from '@mikro-orm/migrations';

/**
 * Credentials that end when they should (DOMAIN.md 1):
 * - accounts.token_version is signed into every login token and bumped by a password change, a suspension or
 *   a deletion, so every token issued before it stops working at once on every instance.
 * - API keys carry scopes (FULL, READ_ONLY, RATING).
 * - rate_limits holds the counters of login throttling and request budgets (rate-limiter-flexible's table
 *   layout), shared by every instance on one database. It is not tenant data and the request role never reads it.
 */
export class Migration20261201000000_credentials extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE accounts ADD COLUMN token_version integer NOT NULL DEFAULT 0;`);
    this.addSql(`ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{FULL}';`);
    this.addSql(`
CREATE TABLE rate_limits (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);`);
  }
}
