import { executeBound, type Em } from '../db/orm.js';
import { AccountKind, Package } from '../entities/index.js';
import { Keyset, seqSql, type Page, type PageArgs } from '../services/pagination.js';
import { rowPage, type RowPageLoaders } from '../services/row-pages.js';

/**
 * Serializes the changes that depend on one package's prices or clones (opt-in, opt-out, repricing), keyed by
 * the package's id, and a reseller's opt-ins against a change of its reseller model, keyed by the account's.
 */
export async function lockForCloning(em: Em, key: string): Promise<void> {
  await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [key]);
}

/**
 * Whether every package up a chain is still sellable. Those packages lie above the caller's scope, so a
 * SECURITY DEFINER function answers without returning their rows.
 */
export async function lineageSellable(em: Em, lineage: readonly string[]): Promise<boolean> {
  if (lineage.length === 0) return true;
  const [row] = await em.execute<{ ok: boolean }[]>(`select trellis_lineage_sellable(?::text[]) as ok`, [
    `{${lineage.join(',')}}`,
  ]);
  return row.ok;
}

/** Who an offer is for: a customer buys it, a reseller opts into it. */
export type OfferBuyer = AccountKind.CUSTOMER | AccountKind.RESELLER;

/**
 * A page of a parent's offers to one kind of child: its ACTIVE, in-date packages flagged for that kind whose
 * chain is still sellable, oldest first. The ids are chosen in SQL (the lineage check is a database function)
 * and the packages loaded through the ORM.
 */
export async function findOffers(em: Em, parentId: string, buyer: OfferBuyer, keyset: Keyset): Promise<Page<Package>> {
  const flag = buyer === AccountKind.CUSTOMER ? 'can_be_purchased' : 'reseller_can_resell';
  const base = `from packages p join package_terms t on t.id = p.terms_id
      where p.owner_id = ? and p.status = 'ACTIVE' and p.opted_out_at is null and p.${flag}
        and (t.start_date is null or t.start_date <= now()) and (t.end_date is null or t.end_date > now())
        and trellis_lineage_sellable(p.lineage)`;
  const range = keyset.bounds;
  const ids = await em.execute<{ id: string }[]>(
    `select p.id ${base} ${range.map((b) => `and ${seqSql('p.seq', b)}`).join(' ')} order by p.seq ${keyset.fetchOrder} limit ?`,
    [parentId, ...range.map((b) => b.seq), keyset.limit],
  );
  const loaded = ids.length ? await em.find(Package, { id: { $in: ids.map((r) => r.id) } }) : [];
  const byId = new Map(loaded.map((p) => [p.id, p]));
  const rows = ids.flatMap((r) => byId.get(r.id) ?? []);
  return keyset.page(
    rows,
    async () => {
      const [{ n }] = await em.execute<{ n: string }[]>(`select count(*)::text as n ${base}`, [parentId]);
      return Number(n);
    },
    async (bound) => {
      const [{ found }] = await em.execute<{ found: boolean }[]>(
        `select exists (select 1 ${base} and ${seqSql('p.seq', bound)}) as found`,
        [parentId, bound.seq],
      );
      return found;
    },
  );
}

/**
 * An account's own packages, oldest first, as ids: every account of a list level asking with the same
 * arguments shares one statement (src/services/row-pages.ts); the packages themselves come from the loader.
 */
export function ownedPackageIds(
  loaders: RowPageLoaders,
  ownerId: string,
  args: PageArgs & { status?: string | null },
): Promise<Page<{ id: string; seq: string }>> {
  const list = {
    table: 'packages',
    columns: 'packages.id, packages.seq::text as seq',
    pathColumn: 'owner_path',
    parentColumn: 'owner_id',
    where: args.status ? ['packages.status = ?'] : [],
    values: args.status ? [args.status] : [],
    order: 'asc' as const,
  };
  return rowPage(loaders, list, ownerId, args, (row: { id: string; seq: string }) => row);
}

/** Of these lineages (by package id), the ones whose every package is still sellable: one statement for all. */
export async function sellableLineages(em: Em, lineages: ReadonlyMap<string, readonly string[]>): Promise<Set<string>> {
  const unchecked = [...lineages].filter(([, lineage]) => lineage.length > 0);
  const sellable = new Set([...lineages].filter(([, lineage]) => lineage.length === 0).map(([id]) => id));
  if (!unchecked.length) return sellable;
  const rows = await executeBound<{ id: string }[]>(
    em,
    `select id from jsonb_each(?::jsonb) as l(id, lineage)
      where trellis_lineage_sellable(array(select jsonb_array_elements_text(l.lineage)))`,
    [JSON.stringify(Object.fromEntries(unchecked))],
  );
  for (const r of rows) sellable.add(r.id);
  return sellable;
}
