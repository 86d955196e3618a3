import { executeBound, pgArray, type Em } from '../db/orm.js';
import type { FirstCharge } from '../billing/index.js';
import { appliedTaxesJson } from '../taxes/rates.js';
import type { AccountStatus, PackageStatus, ResellerModel } from '../entities/index.js';
import { Decimal } from '../money.js';

/** A package of a chain's lineage, as its levels are priced. */
export interface LineagePackage {
  id: string;
  ownerId: string;
  status: PackageStatus;
  optedOutAt: Date | null;
  price: Decimal;
  setupFee: Decimal;
  commissionRate: Decimal;
  taxInclusive: boolean;
}

/** An account that takes a level of a new chain. */
export interface LevelAccount {
  id: string;
  path: string;
  currency: string;
  resellerModel: ResellerModel | null;
  status: AccountStatus;
}

export async function lineagePackages(em: Em, ids: string[]): Promise<Map<string, LineagePackage>> {
  const rows = await executeBound<
    {
      id: string;
      owner_id: string;
      status: PackageStatus;
      opted_out_at: Date | null;
      price: string;
      setup_fee: string;
      commission_rate: string;
      tax_inclusive: boolean;
    }[]
  >(
    em,
    `select id, owner_id, status, opted_out_at, price::text, setup_fee::text, commission_rate::text, tax_inclusive
       from packages where id = any(?::text[])`,
    [pgArray(ids)],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        ownerId: r.owner_id,
        status: r.status,
        optedOutAt: r.opted_out_at,
        price: new Decimal(r.price),
        setupFee: new Decimal(r.setup_fee),
        commissionRate: new Decimal(r.commission_rate),
        taxInclusive: r.tax_inclusive,
      },
    ]),
  );
}

export async function levelAccounts(em: Em, ids: string[]): Promise<Map<string, LevelAccount>> {
  const rows = await executeBound<
    { id: string; path: string; currency: string; reseller_model: ResellerModel | null; status: AccountStatus }[]
  >(em, `select id, path, currency, reseller_model, status from accounts where id = any(?::text[])`, [pgArray(ids)]);
  return new Map(
    rows.map((r) => [r.id, { id: r.id, path: r.path, currency: r.currency, resellerModel: r.reseller_model, status: r.status }]),
  );
}

/** One level of a chain being created. */
export interface NewLevel extends FirstCharge {
  subscriptionId: string;
  level: number;
  accountId: string;
  ownerPath: string;
  packageId: string;
}

/** The chain's subscriptions, ACTIVE with the first period charged, and that period's record at each level. */
export async function insertChain(
  em: Em,
  chain: { chainId: string; start: Date; end: Date; freeSeconds: number; levels: NewLevel[] },
): Promise<void> {
  const { levels } = chain;
  await executeBound(
    em,
    `insert into package_subscriptions (id, account_id, owner_path, package_id, chain_id, level, status, activated_at,
                                        current_period_start, current_period_end, periods_charged, free_seconds_total)
     select x.id, x.account_id, x.owner_path, x.package_id, ?, x.level, 'ACTIVE', ?, ?, ?, 1, ?
       from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[]) as x(id, account_id, owner_path, package_id, level)`,
    [
      chain.chainId,
      chain.start,
      chain.start,
      chain.end,
      chain.freeSeconds,
      pgArray(levels.map((l) => l.subscriptionId)),
      pgArray(levels.map((l) => l.accountId)),
      pgArray(levels.map((l) => l.ownerPath)),
      pgArray(levels.map((l) => l.packageId)),
      pgArray(levels.map((l) => l.level)),
    ],
  );
  await executeBound(
    em,
    `insert into subscription_periods (subscription_id, period_number, owner_path, period_start, period_end, setup_fee,
                                       price, commission_rate, commission, taxes, charged_at)
     select x.id, 1, x.owner_path, ?, ?, x.setup_fee, x.price, x.rate, x.commission, x.taxes::jsonb, now()
       from unnest(?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::text[])
            as x(id, owner_path, setup_fee, price, rate, commission, taxes)`,
    [
      chain.start,
      chain.end,
      pgArray(levels.map((l) => l.subscriptionId)),
      pgArray(levels.map((l) => l.ownerPath)),
      pgArray(levels.map((l) => l.setupFee.toFixed())),
      pgArray(levels.map((l) => l.price.toFixed())),
      pgArray(levels.map((l) => l.commissionRate.toFixed())),
      pgArray(levels.map((l) => l.commission.toFixed())),
      pgArray(levels.map((l) => appliedTaxesJson(l.applied))),
    ],
  );
}
