import DataLoader from 'dataloader';
import { executeBound, type Em } from '../db/orm.js';
import { Account, RateGroup, type Rate } from '../entities/index.js';
import { chargesOf, type CallChargeView } from '../calls/records.js';
import type { PackageView } from '../packages/view.js';
import {
  findSubscriptionViews,
  SUBSCRIPTION_COLUMNS,
  subscriptionView,
  type SubscriptionRow,
  type SubscriptionView,
} from '../chains/subscriptions.js';
import { findAccountViews, findParentPublic, type AccountView, type PublicAccount } from '../accounts/rows.js';
import type { RateQuery } from '../rates/rates.js';
import { scopePath } from '../entities/scope.js';
import { Keyset, seqSql, type PageWindow, type SeqBound } from '../services/pagination.js';
import { byValue, createRowPageLoaders, groupByArgs, type RowPageLoaders } from '../services/row-pages.js';

/** One account's subscriptions, one page of them. */
export interface SubscriptionPageKey {
  accountId: string;
  window: PageWindow;
  status: string | null;
}
/** Whether an account has subscriptions past a cursor (a pageInfo flag). */
export interface SubscriptionExistsKey {
  accountId: string;
  status: string | null;
  bound: SeqBound;
}
export interface SubscriptionCountKey {
  accountId: string;
  status: string | null;
}

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
  subscriptionPages: DataLoader<SubscriptionPageKey, SubscriptionView[], string>;
  subscriptionCounts: DataLoader<SubscriptionCountKey, number, string>;
  subscriptionExists: DataLoader<SubscriptionExistsKey, boolean, string>;
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
    subscriptionPages: new DataLoader<SubscriptionPageKey, SubscriptionView[], string>(async (keys) => {
      const { byArgs: groups, groupOf } = groupByArgs(
        keys,
        (k) => k.accountId,
        (k) => [k.window, k.status],
      );
      const found = new Map<string, SubscriptionView[]>();
      for (const [g, { key, parents: accountIds }] of groups) {
        const keyset = new Keyset(key.window, 'asc');
        const range = keyset.bounds;
        // Each account's rows come back in fetch order (reversed for `last`), as Keyset.page expects.
        const rows = await executeBound<SubscriptionRow[]>(
          em,
          `select * from (
             select ${SUBSCRIPTION_COLUMNS}, row_number() over (partition by s.account_id order by s.seq ${keyset.fetchOrder}) as rn from package_subscriptions s
              where s.account_id = any(?::text[]) and starts_with(s.owner_path, ?)
                and (?::text is null or s.status = ?) ${range.map((b) => `and ${seqSql('s.seq', b)}`).join(' ')}) x
            where rn <= ? order by account_id, rn`,
          [`{${accountIds.join(',')}}`, scopePath(em), key.status, key.status, ...range.map((b) => b.seq), keyset.limit],
        );
        for (const row of rows) {
          const sub = subscriptionView(row);
          const at = `${g}|${sub.accountId}`;
          const page = found.get(at);
          if (page) page.push(sub);
          else found.set(at, [sub]);
        }
      }
      return keys.map((k, i) => found.get(`${groupOf[i]}|${k.accountId}`) ?? []);
    }, byValue),
    subscriptionExists: new DataLoader<SubscriptionExistsKey, boolean, string>(async (keys) => {
      const { byArgs: groups, groupOf } = groupByArgs(
        keys,
        (k) => k.accountId,
        (k) => [k.status, k.bound],
      );
      const found = new Set<string>();
      for (const [g, { key, parents: accountIds }] of groups) {
        const rows = await executeBound<{ id: string }[]>(
          em,
          `select a.id from unnest(?::text[]) as a(id)
            where exists (select 1 from package_subscriptions s
                           where s.account_id = a.id and starts_with(s.owner_path, ?) and (?::text is null or s.status = ?)
                             and ${seqSql('s.seq', key.bound)})`,
          [`{${accountIds.join(',')}}`, scopePath(em), key.status, key.status, key.bound.seq],
        );
        for (const r of rows) found.add(`${g}|${r.id}`);
      }
      return keys.map((k, i) => found.has(`${groupOf[i]}|${k.accountId}`));
    }, byValue),
    subscriptionCounts: new DataLoader<SubscriptionCountKey, number, string>(async (keys) => {
      const { byArgs: groups, groupOf } = groupByArgs(
        keys,
        (k) => k.accountId,
        (k) => [k.status],
      );
      const counts = new Map<string, number>();
      for (const [g, { key, parents: accountIds }] of groups) {
        const rows = await executeBound<{ account_id: string; n: number }[]>(
          em,
          `select account_id, count(*)::int as n from package_subscriptions
            where account_id = any(?::text[]) and starts_with(owner_path, ?) and (?::text is null or status = ?)
            group by account_id`,
          [`{${accountIds.join(',')}}`, scopePath(em), key.status, key.status],
        );
        for (const r of rows) counts.set(`${g}|${r.account_id}`, r.n);
      }
      return keys.map((k, i) => counts.get(`${groupOf[i]}|${k.accountId}`) ?? 0);
    }, byValue),
    callCharges: new DataLoader(async (ids) => {
      const byCall = await chargesOf(em, ids);
      return ids.map((id) => byCall.get(id) ?? []);
    }),
  };
}
