import { Migration20261121000000_foundation } from './Migration20261121000000_foundation.js';
import { Migration20261121010000_catalog } from './Migration20261121010000_catalog.js';

/** Listed explicitly so the compiled server and the TypeScript test run load the same migrations. */
export const MIGRATIONS = [
  { name: 'Migration20261121000000_foundation', class: Migration20261121000000_foundation },
  { name: 'Migration20261121010000_catalog', class: Migration20261121010000_catalog },
];
