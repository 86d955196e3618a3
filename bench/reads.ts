import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { deepStrictEqual } from 'node:assert';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createSecretKey } from 'node:crypto';
import type { Config } from '../src/config.js';

/**
 * The two read shapes of a frontend (a page of accounts, a two-level tree), each measured twice from a separate
 * client process (autocannon): through Trellis, and through its ceiling, a bare node:http handler that verifies
 * the same JWT and builds the same response in one SQL statement (json_agg). Trellis is reported as a ratio of
 * its ceiling, measured in the same run.
 */

export const PAGE_QUERY = `query Page { accounts(first: 50) { totalCount edges { node { id name balance availableBalance parent { id name } } } } }`;
export const TREE_QUERY = `query Tree($id: ID!) { account(id: $id) { children(first: 10) { edges { node { id name
  children(first: 20) { edges { node { id name balance parent { id name } } } } } } } } }`;

/** The same shapes in PostGraphile's names (bench/peer/server.mjs), aliased so that it answers Trellis's JSON. */
export const PEER_PAGE_QUERY = `query Page($root: String!) { accounts: descendants(root: $root, first: 50) { totalCount edges { node {
  id: rowId name balance availableBalance parent { id: rowId name } } } } }`;
export const PEER_TREE_QUERY = `query Tree($id: String!) { account: accountByRowId(rowId: $id) { children(first: 10, orderBy: SEQ_ASC) {
  edges { node { id: rowId name children(first: 20, orderBy: SEQ_ASC) { edges { node { id: rowId name balance
  parent { id: rowId name } } } } } } } } }`;

/**
 * One statement per shape, the caller taken from the verified JWT; null when outside the caller's subtree. The
 * subtree is also a range of paths (paths end with `/`, and `0` follows it), as a LIKE whose pattern is not a
 * constant can use no index: the ceiling must not slow down as other platforms grow.
 */
const CEILING_SQL = {
  Page: `
    with me as (select id, path from accounts where id = $1),
         scope as (select a.* from accounts a, me
                    where a.path ~>=~ me.path and a.path ~<~ (left(me.path, -1) || '0') and a.path like me.path || '%'
                      and a.id <> me.id and a.status <> 'DELETED')
    select json_build_object('data', json_build_object('accounts', json_build_object(
      'totalCount', (select count(*) from scope),
      'edges', coalesce((
        select json_agg(json_build_object('node', json_build_object(
                 'id', a.id, 'name', a.name, 'balance', trim_scale(a.balance)::text,
                 'availableBalance', trim_scale(a.balance + a.credit_limit)::text,
                 'parent', case when p.id is null then null else json_build_object('id', p.id, 'name', p.name) end)) order by a.seq)
          from (select * from scope order by seq limit 50) a
          left join accounts p on p.id = a.parent_id and p.path like (select path from me) || '%'), '[]'::json))))::text as body`,
  Tree: `
    with me as (select path from accounts where id = $1),
         root as (select r.* from accounts r, me where r.id = $2 and r.path like me.path || '%')
    select json_build_object('data', json_build_object('account', (
      select json_build_object('children', json_build_object('edges', coalesce((
        select json_agg(json_build_object('node', json_build_object('id', c.id, 'name', c.name,
                 'children', json_build_object('edges', coalesce((
                   select json_agg(json_build_object('node', json_build_object('id', g.id, 'name', g.name,
                            'balance', trim_scale(g.balance)::text,
                            'parent', json_build_object('id', c.id, 'name', c.name))) order by g.seq)
                     from (select * from accounts g where g.parent_id = c.id and g.status <> 'DELETED'
                            order by g.seq limit 20) g), '[]'::json)))) order by c.seq)
          from (select * from accounts c where c.parent_id = root.id and c.status <> 'DELETED'
                 order by c.seq limit 10) c), '[]'::json)))
      from root)))::text as body`,
} as const;

/** The ceiling server: verifies the bearer JWT exactly as Trellis does, then one statement, its text sent as is. */
export async function startCeiling(
  config: Config,
  databaseUrl: string,
  connections: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections });
  pool.on('error', () => undefined); // idle clients killed when the bench database is dropped
  const key = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const claims = jwt.verify(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '', key, {
            algorithms: ['HS256'],
            issuer: config.jwtIssuer,
            audience: config.jwtAudience,
          }) as jwt.JwtPayload;
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; variables?: { id?: string } };
          const shape = /^query (Page|Tree)\b/.exec(body.query)?.[1] as keyof typeof CEILING_SQL;
          const params = shape === 'Tree' ? [claims.sub, body.variables?.id] : [claims.sub];
          const { rows } = await pool.query<{ body: string }>(CEILING_SQL[shape], params);
          res.writeHead(200, { 'content-type': 'application/json' }).end(rows[0].body);
        } catch (error) {
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end(JSON.stringify({ errors: [{ message: String(error) }] }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}

export interface Cannon {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Answers other than 2xx, and connection errors and timeouts: a figure with any of these is void. */
  failures: number;
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** autocannon in its own process: the server under test keeps the bench process to itself. */
export function cannon(url: string, token: string, body: string, connections: number, seconds: number): Promise<Cannon> {
  const args = [
    AUTOCANNON,
    '-j',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-m',
    'POST',
    '-H',
    'content-type=application/json',
    '-H',
    `authorization=Bearer ${token}`,
    '-b',
    body,
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      resolve({
        requestsPerSecond: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        requests: r.requests.total,
        failures: r.non2xx + r.errors + r.timeouts,
      });
    });
  });
}

