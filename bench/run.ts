import 'reflect-metadata';
import { writeFileSync, mkdirSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import pg from 'pg';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { systemEm } from '../src/db/orm.js';
import { Direction } from '../src/entities/index.js';
import { createApp, type App } from '../src/server.js';
import { RateService } from '../src/services/rate.service.js';
import { benchAssign } from './assign.js';
import { benchDids } from './dids.js';
import { benchInvoices } from './invoices.js';
import { benchWebhooks } from './webhooks.js';
import {
  cannon,
  cpuPerRequest,
  PAGE_QUERY,
  PEER_PAGE_QUERY,
  PEER_TREE_QUERY,
  peerVersion,
  sameResponse,
  startCeiling,
  startInstance,
  startPeer,
  TREE_QUERY,
  type Cannon,
} from './reads.js';

/**
 * npm run bench: figures for the things that must be fast, against a fresh PostgreSQL database on
 * BENCH_PG_URL (default 127.0.0.1:5432), or the embedded engine with BENCH_DB=pglite. Prints a table and
 * writes bench/results.json. Sizes are environment variables so a quick run stays quick.
 */
const env = process.env;
const RATES = Number(env.BENCH_RATES ?? 50_000);
const LOOKUPS = Number(env.BENCH_LOOKUPS ?? 5_000);
const TOPUPS = Number(env.BENCH_TOPUPS ?? 2_000);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 16);
const SINGLE_CALLS = Number(env.BENCH_SINGLE_CALLS ?? 500);
const BATCHES = Number(env.BENCH_BATCHES ?? 10);
const BATCH_SIZE = Number(env.BENCH_BATCH_SIZE ?? 1000);
const RENEWAL_CHAINS = Number(env.BENCH_RENEWAL_CHAINS ?? 10_000);
const SUBSCRIBERS = Number(env.BENCH_SUBSCRIBERS ?? 100);
const EVENTS = Number(env.BENCH_EVENTS ?? 50);
const READ_SECONDS = Number(env.BENCH_READ_SECONDS ?? 10);
const CEILING_CALLS = Number(env.BENCH_CEILING_CALLS ?? 3000);
const MANY_SUBSCRIBERS = Number(env.BENCH_MANY_SUBSCRIBERS ?? 1000);
const EXPORT_ROWS = Number(env.BENCH_EXPORT_ROWS ?? 300_000);
const RERATE_CALLS = Number(env.BENCH_RERATE_CALLS ?? 100_000);
const OTHER_ACCOUNTS = Number(env.BENCH_OTHER_ACCOUNTS ?? 100_000);
/** BENCH_ONLY=rating,events runs some sections; only a full run rewrites bench/results.json. */
const SECTIONS = [
  'lookup',
  'rating',
  'limits',
  'rerate',
  'ceiling',
  'topups',
  'page',
  'renewals',
  'invoices',
  'dids',
  'assign',
  'events',
  'refusals',
  'exports',
  'webhooks',
  'scale',
] as const;
const ONLY = env.BENCH_ONLY ? env.BENCH_ONLY.split(',').map((s) => s.trim()) : [...SECTIONS];
const runs = (section: (typeof SECTIONS)[number]) => ONLY.includes(section);

/**
 * BENCH_TRACE=1: where a section's database time goes. Sums the server's statements by their first words
 * (time from send to response, as the server process sees it) and prints the largest after the section.
 */
function traceStatements(app: App, section: string): () => void {
  if (!env.BENCH_TRACE) return () => undefined;
  const knex = app.db.orm.em.getConnection().getKnex();
  const started = new Map<string, { sql: string; at: number }>();
  const totals = new Map<string, { ms: number; n: number }>();
  const onQuery = (q: { __knexQueryUid: string; sql: string }) =>
    started.set(q.__knexQueryUid, { sql: q.sql, at: performance.now() });
  const onDone = (_r: unknown, q: { __knexQueryUid: string }) => {
    const s = started.get(q.__knexQueryUid);
    if (!s) return;
    started.delete(q.__knexQueryUid);
    const key = s.sql.replace(/\s+/g, ' ').slice(0, 90);
    const t = totals.get(key) ?? { ms: 0, n: 0 };
    totals.set(key, { ms: t.ms + performance.now() - s.at, n: t.n + 1 });
  };
  knex.on('query', onQuery);
  knex.on('query-response', onDone);
  return () => {
    knex.off('query', onQuery);
    knex.off('query-response', onDone);
    console.log(`\n${section}: statements by total time`);
    for (const [sql, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
      console.log(`${t.ms.toFixed(0).padStart(8)} ms ${String(t.n).padStart(6)}x  ${sql}`);
    }
  };
}

interface Row {
  figure: string;
  value: string;
  note?: string;
}
const rows: Row[] = [];
const results: Record<string, unknown> = {};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(samplesMs: number[]) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}

