import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isForbiddenAddress } from './rules.js';

/**
 * Refused by the SSRF guard. The message does not name the address: an account registering URLs must not learn
 * what internal names resolve to.
 */
export class ForbiddenTargetError extends Error {
  constructor(
    host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to a loopback, private, link-local or reserved address`);
    this.name = 'ForbiddenTargetError';
  }
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** Every address the host resolves to; throws ForbiddenTargetError if any of them is forbidden. */
export async function checkTarget(url: string): Promise<void> {
  const host = hostOf(new URL(url));
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(host, { all: true }, (error, found) => (error ? reject(error) : resolve(found))),
      );
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  if (bad) throw new ForbiddenTargetError(host, bad.address);
}

/**
 * The connection's own lookup, checked: the addresses the socket connects to are the ones judged, so a name
 * that resolves to a public address for the check and a private one for the connection gains nothing.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, found) => {
    if (error) return callback(error, '', 0);
    const bad = found.find((a) => isForbiddenAddress(a.address));
    if (bad) return callback(new ForbiddenTargetError(hostname, bad.address), '', 0);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
    callback(null, found[0].address, found[0].family);
  });
};

export type PostResult = { statusCode: number } | { error: string };

/**
 * POSTs `body`; the answer's status, or why there is none (timeout, refused target, network). The response body
 * is read and dropped: a receiver's page is of no use, and an unread response would hold the socket.
 */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostResult> {
  let target: URL;
  try {
    target = new URL(url);
    if (!options.allowPrivate) await checkTarget(url);
  } catch (error) {
    return { error: (error as Error).message };
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-length': Buffer.byteLength(body).toString() },
    timeout: options.timeoutMs,
    ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
  };
  return new Promise<PostResult>((resolve) => {
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const finish = (result: PostResult) => {
      clearTimeout(deadline);
      resolve(result);
    };
    const req = request(target, requestOptions, (res) => {
      res.resume();
      res.on('end', () => finish({ statusCode: res.statusCode ?? 0 }));
      res.on('error', (error) => finish({ error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error) => finish({ error: error.message }));
    req.end(body);
  });
}
