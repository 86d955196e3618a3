import { useState } from 'react';
import type { ConsolePageInfoFragment } from './generated/graphql';

export const PAGE_SIZE = 20;

export interface PageArgs {
  first?: number;
  after?: string;
  last?: number;
  before?: string;
}

/** Keyset paging both ways: `after` the last row for the next page, `before` the first for the previous one. */
export function usePaging() {
  const [args, setArgs] = useState<PageArgs>({ first: PAGE_SIZE });
  return {
    args,
    atStart: args.after === undefined && args.before === undefined,
    reset: () => setArgs({ first: PAGE_SIZE }),
    next: (info: ConsolePageInfoFragment) => info.endCursor && setArgs({ first: PAGE_SIZE, after: info.endCursor }),
    previous: (info: ConsolePageInfoFragment) => info.startCursor && setArgs({ last: PAGE_SIZE, before: info.startCursor }),
  };
}

export function Pager({
  info,
  total,
  paging,
  newer = 'Newer',
  older = 'Older',
}: {
  info: ConsolePageInfoFragment;
  total: number;
  paging: ReturnType<typeof usePaging>;
  newer?: string;
  older?: string;
}) {
  return (
    <div className="pager">
      <button disabled={!info.hasPreviousPage} onClick={() => paging.previous(info)}>
        ← {newer}
      </button>
      <span className="muted small">{total} in all</span>
      <button disabled={!info.hasNextPage} onClick={() => paging.next(info)}>
        {older} →
      </button>
    </div>
  );
}
