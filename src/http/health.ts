import { timingSafeEqual } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { systemEm, type Database } from '../db/orm.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export const REQUEST_ROLE = 'trellis_app';

export interface RoleCheck {
  ok: boolean;
  /** What is wrong, and the statement that fixes it when a grant is missing. */
  problem?: string;
  grant?: string;
}

/**
 * Every request runs as the request role (see beginScopedTransaction): a connecting user that may not switch
 * to it reaches the database, yet fails every request. The migration grants it to whoever runs it; a
 * deployment where another user ran the migrations needs the grant by hand.
 */
export async function checkRequestRole(db: Database): Promise<RoleCheck> {
  const em = systemEm(db.orm);
  const [row] = await em.execute<{ who: string; ident: string; exists: boolean; member: boolean }[]>(
    `select current_user as who, quote_ident(current_user) as ident,
            exists (select 1 from pg_roles where rolname = ?) as exists,
            exists (select 1 from pg_roles where rolname = ?) and pg_has_role(current_user, ?, 'MEMBER') as member`,
    [REQUEST_ROLE, REQUEST_ROLE, REQUEST_ROLE],
  );
  if (!row.exists) return { ok: false, problem: `the role ${REQUEST_ROLE} does not exist: the migrations have not run` };
  const grant = `GRANT ${REQUEST_ROLE} TO ${row.ident};`;
  if (!row.member) return { ok: false, problem: `the database user ${row.who} is not a member of ${REQUEST_ROLE}`, grant };
  try {
    // Membership is not enough on every setup (a role may be granted without the right to SET it): try it.
    await em.fork().transactional((tx) => tx.execute(`select set_config('role', '${REQUEST_ROLE}', true)`));
  } catch (error) {
    return {
      ok: false,
      problem: `the database user ${row.who} cannot switch to ${REQUEST_ROLE}: ${(error as Error).message}`,
      grant,
    };
  }
  return { ok: true };
}

type Check = 'ok' | string;

/**
 * /livez: the process answers. /readyz: this instance can serve (database, request role, event listener) and
 * is not draining. /healthz keeps its documented meaning: the database answers.
 */
export function healthRouter(deps: {
  db: Database;
  log: Logger;
  metrics: Metrics;
  metricsToken?: string;
  draining: () => boolean;
}): Router {
  const { db, log, metrics, metricsToken } = deps;
  const router = Router();
  let lastProblem: string | undefined;

  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, Check> = { database: 'ok', role: 'ok', events: 'ok' };
    try {
      await systemEm(db.orm).execute('select 1');
      const role = await checkRequestRole(db);
      if (!role.ok) checks.role = role.grant ? `${role.problem}; run: ${role.grant}` : role.problem!;
    } catch (error) {
      checks.database = `unreachable: ${(error as Error).message}`;
      checks.role = 'unknown';
    }
    if (!db.listening()) checks.events = 'the LISTEN connection is down; reconnecting';
    const draining = deps.draining();
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok');
    const problem = failed.map(([k, v]) => `${k}: ${v}`).join('; ') || undefined;
    // Logged when it changes, not at every probe.
    if (problem !== lastProblem) {
      if (problem) log.error({ checks }, `not ready: ${problem}`);
      else if (lastProblem) log.info('ready again');
      lastProblem = problem;
    }
    const status = draining ? 'draining' : failed.length ? 'unavailable' : 'ready';
    res.status(status === 'ready' ? 200 : 503).json({ status, checks });
  });

  router.get('/metrics', async (req: Request, res: Response) => {
    if (metricsToken && !bearerMatches(req.headers.authorization, metricsToken)) {
      res.status(401).set('www-authenticate', 'Bearer').json({ error: 'METRICS_TOKEN required' });
      return;
    }
    res.set('content-type', metrics.contentType).send(await metrics.text());
  });
  return router;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
