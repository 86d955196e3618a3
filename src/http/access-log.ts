import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Probes come every few seconds from every orchestrator: they would drown the log. */
const QUIET = new Set(['/livez', '/readyz', '/healthz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

/**
 * One line per HTTP request, with the request id. Only method, path (the query string can hold a whole GraphQL
 * document), status, time and client address: never headers (Authorization) nor bodies. Also times every
 * request for metrics, probes included.
 */
export function accessLog(log: Logger, metrics: Metrics) {
  const logger = pinoHttp({
    logger: log,
    genReqId: (req) => (req as Request).requestId,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'ms' },
    autoLogging: { ignore: (req) => QUIET.has(pathOf(req.url)) },
    quietReqLogger: true,
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: () => 'http request',
    customErrorMessage: () => 'http request failed',
    serializers: {
      req: (req: { method: string; url: string; remoteAddress?: string }) => ({
        method: req.method,
        path: pathOf(req.url),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const started = performance.now();
    // Read now: routers mounted on a path rewrite req.url while they handle it.
    const path = pathOf(req.url);
    res.once('finish', () => metrics.http(path, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000));
    logger(req, res, next);
  };
}
