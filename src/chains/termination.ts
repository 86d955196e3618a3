import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { ChargedLevelPeriod } from '../billing/index.js';
import type { ChargeType, SubscriptionStatus } from '../entities/index.js';
import { Decimal } from '../money.js';
import { appliedTaxesOf } from '../taxes/rates.js';

/** One level of a chain, as termination reads it under its lock. */
export interface ChainLevel {
  id: string;
  accountId: string;
  ownerPath: string;
  packageId: string;
  level: number;
  status: SubscriptionStatus;
  activatedAt: Date;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  currentPeriodNumber: number;
  periodsCharged: number;
}

/**
 * The chain's levels, bottom-up, locked in id order (the order rating locks subscriptions across chains).
 * `skipLocked`: for a caller that already holds account locks (a top-up activating a PENDING chain), which must
 * not wait for a subscription (whoever holds it takes accounts next): a chain not locked whole comes back empty.
 */
export async function lockChain(em: Em, chainId: string, options: { skipLocked?: boolean } = {}): Promise<ChainLevel[]> {
  const rows = await executeBound<
    {
      id: string;
      account_id: string;
      owner_path: string;
      package_id: string;
      level: number;
      status: SubscriptionStatus;
      activated_at: Date;
      current_period_start: Date;
      current_period_end: Date;
      current_period_number: number;
      periods_charged: number;
    }[]
  >(
    em,
    `select id, account_id, owner_path, package_id, level, status, activated_at, current_period_start,
            current_period_end, current_period_number, periods_charged
       from package_subscriptions where chain_id = ? order by id for no key update${options.skipLocked ? ' skip locked' : ''}`,
    [chainId],
  );
  if (options.skipLocked) {
    const [{ n }] = await executeBound<{ n: number }[]>(
      em,
      `select count(*)::int as n from package_subscriptions where chain_id = ?`,
      [chainId],
    );
    if (n !== rows.length) return [];
  }
  return rows
    .map((r) => ({
      id: r.id,
      accountId: r.account_id,
      ownerPath: r.owner_path,
      packageId: r.package_id,
      level: r.level,
      status: r.status,
      activatedAt: new Date(r.activated_at),
      currentPeriodStart: new Date(r.current_period_start),
      currentPeriodEnd: new Date(r.current_period_end),
      currentPeriodNumber: r.current_period_number,
      periodsCharged: r.periods_charged,
    }))
    .sort((a, b) => a.level - b.level);
}

export async function terminationTerms(em: Em, packageId: string): Promise<{ chargeType: ChargeType; minimumDays: number }> {
  const [row] = await em.execute<{ charge_type: ChargeType; minimum_days: number }[]>(
    `select t.charge_type, t.minimum_days from packages p join package_terms t on t.id = p.terms_id where p.id = ?`,
    [packageId],
  );
  return { chargeType: row.charge_type, minimumDays: row.minimum_days };
}

/** Each level's running period and any paid ahead, with what their refunds depend on. */
export async function periodsToRefund(em: Em, subscriptionIds: string[]): Promise<ChargedLevelPeriod[]> {
  const rows = await executeBound<
    {
      subscription_id: string;
      period_number: number;
      price: string;
      commission: string;
      commission_rate: string;
      current: boolean;
      current_period_start: Date;
      current_period_end: Date;
      free_seconds_total: number;
      free_seconds_used: number;
      taxes: { taxRateId: string; percent: string }[];
    }[]
  >(
    em,
    `select p.subscription_id, p.period_number, p.price::text, p.commission::text, p.commission_rate::text, p.taxes,
            p.period_number = s.current_period_number as current, s.current_period_start, s.current_period_end,
            s.free_seconds_total, s.free_seconds_used
       from subscription_periods p join package_subscriptions s on s.id = p.subscription_id
      where p.subscription_id = any(?::text[])
        and p.period_number between s.current_period_number and s.periods_charged`,
    [pgArray(subscriptionIds)],
  );
  return rows.map((r) => ({
    subscriptionId: r.subscription_id,
    periodNumber: r.period_number,
    price: new Decimal(r.price),
    commission: new Decimal(r.commission),
    commissionRate: new Decimal(r.commission_rate),
    current: r.current,
    periodStart: new Date(r.current_period_start),
    periodEnd: new Date(r.current_period_end),
    freeSecondsTotal: r.free_seconds_total,
    freeSecondsUsed: r.free_seconds_used,
    taxes: appliedTaxesOf(r.taxes),
  }));
}

/** Records what each period gave back, and ends every level of the chain. */
export async function endChain(
  em: Em,
  chainId: string,
  at: Date,
  refunds: { subscriptionId: string; periodNumber: number; refund: Decimal; reversal: Decimal }[],
): Promise<void> {
  if (refunds.length) {
    await executeBound(
      em,
      `update subscription_periods p set refund = x.refund, commission_reversal = x.reversal
         from unnest(?::text[], ?::int[], ?::numeric[], ?::numeric[]) as x(subscription_id, period_number, refund, reversal)
        where p.subscription_id = x.subscription_id and p.period_number = x.period_number`,
      [
        pgArray(refunds.map((r) => r.subscriptionId)),
        pgArray(refunds.map((r) => r.periodNumber)),
        pgArray(refunds.map((r) => r.refund.toFixed())),
        pgArray(refunds.map((r) => r.reversal.toFixed())),
      ],
    );
  }
  await em.execute(`update package_subscriptions set status = 'TERMINATED', ended_at = ? where chain_id = ?`, [at, chainId]);
}

/** Whether some live chain still subscribes to the package (it cannot be withdrawn). */
export async function packageInUse(em: Em, packageId: string): Promise<boolean> {
  const [row] = await em.execute<{ used: boolean }[]>(
    `select exists (select 1 from package_subscriptions
                     where package_id = ? and status in ('PENDING', 'ACTIVE', 'PAST_DUE')) as used`,
    [packageId],
  );
  return row.used;
}
