import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import type { ComponentProps } from 'react';
import { createRoot } from 'react-dom/client';

const TOKEN_KEY = 'trellis.token';

type Params = { query: string; variables?: Record<string, unknown> | null; operationName?: string | null };

/** The editor's headers, less an Authorization left empty: the server refuses an empty credential outright. */
function headersOf(opts?: { headers?: Record<string, unknown> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(opts?.headers ?? {})
      .filter(([, v]) => String(v ?? '').trim() !== '')
      .map(([k, v]) => [k, String(v)]),
  );
}

function authorization(headers: Record<string, string>): string | undefined {
  return Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
}

/**
 * Queries and mutations go over HTTP with the headers editor's headers; subscriptions over graphql-ws, where the
 * server reads the credential from connection_init, so the editor's Authorization header is passed there.
 */
function fetcher(params: Params, opts?: { headers?: Record<string, unknown> }) {
  const isSubscription = /^\s*subscription\b/m.test(params.query) && !/^\s*(query|mutation)\b/m.test(params.query);
  if (isSubscription) {
    const client = createClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
      connectionParams: { authorization: authorization(headersOf(opts)) },
      lazy: true,
      retryAttempts: 0,
    });
    const events = client.iterate(params);
    return (async function* () {
      try {
        yield* events;
      } finally {
        await client.dispose();
      }
    })();
  }
  return fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...headersOf(opts),
    },
    body: JSON.stringify(params),
  }).then((res) => res.json());
}

const token = localStorage.getItem(TOKEN_KEY);
const defaultQuery = `# Log in, then put "Bearer <token>" in the Authorization header below to run queries as that account.
mutation Login {
  login(email: "admin@example.com", password: "admin") {
    token
    account { id name kind }
  }
}

query Me {
  me { id name kind balance availableBalance }
}
`;
const initialQuery = new URLSearchParams(location.search).get('query') ?? undefined;

createRoot(document.getElementById('ide')!).render(
  <GraphiQL
    // GraphiQL types results as graphql-js objects; over the wire they are their formatted (JSON) form.
    fetcher={fetcher as unknown as ComponentProps<typeof GraphiQL>['fetcher']}
    defaultQuery={defaultQuery}
    initialQuery={initialQuery}
    // Logged in to the console in this browser: the IDE starts with the same credential.
    initialHeaders={JSON.stringify({ Authorization: token ? `Bearer ${token}` : '' }, null, 2)}
    defaultEditorToolsVisibility="headers"
  />,
);
