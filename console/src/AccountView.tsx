import { useCallback, useEffect } from 'react';
import { Balance } from './Balance';
import { money, seconds, when } from './format';
import {
  ConsoleAccountDetailDocument,
  ConsoleCallsDocument,
  ConsoleDidsDocument,
  ConsoleLedgerDocument,
  ConsoleOpenCallsDocument,
  type ConsoleAccountFragment,
} from './generated/graphql';
import { useQuery } from './hooks';
import { useBalanceEvents, type BalanceEvent } from './live';
import { Pager, usePaging } from './Pager';

export type AccountTab = 'ledger' | 'calls' | 'open-calls' | 'numbers';

export function AccountView({ id, tab }: { id: string; tab: AccountTab }) {
  const detail = useQuery(ConsoleAccountDetailDocument, { id });
  if (detail.error) return <p className="error">{detail.error}</p>;
  if (detail.loading && !detail.data) return <p className="muted">Loading…</p>;
  const account = detail.data?.account;
  if (!account) return <p className="error">No such account in your scope.</p>;
  const base = `#/accounts/${encodeURIComponent(id)}`;
  return (
    <section>
      <p className="crumbs">
        <a href="#/">Accounts</a>
        {account.parent && (
          <>
            {' '}
            / <a href={`#/accounts/${encodeURIComponent(account.parent.id)}`}>{account.parent.name}</a>
          </>
        )}{' '}
        / {account.name}
      </p>
      <div className="card">
        <div>
          <h2>{account.name}</h2>
          <p className="muted small">
            #{account.number} · {account.kind.toLowerCase()} · {account.billingMode.toLowerCase()} ·{' '}
            {account.status.toLowerCase()}
            {account.email && <> · {account.email}</>}
          </p>
        </div>
        <dl>
          <div>
            <dt>Balance</dt>
            <dd>
              <Balance account={account} />
            </dd>
          </div>
          <div>
            <dt>Available</dt>
            <dd>
              <Balance account={account} field="availableBalance" />
            </dd>
          </div>
          <div>
            <dt>Credit limit</dt>
            <dd className="money">{money(account.creditLimit, account.currency)}</dd>
          </div>
          <div>
            <dt>Low-balance alert</dt>
            <dd className="money">{money(account.lowBalanceThreshold, account.currency)}</dd>
          </div>
        </dl>
      </div>
      <nav className="tabs">
        <a href={`${base}/ledger`} className={tab === 'ledger' ? 'active' : ''}>
          Ledger
        </a>
        <a href={`${base}/calls`} className={tab === 'calls' ? 'active' : ''}>
          Calls
        </a>
        <a href={`${base}/open-calls`} className={tab === 'open-calls' ? 'active' : ''}>
          Open calls
        </a>
        <a href={`${base}/numbers`} className={tab === 'numbers' ? 'active' : ''}>
          Numbers
        </a>
      </nav>
      {tab === 'ledger' ? (
        <Ledger key={id} account={account} />
      ) : tab === 'calls' ? (
        <Calls key={id} account={account} />
      ) : tab === 'open-calls' ? (
        <OpenCalls key={id} account={account} />
      ) : (
        <Numbers key={id} account={account} />
      )}
    </section>
  );
}

