import { Migration } from '@mikro-orm/migrations';

/**
 * Minimum spend (DOMAIN.md 13, ConnexCS): a package whose price is a spend commitment, not a fee. Its periods are
 * charged nothing up front; when one ends, each level is charged the shortfall of its usage against the price,
 * once. A period row keeps the commitment as it was when the period began (the price as listed, and whether it
 * includes taxes; null for other packages) and minimum_spend, what was charged (null until settled), so that the
 * renewal run finds the periods to settle by an index.
 */
export class Migration20261203020000_minimum_spend extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE package_terms ADD COLUMN minimum_spend boolean NOT NULL DEFAULT false;`);
    this.addSql(`
ALTER TABLE subscription_periods
  ADD COLUMN commitment numeric(20,6) CHECK (commitment >= 0),
  ADD COLUMN commitment_inclusive boolean,
  ADD COLUMN minimum_spend numeric(20,6) CHECK (minimum_spend >= 0),
  ADD CHECK ((commitment IS NULL) = (commitment_inclusive IS NULL)),
  ADD CHECK (minimum_spend IS NULL OR commitment IS NOT NULL);`);
    this.addSql(`
CREATE INDEX subscription_periods_minimum_spend_idx ON subscription_periods (period_end)
  WHERE commitment IS NOT NULL AND minimum_spend IS NULL;`);
  }
}
