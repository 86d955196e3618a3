import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A real graphql-ws client. Resolves with the close code if the server closes the socket during init. */
export function connect(
  httpUrl: string,
  authorization?: unknown,
): { client: Client; closed: Promise<{ code: number; reason: string }>; acked: Promise<void> } {
  let onClosed!: (v: { code: number; reason: string }) => void;
  let onAcked!: () => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
  const acked = new Promise<void>((r) => (onAcked = r));
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: authorization === undefined ? undefined : { authorization },
    onNonLazyError: () => undefined,
    on: {
      connected: () => onAcked(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return { client, closed, acked };
}

export function query<T = any>(
  client: Client,
  q: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: T; errors?: any[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: T; errors?: any[] } = {};
    client.subscribe<T>(
      { query: q, variables },
      {
        next: (value) => (result = value as { data?: T; errors?: any[] }),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });
}

/** A live subscription collecting what it receives. */
export async function listen(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const { client, acked } = connect(url, `Bearer ${token}`);
  await acked;
  const received: any[] = [];
  const errors: any[] = [];
  let ready!: () => void;
  const subscribed = new Promise<void>((r) => (ready = r));
  client.subscribe(
    { query, variables },
    {
      next: (value) => received.push(value.data ?? value),
      error: (e) => {
        errors.push(e);
        ready();
      },
      complete: () => undefined,
    },
  );
  // graphql-ws gives no "subscribed" acknowledgement: a round trip on the same socket orders it after.
  await new Promise<void>((resolve) =>
    client.subscribe({ query: '{ me { id } }' }, { next: () => undefined, error: () => resolve(), complete: () => resolve() }),
  );
  ready();
  await subscribed;
  return { client, received, errors };
}

export async function until<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
