import { Migration } from '@mikro-orm/migrations';

/**
 * Past-due renewals and pending activations (DOMAIN.md 10): a package's terms may give a renewal that cannot be
 * paid a retry window (renew_retry_hours) before the chain is released, during which the chain is PAST_DUE;
 * and PENDING_IF_INSUFFICIENT activates a chain only once its levels can pay, PENDING until then.
 */
export class Migration20261202020000_past_due extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE package_terms ADD COLUMN renew_retry_hours integer CHECK (renew_retry_hours BETWEEN 1 AND 8784);`);
    this.addSql(`
ALTER TABLE package_subscriptions DROP CONSTRAINT package_subscriptions_status_check,
  ADD CONSTRAINT package_subscriptions_status_check
  CHECK (status IN ('PENDING', 'ACTIVE', 'PAST_DUE', 'EXPIRED', 'RELEASED', 'TERMINATED'));`);
    this.addSql(`
ALTER TABLE package_terms DROP CONSTRAINT package_terms_activation_policy_check,
  ADD CONSTRAINT package_terms_activation_policy_check
  CHECK (activation_policy IN ('DENY_IF_INSUFFICIENT', 'ALLOW_IF_INSUFFICIENT', 'PENDING_IF_INSUFFICIENT'));`);
    // A PENDING chain has charged nothing yet (and a cancelled one never will).
    this.addSql(`
ALTER TABLE package_subscriptions DROP CONSTRAINT package_subscriptions_periods_charged_check,
  ADD CONSTRAINT package_subscriptions_periods_charged_check
  CHECK (periods_charged >= 1 OR (periods_charged = 0 AND status IN ('PENDING', 'TERMINATED'))),
  DROP CONSTRAINT package_subscriptions_check2,
  ADD CONSTRAINT package_subscriptions_check2
  CHECK (periods_charged = 0 OR current_period_number BETWEEN periods_charged - 1 AND periods_charged);`);
    this.addSql(`CREATE INDEX package_subscriptions_pending_idx ON package_subscriptions (account_id) WHERE status = 'PENDING';`);
    // Chains the renewal runs look at: ACTIVE and PAST_DUE heads (PENDING ones wait for funds, not a date).
    this.addSql(
      `CREATE INDEX package_subscriptions_past_due_idx ON package_subscriptions (current_period_end) WHERE level = 0 AND status = 'PAST_DUE';`,
    );
  }
}
