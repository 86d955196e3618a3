import DataLoader from 'dataloader';
import type { Em } from '../db/orm.js';
import { Account, RateGroup, type Rate } from '../entities/index.js';
import { chargesOf, type CallChargeView, type CallRecordView } from '../calls/records.js';
import { revisionsOf } from '../calls/rerate.js';
import { Decimal } from '../money.js';
import type { PackageView } from '../packages/view.js';
import { findSubscriptionViews, type SubscriptionView } from '../chains/subscriptions.js';
import { findAccountViews, findParentPublic, type AccountView, type PublicAccount } from '../accounts/rows.js';
import type { RateQuery } from '../rates/rates.js';
import { assignedTaxRates, findTaxRates, type TaxRateRow } from '../taxes/rates.js';
import { subscriptionDids, type DidRow } from '../dids/store.js';
import { limitsOfTerms, limitUsageOf, type LimitRow, type LimitUsageRow } from '../packages/limits.js';
import { openCallsOf, type LeaseRow } from '../calls/leases.js';
import { byValue, createRowPageLoaders, type RowPageLoaders } from '../services/row-pages.js';

export interface Loaders {
  /** Entities, for the services that change what they load. */
  account: DataLoader<string, Account | null>;
  /** Plain rows, for fields that only show an account (a parent, an entry's account): no entity to build. */
  accountView: DataLoader<string, AccountView | null>;
  /** The caller's parent's public identity (one key): read once per request, however many packages it owns. */
  parentPublic: DataLoader<'parent', PublicAccount | null>;
  /** Rows by id through the scope filter, many at once: out of scope comes back null, like missing. */
  rateGroup: DataLoader<string, RateGroup | null>;
  subscription: DataLoader<string, SubscriptionView | null>;
  /** Longest-prefix rates for many (group, number, direction) at once, through the rate decks. */
  rate: DataLoader<RateQuery, Rate | null, string>;
  /** Packages as the caller may see them (PackageService.findMany). */
  package: DataLoader<string, PackageView | null>;
  /** Pages of lists read as plain rows, many parents at once (src/services/row-pages.ts). */
  rows: RowPageLoaders;
  callCharges: DataLoader<string, CallChargeView[]>;
  /** Tax rates the caller may read (its subtree's and those assigned to it), and each account's assigned rates. */
  taxRate: DataLoader<string, TaxRateRow | null>;
  assignedTaxRates: DataLoader<string, TaxRateRow[]>;
  /** The numbers each subscription holds. */
  subscriptionDids: DataLoader<string, DidRow[]>;
  /** Each package's limits, by its terms (shared by clones). */
  limits: DataLoader<string, LimitRow[]>;
  /** Each subscription's limits with their pools this period. */
  limitUsage: DataLoader<string, LimitUsageRow[]>;
  /** Each account's open call leases. */
  openCalls: DataLoader<string, LeaseRow[]>;
  /** A call's earlier ratings, oldest first, each as the call was then (its charges with it). */
  callRevisions: DataLoader<CallRecordView, CallRecordView[], string>;
  /** After a write: every loader forgets what it read, so fields read afterwards see the write. */
  clearAll(): void;
}

export interface LoaderSources {
  rates: { findRates(em: Em, queries: RateQuery[]): Promise<(Rate | null)[]> };
  packages: (ids: readonly string[]) => Promise<(PackageView | null)[]>;
}

export function createLoaders(em: Em, { rates, packages }: LoaderSources): Loaders {
  const loaders = createEach(em, { rates, packages });
  return {
    ...loaders,
    clearAll() {
      const { rows, ...byKey } = loaders;
      for (const loader of [...Object.values(byKey), ...Object.values(rows)]) loader.clearAll();
    },
  };
}

function createEach(em: Em, { rates, packages }: LoaderSources): Omit<Loaders, 'clearAll'> {
  const byId = <T extends { id: string }>(find: (ids: string[]) => Promise<T[]>) =>
    new DataLoader<string, T | null>(async (ids) => {
      const found = new Map((await find([...ids])).map((r) => [r.id, r]));
      return ids.map((id) => found.get(id) ?? null);
    });
  return {
    rows: createRowPageLoaders(em),
    package: new DataLoader((ids) => packages(ids)),
    rate: new DataLoader<RateQuery, Rate | null, string>((queries) => rates.findRates(em, [...queries]), byValue),
    rateGroup: byId((ids) => em.find(RateGroup, { id: { $in: ids } })),
    subscription: byId((ids) => findSubscriptionViews(em, ids)),
    accountView: byId((ids) => findAccountViews(em, ids)),
    parentPublic: new DataLoader(async (keys) => {
      const parent = await findParentPublic(em);
      return keys.map(() => parent);
    }),
    // Batched and scoped: ids outside the caller's subtree come back null, exactly like missing ones.
    account: new DataLoader(async (ids) => {
      const rows = await em.find(Account, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((a) => [a.id, a]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    taxRate: byId((ids) => findTaxRates(em, ids)),
    assignedTaxRates: new DataLoader(async (ids) => {
      const byAccount = await assignedTaxRates(em, ids);
      return ids.map((id) => byAccount.get(id) ?? []);
    }),
    subscriptionDids: new DataLoader(async (ids) => {
      const rows = await subscriptionDids(em, ids);
      return ids.map((id) => rows.filter((r) => r.subscriptionId === id));
    }),
    limits: new DataLoader(async (termsIds) => {
      const byTerms = await limitsOfTerms(em, termsIds);
      return termsIds.map((id) => byTerms.get(id) ?? []);
    }),
    limitUsage: new DataLoader(async (ids) => {
      const bySubscription = await limitUsageOf(em, ids);
      return ids.map((id) => bySubscription.get(id) ?? []);
    }),
    openCalls: new DataLoader(async (ids) => {
      const byAccount = await openCallsOf(em, ids);
      return ids.map((id) => byAccount.get(id) ?? []);
    }),
    callRevisions: new DataLoader(
      async (calls) => {
        const byCall = await revisionsOf(
          em,
          calls.map((c) => c.id),
        );
        return calls.map((call) =>
          (byCall.get(call.id) ?? []).map((r): CallRecordView => ({
            ...call,
            id: `${call.id}:${r.revision}`,
            revision: r.revision,
            cost: new Decimal(r.cost),
            billedSeconds: r.billedSeconds,
            charges: r.charges.map((c) => ({
              callId: call.id,
              level: c.level,
              accountId: c.accountId,
              amount: new Decimal(c.amount),
              billedSeconds: c.billedSeconds,
              freeSeconds: c.freeSeconds,
              subscriptionId: c.subscriptionId,
              bundleAmount: new Decimal(c.moneyAmount),
            })),
          })),
        );
      },
      { cacheKeyFn: (c) => c.id },
    ),
    callCharges: new DataLoader(async (ids) => {
      const byCall = await chargesOf(em, ids);
      return ids.map((id) => byCall.get(id) ?? []);
    }),
  };
}
