import { randomUUID } from 'node:crypto';
import sql, { type Sql } from 'sql-template-tag';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import {
  beginScopedTransaction,
  beginWith,
  canCommitWith,
  canTransactOnce,
  commitWith,
  REQUEST_ROLE,
  transactOnce,
  type Em,
  type Orm,
} from './db/orm.js';
import { credentialSql, type Credential, type CredentialRow } from './accounts/credentials.js';
import { accountView } from './accounts/rows.js';
import { SCOPE_FILTER } from './entities/index.js';
import type { Services } from './services/index.js';
import type { Events } from './events.js';
import { DomainError } from './errors.js';
import { createLoaders, type Loaders } from './graphql/loaders.js';
import type { Actor, Request } from './request.js';

export { credentialKey, requireActor, type Actor } from './request.js';

const READ_ONLY_ROLE = sql`${REQUEST_ROLE}, set_config('transaction_read_only', 'on', true)`;

/**
 * One per HTTP request or graphql-ws operation. Holds the request's fork of the entity manager, bound to the
 * caller's subtree twice over: the scope filter, and a transaction running as the row-level-security role.
 * The transaction opens lazily, on the first resolver that needs it, because login must run outside any scope.
 */
export class Context implements Request {
  readonly requestId: string;
  actor: Actor | null = null;
  /** The client's address, for login throttling. */
  clientAddress = 'unknown';
  private transaction?: Promise<void>;

  constructor(
    readonly orm: Orm,
    readonly services: Services,
    readonly config: Config,
    readonly events: Events,
    log: Logger,
    requestId?: string,
  ) {
    this.requestId = requestId ?? randomUUID();
    this.baseLog = log;
  }

  private forked?: Em;
  private scopeParams?: { path: string; rateGroupId?: string | null };

  /**
   * The request's fork of the entity manager, made on first use with the caller's scope: a planned read answers
   * without one (a fork, with its unit of work and identity map, cost more than the read's statement to send).
   */
  get em(): Em {
    if (!this.forked) {
      this.forked = this.orm.em.fork() as Em;
      if (this.scopeParams) this.forked.setFilterParams(SCOPE_FILTER, this.scopeParams);
    }
    return this.forked;
  }

  private madeLoaders?: Loaders;

  get loaders(): Loaders {
    this.madeLoaders ??= createLoaders(this.em, {
      rates: this.services.rates,
      packages: (ids) => this.services.packages.findMany(this, ids),
    });
    return this.madeLoaders;
  }

  /** The subtree the request's rows must lie in (the scope filter's path); undefined before a caller is bound. */
  get scopePath(): string | undefined {
    return this.scopeParams?.path;
  }

  private readonly baseLog: Logger;
  private childLog?: Logger;

  /** The request's logger, with its request id and caller. Made on first use: most requests log nothing. */
  get log(): Logger {
    this.childLog ??= this.baseLog.child(
      this.actor ? { requestId: this.requestId, accountId: this.actor.accountId } : { requestId: this.requestId },
    );
    return this.childLog;
  }

  get transactionStarted(): boolean {
    return this.transaction !== undefined;
  }

  /** The transaction has begun and its scope is set: resolvers need not wait for anything. */
  transactionReady = false;

  /** graphql-ws: the credential the socket authenticated with, re-checked while a subscription runs. */
  private credential?: string;
  private credentialCheckedAt = 0;

  /** Made on first use: most contexts are HTTP requests, which never wait for a credential to end. */
  private ended?: AbortController;

  /** Aborted when this operation's credential ends (src/http/websocket.ts): a subscription stops at once. */
  get credentialEnded(): AbortSignal {
    this.ended ??= new AbortController();
    return this.ended.signal;
  }

  endCredential(): void {
    this.ended ??= new AbortController();
    this.ended.abort(new DomainError('UNAUTHENTICATED', 'The credential was revoked or the account suspended'));
  }

  /** For a graphql-ws operation: the credential it was just authenticated with, re-checked later. */
  watchCredential(credential: string): void {
    this.credential = credential;
    this.credentialCheckedAt = Date.now();
  }

