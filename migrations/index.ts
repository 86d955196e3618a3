import { Migration20261121000000_foundation } from './Migration20261121000000_foundation.js';
import { Migration20261121010000_catalog } from './Migration20261121010000_catalog.js';
import { Migration20261121020000_subscriptions } from './Migration20261121020000_subscriptions.js';
import { Migration20261121030000_calls } from './Migration20261121030000_calls.js';
import { Migration20261121040000_alerts } from './Migration20261121040000_alerts.js';
import { Migration20261122000000_throughput } from './Migration20261122000000_throughput.js';
import { Migration20261201000000_credentials } from './Migration20261201000000_credentials.js';
import { Migration20261201010000_ledger_clock } from './Migration20261201010000_ledger_clock.js';
import { Migration20261201020000_one_matcher } from './Migration20261201020000_one_matcher.js';
import { Migration20261202000000_taxes_invoices } from './Migration20261202000000_taxes_invoices.js';
import { Migration20261202010000_webhooks } from './Migration20261202010000_webhooks.js';
import { Migration20261202020000_past_due } from './Migration20261202020000_past_due.js';
import { Migration20261203000000_dids } from './Migration20261203000000_dids.js';
import { Migration20261203010000_mandatory } from './Migration20261203010000_mandatory.js';
import { Migration20261203020000_minimum_spend } from './Migration20261203020000_minimum_spend.js';
import { Migration20261204000000_limits } from './Migration20261204000000_limits.js';
import { Migration20261204010000_admission } from './Migration20261204010000_admission.js';
import { Migration20261204020000_rerate } from './Migration20261204020000_rerate.js';
import { Migration20261205000000_indexed_scope } from './Migration20261205000000_indexed_scope.js';
import { Migration20261206000000_scope_end } from './Migration20261206000000_scope_end.js';

/** Listed explicitly so the compiled server and the TypeScript test run load the same migrations. */
export const MIGRATIONS = [
  { name: 'Migration20261121000000_foundation', class: Migration20261121000000_foundation },
  { name: 'Migration20261121010000_catalog', class: Migration20261121010000_catalog },
  { name: 'Migration20261121020000_subscriptions', class: Migration20261121020000_subscriptions },
  { name: 'Migration20261121030000_calls', class: Migration20261121030000_calls },
  { name: 'Migration20261121040000_alerts', class: Migration20261121040000_alerts },
  { name: 'Migration20261122000000_throughput', class: Migration20261122000000_throughput },
  { name: 'Migration20261201000000_credentials', class: Migration20261201000000_credentials },
  { name: 'Migration20261201010000_ledger_clock', class: Migration20261201010000_ledger_clock },
  { name: 'Migration20261201020000_one_matcher', class: Migration20261201020000_one_matcher },
  { name: 'Migration20261202000000_taxes_invoices', class: Migration20261202000000_taxes_invoices },
  { name: 'Migration20261202010000_webhooks', class: Migration20261202010000_webhooks },
  { name: 'Migration20261202020000_past_due', class: Migration20261202020000_past_due },
  { name: 'Migration20261203000000_dids', class: Migration20261203000000_dids },
  { name: 'Migration20261203010000_mandatory', class: Migration20261203010000_mandatory },
  { name: 'Migration20261203020000_minimum_spend', class: Migration20261203020000_minimum_spend },
  { name: 'Migration20261204000000_limits', class: Migration20261204000000_limits },
  { name: 'Migration20261204010000_admission', class: Migration20261204010000_admission },
  { name: 'Migration20261204020000_rerate', class: Migration20261204020000_rerate },
  { name: 'Migration20261205000000_indexed_scope', class: Migration20261205000000_indexed_scope },
  { name: 'Migration20261206000000_scope_end', class: Migration20261206000000_scope_end },
];
