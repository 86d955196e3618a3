export * from './calls.js';
export * from './free-seconds.js';
export * from './packages.js';
export * from './periods.js';
export * from './prefix.js';
export * from './renewals.js';
export * from './taxes.js';
export * from './invoices.js';
