import { useState } from 'react';
import { Balance } from './Balance';
import { ConsoleChildrenDocument, ConsoleMeDocument, type ConsoleAccountFragment } from './generated/graphql';
import { useQuery } from './hooks';
import { request } from './api';

export function TreeView() {
  const me = useQuery(ConsoleMeDocument, {});
  if (me.error) return <p className="error">{me.error}</p>;
  if (!me.data) return <p className="muted">Loading…</p>;
  return (
    <section>
      <h2>Accounts</h2>
      <table className="tree">
        <thead>
          <tr>
            <th>Account</th>
            <th>Kind</th>
            <th>Status</th>
            <th className="num">Balance</th>
            <th className="num">Available</th>
          </tr>
        </thead>
        <tbody>
          <Node account={me.data.me} depth={0} open />
        </tbody>
      </table>
    </section>
  );
}

function Node({
  account,
  depth,
  open: initiallyOpen = false,
}: {
  account: ConsoleAccountFragment;
  depth: number;
  open?: boolean;
}) {
  const [open, setOpen] = useState(initiallyOpen);
  const canHaveChildren = account.kind !== 'CUSTOMER';
  return (
    <>
      <tr className={account.status !== 'ACTIVE' ? 'inactive' : ''}>
        <td style={{ paddingLeft: `${0.75 + depth * 1.5}rem` }}>
          {canHaveChildren ? (
            <button
              className="toggle"
              aria-label={open ? 'Collapse' : 'Expand'}
              aria-expanded={open}
              onClick={() => setOpen(!open)}
            >
              {open ? '▾' : '▸'}
            </button>
          ) : (
            <span className="toggle" />
          )}
          <a href={`#/accounts/${encodeURIComponent(account.id)}`}>{account.name}</a>
          <span className="muted small"> #{account.number}</span>
        </td>
        <td>
          <span className={`kind ${account.kind.toLowerCase()}`}>{account.kind.toLowerCase()}</span>
        </td>
        <td className="muted">{account.status.toLowerCase()}</td>
        <td className="num">
          <Balance account={account} />
        </td>
        <td className="num">
          <Balance account={account} field="availableBalance" />
        </td>
      </tr>
      {open && canHaveChildren && <Children parent={account} depth={depth + 1} />}
    </>
  );
}

function Children({ parent, depth }: { parent: ConsoleAccountFragment; depth: number }) {
  const first = useQuery(ConsoleChildrenDocument, { id: parent.id });
  const [more, setMore] = useState<ConsoleAccountFragment[]>([]);
  const [cursor, setCursor] = useState<string | null>();
  const children = first.data?.account?.children;
  if (first.error)
    return (
      <tr>
        <td colSpan={5} className="error">
          {first.error}
        </td>
      </tr>
    );
  if (!children)
    return (
      <tr>
        <td colSpan={5} className="muted" style={{ paddingLeft: `${2.25 + depth * 1.5}rem` }}>
          Loading…
        </td>
      </tr>
    );
  const nextCursor = cursor === undefined ? (children.pageInfo.hasNextPage ? children.pageInfo.endCursor : null) : cursor;
  const rows = [...children.edges.map((e) => e.node), ...more];

  async function loadMore() {
    const page = await request(ConsoleChildrenDocument, { id: parent.id, after: nextCursor });
    const list = page.account?.children;
    if (!list) return;
    setMore((m) => [...m, ...list.edges.map((e) => e.node)]);
    setCursor(list.pageInfo.hasNextPage ? list.pageInfo.endCursor : null);
  }

  return (
    <>
      {rows.length === 0 && (
        <tr>
          <td colSpan={5} className="muted small" style={{ paddingLeft: `${2.25 + depth * 1.5}rem` }}>
            No accounts under {parent.name}
          </td>
        </tr>
      )}
      {rows.map((child) => (
        <Node key={child.id} account={child} depth={depth} />
      ))}
      {nextCursor && (
        <tr>
          <td colSpan={5} style={{ paddingLeft: `${2.25 + depth * 1.5}rem` }}>
            <button className="link" onClick={loadMore}>
              Show more ({children.totalCount - rows.length} left)
            </button>
          </td>
        </tr>
      )}
    </>
  );
}