/** Deterministic pseudo-random numbers, so runs compare. */
function rng(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

async function freshDatabase(): Promise<{ url?: string; drop: () => Promise<void> }> {
  if (env.BENCH_DB === 'pglite') return { drop: async () => undefined };
  const adminUrl = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `trellis_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  if (env.BENCH_AUTO_EXPLAIN) {
    // Plans of statements slower than BENCH_AUTO_EXPLAIN ms, in the PostgreSQL server's log.
    await admin.query(`alter database ${name} set session_preload_libraries = 'auto_explain'`);
    await admin.query(`alter database ${name} set auto_explain.log_min_duration = ${Number(env.BENCH_AUTO_EXPLAIN)}`);
    await admin.query(`alter database ${name} set auto_explain.log_analyze = on`);
    await admin.query(`alter database ${name} set auto_explain.log_nested_statements = on`);
  }
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function gql(url: string, token: string, query: string, variables?: object) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function benchRateLookup(app: App, url: string, token: string) {
  const random = rng(42);
  const prefixes = new Set<string>();
  while (prefixes.size < RATES) {
    const len = 2 + Math.floor(random() * 7);
    let p = String(1 + Math.floor(random() * 9));
    while (p.length < len) p += String(Math.floor(random() * 10));
    prefixes.add(p);
  }
  const { createRateGroup } = await gql(
    url,
    token,
    'mutation($n: String!) { createRateGroup(input: { name: $n, rates: [] }) { id } }',
    { n: 'bench' },
  );
  const groupId = createRateGroup.id as string;
  const all = [...prefixes];
  const started = performance.now();
  for (let i = 0; i < all.length; i += 20_000) {
    const chunk = all.slice(i, i + 20_000).map((prefix) => ({ prefix, ratePerMinute: '0.0123' }));
    await gql(url, token, 'mutation($g: ID!, $r: [RateInput!]!) { upsertRates(rateGroupId: $g, rates: $r) { id } }', {
      g: groupId,
      r: chunk,
    });
  }
  const upsertMs = performance.now() - started;

  const em = systemEm(app.db.orm);
  const numbers = Array.from({ length: LOOKUPS }, () => {
    let n = String(1 + Math.floor(random() * 9));
    while (n.length < 11) n += String(Math.floor(random() * 10));
    return n;
  });
  // Through the instance's rate decks (one round trip for the group's version), then straight from the
  // database as for a group too large to hold (RATE_CACHE_MAX_RATES=0).
  const measure = async (rates: RateService) => {
    const samples: number[] = [];
    let found = 0;
    const t0 = performance.now();
    for (const n of numbers) {
      const s = performance.now();
      if (await rates.findRate(em, groupId, n, Direction.OUTBOUND)) found++;
      samples.push(performance.now() - s);
    }
    return { found, samples, total: performance.now() - t0 };
  };
  const { found, samples, total } = await measure(app.services.rates);
  const db = await measure(new RateService());
  const dbStats = summarize(db.samples);
  // The same statement findRate runs, explained with real values.
  const probe = Array.from({ length: 11 }, (_, i) => numbers[0].slice(0, i + 1)).join(',');
  const plans = await em.execute<{ 'QUERY PLAN': string }[]>(
    `explain analyze select r.prefix from unnest(?::text[]) with ordinality as c(prefix, n)
       join lateral (select * from rates where rate_group_id = ? and direction = 'OUTBOUND' and prefix = c.prefix limit 1) r on true
      order by c.n desc limit 1`,
    [`{${probe}}`, groupId],
  );
  const planText = plans.map((p) => p['QUERY PLAN']).join(' | ');
  const stats = summarize(samples);
  results.rateLookup = {
    rates: RATES,
    lookups: LOOKUPS,
    found,
    upsertMs: Math.round(upsertMs),
    lookupsPerSecond: Math.round((LOOKUPS / total) * 1000),
    medianMs: stats.median,
    p99Ms: stats.p99,
    fromDatabase: {
      lookupsPerSecond: Math.round((LOOKUPS / db.total) * 1000),
      medianMs: dbStats.median,
      p99Ms: dbStats.p99,
      found: db.found,
    },
    usesIndex: !/Seq Scan|Rows Removed by Filter: [1-9]\d{2,}/.test(planText),
    plan: planText,
  };
  rows.push({
    figure: `upsertRates, ${RATES} rates (calls of 20,000)`,
    value: `${Math.round(upsertMs)} ms`,
    note: `${Math.round((RATES / upsertMs) * 1000)} rates/s`,
  });
  rows.push({
    figure: 'longest-prefix lookup, one at a time',
    value: `${Math.round((LOOKUPS / total) * 1000)} lookups/s`,
    note: `median ${stats.median.toFixed(3)} ms, p99 ${stats.p99.toFixed(3)} ms, ${found}/${LOOKUPS} matched; deck in memory`,
  });
  rows.push({
    figure: 'the same from the database',
    value: `${Math.round((LOOKUPS / db.total) * 1000)} lookups/s`,
    note: `median ${dbStats.median.toFixed(3)} ms, p99 ${dbStats.p99.toFixed(3)} ms, ${db.found}/${LOOKUPS} matched; a group too large to hold`,
  });
  const execution = /Execution Time: ([\d.]+ ms)/.exec(planText)?.[1] ?? '?';
  const scan = /Seq Scan|Rows Removed by Filter: [1-9]\d{2,}/.test(planText);
  rows.push({ figure: 'database lookup plan', value: scan ? 'SCAN' : 'PK probes', note: `database execution ${execution}` });
}

/**
 * The raw-SQL ceiling on this machine: per call, one transaction that locks and debits each level's account and
 * writes its ledger entry, straight through the pg driver (no GraphQL, no ORM), CONCURRENCY workers at once.
 */
async function benchCeiling(url: string | undefined, app: App) {
  if (!url) return;
  const accounts = await systemEm(app.db.orm).execute<{ id: string; path: string }[]>(
    `select id, path from accounts where kind <> 'ADMIN' order by depth desc limit 40`,
  );
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY });
  pool.on('error', () => undefined); // idle clients killed when the bench database is dropped
  const run = async (levels: number) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const client = await pool.connect();
        try {
          while (next < CEILING_CALLS) {
            const i = next++;
            await client.query('begin');
            // Locked in one fixed order (by id), as the service does, so concurrent calls cannot deadlock.
            const chain = Array.from({ length: levels }, (_, l) => accounts[(i + l * 7) % accounts.length]).sort((x, y) =>
              x.id < y.id ? -1 : 1,
            );
            for (const a of chain) {
              const { rows } = await client.query(
                'update accounts set balance = balance - 0.01 where id = $1 returning balance',
                [a.id],
              );
              await client.query(
                `insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, created_at)
                 values ($1, $2, $3, -0.01, $4, 'USAGE', now())`,
                [`led_${randomBytes(16).toString('hex')}`, a.id, a.path, rows[0].balance],
              );
            }
            await client.query('commit');
          }
        } finally {
          client.release();
        }
      }),
    );
    return (CEILING_CALLS / (performance.now() - t0)) * 1000;
  };
  const one = await run(1);
  const four = await run(4);
  await pool.end();
  results.ceiling = {
    calls: CEILING_CALLS,
    concurrency: CONCURRENCY,
    oneLevelPerSecond: Math.round(one),
    fourLevelsPerSecond: Math.round(four),
  };
  rows.push({
    figure: 'raw-SQL ceiling, 1 level, a transaction per call',
    value: `${Math.round(one)} calls/s`,
    note: `${CONCURRENCY} connections, pg driver`,
  });
  rows.push({
    figure: 'raw-SQL ceiling, 4 levels, a transaction per call',
    value: `${Math.round(four)} calls/s`,
    note: 'the reference for the rating figures',
  });
  const rating = results.rating as
    | { single: { callsPerSecond: number }; batch: { callsPerSecond: number }; batchTwoSwitches: { callsPerSecond: number } }
    | undefined;
  if (rating) {
    const ratios = {
      single: rating.single.callsPerSecond / four,
      batch: rating.batch.callsPerSecond / four,
      twoSwitches: rating.batchTwoSwitches.callsPerSecond / four,
    };
    results.ceiling = {
      ...(results.ceiling as object),
      ratioSingle: Number(ratios.single.toFixed(2)),
      ratioBatch: Number(ratios.batch.toFixed(2)),
      ratioBatchTwoSwitches: Number(ratios.twoSwitches.toFixed(2)),
    };
    for (const r of rows) {
      if (r.figure.startsWith('rateCall, ')) r.note += `; ${ratios.single.toFixed(2)}x the 4-level ceiling`;
      if (r.figure.startsWith('rateCalls, 4')) r.note += `; ${ratios.batch.toFixed(2)}x the 4-level ceiling`;
      if (r.figure.startsWith('rateCalls, the same')) r.note += `; ${ratios.twoSwitches.toFixed(2)}x the 4-level ceiling`;
    }
  }
}

/**
 * A four-level chain (admin -> R1 -> R2 -> R3 -> customers): every call is charged at four levels. With
 * `limits`, every customer holds a package (opted into at each level) with three pools on the calls' numbers:
 * a VOLUME pool, one at an in-bundle rate and a MONEY pool, so each call at each level draws on pools until
 * they run dry (DOMAIN.md 13), and the figures go under `ratingLimits`.
 */
async function benchRating(app: App, url: string, adminToken: string, limits = false) {
  const sign = (id: string) => app.services.auth.sign(id);
  const make = async (token: string, kind: string) =>
    (await gql(url, token, `mutation { createAccount(input: { kind: ${kind}, name: "b" }) { id } }`)).createAccount.id as string;
  const r1 = await make(adminToken, 'RESELLER');
  const r2 = await make(sign(r1), 'RESELLER');
  const r3 = await make(sign(r2), 'RESELLER');
  const customers = await Promise.all(Array.from({ length: 20 }, () => make(sign(r3), 'CUSTOMER')));
  const deck = (rate: string) => [
    { prefix: '44', ratePerMinute: rate },
    ...Array.from({ length: 5000 }, (_, i) => ({ prefix: String(20000 + i * 7), ratePerMinute: rate })),
  ];
  const groupFor = async (ownerToken: string, rate: string) =>
    (
      await gql(
        url,
        ownerToken,
        'mutation($n: String!, $r: [RateInput!]!) { createRateGroup(input: { name: $n, rates: $r }) { id } }',
        {
          n: limits ? 'deck with pools' : 'deck',
          r: deck(rate),
        },
      )
    ).createRateGroup.id;
  const assign = (token: string, id: string, g: string) =>
    gql(url, token, 'mutation($id: ID!, $g: ID!) { updateAccount(id: $id, input: { rateGroupId: $g }) { id } }', { id, g });
  await assign(adminToken, r1, await groupFor(adminToken, '0.01'));
  await assign(sign(r1), r2, await groupFor(sign(r1), '0.012'));
  await assign(sign(r2), r3, await groupFor(sign(r2), '0.015'));
  const g3 = await groupFor(sign(r3), '0.02');
  for (const c of customers) await assign(sign(r3), c, g3);
  if (limits) {
    const { createPackage } = await gql(
      url,
      adminToken,
      `mutation { createPackage(input: { name: "bundle", price: "0", resellerCanResell: true, limits: [
         { kind: VOLUME, patterns: ["44770091"], amount: "100000" },
         { kind: VOLUME, patterns: ["4477009"], amount: "60000", inBundleRatePerMinute: "0.005" },
         { kind: MONEY, patterns: ["44"], amount: "50" }] }) { id } }`,
    );
    let pkg = createPackage.id as string;
    for (const r of [r1, r2, r3]) {
      const optIn = `mutation($p: ID!) { optIn(input: { packageId: $p, resellerCanResell: true }) { id } }`;
      pkg = (await gql(url, sign(r), optIn, { p: pkg })).optIn.id;
    }
    const assignPackage = 'mutation($a: ID!, $p: ID!) { assignPackage(input: { accountId: $a, packageId: $p }) { id } }';
    for (const c of customers) await gql(url, sign(r3), assignPackage, { a: c, p: pkg });
  }
  const switchToken = adminToken;
  let n = 0;
  const cdr = (i: number, of: string[] = customers) => ({
    accountId: of[i % of.length],
    callId: `bench-${++n}`,
    destination: `4477009${String(i % 100000).padStart(5, '0')}`,
    direction: 'OUTBOUND',
    durationSeconds: 30 + (i % 300),
    startedAt: new Date().toISOString(),
  });
  const single = 'mutation($c: CallInput!) { rateCall(input: $c) { id cost } }';
  const batch = 'mutation($c: [CallInput!]!) { rateCalls(input: $c) { id } }';
  for (let i = 0; i < 20; i++) await gql(url, switchToken, single, { c: cdr(i) }); // warm-up

  const samples: number[] = [];
  const endSingleTrace = traceStatements(app, 'rateCall');
  let t0 = performance.now();
  for (let i = 0; i < SINGLE_CALLS; i++) {
    const s = performance.now();
    await gql(url, switchToken, single, { c: cdr(i) });
    samples.push(performance.now() - s);
  }
  const singleRate = (SINGLE_CALLS / (performance.now() - t0)) * 1000;
  endSingleTrace();
  const singleStats = summarize(samples);

  const batchSamples: number[] = [];
  const endTrace = traceStatements(app, 'rateCalls');
  t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const calls = Array.from({ length: BATCH_SIZE }, (_, i) => cdr(b * BATCH_SIZE + i));
    const s = performance.now();
    await gql(url, switchToken, batch, { c: calls });
    batchSamples.push(performance.now() - s);
  }
  const batchRate = ((BATCHES * BATCH_SIZE) / (performance.now() - t0)) * 1000;
  const batchStats = summarize(batchSamples);
  endTrace();

  // Two switches posting at once, each for its own half of the customers: one batch's database work
  // overlaps the other's parsing and planning (the chain's reseller accounts still serialize the writes).
  const halves = [customers.slice(0, customers.length / 2), customers.slice(customers.length / 2)];
  t0 = performance.now();
  await Promise.all(
    halves.map(async (half, h) => {
      for (let b = 0; b < BATCHES / 2; b++) {
        await gql(url, switchToken, batch, {
          c: Array.from({ length: BATCH_SIZE }, (_, i) => cdr((h * BATCHES + b) * BATCH_SIZE + i, half)),
        });
      }
    }),
  );
  const parallelRate = ((2 * Math.floor(BATCHES / 2) * BATCH_SIZE) / (performance.now() - t0)) * 1000;

  const [check] = await app.db.orm.em.fork().execute<{ bad: string }[]>(
    `select count(*)::text as bad from accounts a where a.id = any(?::text[])
        and a.balance <> (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id)`,
    [`{${[r1, r2, r3, ...customers].join(',')}}`],
  );
  const figures = {
    levels: 4,
    single: { calls: SINGLE_CALLS, callsPerSecond: Math.round(singleRate), medianMs: singleStats.median, p99Ms: singleStats.p99 },
    batch: { batches: BATCHES, size: BATCH_SIZE, callsPerSecond: Math.round(batchRate), medianBatchMs: batchStats.median },
    batchTwoSwitches: { batches: 2 * Math.floor(BATCHES / 2), size: BATCH_SIZE, callsPerSecond: Math.round(parallelRate) },
    balancesMatchLedger: check.bad === '0',
  };
  if (limits) {
    // Against the plain chain of the same run (BENCH_ONLY=rating,limits).
    const plain = results.rating as typeof figures | undefined;
    results.ratingLimits = figures;
    const ratio = plain ? ` (${((batchRate / plain.batch.callsPerSecond) * 100).toFixed(0)}% of the same without pools)` : '';
    rows.push({
      figure: `rateCalls with three pools per chain, batches of ${BATCH_SIZE}`,
      value: `${Math.round(batchRate)} calls/s`,
      note: `median batch ${batchStats.median.toFixed(0)} ms${ratio}; one at a time ${Math.round(singleRate)} calls/s; balances = ledger: ${check.bad === '0'}`,
    });
    return;
  }
  results.rating = figures;
  rows.push({
    figure: 'rateCall, 4-level chain, one at a time',
    value: `${Math.round(singleRate)} calls/s`,
    note: `median ${singleStats.median.toFixed(1)} ms, p99 ${singleStats.p99.toFixed(1)} ms`,
  });
  rows.push({
    figure: `rateCalls, 4-level chain, batches of ${BATCH_SIZE}`,
    value: `${Math.round(batchRate)} calls/s`,
    note: `median batch ${batchStats.median.toFixed(0)} ms; balances = ledger: ${check.bad === '0'}`,
  });
  rows.push({
    figure: `rateCalls, the same, two switches at once`,
    value: `${Math.round(parallelRate)} calls/s`,
    note: 'each switch rating its own half of the customers',
  });
}

/** The reads' caller: a reseller with 210 descendants (10 sub-resellers with 20 customers each), and both shapes. */
async function readsFixture(app: App, url: string, adminToken: string) {
  const sign = (id: string) => app.services.auth.sign(id);
  const mk = async (token: string, kind: string) =>
    (await gql(url, token, `mutation { createAccount(input: { kind: ${kind}, name: "t" }) { id } }`)).createAccount.id as string;
  const reseller = await mk(adminToken, 'RESELLER');
  for (let i = 0; i < 10; i++) {
    const sub = await mk(sign(reseller), 'RESELLER');
    await Promise.all(Array.from({ length: 20 }, () => mk(sign(sub), 'CUSTOMER')));
  }
  return {
    token: sign(reseller),
    shapes: {
      page: JSON.stringify({ query: PAGE_QUERY }),
      tree: JSON.stringify({ query: TREE_QUERY, variables: { id: reseller } }),
    },
    peerShapes: {
      page: JSON.stringify({ query: PEER_PAGE_QUERY, variables: { root: reseller } }),
      tree: JSON.stringify({ query: PEER_TREE_QUERY, variables: { id: reseller } }),
    },
  };
}

/**
 * Both read shapes over HTTP as that reseller: requests/s, p99 and CPU per request at 16 clients against the
 * one-statement ceiling, the SQL statements per request; then the same through two instances at once.
 */
async function benchSubtreePage(app: App, url: string, adminToken: string) {
  const { token, shapes, peerShapes } = await readsFixture(app, url, adminToken);

  const knex = app.db.orm.em.getConnection().getKnex();
  let statements = 0;
  const count = () => statements++;
  const statementsOf = async (body: string) => {
    const { query, variables } = JSON.parse(body) as { query: string; variables?: object };
    await gql(url, token, query, variables);
    knex.on('query', count);
    statements = 0;
    await gql(url, token, query, variables);
    knex.off('query', count);
    return statements;
  };

  // PostGraphile, for the record, where `npm run bench:peer` installed it (its own process, its own CPU).
  const peerAt = db.url ? peerVersion() : undefined;
  const servers: { close(): Promise<void> }[] = [];
  const started = <T extends { close(): Promise<void> }>(server: T): T => {
    servers.push(server);
    return server;
  };
  try {
    const ceiling = started(await startCeiling(config, db.url!, CONCURRENCY));
    const second = started(await startInstance(config, db.url!));
    const peer = peerAt ? started(await startPeer(db.url!)) : undefined;
    for (const [shape, body] of Object.entries(shapes) as [keyof typeof shapes, string][]) {
      const bytes = await sameResponse(`${url}/graphql`, ceiling.url, token, body);
      if (peer) await sameResponse(`${url}/graphql`, peer.url, token, body, peerShapes[shape]);
      const perRequest = await statementsOf(body);
      const measured: Record<string, Cannon> = {};
      // CPU per request: the bench process serves Trellis and the ceiling (the ceiling's handler is idle while
      // Trellis is measured); the peer's is its own process's.
      const cpu: Record<string, { nodeMs: number; postgresMs?: number }> = {};
      const targets: [name: 'trellis' | 'ceiling' | 'peer', url: string, body: string, pid?: number][] = [
        ['trellis', `${url}/graphql`, body],
        ['ceiling', ceiling.url, body],
      ];
      if (peer) targets.push(['peer', peer.url, peerShapes[shape], peer.pid]);
      for (const [name, target, targetBody, pid] of targets) {
        await cannon(target, token, targetBody, CONCURRENCY, 2); // warm-up
        const run = await cpuPerRequest(() => cannon(target, token, targetBody, CONCURRENCY, READ_SECONDS), pid);
        measured[name] = run.cannon;
        cpu[name] = { nodeMs: run.nodeMs, postgresMs: run.postgresMs };
        if (measured[name].failures) throw new Error(`${shape} via ${name}: ${measured[name].failures} failed requests`);
      }
      // Two instances on this machine's two cores, half the connections each: how reads scale out.
      const both = await Promise.all(
        [`${url}/graphql`, `${second.url}/graphql`].map(async (target) => {
          await cannon(target, token, body, CONCURRENCY / 2, 2);
          return target;
        }),
      ).then((targets) => Promise.all(targets.map((target) => cannon(target, token, body, CONCURRENCY / 2, READ_SECONDS))));
      if (both.some((m) => m.failures)) throw new Error(`${shape} via two instances: failed requests`);
      const twoInstances = {
        requestsPerSecond: both[0].requestsPerSecond + both[1].requestsPerSecond,
        p50Ms: Math.max(both[0].p50Ms, both[1].p50Ms),
        p99Ms: Math.max(both[0].p99Ms, both[1].p99Ms),
      };
      const ratio = measured.trellis.requestsPerSecond / measured.ceiling.requestsPerSecond;
      results[shape === 'page' ? 'subtreePage' : 'subtreeTree'] = {
        shape: JSON.parse(body),
        responseBytes: bytes,
        concurrency: CONCURRENCY,
        seconds: READ_SECONDS,
        statementsPerRequest: perRequest,
        trellis: { ...measured.trellis, cpuMsPerRequest: cpu.trellis },
        ceiling: { ...measured.ceiling, cpuMsPerRequest: cpu.ceiling },
        ratioOfCeiling: Number(ratio.toFixed(2)),
        twoInstances,
        twoInstancesRatioOfCeiling: Number((twoInstances.requestsPerSecond / measured.ceiling.requestsPerSecond).toFixed(2)),
        ...(measured.peer && {
          peer: {
            server: `PostGraphile ${peerAt} (no authentication, no row-level security)`,
            ...measured.peer,
            cpuMsPerRequest: cpu.peer,
            ratioOfCeiling: Number((measured.peer.requestsPerSecond / measured.ceiling.requestsPerSecond).toFixed(2)),
          },
          ratioOfPeer: Number((measured.trellis.requestsPerSecond / measured.peer.requestsPerSecond).toFixed(2)),
        }),
      };
      const label = shape === 'page' ? 'page: accounts(first: 50) of 210' : 'tree: 10 children x 20 children';
      const names = { trellis: 'Trellis', ceiling: 'ceiling (json_agg, node:http)', peer: `PostGraphile ${peerAt}, no auth` };
      const of = (name: string) =>
        `${((measured[name].requestsPerSecond / measured.ceiling.requestsPerSecond) * 100).toFixed(0)}% of the ceiling`;
      for (const [name] of targets) {
        const m = measured[name];
        const c = cpu[name];
        rows.push({
          figure: `${label}, ${names[name]}`,
          value: `${m.requestsPerSecond} req/s`,
          note:
            `p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms; CPU per request: Node ${c.nodeMs} ms` +
            (c.postgresMs !== undefined ? `, PostgreSQL ${c.postgresMs} ms` : '') +
            (name === 'trellis'
              ? `; ${of(name)}${measured.peer ? `, ${((measured.trellis.requestsPerSecond / measured.peer.requestsPerSecond) * 100).toFixed(0)}% of the peer` : ''}; ${perRequest} SQL statements`
              : name === 'peer'
                ? `; ${of(name)}`
                : '; 1 SQL statement'),
        });
      }
      rows.push({
        figure: `${label}, Trellis, two instances`,
        value: `${twoInstances.requestsPerSecond} req/s`,
        note: `p50 ${twoInstances.p50Ms} ms, p99 ${twoInstances.p99Ms} ms (the slower of the two); ${(
          (twoInstances.requestsPerSecond / measured.ceiling.requestsPerSecond) *
          100
        ).toFixed(0)}% of the ceiling`,
      });
    }
  } finally {
    for (const server of servers) await server.close();
  }
}

/**
 * The two read shapes again once the database holds OTHER_ACCOUNTS more accounts, on platforms of their own: a
 * scoped read must find its rows through the indexes whatever else the tables hold (the other sections' database
 * holds a few hundred accounts, where a scan of every platform costs nothing). The accounts are written straight
 * into the table and left there: this section runs last.
 */
async function benchReadsAtScale(app: App, url: string, adminToken: string) {
  const { token, shapes } = await readsFixture(app, url, adminToken);
  const measure = async (body: string) => {
    await cannon(`${url}/graphql`, token, body, CONCURRENCY, 2);
    const m = await cannon(`${url}/graphql`, token, body, CONCURRENCY, READ_SECONDS);
    if (m.failures) throw new Error(`reads at scale: ${m.failures} failed requests`);
    return m;
  };
  const alone = { page: await measure(shapes.page), tree: await measure(shapes.tree) };
  const em = app.db.orm.em.fork();
  await em.execute(`
    insert into accounts
    select (jsonb_populate_record(null::accounts, to_jsonb(a) || jsonb_build_object(
      'id', 'bench_other_' || c.g, 'root_id', 'bench_other_' || c.g, 'path', '/bench_other_' || c.g || '/',
      'email', null, 'seq', m.seq + c.g, 'number', c.number))).*
    from (select * from accounts where kind = 'ADMIN' and parent_id is null limit 1) a,
         (select max(seq) as seq from accounts) m,
         -- Account numbers are random: skip those the other sections drew.
         (select g, number from (select g, (8000000000 + g)::text as number from generate_series(1, 2 * ${OTHER_ACCOUNTS}) g) n
           where not exists (select 1 from accounts x where x.number = n.number) limit ${OTHER_ACCOUNTS}) c`);
  await em.execute('analyze accounts');
  const among = { page: await measure(shapes.page), tree: await measure(shapes.tree) };
  results.readsAtScale = { otherAccounts: OTHER_ACCOUNTS, alone, among };
  for (const shape of ['page', 'tree'] as const) {
    rows.push({
      figure: `${shape}, among ${OTHER_ACCOUNTS.toLocaleString('en')} accounts of other platforms`,
      value: `${among[shape].requestsPerSecond} req/s`,
      note: `p50 ${among[shape].p50Ms} ms, p99 ${among[shape].p99Ms} ms; ${alone[shape].requestsPerSecond} req/s before they were added (${((among[shape].requestsPerSecond / alone[shape].requestsPerSecond) * 100).toFixed(0)}%)`,
    });
  }
}

/** 10,000 due two-level chains (a reseller's clone of the admin's package), renewed by the scheduler's path. */
async function benchRenewals(app: App, url: string, adminToken: string) {
  const sign = (id: string) => app.services.auth.sign(id);
  const r1 = (await gql(url, adminToken, 'mutation { createAccount(input: { kind: RESELLER, name: "renew" }) { id } }'))
    .createAccount.id;
  const c = (await gql(url, sign(r1), 'mutation { createAccount(input: { kind: CUSTOMER, name: "renew" }) { id } }'))
    .createAccount.id;
  const p0 = (
    await gql(
      url,
      adminToken,
      'mutation { createPackage(input: { name: "d", price: "0.01", billingDays: 1, resellerCanResell: true, activationPolicy: ALLOW_IF_INSUFFICIENT }) { id } }',
    )
  ).createPackage.id;
  const p1 = (await gql(url, sign(r1), 'mutation($p: ID!) { optIn(input: { packageId: $p, price: "0.02" }) { id } }', { p: p0 }))
    .optIn.id;
  const startAt = new Date(Date.now() - 1.5 * 86_400_000).toISOString();
  const { assignPackage } = await gql(
    url,
    sign(r1),
    'mutation($c: ID!, $p: ID!, $s: DateTime!) { assignPackage(input: { accountId: $c, packageId: $p, startAt: $s }) { id } }',
    { c, p: p1, s: startAt },
  );
  const em = systemEm(app.db.orm);
  // Copies of that chain, each with its own id, both levels, as if sold one by one.
  await em.execute(
    `insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                        current_period_start, current_period_end, periods_charged, free_seconds_total)
     select 'sub_' || md5(g::text || s.level), s.account_id, s.owner_path, s.package_id, 'sub_' || md5(g::text || '0'), s.level,
            'ACTIVE', s.activated_at, s.current_period_start, s.current_period_end, 1, 0
       from package_subscriptions s, generate_series(2, ?) g where s.chain_id = ?`,
    [RENEWAL_CHAINS, assignPackage.id],
  );
  await em.execute(
    `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee, price,
                                       commission_rate, commission, charged_at)
     select s.id, 1, s.owner_path, s.current_period_start, s.current_period_end, 0, 0, 0, 0, now()
       from package_subscriptions s where not exists (select 1 from subscription_periods p where p.subscription_id = s.id)`,
  );
  await em.execute('analyze package_subscriptions');
  const endTrace = traceStatements(app, 'renewals');
  const t0 = performance.now();
  const report = await app.services.renewals.runAll(systemEm(app.db.orm), new Date());
  const ms = performance.now() - t0;
  endTrace();
  const perSecond = Math.round((report.renewed / ms) * 1000);
  results.renewals = {
    chains: RENEWAL_CHAINS,
    levels: 2,
    renewed: report.renewed,
    ms: Math.round(ms),
    chainsPerSecond: perSecond,
  };
  rows.push({
    figure: `renewals, ${RENEWAL_CHAINS} due two-level chains`,
    value: `${perSecond} chains/s`,
    note: `${report.renewed} renewed in ${Math.round(ms)} ms`,
  });
}

/** Balance events from commit to a graphql-ws subscriber, with many subscribers connected. */
async function benchAlertLatency(app: App, url: string, adminToken: string, SUBSCRIBERS: number, EVENTS: number) {
  const { createClient } = await import('graphql-ws');
  const { default: WebSocket } = await import('ws');
  const c = (await gql(url, adminToken, 'mutation { createAccount(input: { kind: CUSTOMER, name: "watched" }) { id } }'))
    .createAccount.id;
  const latencies: number[] = [];
  const clients = [];
  let received = 0;
  // A subscription is active some time after the client sent it: the measured events start once every
  // subscriber has received one event, so that what a late subscriber never saw does not count as lost.
  const ready = new Set<number>();
  let measuredFrom = Infinity;
  // Subscriptions the server ended before the clients left (an error, or complete): each one's events are lost.
  const ended: string[] = [];
  let disposing = false;
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const client = createClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${adminToken}` },
      retryAttempts: 0,
    });
    clients.push(client);
    await new Promise<void>((resolve) => {
      client.subscribe(
        { query: 'subscription($id: ID) { balanceChanged(accountId: $id) { at } }', variables: { id: c } },
        {
          next: (v) => {
            const at = Date.parse((v.data as any).balanceChanged.at);
            ready.add(i);
            if (at < measuredFrom) return;
            received++;
            latencies.push(Date.now() - at);
          },
          error: (error) => {
            if (!disposing) ended.push(JSON.stringify(error).slice(0, 200));
          },
          complete: () => {
            if (!disposing) ended.push('complete');
          },
        },
      );
      client.subscribe({ query: '{ me { id } }' }, { next: () => undefined, error: () => resolve(), complete: () => resolve() });
    });
  }
  const topUp = () =>
    gql(url, adminToken, 'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1" }) { id } }', { id: c });
  for (const until = Date.now() + 30_000; ready.size < SUBSCRIBERS && Date.now() < until;) {
    await topUp();
    await new Promise((r) => setTimeout(r, 500));
  }
  if (ready.size < SUBSCRIBERS) throw new Error(`${SUBSCRIBERS - ready.size} subscriptions never became active`);
  measuredFrom = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    await topUp();
    await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + 30_000;
  while (received < SUBSCRIBERS * EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  disposing = true;
  await Promise.all(clients.map((cl) => cl.dispose()));
  const stats = summarize(latencies);
  results[`events${SUBSCRIBERS}`] = {
    subscribers: SUBSCRIBERS,
    events: EVENTS,
    expected: SUBSCRIBERS * EVENTS,
    received,
    endedEarly: ended.length,
    p50Ms: stats.median,
    p99Ms: stats.p99,
  };
  rows.push({
    figure: `balance event to ${SUBSCRIBERS} subscribers`,
    value: `p50 ${stats.median} ms`,
    note:
      `p99 ${stats.p99} ms, ${received}/${SUBSCRIBERS * EVENTS} delivered (from the entry's creation, just before commit)` +
      (ended.length ? `; ${ended.length} subscriptions ended early, first: ${ended[0]}` : ''),
  });
}

