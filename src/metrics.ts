import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from './db/orm.js';
import type { RenewalReport } from './services/renewal.service.js';
import type { InvoiceReport } from './services/invoice.service.js';

/**
 * Node's own figures (heap, event loop lag, handles) describe the process, not one server: collected once per
 * process into their own registry, which every server in it shows beside its own. Tests run many servers in
 * one process; a deployment runs one per process.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Operation names come from clients: past this many distinct ones, the rest are counted as "other". */
const MAX_OPERATION_NAMES = 200;
const ROUTES = new Set(['/graphql', '/export', '/healthz', '/livez', '/readyz', '/metrics']);

export interface LiveCounts {
  sockets(): number;
  subscriptions(): number;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** One server's metrics. Each instance exposes its own on GET /metrics; Prometheus sums across instances. */
export function createMetrics() {
  const registry = new Registry();
  const operations = new Counter({
    name: 'trellis_graphql_operations_total',
    help: 'GraphQL queries and mutations over HTTP and graphql-ws, by operation name and result code (OK or the first error code)',
    labelNames: ['operation', 'code'] as const,
    registers: [registry],
  });
  const operationSeconds = new Histogram({
    name: 'trellis_graphql_operation_duration_seconds',
    help: 'Time from receiving a GraphQL query or mutation to its committed response (over graphql-ws: from admission)',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const queryPaths = new Counter({
    name: 'trellis_graphql_query_executions_total',
    help: 'HTTP queries by how they ran: planned (one SQL statement building the answer) or resolved (field by field)',
    labelNames: ['path'] as const,
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'trellis_http_request_duration_seconds',
    help: 'HTTP requests by route, method and status, including those refused before GraphQL ran',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const renewalRuns = new Counter({
    name: 'trellis_renewal_runs_total',
    help: 'Runs of the renewal scheduler on this instance, by result (ok or failed)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const renewals = new Counter({
    name: 'trellis_renewals_total',
    help: 'Subscription chains the scheduler moved, by outcome (renewed, released, expired, past_due, activated)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const invoiceRuns = new Counter({
    name: 'trellis_invoice_runs_total',
    help: 'Runs of the invoice scheduler on this instance, by result (ok or failed)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const invoicesIssued = new Counter({
    name: 'trellis_invoices_issued_total',
    help: 'Invoices the scheduler issued on this instance',
    registers: [registry],
  });
  const renewalSeconds = new Histogram({
    name: 'trellis_renewal_run_duration_seconds',
    help: 'Duration of renewal scheduler runs',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  // Invoices do not exist yet: their runs get a counter like renewals' when they do.

  const names = new Set<string>();
  const operationLabel = (name: string | null | undefined): string => {
    if (!name) return 'anonymous';
    if (names.has(name)) return name;
    if (names.size >= MAX_OPERATION_NAMES || !/^[_A-Za-z][_0-9A-Za-z]{0,99}$/.test(name)) return 'other';
    names.add(name);
    return name;
  };

  return {
    registry,
    /** Gauges read when scraped, so nothing has to keep them up to date. */
    watch(db: Database, live: LiveCounts) {
      new Gauge({
        name: 'trellis_websocket_connections',
        help: 'Open WebSocket connections',
        registers: [registry],
        collect() {
          this.set(live.sockets());
        },
      });
      new Gauge({
        name: 'trellis_graphql_subscriptions',
        help: 'Running GraphQL subscriptions',
        registers: [registry],
        collect() {
          this.set(live.subscriptions());
        },
      });
      new Gauge({
        name: 'trellis_db_pool_connections',
        help: 'Database pool connections by state: used, free, pending (requests waiting for one) and max',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          const pool = poolOf(db);
          if (!pool) return;
          this.set({ state: 'used' }, pool.numUsed());
          this.set({ state: 'free' }, pool.numFree());
          this.set({ state: 'pending' }, pool.numPendingAcquires());
          this.set({ state: 'max' }, pool.max);
        },
      });
    },
    operation(name: string | null | undefined, code: string, seconds: number) {
      const operation = operationLabel(name);
      operations.inc({ operation, code });
      operationSeconds.observe({ operation }, seconds);
    },
    queryPath(path: 'planned' | 'resolved') {
      queryPaths.inc({ path });
    },
    http(path: string, method: string, status: number, seconds: number) {
      const route = ROUTES.has(path) ? path : path.startsWith('/export/') ? '/export' : 'other';
      httpSeconds.observe({ route, method, status: String(status) }, seconds);
    },
    renewalRun(report: RenewalReport | undefined, seconds: number) {
      renewalRuns.inc({ result: report ? 'ok' : 'failed' });
      renewalSeconds.observe(seconds);
      if (report) {
        renewals.inc({ outcome: 'renewed' }, report.renewed);
        renewals.inc({ outcome: 'released' }, report.released);
        renewals.inc({ outcome: 'expired' }, report.expired);
        renewals.inc({ outcome: 'past_due' }, report.pastDue);
        renewals.inc({ outcome: 'activated' }, report.activated);
      }
    },
    invoiceRun(report: InvoiceReport | undefined) {
      invoiceRuns.inc({ result: report ? 'ok' : 'failed' });
      if (report) invoicesIssued.inc(report.issued);
    },
    async text(): Promise<string> {
      return `${await registry.metrics()}\n${await processMetrics().metrics()}`;
    },
    contentType: registry.contentType,
  };
}

interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

function poolOf(db: Database): TarnPool | undefined {
  try {
    return (db.orm.em.getConnection().getKnex().client as { pool?: TarnPool }).pool;
  } catch {
    return undefined;
  }
}
