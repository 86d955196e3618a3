import { createHmac } from 'node:crypto';
import { BlockList, isIP } from 'node:net';

/** The event types an endpoint may subscribe to (DOMAIN.md 11). */
export const WEBHOOK_EVENT_TYPES = [
  'BALANCE_CHANGED',
  'ALERT_RAISED',
  'SUBSCRIPTION_ACTIVATED',
  'SUBSCRIPTION_RENEWED',
  'SUBSCRIPTION_PAST_DUE',
  'SUBSCRIPTION_RELEASED',
  'SUBSCRIPTION_EXPIRED',
  'SUBSCRIPTION_TERMINATED',
  'INVOICE_FINALIZED',
] as const;
export type WebhookEventTypeName = (typeof WEBHOOK_EVENT_TYPES)[number];

/** After this many failed attempts a delivery is FAILED and waits for redeliverWebhook. */
export const MAX_ATTEMPTS = 10;

/** What a failed attempt leads to: another attempt after `delayMs`, or FAILED. */
export type RetryDecision = { status: 'PENDING'; delayMs: number } | { status: 'FAILED' };

/**
 * The delay before the next attempt, given the attempts made so far (this one included): base, 2×base,
 * 4×base… so about 1, 2, 4… minutes with the default base, and FAILED once MAX_ATTEMPTS have been made.
 */
export function retryAfter(attempts: number, baseMs: number): RetryDecision {
  if (attempts >= MAX_ATTEMPTS) return { status: 'FAILED' };
  return { status: 'PENDING', delayMs: baseMs * 2 ** Math.max(0, attempts - 1) };
}

export function isDelivered(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/** The request body: the same bytes are signed and sent. */
export function webhookBody(event: { id: string; type: string; createdAt: Date; data: unknown }): string {
  return JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data });
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed with the body, so a receiver
 * that refuses old timestamps refuses a replayed request too.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/**
 * Of deliveries waiting, the ones that may be sent now: for each (endpoint, account) only the oldest pending
 * one (by seq), and only if it is due. The database runs the same rule (src/webhooks/store.ts claimDeliveries);
 * this is its statement in plain values.
 */
export function sendable<D extends { endpointId: string; accountId: string; seq: bigint; dueAt: Date }>(
  pending: readonly D[],
  now: Date,
): D[] {
  const heads = new Map<string, D>();
  for (const d of pending) {
    const key = `${d.endpointId}\u0000${d.accountId}`;
    const head = heads.get(key);
    if (!head || d.seq < head.seq) heads.set(key, d);
  }
  return [...heads.values()].filter((d) => d.dueAt <= now);
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, where cloud metadata services answer
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated): an embedded private address
  ['64:ff9b::', 96], // NAT64: reaches any IPv4 address, private ones included
  ['64:ff9b:1::', 48],
  ['2002::', 16], // 6to4: an embedded IPv4 address
  ['fc00::', 7],
  ['fec0::', 10], // site-local (deprecated)
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/**
 * Whether an address is one a webhook must not reach: loopback, private, carrier-grade NAT, link-local,
 * unspecified, multicast or reserved; IPv4 written as IPv6 (::ffff:a.b.c.d) is judged as IPv4. Anything that
 * is not an address is refused too.
 */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return isForbiddenAddress(mapped[1]);
  const family = isIP(bare);
  if (family === 4) return BLOCKED.check(bare, 'ipv4');
  if (family === 6) return BLOCKED.check(bare, 'ipv6');
  return true;
}

/** A URL an endpoint may have: http or https, at most 2000 characters; the reason when not. */
export function urlProblem(url: string): string | null {
  if (url.length > 2000) return 'url must be at most 2000 characters';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url is not a valid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'url must be http or https';
  if (!parsed.hostname) return 'url must name a host';
  if (parsed.username || parsed.password) return 'url must not carry credentials';
  return null;
}