  /**
   * Whether a long-lived subscription's credential still holds (not revoked, account and ancestors active).
   * Checked against the database at most every `credentialRecheckMs` while events flow.
   */
  async stillAuthorized(): Promise<boolean> {
    if (this.ended?.signal.aborted) return false;
    if (!this.credential || Date.now() - this.credentialCheckedAt < this.config.credentialRecheckMs) return true;
    this.credentialCheckedAt = Date.now();
    try {
      return (await this.services.auth.authenticate(this.credential)) !== null;
    } catch {
      return false;
    }
  }

  bindActor(actor: Actor): void {
    this.actor = actor;
    this.childLog = undefined;
    // The test-only switch leaves the filter wide open so that row-level security alone is what a test sees.
    this.scopeParams = this.config.unsafeDisableAppScope ? { path: '/' } : { path: actor.path, rateGroupId: actor.rateGroupId };
    this.forked?.setFilterParams(SCOPE_FILTER, this.scopeParams);
  }

  /**
   * Authenticates an HTTP request's credential. A request of queries only (`readOnly`) opens its scoped
   * transaction at the same time, in one round trip: BEGIN, the credential's row (read before the role switch, as
   * the caller is not known yet) setting the scope to its account's subtree, then the role switch and READ ONLY.
   * Any other request reads the credential on its own and opens its transaction on first use: login must run
   * before one, on a connection of its own.
   *
   * A read with a login token this instance has seen hold before goes further, where planned reads are on: its
   * credential is not read yet, the caller taken to be what it was (its account's path never changes), so that a
   * planned answer can travel in the same round trip as the credential (answerOnce). The executor reads it
   * before anything else otherwise (confirmCredential). Either way nothing is answered before it holds.
   */
  async authenticate(authorization: string | undefined, readOnly: boolean): Promise<void> {
    if (!readOnly) {
      const actor = await this.services.auth.authenticate(authorization);
      if (actor) this.bindActor(actor);
      return;
    }
    const credential = this.services.auth.verify(authorization);
    if (!credential) return;
    const expected = this.config.plannedReads ? this.services.auth.expectedActor(credential) : undefined;
    if (expected && canTransactOnce(this.orm.em)) {
      this.unread = credential;
      this.bindActor(expected);
      return;
    }
    this.transaction = this.openRead(credential);
    await this.transaction.catch((error: unknown) => {
      this.transaction = undefined;
      throw error;
    });
  }

  /** A read's credential, verified but not read yet (see authenticate). */
  private unread?: Credential;

  get credentialUnread(): boolean {
    return this.unread !== undefined;
  }

  /** BEGIN, the credential's row with its scope, the role switch and READ ONLY, in one round trip. */
  private async openRead(credential: Credential): Promise<void> {
    const [rows] = await beginWith(this.em, [credentialSql(credential, { scope: true }), READ_ONLY_ROLE]);
    try {
      const row = rows[0] as unknown as CredentialRow | undefined;
      this.bindActor(this.services.auth.actorOf(credential, row));
      // Read in this transaction and in the caller's own scope: `me`, and the parent of its children, are served from it.
      this.loaders.accountView.prime(row!.id, accountView(row!));
    } catch (error) {
      await this.rollbackQuietly();
      throw error;
    }
    this.transactionReady = true;
  }

  /** Reads a credential not read yet as the read's transaction opens: UNAUTHENTICATED when it no longer holds. */
  async confirmCredential(): Promise<void> {
    const credential = this.unread;
    if (!credential) return this.transaction;
    this.unread = undefined;
    this.transaction = this.openRead(credential).catch((error: unknown) => this.refused(credential, error));
    await this.transaction;
  }

