import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { Direction } from '../entities/index.js';
import { likePrefix, scopePath } from '../entities/scope.js';
import { Decimal } from '../money.js';
import { findRowsPage, type Page, type PageArgs } from '../services/pagination.js';

/** A rated call as the API shows it: what CallRecordType and its resolvers read. */
export interface CallRecordView {
  readonly id: string;
  readonly seq?: string;
  readonly callId: string;
  readonly accountId: string;
  readonly destination: string;
  readonly direction: Direction;
  readonly durationSeconds: number;
  readonly billedSeconds: number;
  readonly startedAt: Date;
  readonly cost: Decimal;
  readonly revision?: number;
  /** An earlier rating's charges as they were (CallRecord.revisions); absent: the call's own, loaded. */
  readonly charges?: CallChargeView[];
}

/** What one level was charged for a call. */
export interface CallChargeView {
  readonly callId: string;
  readonly level: number;
  readonly accountId: string;
  readonly amount: Decimal;
  readonly billedSeconds: number;
  readonly freeSeconds: number;
  readonly subscriptionId: string | null;
  /** What a MONEY pool paid of the charge, besides `amount`. */
  readonly bundleAmount: Decimal;
}

interface CallRow {
  id: string;
  seq: string;
  call_id: string;
  account_id: string;
  destination: string;
  direction: Direction;
  duration_seconds: number;
  billed_seconds: number;
  started_at: Date | string;
  cost: string;
  revision: number;
}

interface ChargeRow {
  call_id: string;
  level: number;
  account_id: string;
  amount: string;
  billed_seconds: number;
  free_seconds: number;
  subscription_id: string | null;
  money_amount: string;
}

/** One account's calls, newest first, as plain rows: a call history page builds no entity per call. */
export function callsPage(em: Em, accountId: string, args: PageArgs): Promise<Page<CallRecordView>> {
  return findRowsPage(
    em,
    {
      table: 'calls',
      columns: `id, seq::text as seq, call_id, account_id, destination, direction, duration_seconds, billed_seconds,
        started_at, cost::text as cost, revision`,
      pathColumn: 'owner_path',
      where: ['account_id = ?'],
      values: [accountId],
      order: 'desc',
    },
    args,
    (r: CallRow): CallRecordView => ({
      id: r.id,
      seq: r.seq,
      callId: r.call_id,
      accountId: r.account_id,
      destination: r.destination,
      direction: r.direction,
      durationSeconds: r.duration_seconds,
      billedSeconds: r.billed_seconds,
      startedAt: new Date(r.started_at),
      cost: new Decimal(r.cost),
      revision: r.revision,
    }),
  );
}

/** The charges of many calls at once, in the caller's scope, each call's in level order. */
export async function chargesOf(em: Em, callIds: readonly string[]): Promise<Map<string, CallChargeView[]>> {
  const rows = await executeBound<ChargeRow[]>(
    em,
    `select call_id, level, account_id, amount::text as amount, billed_seconds, free_seconds, subscription_id,
            money_amount::text as money_amount
       from call_charges where call_id = any(?::text[]) and owner_path like ? order by call_id, level`,
    [pgArray(callIds), likePrefix(scopePath(em))],
  );
  const byCall = new Map<string, CallChargeView[]>();
  for (const r of rows) {
    const charge: CallChargeView = {
      callId: r.call_id,
      level: r.level,
      accountId: r.account_id,
      amount: new Decimal(r.amount),
      billedSeconds: r.billed_seconds,
      freeSeconds: r.free_seconds,
      subscriptionId: r.subscription_id,
      bundleAmount: new Decimal(r.money_amount),
    };
    const charges = byCall.get(r.call_id);
    if (charges) charges.push(charge);
    else byCall.set(r.call_id, [charge]);
  }
  return byCall;
}
