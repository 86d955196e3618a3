import { Migration } from '@mikro-orm/migrations';

/**
 * Re-rating (DOMAIN.md 14): a call record's charges may be replaced by a later rating. `revision` counts the
 * ratings after the first; call_revisions keeps each earlier rating as it was (cost, billed seconds and every
 * level's charge), oldest first, owned like its call so whoever sees the call sees its history.
 */
export class Migration20261204020000_rerate extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE calls ADD COLUMN revision integer NOT NULL DEFAULT 0;`);
    this.addSql(`
CREATE TABLE call_revisions (
  call_id text NOT NULL REFERENCES calls (id),
  revision integer NOT NULL,
  owner_path text NOT NULL,
  cost numeric(20,6) NOT NULL,
  billed_seconds integer NOT NULL,
  charges jsonb NOT NULL,
  rated_at timestamptz NOT NULL,
  replaced_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (call_id, revision)
);`);
    this.addSql(`ALTER TABLE call_revisions ENABLE ROW LEVEL SECURITY;`);
    this.addSql(`CREATE POLICY call_revisions_scope ON call_revisions USING (trellis_in_scope(owner_path));`);
    this.addSql(`ALTER TABLE calls ADD COLUMN rated_at timestamptz;`);
    this.addSql(`GRANT SELECT, INSERT ON call_revisions TO trellis_app;`);
    this.addSql(`GRANT UPDATE ON calls, call_charges TO trellis_app;`);
  }
}
