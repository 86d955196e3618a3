import sql, { raw, type Sql } from 'sql-template-tag';
import type { Em } from '../db/orm.js';
import { ACCOUNT_COLUMNS, type AccountRow } from './rows.js';
import { CHANNEL, type CredentialChange } from '../events.js';
import type { ApiKeyScope } from '../request.js';

/** What a request presents, verified but not yet looked up: a login token's claims or an API key's hash. */
export type Credential = { via: 'token'; accountId: string; version: number } | { via: 'apiKey'; keyHash: string };

/**
 * The account a credential acts as (the whole row: a request serves it as `me` and as its children's parent
 * without reading it again), with whether it may act at all, and for an API key the key itself.
 */
export interface CredentialRow extends AccountRow {
  /** A login token signed with another version has ended. */
  token_version: number;
  /** It and every ancestor are ACTIVE: suspending a reseller locks out its whole subtree. */
  usable: boolean;
  key_id?: string;
  key_scopes?: ApiKeyScope[] | string;
}

/**
 * The ancestors are the ids in the account's path (`/root/.../self/`), looked up by primary key: a prefix test on
 * each row's path could only scan every account of every platform, on every request.
 */
const USABLE = `not exists (select 1 from accounts up
  where up.id = any(string_to_array(btrim(accounts.path, '/'), '/')) and up.status <> 'ACTIVE') as usable`;

/** What an actor is made of (AuthService.actorOf), for a read that serves nothing else from the row. */
const ACTOR_COLUMNS = 'id, kind, path, root_id, rate_group_id';

/**
 * The statement that finds a credential's row. A request sends it in the same round trip as its BEGIN
 * (beginWith), prepared on its connection. It reads as the connecting user, whom row-level security does not
 * restrict: the caller is not known before it. With `scope`, it sets the request's scope to the account's subtree
 * as it reads it; with `actorOnly`, it reads only what the actor needs (a planned answer needs no more). An API
 * key's last use is written by the same statement, at most once a minute (a hint for operators, not an audit
 * log); requests using the key at that moment skip the write rather than wait for the one making it.
 */
export function credentialSql(credential: Credential, options: { scope?: boolean; actorOnly?: boolean } = {}): Sql {
  const columns = raw(
    `${options.actorOnly ? ACTOR_COLUMNS : ACCOUNT_COLUMNS}, token_version, ${USABLE}${options.scope ? `, trellis_set_scope(path)` : ''}`,
  );
  if (credential.via === 'token') return sql`select ${columns} from accounts where id = ${credential.accountId}`;
  const hash = credential.keyHash;
  return sql`with used as (
            update api_keys set last_used_at = clock_timestamp()
             where id = (select id from api_keys
                          where key_hash = ${hash} and revoked_at is null
                            and (last_used_at is null or last_used_at < clock_timestamp() - interval '1 minute')
                            for update skip locked)
            returning id),
          k as (select id, account_id, scopes from api_keys where key_hash = ${hash} and revoked_at is null)
          select ${columns}, (select id from k) as key_id, (select scopes from k) as key_scopes
            from accounts where id = (select account_id from k)`;
}

/** The credential's row read on its own (graphql-ws, and re-checks of a long-lived subscription's credential). */
export async function findCredential(em: Em, credential: Credential): Promise<CredentialRow | undefined> {
  const statement = credentialSql(credential);
  const [row] = await em.execute<CredentialRow[]>(statement.sql, statement.values as unknown[]);
  return row;
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
