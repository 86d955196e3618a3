import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A real graphql-ws client. Resolves with the close code if the server closes the socket during init. */
export function connect(httpUrl: string, authorization?: unknown): { client: Client; closed: Promise<{ code: number; reason: string }>; acked: Promise<void> } {
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

export function query<T = any>(client: Client, q: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: any[] }> {
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
