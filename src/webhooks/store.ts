import { executeBound, pgArray, textArray, type Em } from '../db/orm.js';
import { scopePath } from '../entities/scope.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';
import type { WebhookEventTypeName } from './rules.js';

export type DeliveryStatusName = 'PENDING' | 'DELIVERED' | 'FAILED';

/** An endpoint as the API serves it: never its secret, which is shown once, at creation. */
export interface WebhookEndpointRow {
  id: string;
  seq: string;
  ownerId: string;
  ownerPath: string;
  url: string;
  events: WebhookEventTypeName[];
  description: string | null;
  enabled: boolean;
  createdAt: Date;
}

export interface WebhookDeliveryRow {
  id: string;
  seq: string;
  endpointId: string;
  eventId: string;
  accountId: string;
  ownerPath: string;
  type: WebhookEventTypeName;
  status: DeliveryStatusName;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

const endpointColumns = (t: string) =>
  `${t}.id, ${t}.seq::text as seq, ${t}.owner_id, ${t}.owner_path, ${t}.url, ${t}.events, ${t}.description, ${t}.enabled,
   ${t}.created_at`;

const deliveryColumns = (t: string) =>
  `${t}.id, ${t}.seq::text as seq, ${t}.endpoint_id, ${t}.event_id, ${t}.account_id, ${t}.owner_path,
   (select e.type from webhook_events e where e.id = ${t}.event_id) as type, ${t}.status, ${t}.attempts,
   ${t}.last_status_code, ${t}.last_error, ${t}.next_attempt_at, ${t}.delivered_at, ${t}.created_at`;

interface EndpointRow {
  id: string;
  seq: string;
  owner_id: string;
  owner_path: string;
  url: string;
  events: string[] | string;
  description: string | null;
  enabled: boolean;
  created_at: Date | string;
}

interface DeliveryRow {
  id: string;
  seq: string;
  endpoint_id: string;
  event_id: string;
  account_id: string;
  owner_path: string;
  type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | string | null;
  delivered_at: Date | string | null;
  created_at: Date | string;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toEndpoint(r: EndpointRow): WebhookEndpointRow {
  return {
    id: r.id,
    seq: r.seq,
    ownerId: r.owner_id,
    ownerPath: r.owner_path,
    url: r.url,
    events: textArray(r.events) as WebhookEventTypeName[],
    description: r.description,
    enabled: r.enabled,
    createdAt: new Date(r.created_at),
  };
}

function toDelivery(r: DeliveryRow): WebhookDeliveryRow {
  return {
    id: r.id,
    seq: r.seq,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    accountId: r.account_id,
    ownerPath: r.owner_path,
    type: r.type as WebhookEventTypeName,
    status: r.status as DeliveryStatusName,
    attempts: r.attempts,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    nextAttemptAt: date(r.next_attempt_at),
    deliveredAt: date(r.delivered_at),
    createdAt: new Date(r.created_at),
  };
}

export async function insertEndpoint(
  em: Em,
  e: {
    id: string;
    ownerId: string;
    ownerPath: string;
    url: string;
    events: string[];
    description: string | null;
    secret: string;
  },
): Promise<WebhookEndpointRow> {
  const [row] = await executeBound<EndpointRow[]>(
    em,
    `insert into webhook_endpoints as w (id, owner_id, owner_path, url, events, description, secret)
     values (?, ?, ?, ?, ?::text[], ?, ?) returning ${endpointColumns('w')}`,
    [e.id, e.ownerId, e.ownerPath, e.url, pgArray(e.events), e.description, e.secret],
  );
  return toEndpoint(row);
}

/** Endpoints by id in the caller's subtree. */
export async function findEndpoints(em: Em, ids: readonly string[]): Promise<WebhookEndpointRow[]> {
  const rows = await executeBound<EndpointRow[]>(
    em,
    `select ${endpointColumns('w')} from webhook_endpoints w where w.id = any(?::text[]) and starts_with(w.owner_path, ?)`,
    [pgArray([...ids]), scopePath(em)],
  );
  return rows.map(toEndpoint);
}

export async function updateEndpoint(
  em: Em,
  id: string,
  change: { url?: string; events?: string[]; description?: string | null; enabled?: boolean },
): Promise<WebhookEndpointRow | null> {
  const [row] = await executeBound<EndpointRow[]>(
    em,
    `update webhook_endpoints w
        set url = coalesce(?, w.url), events = coalesce(?::text[], w.events),
            description = case when ?::boolean then ? else w.description end, enabled = coalesce(?::boolean, w.enabled)
      where w.id = ? and starts_with(w.owner_path, ?)
      returning ${endpointColumns('w')}`,
    [
      change.url ?? null,
      change.events ? pgArray(change.events) : null,
      change.description !== undefined,
      change.description ?? null,
      change.enabled ?? null,
      id,
      scopePath(em),
    ],
  );
  return row ? toEndpoint(row) : null;
}

/** Deleted with its delivery log: nothing more is sent to it. */
export async function deleteEndpoint(em: Em, id: string): Promise<WebhookEndpointRow | null> {
  const [row] = await executeBound<EndpointRow[]>(
    em,
    `delete from webhook_endpoints w where w.id = ? and starts_with(w.owner_path, ?) returning ${endpointColumns('w')}`,
    [id, scopePath(em)],
  );
  return row ? toEndpoint(row) : null;
}

/** The endpoints an account owns, oldest first. */
export function ownEndpointsPage(em: Em, ownerId: string, args: PageArgs): Promise<Page<WebhookEndpointRow>> {
  return findRowsPage(
    em,
    {
      table: 'webhook_endpoints',
      columns: endpointColumns('webhook_endpoints'),
      pathColumn: 'owner_path',
      where: ['owner_id = ?'],
      values: [ownerId],
    },
    args,
    toEndpoint,
  );
}

/** An endpoint's delivery log, newest first. */
export function deliveriesPage(
  em: Em,
  endpointId: string,
  status: DeliveryStatusName | null,
  args: PageArgs,
): Promise<Page<WebhookDeliveryRow>> {
  return findRowsPage(
    em,
    {
      table: 'webhook_deliveries',
      columns: deliveryColumns('webhook_deliveries'),
      pathColumn: 'owner_path',
      where: ['endpoint_id = ?', ...(status ? ['status = ?'] : [])],
      values: [endpointId, ...(status ? [status] : [])],
      order: 'desc',
    },
    args,
    toDelivery,
  );
}

export async function findDeliveries(em: Em, ids: readonly string[]): Promise<WebhookDeliveryRow[]> {
  const rows = await executeBound<DeliveryRow[]>(
    em,
    `select ${deliveryColumns('d')} from webhook_deliveries d where d.id = any(?::text[]) and starts_with(d.owner_path, ?)`,
    [pgArray([...ids]), scopePath(em)],
  );
  return rows.map(toDelivery);
}

/** Back to the start: PENDING, no attempts, due now. */
export async function resetDelivery(em: Em, id: string): Promise<WebhookDeliveryRow | null> {
  const [row] = await executeBound<DeliveryRow[]>(
    em,
    `update webhook_deliveries d
        set status = 'PENDING', attempts = 0, next_attempt_at = clock_timestamp(), delivered_at = null
      where d.id = ? and starts_with(d.owner_path, ?)
      returning ${deliveryColumns('d')}`,
    [id, scopePath(em)],
  );
  return row ? toDelivery(row) : null;
}

/** A delivery the worker has claimed: what it sends and where. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  accountId: string;
  attempts: number;
  url: string;
  secret: string;
  event: { id: string; type: string; createdAt: Date; data: unknown };
}

interface ClaimedRow {
  id: string;
  endpoint_id: string;
  account_id: string;
  attempts: number;
  url: string;
  secret: string;
  event_id: string;
  type: string;
  data: unknown;
  event_created_at: Date | string;
}

/**
 * Claims up to `limit` deliveries that may be sent now, and leases them: their next attempt moves `leaseMs`
 * ahead and commits with the claim, so a worker that dies before recording the result leaves them to be
 * claimed again once the lease runs out, and no other worker takes them meanwhile. Only the oldest pending
 * delivery of each (endpoint, account) is sendable (events of one account arrive in order); a FAILED one no
 * longer holds the others back.
 */
export async function claimDeliveries(em: Em, options: { limit: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
  const rows = await executeBound<ClaimedRow[]>(
    em,
    `with due as (${dueSql(false, false)})
     update webhook_deliveries d set next_attempt_at = clock_timestamp() + ?::int * interval '1 millisecond'
       from due, webhook_events e, webhook_endpoints w
      where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
     returning ${CLAIMED}`,
    [options.limit, options.leaseMs],
  );
  return rows.map(toClaimed);
}

export interface AttemptOutcome {
  status: DeliveryStatusName;
  statusCode: number | null;
  error: string | null;
  /** For PENDING: when to try again. */
  retryInMs?: number;
}

const CLAIMED = `d.id, d.endpoint_id, d.account_id, d.attempts, w.url, w.secret, e.id as event_id, e.type, e.data,
  e.created_at as event_created_at`;

/**
 * The oldest pending delivery of each (endpoint, account) that is due and not taken, up to `limit`: the SQL of a
 * claim. `exceptId` is a delivery being recorded by the same statement, which its snapshot still sees pending.
 */
function dueSql(pair: boolean, exceptId: boolean): string {
  const except = exceptId ? 'and p.id <> ?' : '';
  return `select d.id from webhook_deliveries d
        where d.status = 'PENDING' and d.next_attempt_at <= clock_timestamp()
          ${pair ? 'and d.endpoint_id = ? and d.account_id = ?' : ''} ${exceptId ? 'and d.id <> ?' : ''}
          and not exists (select 1 from webhook_deliveries p
                           where p.endpoint_id = d.endpoint_id and p.account_id = d.account_id
                             and p.status = 'PENDING' and p.seq < d.seq ${except})
          and exists (select 1 from webhook_endpoints w where w.id = d.endpoint_id and w.enabled)
        order by ${pair ? 'd.seq' : 'd.next_attempt_at, d.seq'}
        limit ?
        for update of d skip locked`;
}

function toClaimed(r: ClaimedRow): ClaimedDelivery {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    accountId: r.account_id,
    attempts: r.attempts,
    url: r.url,
    secret: r.secret,
    event: {
      id: r.event_id,
      type: r.type,
      createdAt: new Date(r.event_created_at),
      data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
    },
  };
}

/**
 * Records one attempt's outcome and, with `claimNext`, claims the next delivery of the same (endpoint, account)
 * in the same statement (one round trip, its own transaction): the next is returned, leased like any claim.
 * The record is conditional on PENDING: a delivery redelivered by hand while this attempt was out is not marked
 * by it.
 */
export async function recordAttempt(
  em: Em,
  delivery: { id: string; endpointId: string; accountId: string },
  outcome: AttemptOutcome,
  next: { claimNext: boolean; leaseMs: number },
): Promise<ClaimedDelivery | undefined> {
  const record = `update webhook_deliveries
        set status = ?, attempts = attempts + 1, last_status_code = ?, last_error = ?,
            delivered_at = case when ? = 'DELIVERED' then clock_timestamp() end,
            next_attempt_at = case when ? = 'PENDING' then clock_timestamp() + ?::bigint * interval '1 millisecond' end
      where id = ? and status = 'PENDING'`;
  const recordValues = [
    outcome.status,
    outcome.statusCode,
    outcome.error === null ? null : outcome.error.slice(0, 1000),
    outcome.status,
    outcome.status,
    Math.round(outcome.retryInMs ?? 0),
    delivery.id,
  ];
  if (!next.claimNext) {
    await executeBound(em, record, recordValues);
    return undefined;
  }
  const [row] = await executeBound<ClaimedRow[]>(
    em,
    `with recorded as (${record} returning 1), due as (${dueSql(true, true)})
     update webhook_deliveries d set next_attempt_at = clock_timestamp() + ?::int * interval '1 millisecond'
       from due, webhook_events e, webhook_endpoints w
      where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
     returning ${CLAIMED}`,
    [...recordValues, delivery.endpointId, delivery.accountId, delivery.id, delivery.id, 1, next.leaseMs],
  );
  return row ? toClaimed(row) : undefined;
}
