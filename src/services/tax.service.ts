import { badInput, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { Decimal } from '../money.js';
import { requireActor, type Request } from '../request.js';
import type { AccountView } from '../accounts/rows.js';
import { assignTaxRates, insertTaxRate, ownTaxRatesPage, updateTaxRate, type TaxRateRow } from '../taxes/rates.js';
import type { AccountService } from './account.service.js';
import type { Page, PageArgs } from './pagination.js';
import { requireText } from './validate.js';

export interface CreateTaxRateData {
  name: string;
  percent: string;
  priority?: number | null;
}

export interface UpdateTaxRateData {
  name?: string | null;
  priority?: number | null;
  active?: boolean | null;
}

const PERCENT = /^\d{1,3}(\.\d{1,4})?$/;

/**
 * Tax rates (DOMAIN.md 8): owned by an admin or reseller, assigned by a parent to its children. The percent of
 * a rate never changes (entries and invoices name the rate): a new percentage is a new rate, and the old one
 * is deactivated. An inactive rate is no longer applied to new charges nor assignable.
 */
export class TaxService {
  constructor(private readonly accounts: AccountService) {}

  create(ctx: Request, data: CreateTaxRateData): Promise<TaxRateRow> {
    requireActor(ctx);
    const percent = data.percent.trim();
    if (!PERCENT.test(percent) || new Decimal(percent).gt(100)) {
      throw badInput('percent', 'percent is a decimal from 0 to 100 with at most 4 decimals');
    }
    const priority = this.priority(data.priority ?? 0);
    const name = requireText('name', data.name, 100);
    return ctx.mutate((em) =>
      insertTaxRate(em, {
        id: newId('TaxRate'),
        ownerId: ctx.actor.accountId,
        ownerPath: ctx.actor.path,
        name,
        percent: new Decimal(percent),
        priority,
      }),
    );
  }

  update(ctx: Request, id: string, data: UpdateTaxRateData): Promise<TaxRateRow> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const rate = await ctx.loaders.taxRate.load(id);
      if (!rate || !rate.ownerPath.startsWith(ctx.actor.path)) throw notFound('Tax rate not found');
      if (rate.ownerId !== ctx.actor.accountId) throw forbidden('A tax rate is changed by its owner');
      const updated = await updateTaxRate(em, id, {
        name: data.name === undefined || data.name === null ? undefined : requireText('name', data.name, 100),
        priority: data.priority === undefined || data.priority === null ? undefined : this.priority(data.priority),
        active: data.active ?? undefined,
      });
      if (!updated) throw notFound('Tax rate not found');
      return updated;
    });
  }

  /** The caller's own rates. */
  list(ctx: Request, args: PageArgs): Promise<Page<TaxRateRow>> {
    requireActor(ctx);
    return ownTaxRatesPage(ctx.em, ctx.actor.accountId, args);
  }

  find(ctx: Request, id: string): Promise<TaxRateRow | null> {
    requireActor(ctx);
    return ctx.loaders.taxRate.load(id);
  }

  /**
   * An invoice's tax line's rate: the rate as the caller may read it, or, for a child whose rate has been
   * unassigned since (it no longer reads it), the rate as the invoice recorded it.
   */
  async onInvoice(
    ctx: Request,
    tax: { taxRateId: string; name: string; percent: string; issuerId: string },
  ): Promise<TaxRateRow> {
    const rate = await this.find(ctx, tax.taxRateId);
    return (
      rate ?? {
        id: tax.taxRateId,
        seq: '0',
        ownerId: tax.issuerId,
        ownerPath: '',
        name: tax.name,
        percent: new Decimal(tax.percent),
        priority: 0,
        active: false,
        createdAt: new Date(0),
      }
    );
  }

  /** What an account's parent adds to what it charges it. */
  ofAccount(ctx: Request, account: Pick<AccountView, 'id'>): Promise<TaxRateRow[]> {
    requireActor(ctx);
    return ctx.loaders.assignedTaxRates.load(account.id);
  }

  /**
   * Sets the rates a child is taxed by: rates owned by its parent, set by an ancestor (the account itself
   * cannot choose its taxes). Applies to charges from now on; charges already made keep their taxes.
   */
  setAccountTaxes(ctx: Request, accountId: string, taxRateIds: string[]): Promise<AccountView> {
    requireActor(ctx);
    return ctx.mutate(async (em) => {
      const account = await this.accounts.load(em, accountId);
      if (account.id === ctx.actor.accountId) throw forbidden("An account's taxes are set by its parent");
      await assignTaxRates(em, account, taxRateIds);
      ctx.loaders.clearAll();
      return (await ctx.loaders.accountView.load(account.id))!;
    });
  }

  private priority(value: number): number {
    if (!Number.isInteger(value) || value < 0 || value > 1000) throw badInput('priority', 'priority is from 0 to 1000');
    return value;
  }
}
