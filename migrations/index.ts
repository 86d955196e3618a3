import { Migration20261121000000_foundation } from './Migration20261121000000_foundation.js';

/** Listed explicitly so the compiled server and the TypeScript test run load the same migrations. */
export const MIGRATIONS = [
  { name: 'Migration20261121000000_foundation', class: Migration20261121000000_foundation },
];
