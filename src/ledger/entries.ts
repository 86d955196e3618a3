import { executeBound, type Em } from '../db/orm.js';
import { scopePath } from '../entities/scope.js';
import { Decimal } from '../money.js';
import type { Page, PageArgs } from '../services/pagination.js';
import { rowPage, type RowPageLoaders } from '../services/row-pages.js';
import type { LedgerRow } from './post.js';

const ENTRY_COLUMNS = `id, seq::text as seq, account_id, owner_path, amount::text as amount, balance_after::text as balance_after,
  kind, description, actor_id, subscription_id, tax_rate_id, created_at`;

interface EntryRow {
  id: string;
  seq: string;
  account_id: string;
  owner_path: string;
  amount: string;
  balance_after: string;
  kind: string;
  description: string | null;
  actor_id: string | null;
  subscription_id: string | null;
  tax_rate_id: string | null;
  created_at: Date;
}

function toLedgerRow(r: EntryRow): LedgerRow {
  return {
    id: r.id,
    seq: r.seq,
    accountId: r.account_id,
    ownerPath: r.owner_path,
    amount: new Decimal(r.amount),
    balanceAfter: new Decimal(r.balance_after),
    kind: r.kind,
    description: r.description,
    actorId: r.actor_id,
    subscriptionId: r.subscription_id,
    taxRateId: r.tax_rate_id,
    createdAt: new Date(r.created_at),
  };
}

/** An account's ledger, newest first, batched with every other account of a list asking for it. */
export function ledgerPage(loaders: RowPageLoaders, accountId: string, args: PageArgs): Promise<Page<LedgerRow>> {
  const list = {
    table: 'ledger_entries',
    columns: ENTRY_COLUMNS,
    pathColumn: 'owner_path',
    parentColumn: 'account_id',
    where: [],
    values: [],
    order: 'desc' as const,
  };
  return rowPage(loaders, list, accountId, args, toLedgerRow);
}

/** One entry by id, within the caller's subtree (null outside it, like a missing one). */
export async function entryById(em: Em, id: string): Promise<LedgerRow | null> {
  const [row] = await executeBound<EntryRow[]>(
    em,
    `select ${ENTRY_COLUMNS} from ledger_entries where id = ? and starts_with(owner_path, ?)`,
    [id, scopePath(em)],
  );
  return row ? toLedgerRow(row) : null;
}
