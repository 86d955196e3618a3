import cors from 'cors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';

/**
 * Browsers on other origins (a console, an IDE) may call the API when CORS_ORIGINS allows them. Credentials
 * travel in the Authorization header, never in cookies, so no credentialed CORS is needed. Preflights are
 * answered here, before the body parser and Apollo's CSRF prevention, which would refuse an OPTIONS request.
 */
export function corsMiddleware(config: Pick<Config, 'corsOrigins'>): RequestHandler[] {
  const { corsOrigins } = config;
  const allowed = corsOrigins === '*' ? '*' : new Set(corsOrigins);
  const handler = cors({
    origin: (origin, callback) =>
      callback(null, allowed === '*' ? '*' : origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'POST', 'OPTIONS'],
    // Apollo's CSRF prevention accepts these as proof that a preflight happened.
    allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'content-disposition'],
    maxAge: 600,
  });
  // An origin that is not allowed gets a plain 204 with no CORS headers: the browser refuses it, and nothing
  // else (a 400 from Apollo) suggests the server is broken.
  const endPreflight = (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') {
      res.status(204).setHeader('content-length', '0');
      res.end();
      return;
    }
    next();
  };
  return [handler, endPreflight];
}
