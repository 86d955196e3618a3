import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { beginScopedTransaction, type Em, type Orm } from './db/orm.js';
import { Account, CallCharge, PackageSubscription, type AccountKind, SCOPE_FILTER } from './entities/index.js';
import { scopePath } from './entities/scope.js';
import type { Services } from './services/index.js';
import type { ApiKeyScope } from './services/auth.service.js';
import type { Events } from './events.js';
import { DomainError } from './errors.js';
import { Keyset, seqSql, type PageWindow, type SeqBound } from './services/pagination.js';

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

export interface Loaders {
  account: DataLoader<string, Account | null>;
  callCharges: DataLoader<string, CallCharge[]>;
  /** Pages of many accounts' subscriptions in one query; keys are JSON of { accountId, window, status }. */
  subscriptionPages: DataLoader<string, PackageSubscription[]>;
  subscriptionCounts: DataLoader<string, number>;
  /** Keys are JSON of { accountId, status, bound }. */
  subscriptionExists: DataLoader<string, boolean>;
}

function createLoaders(em: Em): Loaders {
  return {
    // Batched and scoped: ids outside the caller's subtree come back null, exactly like missing ones.
    account: new DataLoader(async (ids) => {
      const rows = await em.find(Account, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((a) => [a.id, a]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    subscriptionPages: new DataLoader(async (keys) => {
      // Keys of one list query share their arguments: group by them, one windowed query per group.
      const groups = new Map<string, { accountIds: string[]; window: PageWindow; status: string | null }>();
      const parsed = keys.map((key) => {
        const k = JSON.parse(key) as { accountId: string; window: PageWindow; status: string | null };
        const g = JSON.stringify([k.window, k.status]);
        if (!groups.has(g)) groups.set(g, { accountIds: [], window: k.window, status: k.status });
        groups.get(g)!.accountIds.push(k.accountId);
        return { group: g, accountId: k.accountId };
      });
      const byKey = new Map<string, PackageSubscription[]>();
      for (const [g, { accountIds, window, status }] of groups) {
        const keyset = new Keyset(window, 'asc');
        const range = keyset.bounds;
        // Each account's rows come back in fetch order (reversed for `last`), as Keyset.page expects.
        const rows = await em.execute(
          `select * from (
             select s.*, row_number() over (partition by s.account_id order by s.seq ${keyset.fetchOrder}) as rn from package_subscriptions s
              where s.account_id = any(?::text[]) and starts_with(s.owner_path, ?)
                and (?::text is null or s.status = ?) ${range.map((b) => `and ${seqSql('s.seq', b)}`).join(' ')}) x
            where rn <= ? order by account_id, rn`,
          [`{${accountIds.join(',')}}`, scopePath(em), status, status, ...range.map((b) => b.seq), keyset.limit],
        );
        const entities = rows.map((r) => em.map(PackageSubscription, r));
        for (const accountId of accountIds)
          byKey.set(
            `${g}|${accountId}`,
            entities.filter((e) => e.accountId === accountId),
          );
      }
      return parsed.map((p) => byKey.get(`${p.group}|${p.accountId}`) ?? []);
    }),
    subscriptionExists: new DataLoader(async (keys) => {
      // Whether an account has a subscription past a cursor: asked only for a pageInfo flag a client selects.
      const parsed = keys.map((k) => JSON.parse(k) as { accountId: string; status: string | null; bound: SeqBound });
      const found = new Set<string>();
      const groups = new Map<string, { accountIds: string[]; status: string | null; bound: SeqBound }>();
      for (const p of parsed) {
        const g = JSON.stringify([p.status, p.bound]);
        if (!groups.has(g)) groups.set(g, { accountIds: [], status: p.status, bound: p.bound });
        groups.get(g)!.accountIds.push(p.accountId);
      }
      for (const [g, { accountIds, status, bound }] of groups) {
        const rows = await em.execute<{ id: string }[]>(
          `select a.id from unnest(?::text[]) as a(id)
            where exists (select 1 from package_subscriptions s
                           where s.account_id = a.id and starts_with(s.owner_path, ?) and (?::text is null or s.status = ?)
                             and ${seqSql('s.seq', bound)})`,
          [`{${accountIds.join(',')}}`, scopePath(em), status, status, bound.seq],
        );
        for (const r of rows) found.add(`${g}|${r.id}`);
      }
      return parsed.map((p) => found.has(`${JSON.stringify([p.status, p.bound])}|${p.accountId}`));
    }),
    subscriptionCounts: new DataLoader(async (keys) => {
      const parsed = keys.map((k) => JSON.parse(k) as { accountId: string; status: string | null });
      const statuses = [...new Set(parsed.map((p) => p.status))];
      const counts = new Map<string, number>();
      for (const status of statuses) {
        const ids = parsed.filter((p) => p.status === status).map((p) => p.accountId);
        const rows = await em.execute<{ account_id: string; n: number }[]>(
          `select account_id, count(*)::int as n from package_subscriptions
            where account_id = any(?::text[]) and starts_with(owner_path, ?) and (?::text is null or status = ?)
            group by account_id`,
          [`{${ids.join(',')}}`, scopePath(em), status, status],
        );
        for (const r of rows) counts.set(JSON.stringify({ accountId: r.account_id, status }), r.n);
      }
      return keys.map((k) => counts.get(k) ?? 0);
    }),
    callCharges: new DataLoader(async (ids) => {
      const rows = await em.find(CallCharge, { callId: { $in: [...ids] } }, { orderBy: { callId: 'asc', level: 'asc' } });
      return ids.map((id) => rows.filter((r) => r.callId === id));
    }),
  };
}

/**
 * One per HTTP request or graphql-ws operation. Holds the request's fork of the entity manager, bound to the
 * caller's subtree twice over: the scope filter, and a transaction running as the row-level-security role.
 * The transaction opens lazily, on the first resolver that needs it, because login must run outside any scope.
 */
export class Context {
  readonly requestId: string;
  log: Logger;
  readonly em: Em;
  readonly loaders: Loaders;
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
    this.log = log.child({ requestId: this.requestId });
    this.em = orm.em.fork() as Em;
    this.loaders = createLoaders(this.em);
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
    this.log = this.log.child({ accountId: actor.accountId });
    // The test-only switch leaves the filter wide open so that row-level security alone is what a test sees.
    this.em.setFilterParams(
      SCOPE_FILTER,
      this.config.unsafeDisableAppScope ? { path: '/' } : { path: actor.path, rateGroupId: actor.rateGroupId },
    );
  }

  /** Opens the scoped transaction once; every resolver awaits it (see withScope in src/graphql/schema.ts). */
  ensureTransaction(): Promise<void> | undefined {
    if (!this.actor) return undefined;
    this.transaction ??= beginScopedTransaction(this.em, this.actor.path).then(() => {
      this.transactionReady = true;
    });
    return this.transaction;
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
      this.loaders.account.clearAll();
      this.loaders.callCharges.clearAll();
      this.loaders.subscriptionPages.clearAll();
      this.loaders.subscriptionCounts.clearAll();
      this.loaders.subscriptionExists.clearAll();
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

export type AuthedContext = Context & { actor: Actor };

export function requireActor(ctx: Context): asserts ctx is AuthedContext {
  if (!ctx.actor) throw new DomainError('UNAUTHENTICATED');
}