/**
 * rerateCalls over RERATE_CALLS calls (DOMAIN.md 14): 20 customers under two resellers, each customer holding a
 * package with a VOLUME and a MONEY pool, their calls rated in batches; then the customers' rate changes and the
 * whole subtree is rated again in one request (every call gets a revision), then once more with nothing changed.
 */
async function benchRerate(app: App, url: string, adminToken: string) {
  const sign = (id: string) => app.services.auth.sign(id);
  const make = async (token: string, kind: string) =>
    (await gql(url, token, `mutation { createAccount(input: { kind: ${kind}, name: "rr" }) { id } }`)).createAccount.id as string;
  const r1 = await make(adminToken, 'RESELLER');
  const r2 = await make(sign(r1), 'RESELLER');
  const customers = await Promise.all(Array.from({ length: 20 }, () => make(sign(r2), 'CUSTOMER')));
  const group = async (token: string, name: string, rate: string) =>
    (
      await gql(
        url,
        token,
        'mutation($n: String!, $r: [RateInput!]!) { createRateGroup(input: { name: $n, rates: $r }) { id } }',
        {
          n: name,
          r: [{ prefix: '44', ratePerMinute: rate }],
        },
      )
    ).createRateGroup.id as string;
  const assign = (token: string, id: string, g: string) =>
    gql(url, token, 'mutation($id: ID!, $g: ID!) { updateAccount(id: $id, input: { rateGroupId: $g }) { id } }', { id, g });
  await assign(adminToken, r1, await group(adminToken, 'rerate r1', '0.01'));
  await assign(sign(r1), r2, await group(sign(r1), 'rerate r2', '0.012'));
  const g3 = await group(sign(r2), 'rerate customers', '0.02');
  for (const c of customers) await assign(sign(r2), c, g3);
  const { createPackage } = await gql(
    url,
    adminToken,
    `mutation { createPackage(input: { name: "rerate bundle", price: "0", resellerCanResell: true, limits: [
       { kind: VOLUME, patterns: ["4477"], amount: "20000" }, { kind: MONEY, patterns: ["44"], amount: "20" }] }) { id } }`,
  );
  let pkg = createPackage.id as string;
  for (const r of [r1, r2]) {
    pkg = (
      await gql(url, sign(r), 'mutation($p: ID!) { optIn(input: { packageId: $p, resellerCanResell: true }) { id } }', { p: pkg })
    ).optIn.id;
  }
  for (const c of customers) {
    await gql(url, sign(r2), 'mutation($a: ID!, $p: ID!) { assignPackage(input: { accountId: $a, packageId: $p }) { id } }', {
      a: c,
      p: pkg,
    });
  }
  const from = new Date(Date.now() - 60_000);
  const batch = 'mutation($c: [CallInput!]!) { rateCalls(input: $c) { id } }';
  for (let b = 0; b < RERATE_CALLS / 5000; b++) {
    await gql(url, adminToken, batch, {
      c: Array.from({ length: 5000 }, (_, i) => ({
        accountId: customers[i % customers.length],
        callId: `rr-${b}-${i}`,
        destination: `44${i % 2 ? '77' : '20'}0090${String(i % 10000).padStart(4, '0')}`,
        direction: 'OUTBOUND',
        durationSeconds: 30 + (i % 300),
        startedAt: new Date(from.getTime() + b * 1000 + (i % 1000)).toISOString(),
      })),
    });
  }
  const to = new Date(Date.now() + 60_000);
  await gql(
    url,
    sign(r2),
    'mutation($g: ID!) { upsertRates(rateGroupId: $g, rates: [{ prefix: "44", ratePerMinute: "0.025" }]) { id } }',
    {
      g: g3,
    },
  );
  const rerate =
    'mutation($a: ID!, $f: DateTime!, $t: DateTime!) { rerateCalls(accountId: $a, from: $f, to: $t) { calls changed } }';
  const run = async () => {
    const t0 = performance.now();
    const { rerateCalls } = await gql(url, adminToken, rerate, { a: r1, f: from.toISOString(), t: to.toISOString() });
    return { ms: performance.now() - t0, ...(rerateCalls as { calls: number; changed: number }) };
  };
  const changed = await run();
  const unchanged = await run();
  const [check] = await app.db.orm.em.fork().execute<{ bad: string }[]>(
    `select count(*)::text as bad from accounts a where a.path like ?
        and a.balance <> (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id)`,
    [`%/${r1}/%`],
  );
  results.rerate = {
    calls: changed.calls,
    changed: changed.changed,
    callsPerSecond: Math.round((changed.calls / changed.ms) * 1000),
    seconds: Math.round(changed.ms) / 1000,
    unchangedCallsPerSecond: Math.round((unchanged.calls / unchanged.ms) * 1000),
    balancesMatchLedger: check.bad === '0',
  };
  rows.push({
    figure: `rerateCalls, ${changed.calls} calls of a 3-level subtree with pools`,
    value: `${Math.round((changed.calls / changed.ms) * 1000)} calls/s`,
    note: `${(changed.ms / 1000).toFixed(1)} s, ${changed.changed} changed; again with nothing changed ${Math.round(
      (unchanged.calls / unchanged.ms) * 1000,
    )} calls/s (${unchanged.changed} changed); balances = ledger: ${check.bad === '0'}`,
  });
}

