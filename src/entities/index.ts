import { Account } from './account.entity.js';
import { ApiKey } from './api-key.entity.js';
import { LedgerEntry } from './ledger-entry.entity.js';
import { Package, PackageTerms } from './package.entity.js';
import { Rate, RateGroup } from './rate.entity.js';
import { PackageSubscription } from './subscription.entity.js';
import { CallCharge, CallRecord } from './call.entity.js';
import { Alert } from './alert.entity.js';

export * from './account.entity.js';
export * from './api-key.entity.js';
export * from './ledger-entry.entity.js';
export * from './package.entity.js';
export * from './rate.entity.js';
export * from './subscription.entity.js';
export * from './call.entity.js';
export * from './alert.entity.js';
export * from './decimal.type.js';
export * from './scope.js';

export const ENTITIES = [
  Account,
  LedgerEntry,
  ApiKey,
  RateGroup,
  Rate,
  PackageTerms,
  Package,
  PackageSubscription,
  CallRecord,
  CallCharge,
  Alert,
];
