import type { App } from '../src/server.js';

/**
 * Phone numbers (DOMAIN.md 12), through the API on one instance:
 * - addDids: RUNS calls of NUMBERS numbers each, every one a new range of the same inventory (so it grows as it
 *   would), timed from request to answer;
 * - claims: CLAIMS claimDid calls without a number (the lowest qualifying AVAILABLE one), CONCURRENCY clients at
 *   once, spread over customers' subscriptions as a portal's users would be; right after the numbers were loaded
 *   (no statistics yet), then again once they are analyzed;
 * - inbound rating: batches of BATCH_SIZE INBOUND calls through rateCalls, to the numbers just claimed, once named
 *   by the number dialled (rated on its holder) and once by accountId, alternately.
 * BENCH_DIDS, BENCH_DID_RUNS, BENCH_DID_CLAIMS, BENCH_DID_BATCHES, BENCH_BATCH_SIZE and BENCH_CONCURRENCY size it.
 */
const env = process.env;
const NUMBERS = Number(env.BENCH_DIDS ?? 10_000);
const RUNS = Number(env.BENCH_DID_RUNS ?? 5);
const CLAIMS = Number(env.BENCH_DID_CLAIMS ?? 500);
const BATCHES = Number(env.BENCH_DID_BATCHES ?? 5);
const BATCH_SIZE = Number(env.BENCH_BATCH_SIZE ?? 1000);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 16);
/** Claims per customer in each of the two rounds: they go to CLAIMS / PER_CUSTOMER customers. */
const PER_CUSTOMER = 10;

type Gql = (token: string, query: string, variables?: object) => Promise<any>;

export interface DidFigures {
  addDids: { numbers: number; runs: number; medianMs: number; minMs: number; maxMs: number; numbersPerSecond: number };
  claims: {
    claims: number;
    concurrency: number;
    perSecond: number;
    medianMs: number;
    p99Ms: number;
    /** The same right after the numbers were loaded, before they were analyzed. */
    fresh: { perSecond: number; medianMs: number; p99Ms: number };
    distinct: number;
  };
  inbound: {
    batches: number;
    size: number;
    byDid: { callsPerSecond: number; medianBatchMs: number };
    byAccount: { callsPerSecond: number; medianBatchMs: number };
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.99 * xs.length))];