  /**
   * A credential taken on trust that turned out not to hold: the caller is unbound, and this instance stops
   * trusting the token (its next requests read the credential before anything runs or is counted).
   */
  private refused(credential: Credential, error: unknown): never {
    if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
      this.services.auth.forgetExpectedActor(credential);
      this.actor = null;
      this.scopeParams = undefined;
      this.childLog = undefined;
    }
    throw error;
  }

  /**
   * A read's whole transaction in one round trip, for a credential not read yet: BEGIN, the credential's row with
   * its scope, the role switch and READ ONLY, `statement` (a planned answer) and COMMIT. Its rows, or
   * UNAUTHENTICATED when the credential no longer holds, the answer then thrown away unread.
   */
  async answerOnce(statement: Sql): Promise<Record<string, unknown>[]> {
    const credential = this.unread!;
    this.unread = undefined;
    const [rows, , answer] = await transactOnce(this.orm.em, [
      credentialSql(credential, { scope: true, actorOnly: true }),
      READ_ONLY_ROLE,
      statement,
    ]);
    try {
      this.bindActor(this.services.auth.actorOf(credential, rows[0] as unknown as CredentialRow | undefined));
    } catch (error) {
      this.refused(credential, error);
    }
    return answer;
  }

  /**
   * Set when Apollo's pipeline takes the request, whose plugin then commits or rolls back. A read Apollo refuses
   * before that (a malformed body) is rolled back by the GraphQL middleware (src/server.ts) once Apollo has answered.
   */
  inPipeline = false;

  /** Opens the scoped transaction once; every resolver awaits it (see withScope in src/graphql/schema.ts). */
  ensureTransaction(): Promise<void> | undefined {
    if (!this.actor) return undefined;
    if (this.unread) return this.confirmCredential();
    this.transaction ??= beginScopedTransaction(this.em, this.actor.path).then(() => {
      this.transactionReady = true;
    });
    return this.transaction;
  }

  /** Whether the request's transaction can end with its last statement in the round trip of its COMMIT. */
  get canCommitWith(): boolean {
    return this.transactionReady && canCommitWith(this.em);
  }

  /**
   * Ends the request's transaction with its last statement (a planned read's answer) in the round trip of its
   * COMMIT, and returns that statement's rows (see commitWith in src/db/orm.ts). Only when canCommitWith.
   */
  async commitWith(statement: Sql): Promise<Record<string, unknown>[]> {
    this.transaction = undefined;
    this.transactionReady = false;
    return commitWith(this.em, statement);
  }

  /**
   * Runs one mutation in its own savepoint, on a fork with an empty identity map: entities a failed mutation
   * changed are thrown away with it instead of lingering in the request's manager. Loaders are cleared after
   * every mutation, so fields read afterwards see what it wrote.
   */
  async mutate<T>(fn: (em: Em) => Promise<T>): Promise<T> {
    try {
      return await this.em.transactional(fn, { clear: true });
    } finally {
      this.loaders.clearAll();
    }
  }

  /**
   * Commits the request's transaction. Every write was flushed inside its mutation's savepoint, so nothing is
   * flushed here. When the request met an unexpected error, the transaction may have been aborted by it, in
   * which case PostgreSQL would turn COMMIT into a silent rollback: that is detected and reported as a failure
   * of the whole request, so no client is told that a write succeeded when it did not.
   */
  async finish(options: { verify?: boolean } = {}): Promise<void> {
    if (!this.transaction) return;
    const started = this.transaction;
    this.transaction = undefined;
    this.transactionReady = false;
    try {
      await started;
    } catch {
      await this.rollbackQuietly();
      return;
    }
    try {
      if (options.verify) await this.em.execute('select 1');
      await this.em.getConnection('write').commit(this.em.getTransactionContext()!);
      this.em.resetTransactionContext();
    } catch (error) {
      await this.rollbackQuietly();
      throw error;
    }
  }

  async abort(): Promise<void> {
    if (!this.transaction) return;
    this.transaction = undefined;
    this.transactionReady = false;
    await this.rollbackQuietly();
  }

  private async rollbackQuietly(): Promise<void> {
    const trx = this.em.getTransactionContext();
    if (!trx) return;
    await this.em
      .getConnection('write')
      .rollback(trx)
      .catch(() => undefined);
    this.em.resetTransactionContext();
  }
}

/** The name resolvers and the transport use for the request a Context serves (src/request.ts). */
export type AuthedContext = Context & { actor: Actor };
