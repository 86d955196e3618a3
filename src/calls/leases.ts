import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { Direction } from '../entities/index.js';
import type { Decimal } from '../money.js';

/** An open call lease (DOMAIN.md 14), as Account.openCalls shows it. */
export interface LeaseRow {
  accountId: string;
  callId: string;
  destination: string;
  direction: Direction;
  maxDurationSeconds: number | null;
  startedAt: Date;
  expiresAt: Date;
}

interface Row {
  account_id: string;
  call_id: string;
  destination: string;
  direction: Direction;
  max_duration_seconds: number | null;
  created_at: Date;
  expires_at: Date;
}

const toLease = (r: Row): LeaseRow => ({
  accountId: r.account_id,
  callId: r.call_id,
  destination: r.destination,
  direction: r.direction,
  maxDurationSeconds: r.max_duration_seconds,
  startedAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
});

const COLUMNS = 'account_id, call_id, destination, direction, max_duration_seconds, created_at, expires_at';

/**
 * startCall's lock on every level of a call, top first (a fixed order: calls under the same resellers lock
 * their common ancestors first), so the leases it counts and the funds they hold do not move until it commits.
 */
export async function lockLeaseLevels(em: Em, levelIdsTopFirst: string[]): Promise<void> {
  for (const id of levelIdsTopFirst) await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`lease:${id}`]);
}

/**
 * The account's lease for a call id, if one is open now. Expired leases are removed on the way, this call's
 * and a few hundred others (oldest first): they no longer count, and the table stays the size of the calls
 * in progress.
 */
export async function currentLease(em: Em, accountId: string, callId: string): Promise<LeaseRow | null> {
  await executeBound(
    em,
    `delete from call_leases where (account_id, call_id) in (
       select account_id, call_id from call_leases where expires_at <= now() order by expires_at limit 500)
        or (account_id = ? and call_id = ? and expires_at <= now())`,
    [accountId, callId],
  );
  const rows = await executeBound<Row[]>(em, `select ${COLUMNS} from call_leases where account_id = ? and call_id = ?`, [
    accountId,
    callId,
  ]);
  return rows.length ? toLease(rows[0]) : null;
}

/** A new lease with what it holds at each level of the call (every level, 0 included, so each counts it). */
export async function insertLease(
  em: Em,
  lease: Omit<LeaseRow, 'startedAt' | 'expiresAt'> & { rootId: string; ownerPath: string; seconds: number },
  holds: { accountId: string; amount: Decimal; spend: Decimal }[],
): Promise<void> {
  await executeBound(
    em,
    `insert into call_leases (account_id, call_id, root_id, owner_path, destination, direction, max_duration_seconds,
                              expires_at)
     values (?, ?, ?, ?, ?, ?, ?, now() + make_interval(secs => ?))`,
    [
      lease.accountId,
      lease.callId,
      lease.rootId,
      lease.ownerPath,
      lease.destination,
      lease.direction,
      lease.maxDurationSeconds,
      lease.seconds,
    ],
  );
  await executeBound(
    em,
    `insert into call_lease_holds (account_id, call_id, level_account_id, owner_path, amount, spend, expires_at)
     select l.account_id, l.call_id, x.level_account_id, l.owner_path, x.amount, x.spend, l.expires_at
       from call_leases l, unnest(?::text[], ?::numeric[], ?::numeric[]) as x(level_account_id, amount, spend)
      where l.account_id = ? and l.call_id = ?`,
    [
      pgArray(holds.map((h) => h.accountId)),
      pgArray(holds.map((h) => h.amount.toFixed())),
      pgArray(holds.map((h) => h.spend.toFixed())),
      lease.accountId,
      lease.callId,
    ],
  );
}

/** Ends the leases of calls (rated or ended): true for each that was open. */
export async function endLeases(em: Em, calls: { accountId: string; callId: string }[]): Promise<number> {
  if (calls.length === 0) return 0;
  const rows = await executeBound<{ open: boolean }[]>(
    em,
    `delete from call_leases l using unnest(?::text[], ?::text[]) as x(account_id, call_id)
      where l.account_id = x.account_id and l.call_id = x.call_id
      returning l.expires_at > now() as open`,
    [pgArray(calls.map((c) => c.accountId)), pgArray(calls.map((c) => c.callId))],
  );
  return rows.filter((r) => r.open).length;
}

/** The open leases of many accounts (each its own, not its subtree's), oldest first. */
export async function openCallsOf(em: Em, accountIds: readonly string[]): Promise<Map<string, LeaseRow[]>> {
  const rows = await executeBound<Row[]>(
    em,
    `select ${COLUMNS} from call_leases where account_id = any(?::text[]) and expires_at > now()
      order by account_id, created_at, call_id`,
    [pgArray([...accountIds])],
  );
  const out = new Map<string, LeaseRow[]>();
  for (const r of rows) out.set(r.account_id, [...(out.get(r.account_id) ?? []), toLease(r)]);
  return out;
}
