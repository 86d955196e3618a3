import { executeBound, type Em } from '../db/orm.js';
import type { AccountKind } from '../entities/index.js';
import { CHANNEL, type CredentialChange } from '../events.js';
import type { ApiKeyScope } from '../request.js';

/** An unrevoked API key, found by the hash of its secret. */
export interface ApiKeyCredential {
  id: string;
  accountId: string;
  lastUsedAt: Date | null;
  scopes: ApiKeyScope[];
}

/** What a request's actor is made of, with whether the account may act at all. */
export interface CredentialAccount {
  id: string;
  kind: AccountKind;
  path: string;
  rootId: string;
  rateGroupId: string | null;
  tokenVersion: number;
  /** It and every ancestor are ACTIVE: suspending a reseller locks out its whole subtree. */
  usable: boolean;
}

interface ApiKeyRow {
  id: string;
  account_id: string;
  last_used_at: Date | null;
  scopes: ApiKeyScope[];
}

interface CredentialAccountRow {
  id: string;
  kind: AccountKind;
  path: string;
  root_id: string;
  rate_group_id: string | null;
  token_version: number;
  usable: boolean;
}

export async function findApiKeyByHash(em: Em, keyHash: string): Promise<ApiKeyCredential | null> {
  const [key] = await em.execute<ApiKeyRow[]>(
    `select id, account_id, last_used_at, scopes from api_keys where key_hash = ? and revoked_at is null`,
    [keyHash],
  );
  if (!key) return null;
  return {
    id: key.id,
    accountId: key.account_id,
    lastUsedAt: key.last_used_at === null ? null : new Date(key.last_used_at),
    scopes: key.scopes,
  };
}

export async function setApiKeyLastUsed(em: Em, id: string, at: Date): Promise<void> {
  await em.execute(`update api_keys set last_used_at = ? where id = ?`, [at, id]);
}

export async function findCredentialAccount(em: Em, accountId: string): Promise<CredentialAccount | null> {
  const [row] = await executeBound<CredentialAccountRow[]>(
    em,
    `select a.id, a.kind, a.path, a.root_id, a.rate_group_id, a.token_version,
            not exists (select 1 from accounts up
                         where starts_with(a.path, up.path) and up.status <> 'ACTIVE') as usable
       from accounts a where a.id = ?`,
    [accountId],
  );
  if (!row) return null;
  return {
    id: row.id,
    kind: row.kind,
    path: row.path,
    rootId: row.root_id,
    rateGroupId: row.rate_group_id,
    tokenVersion: row.token_version,
    usable: row.usable,
  };
}

/** Undefined for an account not found, null for one that cannot log in with a password. */
export async function findPasswordHash(em: Em, accountId: string): Promise<string | null | undefined> {
  const [row] = await em.execute<{ password_hash: string | null }[]>(`select password_hash from accounts where id = ?`, [
    accountId,
  ]);
  return row?.password_hash;
}

/** Ends the login tokens of one account: they were signed with the version this bumps. */
export async function endTokensOf(em: Em, accountId: string): Promise<void> {
  await em.execute(`update accounts set token_version = token_version + 1 where id = ?`, [accountId]);
}

/** Ends the login tokens of an account and its whole subtree. */
export async function endTokensUnder(em: Em, path: string): Promise<void> {
  await em.execute(`update accounts set token_version = token_version + 1 where starts_with(path, ?)`, [path]);
}

/** Delivered when the caller's transaction commits, to every instance: their open subscriptions end there. */
export async function announceCredentialChange(em: Em, change: CredentialChange): Promise<void> {
  await em.execute(`select pg_notify(?, ?)`, [CHANNEL, JSON.stringify(change)]);
}
