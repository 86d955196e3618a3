import { Migration } from '@mikro-orm/migrations';

/**
 * Mandatory packages (DOMAIN.md 13): a package its owner assigns to every new direct child customer, which only
 * the owner or above may terminate. The package's own setting, not its terms: a clone's owner decides for its
 * own customers.
 */
export class Migration20261203010000_mandatory extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE packages ADD COLUMN mandatory boolean NOT NULL DEFAULT false;`);
    this.addSql(`CREATE INDEX packages_mandatory_idx ON packages (owner_id) WHERE mandatory;`);
  }
}