function Ledger({ account }: { account: ConsoleAccountFragment }) {
  const paging = usePaging();
  const ledger = useQuery(ConsoleLedgerDocument, { id: account.id, ...paging.args });
  const { reload } = ledger;
  const { atStart } = paging;
  // New entries appear at the top: re-read the first page when one is written; a later page stays put.
  const onEvent = useCallback(
    (event: BalanceEvent) => {
      if (event.account.id === account.id && atStart) reload();
    },
    [account.id, atStart, reload],
  );
  useBalanceEvents(onEvent);
  const page = ledger.data?.account?.ledger;
  if (ledger.error) return <p className="error">{ledger.error}</p>;
  if (!page) return <p className="muted">Loading…</p>;
  return (
    <>
      <table className="list">
        <thead>
          <tr>
            <th>When</th>
            <th>Kind</th>
            <th>Description</th>
            <th className="num">Amount</th>
            <th className="num">Balance after</th>
          </tr>
        </thead>
        <tbody>
          {page.edges.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No entries yet.
              </td>
            </tr>
          )}
          {page.edges.map(({ node }) => (
            <tr key={node.id}>
              <td className="nowrap">{when(node.createdAt)}</td>
              <td>
                <span className="kind">{node.kind.toLowerCase().replace(/_/g, ' ')}</span>
              </td>
              <td>{node.description ?? <span className="muted">—</span>}</td>
              <td className={`num money${node.amount.startsWith('-') ? ' negative' : ''}`}>{money(node.amount)}</td>
              <td className="num money">{money(node.balanceAfter)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager info={page.pageInfo} total={page.totalCount} paging={paging} />
    </>
  );
}

function Calls({ account }: { account: ConsoleAccountFragment }) {
  const paging = usePaging();
  const calls = useQuery(ConsoleCallsDocument, { accountId: account.id, ...paging.args });
  const { reload } = calls;
  const { atStart } = paging;
  const onEvent = useCallback(
    (event: BalanceEvent) => {
      if (event.account.id === account.id && event.kind === 'USAGE' && atStart) reload();
    },
    [account.id, atStart, reload],
  );
  useBalanceEvents(onEvent);
  const page = calls.data?.calls;
  if (calls.error) return <p className="error">{calls.error}</p>;
  if (!page) return <p className="muted">Loading…</p>;
  return (
    <>
      <table className="list">
        <thead>
          <tr>
            <th>Started</th>
            <th>Call id</th>
            <th>Destination</th>
            <th>Direction</th>
            <th className="num">Duration</th>
            <th className="num">Billed</th>
            <th className="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {page.edges.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                No calls yet.
              </td>
            </tr>
          )}
          {page.edges.map(({ node }) => (
            <tr key={node.id}>
              <td className="nowrap">{when(node.startedAt)}</td>
              <td className="mono">{node.callId}</td>
              <td className="mono">{node.destination}</td>
              <td>{node.direction.toLowerCase()}</td>
              <td className="num">{seconds(node.durationSeconds)}</td>
              <td className="num">{seconds(node.billedSeconds)}</td>
              <td className="num money">{money(node.cost, account.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager info={page.pageInfo} total={page.totalCount} paging={paging} />
    </>
  );
}

/**
 * Calls the switch started (startCall) and has not rated or ended yet, oldest first, with what each may last.
 * A rated call ends its lease: the list is read again when the account's usage is posted, and every few seconds
 * for leases ended or expired without a charge.
 */
function OpenCalls({ account }: { account: ConsoleAccountFragment }) {
  const open = useQuery(ConsoleOpenCallsDocument, { id: account.id });
  const { reload } = open;
  const onEvent = useCallback(
    (event: BalanceEvent) => {
      if (event.account.id === account.id && event.kind === 'USAGE') reload();
    },
    [account.id, reload],
  );
  useBalanceEvents(onEvent);
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, [reload]);
  const data = open.data?.account;
  if (open.error) return <p className="error">{open.error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const calls = data.openCalls;
  return (
    <>
      <p className="muted small" data-open-count>
        {calls.length} open
        {data.maxConcurrentCalls !== null && data.maxConcurrentCalls !== undefined
          ? ` of at most ${data.maxConcurrentCalls} at once`
          : ''}
      </p>
      <table className="list">
        <thead>
          <tr>
            <th>Started</th>
            <th>Call id</th>
            <th>Destination</th>
            <th>Direction</th>
            <th className="num">May last</th>
            <th>Lease ends</th>
          </tr>
        </thead>
        <tbody>
          {calls.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                No calls in progress.
              </td>
            </tr>
          )}
          {calls.map((call) => (
            <tr key={call.callId} data-call={call.callId}>
              <td className="nowrap">{when(call.startedAt)}</td>
              <td className="mono">{call.callId}</td>
              <td className="mono">{call.destination}</td>
              <td>{call.direction.toLowerCase()}</td>
              <td className="num">{call.maxDurationSeconds === null ? 'no limit' : seconds(call.maxDurationSeconds)}</td>
              <td className="nowrap">{when(call.expiresAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The phone numbers the account holds, lowest first as the API lists them; a number on hold shows when it is freed. */
function Numbers({ account }: { account: ConsoleAccountFragment }) {
  const paging = usePaging();
  const dids = useQuery(ConsoleDidsDocument, { id: account.id, ...paging.args });
  const page = dids.data?.account?.dids;
  if (dids.error) return <p className="error">{dids.error}</p>;
  if (!page) return <p className="muted">Loading…</p>;
  return (
    <>
      <table className="list">
        <thead>
          <tr>
            <th>Number</th>
            <th>Status</th>
            <th>Tags</th>
            <th>Country</th>
            <th>Held until</th>
          </tr>
        </thead>
        <tbody>
          {page.edges.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No numbers.
              </td>
            </tr>
          )}
          {page.edges.map(({ node }) => (
            <tr key={node.id} data-did={node.number}>
              <td className="mono">{node.number}</td>
              <td>
                <span className={`kind ${node.status.toLowerCase()}`}>{node.status.toLowerCase().replace(/_/g, ' ')}</span>
              </td>
              <td>
                {node.tags.length === 0 ? (
                  <span className="muted">—</span>
                ) : (
                  node.tags.map((tag) => (
                    <span key={tag} className="tag">
                      {tag}
                    </span>
                  ))
                )}
              </td>
              <td>{node.country ?? <span className="muted">—</span>}</td>
              <td className="nowrap">
                {node.status === 'ON_HOLD' && node.holdUntil ? when(node.holdUntil) : <span className="muted">—</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager info={page.pageInfo} total={page.totalCount} paging={paging} newer="Lower" older="Higher" />
    </>
  );
}