export async function benchDids(
  app: App,
  gql: Gql,
  adminToken: string,
): Promise<{ figures: DidFigures; rows: { figure: string; value: string; note?: string }[] }> {
  // addDids: a fresh range each time, all tagged for the package below.
  const addMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const numbers = Array.from({ length: NUMBERS }, (_, i) => String(33_100_000_000 + run * 1_000_000 + i));
    const t0 = performance.now();
    const { addDids } = await gql(adminToken, 'mutation($input: AddDidsInput!) { addDids(input: $input) { id } }', {
      input: { numbers, country: 'FR', tags: ['bench'] },
    });
    addMs.push(performance.now() - t0);
    if (addDids.length !== NUMBERS) throw new Error(`addDids: ${addDids.length} of ${NUMBERS} added`);
  }

  // Customers with a subscription each, holding up to PER_CUSTOMER numbers, and an INBOUND rate for the calls.
  const { createRateGroup } = await gql(
    adminToken,
    'mutation { createRateGroup(input: { name: "inbound", rates: [{ prefix: "33", ratePerMinute: "0.01", direction: INBOUND }] }) { id } }',
  );
  const { createPackage } = await gql(
    adminToken,
    `mutation($q: Int!) { createPackage(input: { name: "Numbers", price: "1", activationPolicy: ALLOW_IF_INSUFFICIENT,
       didQuantity: $q, allowedDidTags: ["bench"] }) { id } }`,
    { q: 2 * PER_CUSTOMER },
  );
  const customers = await Promise.all(
    Array.from({ length: Math.ceil(CLAIMS / PER_CUSTOMER) }, async (_, i) => {
      const id = (
        await gql(
          adminToken,
          'mutation($n: String!, $g: ID!) { createAccount(input: { kind: CUSTOMER, name: $n, rateGroupId: $g }) { id } }',
          { n: `Numbers ${i}`, g: createRateGroup.id },
        )
      ).createAccount.id as string;
      await gql(adminToken, 'mutation($id: ID!) { topUp(input: { accountId: $id, amount: "1000" }) { id } }', { id });
      const { assignPackage } = await gql(
        adminToken,
        'mutation($a: ID!, $p: ID!) { assignPackage(input: { accountId: $a, packageId: $p }) { id } }',
        { a: id, p: createPackage.id },
      );
      return { id, token: app.services.auth.sign(id), subscription: assignPackage.id as string };
    }),
  );

  // Claims: claim i is customer i's (mod), so that clients at once mostly claim for different subscriptions and
  // meet only over the lowest AVAILABLE numbers.
  const claimed: { number: string; accountId: string }[] = [];
  const claimRound = async () => {
    const samples: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CLAIMS) {
          const c = customers[next++ % customers.length];
          const s = performance.now();
          const { claimDid } = await gql(c.token, 'mutation($s: ID!) { claimDid(subscriptionId: $s) { number } }', {
            s: c.subscription,
          });
          samples.push(performance.now() - s);
          claimed.push({ number: claimDid.number, accountId: c.id });
        }
      }),
    );
    return { perSecond: Math.round((CLAIMS / (performance.now() - t0)) * 1000), samples };
  };
  // Right after the numbers were loaded, before autovacuum has analyzed them (as an operator loading numbers and
  // customers claiming at once would see it), then with the statistics current.
  const fresh = await claimRound();
  await app.db.orm.em.fork().execute('analyze dids');
  const current = await claimRound();
  const distinct = new Set(claimed.map((c) => c.number)).size;

  // Inbound calls to the claimed numbers, by the number dialled and by account, batch about.
  let n = 0;
  const call = (i: number, byAccount: boolean) => {
    const target = claimed[i % claimed.length];
    return {
      ...(byAccount ? { accountId: target.accountId } : {}),
      callId: `did-bench-${++n}`,
      destination: target.number,
      direction: 'INBOUND',
      durationSeconds: 30 + (i % 300),
      startedAt: new Date().toISOString(),
    };
  };
  const batch = 'mutation($c: [CallInput!]!) { rateCalls(input: $c) { id } }';
  await gql(adminToken, batch, { c: Array.from({ length: 20 }, (_, i) => call(i, false)) }); // warm-up
  const byDid: number[] = [];
  const byAccount: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    for (const account of [false, true]) {
      const calls = Array.from({ length: BATCH_SIZE }, (_, i) => call(b * BATCH_SIZE + i, account));
      const s = performance.now();
      await gql(adminToken, batch, { c: calls });
      (account ? byAccount : byDid).push(performance.now() - s);
    }
  }
  const rate = (samples: number[]) => Math.round((BATCH_SIZE * samples.length * 1000) / samples.reduce((a, b) => a + b, 0));

  const figures: DidFigures = {
    addDids: {
      numbers: NUMBERS,
      runs: RUNS,
      medianMs: Math.round(median(addMs)),
      minMs: Math.round(Math.min(...addMs)),
      maxMs: Math.round(Math.max(...addMs)),
      numbersPerSecond: Math.round((NUMBERS / median(addMs)) * 1000),
    },
    claims: {
      claims: CLAIMS,
      concurrency: CONCURRENCY,
      perSecond: current.perSecond,
      medianMs: Number(median(current.samples).toFixed(1)),
      p99Ms: Number(p99(current.samples).toFixed(1)),
      fresh: {
        perSecond: fresh.perSecond,
        medianMs: Number(median(fresh.samples).toFixed(1)),
        p99Ms: Number(p99(fresh.samples).toFixed(1)),
      },
      distinct,
    },
    inbound: {
      batches: BATCHES,
      size: BATCH_SIZE,
      byDid: { callsPerSecond: rate(byDid), medianBatchMs: Math.round(median(byDid)) },
      byAccount: { callsPerSecond: rate(byAccount), medianBatchMs: Math.round(median(byAccount)) },
    },
  };
  return {
    figures,
    rows: [
      {
        figure: `addDids, ${NUMBERS} numbers in one call`,
        value: `${figures.addDids.medianMs} ms`,
        note: `median of ${RUNS} (${figures.addDids.minMs}-${figures.addDids.maxMs} ms), ${figures.addDids.numbersPerSecond} numbers/s; inventory grows to ${NUMBERS * RUNS}`,
      },
      {
        figure: `claimDid without a number, ${CONCURRENCY} clients`,
        value: `${figures.claims.perSecond} claims/s`,
        note: `median ${figures.claims.medianMs} ms, p99 ${figures.claims.p99Ms} ms; ${distinct}/${2 * CLAIMS} distinct numbers`,
      },
      {
        figure: 'the same right after loading, before analyze',
        value: `${figures.claims.fresh.perSecond} claims/s`,
        note: `median ${figures.claims.fresh.medianMs} ms, p99 ${figures.claims.fresh.p99Ms} ms`,
      },
      {
        figure: `rateCalls, ${BATCH_SIZE} INBOUND calls by the number dialled`,
        value: `${figures.inbound.byDid.callsPerSecond} calls/s`,
        note: `median batch ${figures.inbound.byDid.medianBatchMs} ms, ${BATCHES} batches, holders looked up per batch`,
      },
      {
        figure: `rateCalls, the same calls by accountId`,
        value: `${figures.inbound.byAccount.callsPerSecond} calls/s`,
        note: `median batch ${figures.inbound.byAccount.medianBatchMs} ms`,
      },
    ],
  };
}
