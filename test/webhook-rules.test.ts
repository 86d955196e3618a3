// Pure webhook rules (src/webhooks/rules.ts), no database.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  isDelivered,
  isForbiddenAddress,
  MAX_ATTEMPTS,
  retryAfter,
  sendable,
  signatureHeader,
  urlProblem,
  webhookBody,
} from '../src/webhooks/rules.js';

describe('retryAfter: base × 2^(attempts-1), FAILED at 10', () => {
  it.each([
    [1, 60_000, { status: 'PENDING', delayMs: 60_000 }],
    [2, 60_000, { status: 'PENDING', delayMs: 120_000 }],
    [3, 60_000, { status: 'PENDING', delayMs: 240_000 }],
    [9, 60_000, { status: 'PENDING', delayMs: 15_360_000 }],
    [10, 60_000, { status: 'FAILED' }],
    [11, 60_000, { status: 'FAILED' }],
    [1, 100, { status: 'PENDING', delayMs: 100 }],
    [4, 100, { status: 'PENDING', delayMs: 800 }],
  ] as const)('after %i attempts with base %i', (attempts, base, expected) => {
    expect(retryAfter(attempts, base)).toEqual(expected);
  });

  it('makes exactly MAX_ATTEMPTS attempts', () => {
    expect(MAX_ATTEMPTS).toBe(10);
    let attempts = 0;
    while (retryAfter(++attempts, 1).status === 'PENDING');
    expect(attempts).toBe(10);
  });
});

describe('isDelivered: any 2xx', () => {
  it.each([
    [200, true],
    [201, true],
    [204, true],
    [299, true],
    [199, false],
    [300, false],
    [301, false],
    [404, false],
    [500, false],
    [0, false],
  ])('%i', (status, expected) => expect(isDelivered(status)).toBe(expected));
});

describe('signature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const body = webhookBody({
      id: 'evt_1',
      type: 'BALANCE_CHANGED',
      createdAt: new Date('2026-12-01T10:00:00Z'),
      data: { a: '1' },
    });
    expect(body).toBe('{"id":"evt_1","type":"BALANCE_CHANGED","createdAt":"2026-12-01T10:00:00.000Z","data":{"a":"1"}}');
    const header = signatureHeader('whsec_x', body, 1796000000);
    const hex = createHmac('sha256', 'whsec_x').update(`1796000000.${body}`).digest('hex');
    expect(header).toBe(`t=1796000000,v1=${hex}`);
    // Another secret, another body or another time: another signature.
    expect(signatureHeader('whsec_y', body, 1796000000)).not.toBe(header);
    expect(signatureHeader('whsec_x', `${body} `, 1796000000)).not.toBe(header);
    expect(signatureHeader('whsec_x', body, 1796000001)).not.toBe(header);
  });
});

describe('sendable: the oldest pending per (endpoint, account), if due', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  const d = (id: string, endpointId: string, accountId: string, seq: number, dueInMs: number) => ({
    id,
    endpointId,
    accountId,
    seq: BigInt(seq),
    dueAt: new Date(now.getTime() + dueInMs),
  });
  it.each([
    ['one queue: only its head', [d('a', 'e1', 'x', 1, 0), d('b', 'e1', 'x', 2, 0)], ['a']],
    ['the head waits for a retry: nothing, though later ones are due', [d('a', 'e1', 'x', 1, 500), d('b', 'e1', 'x', 2, 0)], []],
    ['two accounts: a head each', [d('a', 'e1', 'x', 1, 0), d('b', 'e1', 'y', 2, 0), d('c', 'e1', 'x', 3, 0)], ['a', 'b']],
    ['two endpoints, one account: a head each', [d('a', 'e1', 'x', 5, 0), d('b', 'e2', 'x', 6, 0)], ['a', 'b']],
    ['order is by seq, not by listing', [d('b', 'e1', 'x', 9, 0), d('a', 'e1', 'x', 3, 0)], ['a']],
    ['nothing pending', [], []],
  ] as const)('%s', (_, pending, expected) => {
    expect(sendable(pending, now).map((x) => x.id)).toEqual(expected);
  });
});

describe('isForbiddenAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['10.0.0.1', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['100.128.0.1', false],
    ['169.254.169.254', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['255.255.255.255', true],
    ['8.8.8.8', false],
    ['93.184.215.14', false],
    ['::1', true],
    ['::', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fe80::1', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['[::1]', true],
    ['2606:4700:4700::1111', false],
    ['::ffff:7f00:1', true], // ::ffff:127.0.0.1 as the URL parser writes it
    ['64:ff9b::a00:1', true], // NAT64 to 10.0.0.1
    ['2002:a00:1::1', true], // 6to4 of 10.0.0.1
    ['::a00:1', true], // IPv4-compatible 10.0.0.1
    ['fec0::1', true],
    ['192.0.0.8', true],
    ['198.18.0.1', true],
    ['not-an-address', true],
  ])('%s → %s', (address, expected) => expect(isForbiddenAddress(address)).toBe(expected));
});

describe('urlProblem', () => {
  it.each([
    ['https://example.com/hook', null],
    ['http://example.com:8080/hook?x=1', null],
    ['ftp://example.com/', 'url must be http or https'],
    ['javascript:alert(1)', 'url must be http or https'],
    ['not a url', 'url is not a valid URL'],
    ['https://user:pw@example.com/', 'url must not carry credentials'],
    [`https://example.com/${'a'.repeat(1980)}`, null],
    [`https://example.com/${'a'.repeat(1981)}`, 'url must be at most 2000 characters'],
  ])('%s', (url, expected) => expect(urlProblem(url)).toBe(expected));
});
