import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { MikroORM, type Options } from '@mikro-orm/core';
import { PostgreSqlDriver, type SqlEntityManager } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Knex } from '@mikro-orm/knex';
import { LRUCache } from 'lru-cache';
import { PGliteDriver } from 'mikro-orm-pglite';
import sql, { type Sql } from 'sql-template-tag';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ENTITIES, SCOPE_FILTER } from '../entities/index.js';
import { MIGRATIONS } from '../../migrations/index.js';

export type Orm = MikroORM<PostgreSqlDriver>;
export type Em = SqlEntityManager;

export interface Database {
  orm: Orm;
  engine: 'postgresql' | 'pglite';
  /** LISTEN on a channel: a dedicated connection on PostgreSQL, the embedded engine's own on PGlite. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /** Whether the LISTEN connection is up: while it is down, this instance's subscribers get no events. */
  listening(): boolean;
  /**
   * PostgreSQL only: a few connections of their own for request bookkeeping that commits apart from the request
   * (budgets, login throttles). A read opens its transaction, holding a pooled connection, before its budget is
   * spent: from the same pool, requests holding every connection would wait forever for one more.
   */
  bookkeeping?: pg.Pool;
  close(): Promise<void>;
}

function baseOptions(config: Config, logger: Logger): Options {
  return {
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: {
      path: 'dist/migrations',
      pathTs: 'migrations',
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    discovery: { disableDynamicFileAccess: true },
    logger: (message: string) => logger.debug({ orm: message }),
    debug: config.logLevel === 'trace',
  };
}

/**
 * Opens PostgreSQL (DATABASE_URL) or the embedded PGlite database, and applies pending migrations
 * (MIGRATE_ON_START); with that off, pending migrations refuse the start rather than meet a schema they expect.
 * The migrate script passes `migrate: false` and decides for itself.
 */
export async function openDatabase(config: Config, logger: Logger, options: { migrate?: boolean } = {}): Promise<Database> {
  let orm: Orm;
  let pglite: PGlite | undefined;
  if (config.databaseUrl) {
    orm = (await MikroORM.init({
      ...baseOptions(config, logger),
      driver: PostgreSqlDriver,
      clientUrl: config.databaseUrl,
      pool: {
        min: 0,
        max: config.dbPoolMax,
        // The database's own `jit = off` (a migration) reaches only sessions opened after it: an instance that
        // migrates on start would keep JIT on in the connections it opened first, and the jobs (which run
        // outside a request's scoped transaction) would compile short statements for hundreds of milliseconds.
        afterCreate: (
          conn: { query(sql: string, done: (error: Error | null) => void): void },
          done: (error: Error | null, conn: unknown) => void,
        ) => conn.query('set jit = off', (error) => done(error, conn)),
      },
    })) as Orm;
  } else {
    if (!config.dataDir.startsWith('memory://')) mkdirSync(config.dataDir, { recursive: true });
    pglite = new PGlite(config.dataDir);
    await pglite.waitReady;
    orm = (await MikroORM.init({
      ...baseOptions(config, logger),
      driver: PGliteDriver,
      dbName: 'postgres',
      // PGlite is one session: every pooled "connection" would share its transaction, role and settings.
      pool: { min: 1, max: 1 },
      driverOptions: { connection: { pglite: () => pglite } },
    } as Options)) as unknown as Orm;
  }
  acceptPreludes(orm.em.getConnection('write').getKnex(), !pglite);
  if (options.migrate !== false) {
    if (config.migrateOnStart) await migrate(orm, pglite !== undefined);
    else {
      const pending = await orm.getMigrator().getPendingMigrations();
      if (pending.length) {
        await orm.close(true);
        if (pglite && !pglite.closed) await pglite.close();
        throw new Error(
          `${pending.length} migration(s) pending (${pending.map((m) => m.name).join(', ')}) and MIGRATE_ON_START is off: run \`npm run migrate -- up\``,
        );
      }
    }
  }
  let listening = false;
  const bookkeeping = config.databaseUrl
    ? // Past the timeout, the limiters' counters in memory stand in (ThrottleService), as for any database failure.
      new pg.Pool({ connectionString: config.databaseUrl, max: 2, connectionTimeoutMillis: 5_000 })
    : undefined;
  // An idle connection the server ended (a restart, an operator's pg_terminate_backend) is replaced on next use.
  bookkeeping?.on('error', (error) => logger.warn({ err: error }, 'bookkeeping connection lost'));
  return {
    orm,
    engine: pglite ? 'pglite' : 'postgresql',
    bookkeeping,
    async listen(channel, handler) {
      if (pglite) {
        const unlisten = await pglite.listen(channel, handler);
        listening = true;
        return async () => {
          listening = false;
          await unlisten();
        };
      }
      // A dedicated connection that comes back by itself: an instance that lost it would silently stop
      // pushing events. Notifications sent while it was down are lost; subscribers read `alerts` for those.
      let client: pg.Client | undefined;
      let stopped = false;
      const connect = async (): Promise<void> => {
        if (stopped) return;
        const next = new pg.Client({ connectionString: config.databaseUrl });
        next.on('notification', (msg) => {
          if (msg.channel === channel && msg.payload) handler(msg.payload);
        });
        const retry = (error?: unknown) => {
          if (stopped || client !== next) return;
          if (error) logger.error({ err: error }, 'event listener connection lost; reconnecting');
          listening = false;
          client = undefined;
          next.end().catch(() => undefined);
          setTimeout(() => void connect().catch((e) => retry(e)), 1000).unref();
        };
        next.on('error', retry);
        next.on('end', () => retry());
        client = next;
        await next.connect();
        await next.query(`LISTEN ${channel}`);
        if (client === next) listening = true;
      };
      await connect();
      return async () => {
        stopped = true;
        listening = false;
        await client?.end().catch(() => undefined);
      };
    },
    listening: () => listening,
    async close() {
      await bookkeeping?.end();
      await orm.close(true);
      if (pglite && !pglite.closed) await pglite.close();
    },
  };
}

/**
 * Applies pending migrations. Instances starting together on one PostgreSQL database queue on an advisory
 * lock held by a transaction beside the migrator's own. PGlite has a single connection and a single process,
 * so it needs (and could not hold) no lock.
 */
export async function migrate(orm: Orm, embedded: boolean): Promise<void> {
  if (embedded) {
    await orm.getMigrator().up();
    return;
  }
  const em = orm.em.fork();
  await em.transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(hashtext('trellis.migrations'))`);
    await orm.getMigrator().up();
  });
}

/**
 * A fork for work the service does on its own behalf (login, bootstrap, jobs): no request scope, so it runs
 * as the connecting user, which row-level security does not restrict, and with the scope filter opened to
 * every path.
 */
export function systemEm(orm: Orm): Em {
  const em = orm.em.fork() as Em;
  em.setFilterParams(SCOPE_FILTER, { path: '/' });
  return em;
}

/** Turns the request role on: row-level security applies from the next statement. */
export const REQUEST_ROLE =
  // JIT compilation only costs time on short OLTP statements (200 ms for a batched rate lookup here).
  sql`select set_config('role', 'trellis_app', true), set_config('jit', 'off', true)`;

/**
 * Starts the transaction a request runs in and binds it to the caller's subtree: the role switch makes
 * row-level security apply, and the setting tells the policies which subtree that is. One round trip.
 */
export async function beginScopedTransaction(em: Em, scopePath: string): Promise<void> {
  await beginWith(em, [sql`select trellis_set_scope(${scopePath})`, REQUEST_ROLE]);
}

/**
 * A value as a PostgreSQL literal, for a statement sent as a simple query (beginWith, commitWith): safe integers in
 * parentheses (a minus sign after another would start a comment), strings through the driver's escaping, or, if
 * they hold a `?` (which knex would take for a placeholder) or anything but printable ASCII, as their UTF-8
 * bytes in hex.
 */
export function sqlLiteral(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return `(${value})`;
  if (typeof value !== 'string') throw new Error(`sqlLiteral: no literal for ${typeof value}`);
  if (/^[\x20-\x3e\x40-\x7e]*$/.test(value)) return pg.escapeLiteral(value);
  return `convert_from(decode('${Buffer.from(value, 'utf8').toString('hex')}', 'hex'), 'UTF8')`;
}

type Row = Record<string, unknown>;

/** What a knex transaction's config carries to send statements with its BEGIN (see acceptPreludes). */
interface Prelude {
  statements: readonly Sql[];
  done(results: Row[][]): void;
  /** Set once begun where statements travel together (PostgreSQL): see commitWith. */
  ending?: Ending;
}

/** Sends statements on a transaction's connection, and tells knex the transaction is over (its connection is released). */
interface Ending {
  run(sql: string): Promise<PgResult>;
  complete(): void;
  /** The names of the statements the connection has prepared (commitWith). */
  prepared: Set<string>;
}

/** Per pooled connection (pg's client): a prepared statement lives as long as its session. */
const preparedOn = new WeakMap<object, Set<string>>();

/**
 * Prepared statements per connection, at most: past it, statements are sent with their values written in, so
 * clients sending ever new documents cannot grow the server's sessions without bound (a plan held by a session
 * takes tens of kilobytes, times the pool's connections). A frontend's documents are far fewer.
 */
const MAX_PREPARED = 100;

/** Names by statement text: hashing a plan's text on every request cost as much as sending it. */
const names = new LRUCache<string, string>({ max: 2 * MAX_PREPARED });

function preparedName(text: string): string {
  let name = names.get(text);
  if (!name) names.set(text, (name = `trellis_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`));
  return name;
}

/**
 * `statement` as sent in a simple query (which binds no parameters) on a connection that has prepared
 * `prepared`: executed by name with its values written in as the arguments (`sqlLiteral`), prepared first
 * (`prepares`, to be noted once it ran), or past MAX_PREPARED with its values written into its text.
 */
function sending(prepared: Set<string>, statement: Sql): { sql: string; prepares?: string } {
  const name = preparedName(statement.text);
  const args = statement.values.length ? `(${statement.values.map(sqlLiteral).join(', ')})` : '';
  if (prepared.has(name)) return { sql: `EXECUTE ${name}${args}` };
  if (prepared.size < MAX_PREPARED)
    return { sql: `PREPARE ${name} AS ${statement.text};\nEXECUTE ${name}${args}`, prepares: name };
  return { sql: statement.strings.reduce((text, part, i) => `${text}${sqlLiteral(statement.values[i - 1])}${part}`) };
}

const endings = new WeakMap<object, Ending>();

/**
 * Opens `em`'s transaction and runs `statements` in it, in the same round trip as its BEGIN on PostgreSQL
 * (prepared on the connection, see commitWith), and returns each one's rows. If one fails, the transaction is
 * rolled back and its error thrown.
 */
export async function beginWith(em: Em, statements: readonly Sql[]): Promise<Row[][]> {
  let results: Row[][] | undefined;
  const prelude: Prelude = { statements, done: (rows) => (results = rows) };
  const trx = await em
    .getConnection('write')
    .getKnex()
    .transaction(null, { prelude } as Knex.TransactionConfig);
  if (!results) {
    // A transaction begun without its statements would run the request with no role switch and no scope.
    await trx.rollback().catch(() => undefined);
    throw new Error('the transaction began without its prelude (knex client not prepared by acceptPreludes)');
  }
  if (prelude.ending) endings.set(trx, prelude.ending);
  em.setTransactionContext(trx);
  return results;
}

/** Whether `em`'s transaction can end with a last statement in the round trip of its COMMIT (see commitWith). */
export function canCommitWith(em: Em): boolean {
  const trx = em.getTransactionContext<Knex.Transaction>();
  return !!trx && endings.has(trx);
}

/**
 * Runs one last statement in `em`'s transaction and commits it, in one round trip (a read's answer and its
 * COMMIT), returning the statement's rows. Only for a transaction canCommitWith accepts (begun by beginWith on
 * PostgreSQL). If the statement fails, the transaction is rolled back before its connection goes back to the
 * pool, and the error thrown.
 *
 * The statement is prepared on its connection the first time (PREPARE, in the same round trip) and executed by
 * name after that, its values written in as the arguments (`sqlLiteral`): a simple query binds no parameters,
 * and planning a read's statement again on every request was half of PostgreSQL's time on it.
 */
export async function commitWith(em: Em, statement: Sql): Promise<Row[]> {
  const trx = em.getTransactionContext<Knex.Transaction>();
  const ending = trx && endings.get(trx);
  if (!ending) throw new Error('commitWith: the transaction cannot end with a statement (see canCommitWith)');
  endings.delete(trx);
  try {
    const [rows] = await sendTogether(ending.run, ending.prepared, [statement], { begin: false, commit: true });
    return rows;
  } finally {
    em.resetTransactionContext();
    ending.complete();
  }
}

/**
 * Rolls back a transaction whose statements failed. A PREPARE that ran outlives the rollback, whether or not its
 * statement then failed: then both sides forget every prepared statement of the connection.
 */
function rollback(prepared: Set<string>, prepares: boolean): string {
  if (!prepares) return 'ROLLBACK';
  prepared.clear();
  return 'ROLLBACK;\nDEALLOCATE ALL';
}

type Run = (sql: string) => Promise<PgResult>;

function preparedOf(connection: unknown): Set<string> {
  let prepared = preparedOn.get(connection as object);
  if (!prepared) preparedOn.set(connection as object, (prepared = new Set()));
  return prepared;
}

/**
 * Sends `statements` as one simple query on a connection that has prepared `prepared` (see sending), after BEGIN
 * and before COMMIT as told, and returns each statement's rows. If one fails, the transaction is rolled back
 * before the error is thrown: left as it is, the connection would go back to the pool inside it.
 */
async function sendTogether(
  run: Run,
  prepared: Set<string>,
  statements: readonly Sql[],
  { begin, commit }: { begin: boolean; commit: boolean },
): Promise<Row[][]> {
  const sent = statements.map((statement) => sending(prepared, statement));
  const prepares = sent.some((s) => s.prepares);
  const text = [...(begin ? ['BEGIN'] : []), ...sent.map((s) => s.sql), ...(commit ? ['COMMIT'] : [])].join(';\n');
  let results: { rows: Row[] }[];
  try {
    results = (await run(text)) as { rows: Row[] }[];
  } catch (error) {
    await run(rollback(prepared, prepares)).catch(() => undefined);
    throw error;
  }
  for (const s of sent) if (s.prepares) prepared.add(s.prepares);
  // BEGIN's result, then one per statement, each after its PREPARE's if it had one.
  let at = begin ? 0 : -1;
  return sent.map((s) => {
    at += s.prepares ? 2 : 1;
    return results[at].rows;
  });
}

/** knex clients whose statements can travel together (PostgreSQL's: PGlite's driver splits nothing). */
const sentTogether = new WeakSet<object>();

/** Whether transactOnce can run on `em`'s database. */
export function canTransactOnce(em: Em): boolean {
  return sentTogether.has(em.getConnection('write').getKnex().client);
}

/**
 * Runs `statements` as a transaction of their own in one round trip (BEGIN, the statements, COMMIT), prepared on
 * the pooled connection it takes (see commitWith), and returns each one's rows: a read that needs nothing from
 * its first statements before it sends its last. PostgreSQL only (canTransactOnce).
 */
export async function transactOnce(em: Em, statements: readonly Sql[]): Promise<Row[][]> {
  const client = em.getConnection('write').getKnex().client as unknown as PoolClient;
  const connection = await client.acquireConnection();
  try {
    const run = async (sql: string) => (await client.query(connection, { sql, bindings: [] })).response as unknown as PgResult;
    return await sendTogether(run, preparedOf(connection), statements, { begin: true, commit: true });
  } finally {
    await client.releaseConnection(connection);
  }
}

/** The parts of knex's transaction this file reaches into (knex's internals, not in its types). */
interface KnexTransactionInternals {
  trxClient: TransactionClient;
  begin(connection: unknown): Promise<unknown>;
  _completed: boolean;
  /** Settles the transaction: knex then releases its connection. */
  _resolver(value?: unknown): void;
}
type PgResult = { rows: Row[] } | { rows: Row[] }[];

/**
 * knex sends BEGIN on its own, so a request's transaction took three round trips before its first read:
 * BEGIN, the credential, the scope. Each is a write to the socket and a wake-up of a server process, the
 * largest cost per request on the read shapes (docs/performance.md). A transaction whose config carries a
 * `prelude` sends BEGIN and the prelude's statements as one simple query on PostgreSQL; on PGlite, one
 * statement per call (its driver splits nothing, and a call costs no round trip there).
 */
function acceptPreludes(knex: Knex, together: boolean): void {
  const client = knex.client as {
    transaction(container: unknown, config: { prelude?: Prelude } | undefined, outer: unknown): KnexTransactionInternals;
  };
  if (together) sentTogether.add(client);
  const make = client.transaction.bind(client);
  client.transaction = (container, config, outer) => {
    const trx = make(container, config, outer);
    const prelude = config?.prelude;
    if (!prelude || outer) return trx;
    trx.begin = async (connection) => {
      const run = async (sql: string, bindings?: readonly unknown[]) =>
        (await trx.trxClient.query(connection, { sql, bindings })).response as unknown as PgResult;
      if (!together) {
        try {
          await run('BEGIN');
          const results: Row[][] = [];
          for (const s of prelude.statements) results.push(((await run(s.sql, s.values)) as { rows: Row[] }).rows);
          prelude.done(results);
        } catch (error) {
          // Left as it is, the connection would go back to the pool inside the failed transaction.
          await run('ROLLBACK').catch(() => undefined);
          throw error;
        }
        return;
      }
      const prepared = preparedOf(connection);
      prelude.done(await sendTogether(run, prepared, prelude.statements, { begin: true, commit: false }));
      // knex settles a transaction through these; without them it is committed the usual way.
      if (typeof trx._resolver === 'function' && typeof trx._completed === 'boolean') {
        prelude.ending = {
          run,
          prepared,
          complete: () => {
            trx._completed = true;
            trx._resolver();
          },
        };
      }
    };
    return trx;
  };
}

/**
 * Runs `fn` in a transaction of its own on a new connection, scoped like a request's to `scopePath`: for a
 * mutation that commits its work in parts (generateInvoices' batches). Not on the embedded engine, whose one
 * session is the request's.
 */
export async function inScopedTransaction<T>(em: Em, scopePath: string, fn: (tx: Em) => Promise<T>): Promise<T> {
  const fork = em.fork() as Em;
  return fork.transactional(async (tx) => {
    const opening = sql`${REQUEST_ROLE}, trellis_set_scope(${scopePath})`;
    await executeBound(tx, opening.sql, opening.values);
    return fn(tx);
  });
}

/**
 * Widens row-level security from the caller's subtree to its whole platform for the duration of `fn`: for
 * domain operations that must touch the levels above the caller, such as charging every reseller of a chain.
 * Only mutations use it (GraphQL runs them one at a time, so no other resolver shares the widened window),
 * only with raw SQL on ids the service derived itself. The caller's scope comes back whatever `fn` does: after
 * a failure the statement may be refused (the transaction is aborted), and then the savepoint the mutation runs
 * in restores it as it rolls back.
 */
export async function withPlatformScope<T>(em: Em, rootId: string, callerPath: string, fn: () => Promise<T>): Promise<T> {
  const scope = (path: string) => em.execute(`select trellis_set_scope(?)`, [path]);
  await scope(`/${rootId}/`);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await scope(callerPath).catch(() => undefined);
    throw error;
  }
  await scope(callerPath);
  return result;
}

/**
 * Runs one statement with its parameters bound by the driver. `em.execute` formats every parameter into the
 * SQL text first, escaping it character by character: for the bulk statements (a JSON document of a
 * thousand calls, their four thousand charges, or twenty thousand rates) that was most of the request's
 * time and garbage. Same transaction as `em`, same `?` placeholders.
 *
 * Inside a transaction the statement goes straight to the transaction's client (knex's raw builder and runner
 * around it cost more CPU than a read of fifty rows); that client still refuses a statement once the transaction
 * has ended, and still reports it to knex's `query` listeners. A request's manager never runs a statement outside
 * its transaction: there it would run as the connecting user, which row-level security does not restrict.
 */
export async function executeBound<T>(em: Em, sql: string, params: readonly unknown[]): Promise<T> {
  if (params.includes(undefined)) throw new Error(`undefined parameter in: ${sql.slice(0, 120)}`);
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) {
    const scope = em.getFilterParams(SCOPE_FILTER) as { path?: string } | undefined;
    if (scope?.path && scope.path !== '/') throw new Error('a request statement outside its transaction');
    const result = (await em
      .getConnection()
      .getKnex()
      .raw(sql, params as never)) as { rows: T };
    return result.rows;
  }
  const client = trx.client as unknown as TransactionClient;
  const connection = await client.acquireConnection();
  const { response } = await client.query(connection, { sql, bindings: params, method: 'raw' });
  return response.rows as T;
}

/** What executeBound uses of a knex transaction's client (knex's Client API, not in its types). */
interface TransactionClient {
  acquireConnection(): Promise<unknown>;
  query(connection: unknown, query: object): Promise<{ response: { rows: unknown } }>;
}

/** What transactOnce uses of knex's client: a connection of its pool, taken and given back. */
interface PoolClient extends TransactionClient {
  releaseConnection(connection: unknown): Promise<void>;
}

/**
 * A PostgreSQL array literal (NULL for null), bound as one parameter and cast to an array type: unnest of
 * typed arrays is cheaper for the server than parsing a JSON document of the same rows.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** text[] arrives as an array from pg, as its literal from some drivers. */
export function textArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  return v
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}
