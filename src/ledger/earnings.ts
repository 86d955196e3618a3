import { executeBound, pgArray, type Em } from '../db/orm.js';
import { CHARGE_KINDS, COMMISSION_KINDS, TAX_KINDS } from '../billing/index.js';
import { Decimal } from '../money.js';

/**
 * A reseller's trading over [from, to), from the ledger: sales (what its children were charged, net of refunds
 * and of the commissions it credited them), costs (what it was charged, net of refunds), and commissions
 * received (net of reversals), all net of taxes; and the taxes it charged its children (net of tax refunds).
 */
export async function earningsOf(
  em: Em,
  accountId: string,
  from: Date,
  to: Date,
): Promise<{ sales: Decimal; costs: Decimal; commissions: Decimal; taxes: Decimal }> {
  const [row] = await executeBound<{ sales: string; costs: string; commissions: string; taxes: string }[]>(
    em,
    `select
       (select coalesce(-sum(l.amount), 0)::text from ledger_entries l join accounts c on c.id = l.account_id
         where c.parent_id = ? and l.kind = any(?::text[]) and l.created_at >= ? and l.created_at < ?) as sales,
       (select coalesce(-sum(amount), 0)::text from ledger_entries
         where account_id = ? and kind = any(?::text[]) and created_at >= ? and created_at < ?) as costs,
       (select coalesce(sum(amount), 0)::text from ledger_entries
         where account_id = ? and kind = any(?::text[]) and created_at >= ? and created_at < ?) as commissions,
       (select coalesce(-sum(l.amount), 0)::text from ledger_entries l join accounts c on c.id = l.account_id
         where c.parent_id = ? and l.kind = any(?::text[]) and l.created_at >= ? and l.created_at < ?) as taxes`,
    [
      accountId,
      pgArray([...CHARGE_KINDS, ...COMMISSION_KINDS]),
      from,
      to,
      accountId,
      pgArray(CHARGE_KINDS),
      from,
      to,
      accountId,
      pgArray(COMMISSION_KINDS),
      from,
      to,
      accountId,
      pgArray(TAX_KINDS),
      from,
      to,
    ],
  );
  return {
    sales: new Decimal(row.sales),
    costs: new Decimal(row.costs),
    commissions: new Decimal(row.commissions),
    taxes: new Decimal(row.taxes),
  };
}
