import { Migration } from '@mikro-orm/migrations';

/**
 * Minimum spend (DOMAIN.md 13, ConnexCS): a package whose price is a spend commitment, not a fee. Its periods are
 * charged nothing up front; when one ends, each level is charged the shortfall of its usage against the price,
 * once: subscription_periods.minimum_spend records it (null until settled), and minimum_spend_due marks the
 * periods that owe one, so that the renewal run finds them by an index.
 */
export class Migration20261203020000_minimum_spend extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE package_terms ADD COLUMN minimum_spend boolean NOT NULL DEFAULT false;`);
    this.addSql(`
ALTER TABLE subscription_periods
  ADD COLUMN minimum_spend_due boolean NOT NULL DEFAULT false,
  ADD COLUMN minimum_spend numeric(20,6) CHECK (minimum_spend >= 0);`);
    this.addSql(`
CREATE INDEX subscription_periods_minimum_spend_idx ON subscription_periods (period_end)
  WHERE minimum_spend_due AND minimum_spend IS NULL;`);
  }
}
