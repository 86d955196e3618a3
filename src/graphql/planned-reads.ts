import { randomUUID } from 'node:crypto';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  BREAK,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { Sql } from 'sql-template-tag';
import { ACCOUNT_ROOTS } from '../accounts/planned.js';
import type { Context } from '../context.js';
import { executeBound } from '../db/orm.js';
import { likePrefix } from '../entities/scope.js';
import { planQuery, Unplannable, type PlanCaller, type PlannedQuery, type RootPlan } from './planner.js';

/** The Query fields with a plan; a document reading any other runs on the executor. */
const ROOTS: Record<string, RootPlan> = { ...ACCOUNT_ROOTS };

/** `me` alone is the caller's row, read with the credential (Context.authenticate). */
const HELD = new Set(['me']);

/**
 * Answers a query by one statement when it has a plan (src/graphql/planner.ts), in the request's scoped
 * transaction like any resolver, sent with its COMMIT (prepared, see commitWith) where the engine allows, and
 * with the credential and its BEGIN too when the credential is still to be read (Context.answerOnce).
 * Undefined when it has no plan, or when the answer holds an error only the resolvers can word (a root that
 * may find nothing came back null), for the executor to run it.
 */
export function plannedReads(schema: GraphQLSchema, cacheSize = 1000) {
  // Documents without a plan whatever their variables, so as not to walk them again.
  const unplannable = new LRUCache<string, true>({ max: cacheSize });
  // Plans by document and variables, made for a stand-in caller (CALLER): a frontend sends the same few
  // documents over and over, and planning one took as much of a request's time as sending it.
  const plans = new LRUCache<string, PlannedQuery>({ max: cacheSize });
  return async (request: GatewayGraphQLRequestContext, key: string): Promise<ExecutionResult | undefined> => {
    const ctx = request.context as unknown as Context;
    const operation = request.operation;
    if (!ctx.actor || !operation || operation.operation !== 'query' || unplannable.get(key)) return undefined;
    const variables = request.request.variables ?? {};
    const planKey = `${key}\n${JSON.stringify(variables)}`;
    const caller = { accountId: ctx.actor.accountId, subtree: likePrefix(ctx.actor.path), scope: likePrefix(ctx.scopePath!) };
    let planned = plans.get(planKey);
    if (!planned) {
      try {
        planned = planQuery(schema, request.document, operation, variables, CALLER, ROOTS, HELD);
      } catch (error) {
        // Anything else planning meets (a directive's variable that cannot be coerced, say) is the executor's to
        // report, in its own words and place.
        if (error instanceof Unplannable && error.structural && !hasDirectives(request.document)) unplannable.set(key, true);
        return undefined;
      }
      assertCallerAsValues(planned.statement);
      // Variables a document does not declare are ignored, and need not be small: such keys are not kept.
      if (planKey.length <= MAX_PLAN_KEY) plans.set(planKey, planned);
    }
    const statement = forCaller(planned.statement, caller);
    let rows: Record<string, unknown>[];
    if (ctx.credentialUnread && !planned.required.length) rows = await ctx.answerOnce(statement);
    else {
      if (!ctx.transactionReady) await ctx.ensureTransaction();
      // A root that may find nothing is checked before the transaction ends: the executor then answers in it.
      rows =
        ctx.canCommitWith && !planned.required.length
          ? await ctx.commitWith(statement)
          : await executeBound<Record<string, unknown>[]>(ctx.em, statement.sql, statement.values);
    }
    const text = rows[0].data as string;
    if (planned.required.length) {
      const data = JSON.parse(text) as Record<string, unknown>;
      if (planned.required.some((k) => data[k] === null)) return undefined;
    }
    return { data: { [PLANNED_JSON]: text } };
  };
}

/**
 * The caller a plan is made for, whatever the request's: values no request can guess (a random part, made as the
 * process starts), replaced by the request's own in the statement's values (forCaller).
 */
const STAND_IN = `\0caller.${randomUUID()}.`;
const CALLER: PlanCaller = { accountId: `${STAND_IN}accountId`, subtree: `${STAND_IN}subtree`, scope: `${STAND_IN}scope` };

/** At most 1,000 plans (the cache's size) of keys up to this long: 16 MB of keys. */
const MAX_PLAN_KEY = 16_384;

/** A plan may use its caller only as values of its statement: anything else would be the stand-in's for every caller. */
function assertCallerAsValues(statement: Sql): void {
  const misused =
    statement.strings.some((part) => part.includes(STAND_IN)) ||
    statement.values.some((v) => typeof v === 'string' && v.includes(STAND_IN) && !Object.values(CALLER).includes(v));
  if (misused) throw new Error("a plan used its caller's values other than as values of its statement");
}

/** A plan made for CALLER, with the request's caller's values in their places. */
export function forCaller(statement: Sql, caller: PlanCaller): Sql {
  return new Sql(
    statement.strings,
    statement.values.map((value) =>
      typeof value === 'string' && value.startsWith(STAND_IN) ? caller[value.slice(STAND_IN.length) as keyof PlanCaller] : value,
    ),
  );
}

/** @skip and @include decide which fields a document selects, so whether it has a plan can depend on its variables. */
function hasDirectives(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Directive() {
      found = true;
      return BREAK;
    },
  });
  return found;
}

/** Where a planned answer's `data` keeps the JSON text PostgreSQL wrote, sent as it is (stringifyResult). */
const PLANNED_JSON = Symbol('planned JSON');

/**
 * Apollo's result serializer (its default, but for a planned answer): the JSON PostgreSQL wrote is sent as it
 * is, not parsed into objects only to be written out again.
 */
export function stringifyResult(value: FormattedExecutionResult): string {
  const planned = (value.data as { [PLANNED_JSON]?: string } | null | undefined)?.[PLANNED_JSON];
  if (planned === undefined) return `${JSON.stringify(value)}\n`;
  if (value.errors) return `${JSON.stringify({ ...value, data: JSON.parse(planned) })}\n`;
  const extensions = value.extensions ? `,"extensions":${JSON.stringify(value.extensions)}` : '';
  return `{"data":${planned}${extensions}}\n`;
}
