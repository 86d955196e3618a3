import { executeBound, pgArray, type Em } from '../db/orm.js';
import { Decimal } from '../money.js';

/** A level's period of a minimum-spend package that has ended and is not settled yet, locked for settling. */
export interface DueCommitment {
  subscriptionId: string;
  periodNumber: number;
  accountId: string;
  packageId: string;
  /** The commitment as listed when the period began, and whether it includes taxes. */
  commitment: Decimal;
  inclusive: boolean;
  /** The level's usage charges for the calls of the chain's buyer started in the period. */
  usage: Decimal;
  /** The chain ended inside the period (terminated or released early): it owes nothing for it. */
  endedEarly: boolean;
}

/**
 * Up to `limit` ended, unsettled minimum-spend periods, locked with SKIP LOCKED (runs on several instances take
 * different ones; a period another holds is left to it), with what settling each needs.
 */
export async function claimDueCommitments(
  em: Em,
  asOf: Date,
  rootPath: string | undefined,
  limit: number,
): Promise<DueCommitment[]> {
  const rows = await executeBound<
    {
      subscription_id: string;
      period_number: number;
      account_id: string;
      package_id: string;
      commitment: string;
      commitment_inclusive: boolean;
      usage: string;
      ended_early: boolean;
    }[]
  >(
    em,
    `with due as materialized (
       select p.subscription_id, p.period_number from subscription_periods p
        -- Ended in fact, not only by a run's asOf (runRenewals may look a day ahead): usage is complete only then.
        where p.commitment is not null and p.minimum_spend is null and p.period_end <= least(?::timestamptz, now())
          and (?::text is null or starts_with(p.owner_path, ?))
        order by p.period_end limit ? for no key update skip locked
     )
     select d.subscription_id, d.period_number, s.account_id, s.package_id, p.commitment::text, p.commitment_inclusive,
            coalesce(s.ended_at < p.period_end, false) as ended_early,
            -- From the buyer's own charges in the period (its index), to this level's charge for each of those calls.
            (select coalesce(sum(cc.amount), 0) from call_charges c0
               join call_charges cc on cc.call_id = c0.call_id and cc.level = s.level and cc.account_id = s.account_id
              where c0.account_id = b.account_id and c0.level = 0
                and c0.started_at >= p.period_start and c0.started_at < p.period_end)::text as usage
       from due d
       join subscription_periods p on p.subscription_id = d.subscription_id and p.period_number = d.period_number
       join package_subscriptions s on s.id = d.subscription_id
       join package_subscriptions b on b.chain_id = s.chain_id and b.level = 0
      order by s.level, d.subscription_id, d.period_number`,
    [asOf, rootPath ?? null, rootPath ?? null, limit],
  );
  return rows.map((r) => ({
    subscriptionId: r.subscription_id,
    periodNumber: r.period_number,
    accountId: r.account_id,
    packageId: r.package_id,
    commitment: new Decimal(r.commitment),
    inclusive: r.commitment_inclusive,
    usage: new Decimal(r.usage),
    endedEarly: r.ended_early,
  }));
}

/** Records what each period was charged (0 included): settled, never again. */
export async function settleCommitments(
  em: Em,
  settled: { subscriptionId: string; periodNumber: number; amount: Decimal }[],
): Promise<void> {
  if (settled.length === 0) return;
  await executeBound(
    em,
    `update subscription_periods p set minimum_spend = x.amount
       from unnest(?::text[], ?::int[], ?::numeric[]) as x(subscription_id, period_number, amount)
      where p.subscription_id = x.subscription_id and p.period_number = x.period_number and p.minimum_spend is null`,
    [
      pgArray(settled.map((s) => s.subscriptionId)),
      pgArray(settled.map((s) => s.periodNumber)),
      pgArray(settled.map((s) => s.amount.toFixed())),
    ],
  );
}
