import { randomBytes } from 'node:crypto';

/**
 * Ids are opaque strings with a type prefix, so node(id) can route without a lookup table and a log line says
 * what an id points at. The random part is 128 bits: ids reveal neither order nor volume.
 */
export const ID_PREFIX = {
  Account: 'acc',
  LedgerEntry: 'led',
  ApiKey: 'key',
  RateGroup: 'rg',
  Package: 'pkg',
  PackageTerms: 'pkt',
  PackageSubscription: 'sub',
  CallRecord: 'call',
  Alert: 'alr',
  TaxRate: 'tax',
  Invoice: 'inv',
  WebhookEndpoint: 'whk',
  WebhookEvent: 'evt',
  WebhookDelivery: 'dlv',
  Did: 'did',
  PackageLimit: 'lim',
} as const;

export type NodeTypeName = keyof typeof ID_PREFIX;

export function newId(type: NodeTypeName): string {
  return `${ID_PREFIX[type]}_${randomBytes(16).toString('hex')}`;
}

const BY_PREFIX = new Map<string, NodeTypeName>(
  Object.entries(ID_PREFIX).map(([type, prefix]) => [prefix, type as NodeTypeName]),
);

export function nodeTypeOf(id: string): NodeTypeName | undefined {
  const m = /^([a-z]+)_[0-9a-f]{32}$/.exec(id);
  return m ? BY_PREFIX.get(m[1]) : undefined;
}

/** A 10-digit account number that does not start with 0 (so it survives spreadsheets). */
export function newAccountNumber(): string {
  const n = (randomBytes(8).readBigUInt64BE() % 9_000_000_000n) + 1_000_000_000n;
  return n.toString();
}