async function benchTopUps(url: string, token: string) {
  const { createAccount } = await gql(url, token, 'mutation { createAccount(input: { kind: CUSTOMER, name: "bench" }) { id } }');
  const accountId = createAccount.id as string;
  const samples: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOPUPS) {
        next++;
        const s = performance.now();
        await gql(url, token, 'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1" }) { balanceAfter } }', {
          id: accountId,
        });
        samples.push(performance.now() - s);
      }
    }),
  );
  const total = performance.now() - t0;
  const stats = summarize(samples);
  const { account } = await gql(url, token, 'query($id: ID!) { account(id: $id) { balance } }', { id: accountId });
  results.topUps = {
    requests: TOPUPS,
    concurrency: CONCURRENCY,
    perSecond: Math.round((TOPUPS / total) * 1000),
    medianMs: stats.median,
    p99Ms: stats.p99,
    finalBalance: account.balance,
  };
  rows.push({
    figure: `topUp over HTTP, one account, ${CONCURRENCY} clients`,
    value: `${Math.round((TOPUPS / total) * 1000)} req/s`,
    note: `median ${stats.median.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms, balance ${account.balance} (expected ${TOPUPS})`,
  });
}

/**
 * What an anonymous client's worst documents cost before they are refused: about 360 KB each, the shapes that
 * once held the event loop for seconds. The client runs in a worker thread, so the main thread's busy time
 * (its event-loop utilization) is the server's own work per request.
 */
