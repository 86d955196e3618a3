import type { Em } from './db/orm.js';
import type { AccountKind } from './entities/index.js';
import { DomainError } from './errors.js';
import type { Loaders } from './graphql/loaders.js';
import type { Logger } from './logger.js';

/** What an API key may do; a login token may do everything. */
export type ApiKeyScope = 'FULL' | 'READ_ONLY' | 'RATING';

/** Who is calling: loaded from the database on every request, so suspensions take effect at once. */
export interface Actor {
  accountId: string;
  kind: AccountKind;
  path: string;
  rootId: string;
  /** The rate group the caller is assigned (one of its parent's), readable though outside its subtree. */
  rateGroupId: string | null;
  via: 'token' | 'apiKey';
  /** The account's token version: a token signed with another one has ended. */
  tokenVersion: number;
  apiKeyId?: string;
  /** An API key's scopes (a login token has them all). */
  scopes?: ApiKeyScope[];
}

/** The key a credential's request budget is counted under: one per API key, one per account's logins. */
export function credentialKey(actor: Actor): string {
  return actor.apiKeyId ? `key:${actor.apiKeyId}` : `account:${actor.accountId}`;
}

/**
 * What services need of the request they serve: who is calling, its scoped entity manager and loaders, and a
 * way to run one mutation atomically. Context (src/context.ts) implements it; services depend on this and on
 * each other through their constructors, never on Context, so the dependency graph has no cycles.
 */
export interface Request {
  readonly requestId: string;
  readonly log: Logger;
  readonly em: Em;
  readonly loaders: Loaders;
  actor: Actor | null;
  /** The client's address, for login throttling. */
  clientAddress: string;
  /** Runs one mutation in its own savepoint (see Context.mutate). */
  mutate<T>(fn: (em: Em) => Promise<T>): Promise<T>;
  /** Whether the scoped transaction has begun (login must run before it). */
  readonly transactionStarted: boolean;
  /** Binds the caller once authenticated (login binds the account that just logged in). */
  bindActor(actor: Actor): void;
  /** Opens the request's scoped transaction, once. */
  ensureTransaction(): Promise<void> | undefined;
  /** Commits it. */
  finish(options?: { verify?: boolean }): Promise<void>;
}

export type AuthedRequest = Request & { actor: Actor };

export function requireActor<R extends Request>(request: R): asserts request is R & { actor: Actor } {
  if (!request.actor) throw new DomainError('UNAUTHENTICATED');
}
