import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';

/**
 * The built console lives in dist/console under the package root, whether this module runs compiled
 * (dist/src/http) or from source under vitest (src/http): walk up to the package.json to find it.
 */
export function builtConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'console');
}

/** GET / leads to the console, which is served as static files built by `npm run build`. */
export function consoleRouter(dir = builtConsoleDir()): Router {
  const router = express.Router();
  router.get('/', (_req, res) => res.redirect(302, '/console/'));
  router.use(
    '/console',
    // Hashed assets never change under their name; the pages themselves must be re-read after an upgrade.
    express.static(dir, {
      index: 'index.html',
      setHeaders: (res, path) =>
        res.setHeader('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
    }),
  );
  router.use('/console', (_req, res) => {
    res
      .status(404)
      .type('text/plain')
      .send(existsSync(join(dir, 'index.html')) ? 'Not found' : 'The console is not built: run npm run build');
  });
  return router;
}

/**
 * The IDE answers browsers only: a GET whose Accept prefers HTML. Everything else (GraphQL over HTTP GET and POST,
 * clients sending * / *) falls through to the API, so the IDE never shadows a query.
 */
export function ideHandler(dir = builtConsoleDir()) {
  let page: string | undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    if (
      req.method !== 'GET' ||
      req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) !== 'text/html'
    ) {
      next();
      return;
    }
    try {
      page ??= readFileSync(join(dir, 'ide', 'index.html'), 'utf8');
    } catch {
      res.status(503).type('text/plain').send('The IDE is not built: run npm run build');
      return;
    }
    res.type('html').send(page);
  };
}
