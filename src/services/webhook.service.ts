import { randomBytes } from 'node:crypto';
import type { Em } from '../db/orm.js';
import { badInput, DomainError, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { requireActor, type Request } from '../request.js';
import { checkTarget, postWebhook, type PostResult } from '../webhooks/http.js';
import {
  isDelivered,
  retryAfter,
  signatureHeader,
  urlProblem,
  webhookBody,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventTypeName,
} from '../webhooks/rules.js';
import {
  claimDeliveries,
  deleteEndpoint,
  deliveriesPage,
  findDeliveries,
  findEndpoints,
  insertEndpoint,
  ownEndpointsPage,
  recordAttempt,
  resetDelivery,
  updateEndpoint,
  type AttemptOutcome,
  type ClaimedDelivery,
  type DeliveryStatusName,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../webhooks/store.js';
import type { Page, PageArgs } from './pagination.js';
import { optionalText } from './validate.js';

export interface WebhookSettings {
  /** Base of the retry delays (WEBHOOK_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: endpoints may resolve to private and loopback addresses. */
  allowPrivate: boolean;
  /** How long one POST may take. */
  timeoutMs?: number;
  /** Deliveries sent at once by one instance (one per endpoint and account). */
  concurrency?: number;
}

export interface CreateWebhookEndpointData {
  url: string;
  events: string[];
  description?: string | null;
}

export interface UpdateWebhookEndpointData {
  url?: string | null;
  events?: string[] | null;
  description?: string | null;
  enabled?: boolean | null;
}

export interface DeliveryReport {
  delivered: number;
  failed: number;
}

const TIMEOUT_MS = 10_000;
/** A claimed delivery is not claimed again for this long: the POST's timeout, and room to record its result. */
const LEASE_MS = TIMEOUT_MS + 20_000;

/**
 * Webhooks (DOMAIN.md 11): endpoints are managed through the API; events are recorded by the writers in their
 * own transactions (src/webhooks/outbox.ts, the ledger trigger); the worker on every instance sends them.
 */
export class WebhookService {
  private readonly timeoutMs: number;
  private readonly concurrency: number;

  constructor(private readonly settings: WebhookSettings) {
    this.timeoutMs = settings.timeoutMs ?? TIMEOUT_MS;
    this.concurrency = settings.concurrency ?? 50;
  }

  async create(ctx: Request, data: CreateWebhookEndpointData): Promise<{ secret: string; endpoint: WebhookEndpointRow }> {
    requireActor(ctx);
    const url = await this.url(data.url);
    const events = this.events(data.events);
    const description = optionalText('description', data.description, 500) ?? null;
    const secret = `whsec_${randomBytes(32).toString('hex')}`;
    const endpoint = await ctx.mutate((em) =>
      insertEndpoint(em, {
        id: newId('WebhookEndpoint'),
        ownerId: ctx.actor.accountId,
        ownerPath: ctx.actor.path,
        url,
        events,
        description,
        secret,
      }),
    );
    return { secret, endpoint };
  }

  async update(ctx: Request, id: string, data: UpdateWebhookEndpointData): Promise<WebhookEndpointRow> {
    requireActor(ctx);
    const url = data.url === undefined || data.url === null ? undefined : await this.url(data.url);
    const events = data.events === undefined || data.events === null ? undefined : this.events(data.events);
    const description = optionalText('description', data.description, 500);
    return ctx.mutate(async (em) => {
      await this.own(ctx, em, id);
      const updated = await updateEndpoint(em, id, {
        url,
        events,
        description,
        enabled: data.enabled ?? undefined,
      });
      if (!updated) throw notFound('Webhook endpoint not found');
      return updated;
    });
  }

  delete(ctx: Request, id: string): Promise<WebhookEndpointRow> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      await this.own(ctx, em, id);
      const deleted = await deleteEndpoint(em, id);
      if (!deleted) throw notFound('Webhook endpoint not found');
      return deleted;
    });
  }

  /** The caller's own endpoints, oldest first. */
  list(ctx: Request, args: PageArgs): Promise<Page<WebhookEndpointRow>> {
    requireActor(ctx);
    return ownEndpointsPage(ctx.em, ctx.actor.accountId, args);
  }

  async find(ctx: Request, id: string): Promise<WebhookEndpointRow | null> {
    requireActor(ctx);
    const [endpoint] = await findEndpoints(ctx.em, [id]);
    return endpoint ?? null;
  }

  async findDelivery(ctx: Request, id: string): Promise<WebhookDeliveryRow | null> {
    requireActor(ctx);
    const [delivery] = await findDeliveries(ctx.em, [id]);
    return delivery ?? null;
  }

  /** An endpoint's delivery log, newest first: for endpoints in the caller's subtree. */
  async deliveries(
    ctx: Request,
    endpointId: string,
    args: PageArgs & { status?: DeliveryStatusName | null },
  ): Promise<Page<WebhookDeliveryRow>> {
    requireActor(ctx);
    if (!(await this.find(ctx, endpointId))) throw notFound('Webhook endpoint not found');
    return deliveriesPage(ctx.em, endpointId, args.status ?? null, args);
  }

  /** The delivery's endpoint: in scope whenever the delivery is (both carry the owner's path). */
  async endpointOf(ctx: Request, delivery: WebhookDeliveryRow): Promise<WebhookEndpointRow> {
    const endpoint = await this.find(ctx, delivery.endpointId);
    if (!endpoint) throw notFound('Webhook endpoint not found');
    return endpoint;
  }

  /** Back to PENDING with no attempts, due now: by the endpoint's owner. */
  redeliver(ctx: Request, deliveryId: string): Promise<WebhookDeliveryRow> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const [delivery] = await findDeliveries(em, [deliveryId]);
      if (!delivery) throw notFound('Webhook delivery not found');
      if (delivery.ownerPath !== ctx.actor.path) throw forbidden("A delivery is redelivered by its endpoint's owner");
      const reset = await resetDelivery(em, deliveryId);
      if (!reset) throw notFound('Webhook delivery not found');
      return reset;
    });
  }

  /**
   * One worker run: claims what is due (at most one delivery per endpoint and account), sends each, records the
   * outcome, and keeps going down each (endpoint, account) queue while its deliveries succeed, until nothing is
   * due or `budgetMs` has passed. No transaction is open while a POST is out.
   */
  async deliverDue(em: Em, budgetMs = 5_000): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, failed: 0 };
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) {
      const claimed = await em.fork().transactional((tx) => claimDeliveries(tx, { limit: this.concurrency, leaseMs: LEASE_MS }));
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((d) => this.drain(em, d, deadline, report)));
    }
    return report;
  }

  private async drain(em: Em, first: ClaimedDelivery, deadline: number, report: DeliveryReport): Promise<void> {
    let delivery: ClaimedDelivery | undefined = first;
    while (delivery) {
      const outcome = this.outcome(delivery, await this.send(delivery));
      if (outcome.status === 'DELIVERED') report.delivered++;
      else report.failed++;
      // The next of the same queue is claimed by the statement that records this one: a stream of one account's
      // events goes out one after another, one round trip each, without waiting for the next run.
      delivery = await recordAttempt(em, delivery, outcome, {
        claimNext: outcome.status === 'DELIVERED' && Date.now() < deadline,
        leaseMs: LEASE_MS,
      });
    }
  }

  private send(delivery: ClaimedDelivery): Promise<PostResult> {
    const body = webhookBody(delivery.event);
    const signature = signatureHeader(delivery.secret, body, Math.floor(Date.now() / 1000));
    return postWebhook(
      delivery.url,
      body,
      {
        'content-type': 'application/json',
        'user-agent': 'Trellis-Webhooks/1',
        'trellis-event-id': delivery.event.id,
        'trellis-signature': signature,
      },
      { timeoutMs: this.timeoutMs, allowPrivate: this.settings.allowPrivate },
    );
  }

  private outcome(delivery: ClaimedDelivery, result: PostResult): AttemptOutcome {
    const statusCode = 'statusCode' in result ? result.statusCode : null;
    if (statusCode !== null && isDelivered(statusCode)) return { status: 'DELIVERED', statusCode, error: null };
    const next = retryAfter(delivery.attempts + 1, this.settings.retryBaseMs);
    return {
      status: next.status,
      statusCode,
      error: 'error' in result ? result.error : `HTTP ${statusCode}`,
      retryInMs: next.status === 'PENDING' ? next.delayMs : undefined,
    };
  }

  private async own(ctx: Request & { actor: { accountId: string } }, em: Em, id: string): Promise<WebhookEndpointRow> {
    const [endpoint] = await findEndpoints(em, [id]);
    if (!endpoint) throw notFound('Webhook endpoint not found');
    if (endpoint.ownerId !== ctx.actor.accountId) throw forbidden('A webhook endpoint is changed by its owner');
    return endpoint;
  }

  private async url(raw: string): Promise<string> {
    const url = raw.trim();
    const problem = urlProblem(url);
    if (problem) throw badInput('url', problem);
    if (!this.settings.allowPrivate) {
      try {
        await checkTarget(url);
      } catch (error) {
        throw badInput('url', `url is refused: ${(error as Error).message}`);
      }
    }
    return url;
  }

  private events(events: string[]): WebhookEventTypeName[] {
    const unique = [...new Set(events)];
    if (unique.length === 0) throw badInput('events', 'events must name at least one event type');
    const known = new Set<string>(WEBHOOK_EVENT_TYPES);
    const unknown = unique.find((e) => !known.has(e));
    if (unknown) throw new DomainError('BAD_USER_INPUT', `Unknown event type ${unknown}`, { field: 'events' });
    return unique as WebhookEventTypeName[];
  }
}
