import { useCallback, useEffect, useState } from 'react';
import { request } from './api';
import type { TypedDocumentString } from './generated/graphql';

export interface Loaded<R> {
  data?: R;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/** Runs a query when its variables change (compared as JSON) and on reload(). */
export function useQuery<R, V>(doc: TypedDocumentString<R, V>, variables: V): Loaded<R> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data?: R; error?: string; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    request(doc, JSON.parse(key) as V).then(
      (data) => current && setState({ data, loading: false }),
      (e: Error) => current && setState({ error: e.message, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [doc, key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}
