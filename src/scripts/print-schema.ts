import { writeFileSync } from 'node:fs';
import { printedSchema } from '../graphql/schema.js';

/** Writes schema.graphql from the schema the server runs; a test fails when the committed copy is stale. */
writeFileSync(new URL('../../../schema.graphql', import.meta.url), await printedSchema());
console.log('wrote schema.graphql');
