import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import type { InvoiceTaxLine } from '../billing/index.js';
import type { InvoiceView } from '../invoices/views.js';
import { AccountType } from '../schema/account.js';
import { InvoiceReportType, InvoiceTaxType, InvoiceType } from '../schema/invoice.js';
import { TaxRateType } from '../schema/tax.js';
import type { TaxRateRow } from '../taxes/rates.js';
import { Role } from './roles.js';

type IssuedTax = InvoiceTaxLine & { issuerId: string };

@Resolver(() => InvoiceType)
export class InvoiceResolver {
  @Query(() => InvoiceType, { nullable: true })
  @Authorized()
  invoice(@Arg('id', () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.invoices.find(ctx, id);
  }

  @Mutation(() => InvoiceReportType, {
    description: 'ADMIN only: issues the invoices of periods ended by asOf (up to 31 days ahead)',
  })
  @Authorized(Role.ADMIN)
  generateInvoices(@Arg('asOf') asOf: Date, @Ctx() ctx: Context) {
    return ctx.services.invoices.generate(ctx, asOf);
  }

  @Mutation(() => InvoiceType, { description: 'The issuer only; the number stays used' })
  @Authorized(Role.ADMIN, Role.RESELLER)
  voidInvoice(@Arg('id', () => ID) id: string, @Arg('reason') reason: string, @Ctx() ctx: Context) {
    return ctx.services.invoices.void(ctx, id, reason);
  }

  @FieldResolver(() => AccountType)
  issuer(@Root() invoice: InvoiceView, @Ctx() ctx: Context) {
    return ctx.services.accounts.ownerView(ctx, invoice.issuerId);
  }

  @FieldResolver(() => AccountType)
  async account(@Root() invoice: InvoiceView, @Ctx() ctx: Context) {
    return ctx.loaders.accountView.load(invoice.accountId);
  }

  @FieldResolver(() => [InvoiceTaxType])
  taxes(@Root() invoice: InvoiceView): IssuedTax[] {
    return invoice.taxes.map((t) => ({ ...t, issuerId: invoice.issuerId }));
  }

  @FieldResolver(() => String, { description: 'GET it with the same bearer token' })
  pdfUrl(@Root() invoice: InvoiceView) {
    return `/export/invoices/${invoice.id}.pdf`;
  }
}

@Resolver(() => InvoiceTaxType)
export class InvoiceTaxResolver {
  @FieldResolver(() => TaxRateType)
  taxRate(@Root() tax: IssuedTax, @Ctx() ctx: Context): Promise<TaxRateRow> {
    return ctx.services.taxes.onInvoice(ctx, tax);
  }
}
