import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './generated/graphql';

const TOKEN_KEY = 'trellis.token';

export const session = {
  get token(): string | null {
    return localStorage.getItem(TOKEN_KEY);
  },
  set(token: string) {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    closeSocket();
    window.dispatchEvent(new Event('trellis:logout'));
  },
};

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** One GraphQL request over HTTP, typed by its generated document. */
export async function request<R, V>(doc: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  const token = session.token;
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: doc.toString(), variables }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    data?: R;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  const error = body.errors?.[0];
  if (error) {
    // A token that expired or was ended (password change, suspension) sends the user back to the login form.
    if (error.extensions?.code === 'UNAUTHENTICATED' && token) session.clear();
    throw new ApiError(error.message, error.extensions?.code);
  }
  if (!res.ok || !body.data) throw new ApiError(`HTTP ${res.status}`);
  return body.data;
}

let socket: Client | undefined;
const statusListeners = new Set<(live: boolean) => void>();

function notify(live: boolean) {
  for (const listener of statusListeners) listener(live);
}

function client(): Client {
  socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: () => ({ authorization: `Bearer ${session.token}` }),
    retryAttempts: Infinity,
    // 4403 is the server refusing the credential: retrying with the same token cannot help.
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
    on: {
      connected: () => notify(true),
      closed: (event) => {
        notify(false);
        if (event instanceof CloseEvent && event.code === 4403) session.clear();
      },
    },
  });
  return socket;
}

function closeSocket() {
  socket?.dispose();
  socket = undefined;
  notify(false);
}

/** Runs a subscription until the returned function is called; events arrive typed by the document. */
export function subscribe<R, V>(doc: TypedDocumentString<R, V>, onData: (data: R) => void, variables?: V): () => void {
  return client().subscribe<R>(
    { query: doc.toString(), variables: variables as Record<string, unknown> | undefined },
    {
      next: (result) => result.data && onData(result.data),
      error: () => undefined,
      complete: () => undefined,
    },
  );
}

export function onLiveChange(listener: (live: boolean) => void): () => void {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}
