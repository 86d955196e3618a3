import { money, when } from './format';
import { ConsoleAlertsDocument, type ConsoleAlertFragment } from './generated/graphql';
import { useQuery } from './hooks';
import { useEffect } from 'react';
import { markAlertsSeen, useNewAlerts } from './live';
import { Pager, usePaging } from './Pager';

export function AlertsView() {
  const paging = usePaging();
  const stored = useQuery(ConsoleAlertsDocument, paging.args);
  const arrived = useNewAlerts();
  const page = stored.data?.alerts;
  useEffect(() => markAlertsSeen(), [arrived.length]);
  // Alerts pushed since the console opened are highlighted; those raised after the page was read go on top of it.
  const known = new Set(page?.edges.map((e) => e.node.id));
  const fresh = paging.atStart ? arrived.filter((a) => !known.has(a.id)) : [];
  const arrivedIds = new Set(arrived.map((a) => a.id));
  if (stored.error) return <p className="error">{stored.error}</p>;
  if (!page) return <p className="muted">Loading…</p>;
  return (
    <section>
      <h2>Alerts</h2>
      <p className="muted small">
        Raised when an account's available balance falls below its low-balance threshold or its credit runs out; new ones appear
        here as they are raised.
      </p>
      <table className="list">
        <thead>
          <tr>
            <th>When</th>
            <th>Account</th>
            <th>Alert</th>
            <th className="num">Available</th>
            <th className="num">Threshold</th>
          </tr>
        </thead>
        <tbody>
          {fresh.length + page.edges.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No alerts.
              </td>
            </tr>
          )}
          {fresh.map((alert) => (
            <Row key={alert.id} alert={alert} fresh />
          ))}
          {page.edges.map(({ node }) => (
            <Row key={node.id} alert={node} fresh={arrivedIds.has(node.id)} />
          ))}
        </tbody>
      </table>
      <Pager info={page.pageInfo} total={page.totalCount + fresh.length} paging={paging} />
    </section>
  );
}

function Row({ alert, fresh = false }: { alert: ConsoleAlertFragment; fresh?: boolean }) {
  return (
    <tr className={fresh ? 'fresh' : ''}>
      <td className="nowrap">{when(alert.at)}</td>
      <td>
        <a href={`#/accounts/${encodeURIComponent(alert.account.id)}`}>{alert.account.name}</a>{' '}
        <span className="muted small">#{alert.account.number}</span>
      </td>
      <td>
        <span className={`alert ${alert.kind.toLowerCase()}`}>
          {alert.kind === 'LOW_BALANCE' ? 'low balance' : 'credit exhausted'}
        </span>
      </td>
      <td className="num money">{money(alert.availableBalance, alert.account.currency)}</td>
      <td className="num money">{money(alert.threshold, alert.account.currency)}</td>
    </tr>
  );
}
