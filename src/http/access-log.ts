import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Probes come every few seconds from every orchestrator: they would drown the log. */
const QUIET = new Set(['/livez', '/readyz', '/healthz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

/**
 * One line per HTTP request, with the request id. Only method, path (the query string can hold a whole GraphQL
 * document), status, time and client address: never headers (Authorization) nor bodies. Also times every
 * request for metrics, probes included. Written here rather than with pino-http, which made a child logger for
 * every request, logged or not: a tenth of a planned read's CPU (docs/performance.md).
 */
export function accessLog(log: Logger, metrics: Metrics) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const started = performance.now();
    // Read now: routers mounted on a path rewrite req.url while they handle it.
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    res.once('close', () => {
      const ms = performance.now() - started;
      const finished = res.writableFinished;
      if (finished) metrics.http(path, method, res.statusCode, ms / 1000);
      if (QUIET.has(path)) return;
      // A client that hung up before its answer was sent is not the server's failure.
      const level = !finished ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          requestId: (req as Request).requestId,
          req: { method, path, remoteAddress: req.socket.remoteAddress },
          res: { statusCode: res.statusCode },
          ms: Math.round(ms),
        },
        finished ? 'http request' : 'http request aborted',
      );
    });
    next();
  };
}
