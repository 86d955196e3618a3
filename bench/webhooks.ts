import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pgArray, systemEm } from '../src/db/orm.js';
import type { App } from '../src/server.js';

/**
 * Webhook delivery, the worker's path on one instance, to a receiver on 127.0.0.1 that answers 200 at once:
 * - throughput: EVENTS events of ACCOUNTS customers, written in one statement (the outbox's fan-out creates their
 *   deliveries), timed from that commit until the receiver has them all;
 * - delay: LATENCY top-ups through the API, one every 20 ms, each timed from the mutation's answer (its commit)
 *   to the receiver's request. The worker polls every WEBHOOK_INTERVAL_MS, so the delay is mostly that wait.
 * BENCH_WEBHOOK_EVENTS, BENCH_WEBHOOK_ACCOUNTS and BENCH_WEBHOOK_LATENCY size it.
 */
const env = process.env;
const EVENTS = Number(env.BENCH_WEBHOOK_EVENTS ?? 10_000);
const ACCOUNTS = Number(env.BENCH_WEBHOOK_ACCOUNTS ?? 50);
const LATENCY = Number(env.BENCH_WEBHOOK_LATENCY ?? 200);

type Gql = (token: string, query: string, variables?: object) => Promise<any>;

export interface WebhookFigures {
  events: number;
  accounts: number;
  delivered: number;
  ms: number;
  eventsPerSecond: number;
  /** Every account's events arrived in the order they were recorded. */
  inOrder: boolean;
  delay: { samples: number; p50Ms: number; p99Ms: number; intervalMs: number };
}

export async function benchWebhooks(
  app: App,
  gql: Gql,
  adminToken: string,
): Promise<{ figures: WebhookFigures; rows: { figure: string; value: string; note?: string }[] }> {
  const arrivals = new Map<string, { at: number; body: any }>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      arrivals.set(body.id, { at: performance.now(), body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const em = systemEm(app.db.orm);
  try {
    const customers: { id: string; path: string }[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const id = (
        await gql(adminToken, `mutation($n: String!) { createAccount(input: { kind: CUSTOMER, name: $n }) { id } }`, {
          n: `Hooked ${i}`,
        })
      ).createAccount.id as string;
      const [{ path }] = await em.execute<{ path: string }[]>(`select path from accounts where id = ?`, [id]);
      customers.push({ id, path });
    }
    const hook = (
      await gql(
        adminToken,
        `mutation($url: String!) { createWebhookEndpoint(input: { url: $url, events: [BALANCE_CHANGED] }) { endpoint { id } } }`,
        { url },
      )
    ).createWebhookEndpoint.endpoint.id as string;

    // Throughput: a backlog written at once, the events of each account numbered in order.
    const owners = Array.from({ length: EVENTS }, (_, i) => customers[i % ACCOUNTS]);
    const t0 = performance.now();
    await em.execute(
      `insert into webhook_events (id, type, account_id, owner_path, data)
       select 'evt_' || replace(gen_random_uuid()::text, '-', ''), 'BALANCE_CHANGED', x.a, x.p, jsonb_build_object('n', x.n)
         from unnest(?::text[], ?::text[]) with ordinality as x(a, p, n) order by x.n`,
      [pgArray(owners.map((o) => o.id)), pgArray(owners.map((o) => o.path))],
    );
    const deadline = Date.now() + 600_000;
    while (arrivals.size < EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const ms = performance.now() - t0;
    const delivered = arrivals.size;
    const lastSeen = new Map<string, number>();
    let inOrder = true;
    for (const { body } of [...arrivals.values()].sort((a, b) => a.at - b.at)) {
      const n = Number(body.data.n);
      const account = owners[n - 1].id;
      if ((lastSeen.get(account) ?? 0) > n) inOrder = false;
      lastSeen.set(account, n);
    }

    // Delay from commit to delivery.
    const delays: number[] = [];
    const target = customers[0].id;
    for (let i = 0; i < LATENCY; i++) {
      const result = await gql(adminToken, 'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1" }) { id } }', {
        id: target,
      });
      const committed = performance.now();
      const entryId = result.topUp.id as string;
      void (async () => {
        const until = Date.now() + 60_000;
        for (;;) {
          const hit = [...arrivals.values()].find((a) => a.body.data.entryId === entryId);
          if (hit) return delays.push(hit.at - committed);
          if (Date.now() > until) return;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await new Promise((r) => setTimeout(r, 20));
    }
    const waitUntil = Date.now() + 60_000;
    while (delays.length < LATENCY && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
    delays.sort((a, b) => a - b);
    const pct = (p: number) => Math.round(delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? NaN);
    await gql(adminToken, `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }`, { id: hook });

    const intervalMs = app.config.webhookIntervalMs;
    const figures: WebhookFigures = {
      events: EVENTS,
      accounts: ACCOUNTS,
      delivered,
      ms: Math.round(ms),
      eventsPerSecond: Math.round((delivered / ms) * 1000),
      inOrder,
      delay: { samples: delays.length, p50Ms: pct(0.5), p99Ms: pct(0.99), intervalMs },
    };
    return {
      figures,
      rows: [
        {
          figure: `webhooks, ${EVENTS} events of ${ACCOUNTS} accounts`,
          value: `${figures.eventsPerSecond} events/s`,
          note: `${delivered}/${EVENTS} delivered in ${figures.ms} ms, each account's in order: ${inOrder}`,
        },
        {
          figure: 'webhook delay, commit to delivery',
          value: `p50 ${figures.delay.p50Ms} ms`,
          note: `p99 ${figures.delay.p99Ms} ms over ${delays.length} top-ups (worker every ${intervalMs} ms)`,
        },
      ],
    };
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
}
