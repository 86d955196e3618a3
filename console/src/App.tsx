import { useEffect, useState } from 'react';
import { AccountView } from './AccountView';
import { AlertsView } from './AlertsView';
import { session } from './api';
import { Login } from './Login';
import { startLive, useLive, useUnseenAlerts } from './live';
import { TreeView } from './TreeView';

/** Routes live in the hash, so the server only ever serves index.html and a reload keeps the view. */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function App() {
  const [token, setToken] = useState(session.token);
  useEffect(() => {
    const onLogout = () => setToken(null);
    window.addEventListener('trellis:logout', onLogout);
    return () => window.removeEventListener('trellis:logout', onLogout);
  }, []);
  if (!token) return <Login onLogin={(t) => (session.set(t), setToken(t))} />;
  return <Console key={token} />;
}

function Console() {
  const route = useRoute();
  const live = useLive();
  const unseen = useUnseenAlerts();
  useEffect(() => startLive(), []);
  const [section = '', id, tab] = route;
  return (
    <div className="app">
      <header>
        <a className="brand" href="#/">
          Trellis
        </a>
        <nav>
          <a href="#/" className={section === '' || section === 'accounts' ? 'active' : ''}>
            Accounts
          </a>
          <a href="#/alerts" className={section === 'alerts' ? 'active' : ''}>
            Alerts{unseen > 0 && <span className="badge">{unseen}</span>}
          </a>
          <a href="/graphql" target="_blank" rel="noreferrer">
            GraphQL IDE
          </a>
        </nav>
        <span className={`live ${live ? 'on' : 'off'}`} title="Live updates over graphql-ws">
          {live ? 'live' : 'offline'}
        </span>
        <button className="link" onClick={() => session.clear()}>
          Log out
        </button>
      </header>
      <main>
        {section === 'accounts' && id ? (
          <AccountView id={id} tab={tab === 'calls' || tab === 'open-calls' || tab === 'numbers' ? tab : 'ledger'} />
        ) : section === 'alerts' ? (
          <AlertsView />
        ) : (
          <TreeView />
        )}
      </main>
    </div>
  );
}