const REFUSAL_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const out = [];
  for (let i = 0; i < workerData.n; i++) {
    const s = performance.now();
    const res = await fetch(workerData.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: workerData.body });
    await res.arrayBuffer();
    out.push([res.status, performance.now() - s]);
  }
  parentPort.postMessage(out);
})();`;

async function benchRefusals(url: string) {
  const attacks: Record<string, string> = {
    'repeated directives': `{ me ${'@include(if: true) '.repeat(19_000)}{ id } }`,
    '19,000 fragments': `{ me { id } } ${Array.from({ length: 19_000 }, (_, i) => `fragment F${i} on Account { id }`).join(' ')}`,
    '20,000 unknown fields': `{ me { ${Array.from({ length: 20_000 }, (_, i) => `f${i}`).join(' ')} } }`,
    'one field 140 times, nested': `{ ${'me { parent { id } } '.repeat(140)} }`,
  };
  const figures: Record<string, unknown> = {};
  for (const [name, query] of Object.entries(attacks)) {
    const body = JSON.stringify({ query });
    const n = 200;
    const before = performance.eventLoopUtilization();
    const out = await new Promise<[number, number][]>((resolve, reject) => {
      const worker = new Worker(REFUSAL_CLIENT, { eval: true, workerData: { url: `${url}/graphql`, body, n } });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const busy = performance.eventLoopUtilization(before);
    if (out.some(([status]) => status !== 400)) throw new Error(`${name}: expected 400 for every request`);
    const stats = summarize(out.map(([, ms]) => ms));
    const serverMs = busy.active / n;
    figures[name] = { medianMs: stats.median, maxMs: stats.max, serverMsPerRequest: serverMs, bytes: body.length };
    rows.push({
      figure: `refused: ${name} (${Math.round(body.length / 1024)} KB)`,
      value: `${serverMs.toFixed(2)} ms`,
      note: `server time per request; round trip median ${stats.median.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms`,
    });
  }
  results.refusals = figures;
}

/**
 * One account's ledger of EXPORT_ROWS entries exported as CSV over HTTP: rows/s from request to last byte, time
 * to the first byte, and how far the process's memory grew meanwhile (a buffered export grows with the file).
 */
async function benchExports(app: App, url: string, adminToken: string) {
  const c = (await gql(url, adminToken, 'mutation { createAccount(input: { kind: CUSTOMER, name: "export" }) { id } }'))
    .createAccount.id;
  const em = systemEm(app.db.orm);
  await em.transactional(async (tx) => {
    // Without the ledger's statement trigger, which would raise and notify an event for each of the rows.
    await tx.execute(`set local session_replication_role = replica`);
    await tx.execute(
      `insert into ledger_entries (id, account_id, owner_path, amount, balance_after, kind, description, created_at)
       select 'led_' || md5(g::text), a.id, a.path, -0.0125, -0.0125 * g, case when g % 50 = 0 then 'TOPUP' else 'USAGE' end,
              case when g % 1000 = 0 then '=HYPERLINK("x")' else 'call to 4477009' || g end,
              now() - (? - g) * interval '1 second'
         from accounts a, generate_series(1, ?) g where a.id = ?`,
      [EXPORT_ROWS, EXPORT_ROWS, c],
    );
  });
  // As a ledger in service is: statistics current and hint bits set (the first reader of freshly inserted rows
  // sets them, work that would otherwise be counted as the export's).
  await em.execute('vacuum analyze ledger_entries');
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const endTrace = traceStatements(app, 'exports');
  const t0 = performance.now();
  // node:http rather than fetch: reading 40 MB through fetch's web streams cost this process more than the
  // server's own work, and a real client (curl, a browser) runs elsewhere.
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    httpGet(`${url}/export/ledger.csv?accountId=${c}`, { headers: { authorization: `Bearer ${adminToken}` } }, resolve).on(
      'error',
      reject,
    ),
  );
  let firstByteMs = 0;
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (!firstByteMs) firstByteMs = performance.now() - t0;
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  const ms = performance.now() - t0;
  endTrace();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const exported = lines - 1;
  if (res.statusCode !== 200 || exported !== EXPORT_ROWS)
    throw new Error(`export: status ${res.statusCode}, ${exported} of ${EXPORT_ROWS} rows`);
  const perSecond = Math.round((exported / ms) * 1000);
  const growthMb = Math.round((peak - baseline) / 1024 / 1024);
  results.exports = {
    rows: exported,
    bytes,
    ms: Math.round(ms),
    rowsPerSecond: perSecond,
    firstByteMs: Math.round(firstByteMs),
    rssGrowthMb: growthMb,
  };
  rows.push({
    figure: `ledger.csv, ${EXPORT_ROWS} rows over HTTP`,
    value: `${perSecond} rows/s`,
    note: `${Math.round(ms)} ms, first byte after ${Math.round(firstByteMs)} ms, ${Math.round(bytes / 1024 / 1024)} MB; RSS grew ${growthMb} MB`,
  });
}

const db = await freshDatabase();
const config = loadConfig({ JWT_SECRET: 'bench-secret-bench-secret-bench-secret', LOG_LEVEL: 'warn' } as NodeJS.ProcessEnv, {
  port: 0,
  host: '127.0.0.1',
  databaseUrl: db.url,
  dataDir: 'memory://',
  dbPoolMax: 20,
  // One credential drives every section flat out, as many clients would: the budget's counting still runs, its
  // limit is out of the way.
  requestBudget: 1_000_000_000,
  // The renewal section measures runAll itself; a scheduler tick landing in it renewed half the chains itself.
  renewalIntervalMs: 0,
  // Likewise the invoice section: a tick would claim accounts from under the measured run.
  invoiceIntervalMs: 0,
  // The webhooks section's receiver listens on 127.0.0.1.
  webhookAllowPrivate: true,
  webhookIntervalMs: Number(env.WEBHOOK_INTERVAL_MS ?? 1000),
  ...(env.RENEWAL_CONCURRENCY ? { renewalConcurrency: Number(env.RENEWAL_CONCURRENCY) } : {}),
  // PLANNED_READS=false measures the reads without plans (the second instance takes it from the environment too).
  ...(env.PLANNED_READS ? { plannedReads: env.PLANNED_READS !== 'false' } : {}),
});
const app = await createApp(config, pino({ level: 'warn' }));
try {
  const url = await app.listen();
  const admin = await app.db.orm.em.fork().execute<{ id: string }[]>(`select id from accounts where kind = 'ADMIN' limit 1`);
  const token = app.services.auth.sign(admin[0].id);
  results.engine = app.db.engine;
  results.node = process.version;
  if (runs('lookup')) await benchRateLookup(app, url, token);
  if (runs('rating')) await benchRating(app, url, token);
  if (runs('limits')) await benchRating(app, url, token, true);
  if (runs('rerate')) await benchRerate(app, url, token);
  if (runs('ceiling')) await benchCeiling(db.url, app);
  if (runs('topups')) await benchTopUps(url, token);
  if (runs('page')) await benchSubtreePage(app, url, token);
  if (runs('renewals')) await benchRenewals(app, url, token);
  // Before exports, whose entries reach back days (into the previous month early in a month): invoices are due.
  if (runs('invoices')) {
    const invoices = await benchInvoices(app, (t, q, v) => gql(url, t, q, v), token);
    results.invoices = invoices.figures;
    rows.push(...invoices.rows);
  }
  if (runs('dids')) {
    const endTrace = traceStatements(app, 'dids');
    const dids = await benchDids(app, (t, q, v) => gql(url, t, q, v), token);
    endTrace();
    results.dids = dids.figures;
    rows.push(...dids.rows);
  }
  if (runs('assign')) {
    const endTrace = traceStatements(app, 'assign');
    const assign = await benchAssign(
      (t, q, v) => gql(url, t, q, v),
      token,
      (id) => app.services.auth.sign(id),
    );
    endTrace();
    results.assign = assign.figures;
    rows.push(...assign.rows);
  }
  if (runs('refusals')) await benchRefusals(url);
  if (runs('exports')) await benchExports(app, url, token);
  if (runs('events')) {
    await benchAlertLatency(app, url, token, SUBSCRIBERS, EVENTS);
    await benchAlertLatency(app, url, token, MANY_SUBSCRIBERS, 5);
  }
  // Last: its endpoint is deleted at its end, but no other section should run beside its deliveries.
  if (runs('webhooks')) {
    const endTrace = traceStatements(app, 'webhooks');
    const webhooks = await benchWebhooks(app, (t, q, v) => gql(url, t, q, v), token);
    endTrace();
    results.webhooks = webhooks.figures;
    rows.push(...webhooks.rows);
  }
  // After every other section: it leaves its accounts behind.
  if (runs('scale') && OTHER_ACCOUNTS > 0) await benchReadsAtScale(app, url, token);
  results.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  rows.push({ figure: 'peak RSS', value: `${results.peakRssMb} MB` });
} finally {
  await app.close();
  await db.drop();
}

const width = Math.max(...rows.map((r) => r.figure.length));
console.log(`\nTrellis benchmark (${results.engine}, Node ${results.node})\n`);
for (const r of rows) console.log(`${r.figure.padEnd(width)}  ${r.value.padStart(18)}  ${r.note ?? ''}`);
if (SECTIONS.every(runs)) {
  mkdirSync(new URL('.', import.meta.url).pathname.replace('/dist/bench/', '/bench/'), { recursive: true });
  writeFileSync(
    new URL('../../bench/results.json', import.meta.url),
    `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`,
  );
}
