/**
 * assignToChildren (DOMAIN.md 13, "apply a package to existing customers"): a reseller with CUSTOMERS customers
 * (credit, so every chain can be paid) applies a package to all of them in one call, RUNS times, each with a new
 * package (the reseller's clone of a new original of the root), so every run assigns every customer. Each chain
 * has two levels (the customer, and the reseller charged by the root) with a setup fee, a price and a tax.
 * BENCH_ASSIGN_CUSTOMERS and BENCH_ASSIGN_RUNS size it.
 */
const env = process.env;
const CUSTOMERS = Number(env.BENCH_ASSIGN_CUSTOMERS ?? 1000);
const RUNS = Number(env.BENCH_ASSIGN_RUNS ?? 5);

type Gql = (token: string, query: string, variables?: object) => Promise<any>;

export interface AssignFigures {
  customers: number;
  runs: number;
  medianMs: number;
  chainsPerSecond: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchAssign(
  gql: Gql,
  adminToken: string,
  tokenOf: (accountId: string) => string,
): Promise<{ figures: AssignFigures; rows: { figure: string; value: string; note?: string }[] }> {
  const reseller = (
    await gql(
      adminToken,
      `mutation { createAccount(input: { kind: RESELLER, name: "Assigning reseller", billingMode: POSTPAID, creditLimit: "1000000" }) { id } }`,
    )
  ).createAccount.id as string;
  const resellerToken = tokenOf(reseller);
  const { createTaxRate } = await gql(resellerToken, `mutation { createTaxRate(input: { name: "VAT", percent: "20" }) { id } }`);
  for (let i = 0; i < CUSTOMERS; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, CUSTOMERS - i) }, (_, j) =>
        gql(
          resellerToken,
          `mutation ($n: String!, $t: [ID!]) { createAccount(input: { kind: CUSTOMER, name: $n, billingMode: POSTPAID, creditLimit: "1000", taxRateIds: $t }) { id } }`,
          { n: `Assigned ${i + j}`, t: [createTaxRate.id] },
        ),
      ),
    );
  }
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { createPackage } = await gql(
      adminToken,
      `mutation ($n: String!) { createPackage(input: { name: $n, price: "2", setupFee: "1", resellerCanResell: true }) { id } }`,
      { n: `Bulk ${run}` },
    );
    const { optIn } = await gql(
      resellerToken,
      `mutation ($p: ID!) { optIn(input: { packageId: $p, price: "3", setupFee: "1" }) { id } }`,
      { p: createPackage.id },
    );
    const started = performance.now();
    const { assignToChildren } = await gql(
      resellerToken,
      `mutation ($p: ID!) { assignToChildren(packageId: $p) { assigned pending skipped } }`,
      { p: optIn.id },
    );
    times.push(performance.now() - started);
    if (assignToChildren.assigned !== CUSTOMERS) throw new Error(`assigned ${assignToChildren.assigned} of ${CUSTOMERS}`);
  }
  const medianMs = median(times);
  const figures = {
    customers: CUSTOMERS,
    runs: RUNS,
    medianMs: Math.round(medianMs),
    chainsPerSecond: Math.round((CUSTOMERS * 1000) / medianMs),
  };
  return {
    figures,
    rows: [
      {
        figure: `assignToChildren, ${CUSTOMERS} customers in one call (median of ${RUNS})`,
        value: `${figures.medianMs} ms`,
        note: `${figures.chainsPerSecond} chains/s, two levels each, one transaction`,
      },
    ],
  };
}