/**
 * CPU milliseconds per request while `run` measures: this process's, and PostgreSQL's where its processes are local
 * (Linux /proc; a backend that exits during the run takes its time with it, so keep other work off the server).
 */
export async function cpuPerRequest(
  run: () => Promise<Cannon>,
  pid?: number,
): Promise<{ cannon: Cannon; nodeMs: number; postgresMs?: number }> {
  const nodeCpuMs = () => {
    if (pid === undefined) {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    }
    try {
      return processCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return NaN; // no /proc (not Linux): the figure is left out
    }
  };
  const node0 = nodeCpuMs();
  const pg0 = postgresCpuMs();
  const measured = await run();
  const node = nodeCpuMs() - node0;
  const pg1 = postgresCpuMs();
  const per = (ms: number) => Number((ms / Math.max(1, measured.requests)).toFixed(2));
  let postgres = 0;
  if (pg1) for (const [pid, ms] of pg1) postgres += Math.max(0, ms - (pg0?.get(pid) ?? 0));
  return {
    cannon: measured,
    nodeMs: per(node),
    ...(pg0 && pg1 ? { postgresMs: per(postgres) } : {}),
  };
}

/** User and system milliseconds of a process, from its /proc/<pid>/stat (USER_HZ is 100 on Linux). */
function processCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** User and system milliseconds of each `postgres` process on this machine, or undefined where /proc is unreadable. */
function postgresCpuMs(): Map<string, number> | undefined {
  const found = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (!stat.includes('(postgres)')) continue;
    found.set(pid, processCpuMs(stat));
  }
  return found.size ? found : undefined;
}

/**
 * Both servers must answer the same JSON, or the other is not a ceiling (or a peer) of this response. `otherBody`:
 * the other's document, where it differs.
 */
export async function sameResponse(
  trellisUrl: string,
  otherUrl: string,
  token: string,
  body: string,
  otherBody = body,
): Promise<number> {
  const ask = async (url: string, text: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: text,
    });
    return { status: res.status, json: (await res.json()) as unknown };
  };
  const [a, b] = [await ask(trellisUrl, body), await ask(otherUrl, otherBody)];
  deepStrictEqual(b, a);
  return JSON.stringify(a.json).length;
}

/**
 * Another Trellis instance in a process of its own on the same database and secret (the server `npm start`
 * runs): with the bench's own, two instances behind no balancer, each driven by its own client process.
 */
export async function startInstance(config: Config, databaseUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      JWT_SECRET: config.jwtSecret,
      JWT_ISSUER: config.jwtIssuer,
      JWT_AUDIENCE: config.jwtAudience,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DB_POOL_MAX: String(config.dbPoolMax),
      REQUEST_BUDGET: String(config.requestBudget),
      RENEWAL_INTERVAL_MS: '0',
      INVOICE_INTERVAL_MS: '0',
      WEBHOOK_INTERVAL_MS: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(child, `${url}/readyz`, 'the second instance');
  return {
    url,
    close: () => stop(child),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Ends a server's process, if it has not ended already. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Waits until `url` answers 2xx, for at most 20 s or until the server's process exits. */
async function untilAnswers(child: ChildProcess, url: string, name: string, init?: RequestInit): Promise<void> {
  for (let i = 0; ; i++) {
    const ready = await fetch(url, init).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (i > 100 || child.exitCode !== null) {
      await stop(child);
      throw new Error(`${name} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const PEER_DIR = fileURLToPath(new URL('../../bench/peer/', import.meta.url));

/** PostGraphile's version when `npm run bench:peer` installed it, or undefined. */
export function peerVersion(): string | undefined {
  const manifest = `${PEER_DIR}node_modules/postgraphile/package.json`;
  return existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version : undefined;
}

/** PostGraphile on the bench database in a process of its own (bench/peer/server.mjs), once it answers. */
export async function startPeer(databaseUrl: string): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [`${PEER_DIR}server.mjs`], {
    cwd: PEER_DIR,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), NODE_ENV: 'production', GRAPHILE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  await untilAnswers(child, url, 'PostGraphile', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"query":"{ __typename }"}',
  });
  return {
    url,
    pid: child.pid!,
    close: () => stop(child),
  };
}
