import { Decimal, formatMoney } from '../money.js';
import type {
  ActivationPolicy,
  Applicability,
  BillingType,
  ChargeType,
  Package,
  PackageStatus,
  PackageStatusReason,
  PackageTerms,
} from '../entities/index.js';

export interface DiscountData {
  fromActivation: number;
  amount: Decimal;
}

/** A package as the API shows it: its own fields over the terms it shares with its chain. */
export interface PackageView {
  id: string;
  /** Shared by a package and its clones: where its limits hang. */
  termsId: string;
  ownerId: string;
  sourceId: string | null;
  name: string;
  description: string | null;
  status: PackageStatus;
  statusReason: PackageStatusReason | null;
  currency: string;
  price: Decimal;
  setupFee: Decimal;
  commissionRate: string;
  canBePurchased: boolean;
  resellerCanResell: boolean;
  taxInclusive: boolean;
  mandatory: boolean;
  country: string | null;
  category: string | null;
  billingType: BillingType;
  billingDays: number;
  freeMinutes: number;
  applicableFor: Applicability;
  destinations: string[];
  chargeType: ChargeType;
  releaseIfNoBalance: boolean;
  priority: number;
  minimumDays: number;
  activationPolicy: ActivationPolicy;
  advanceRenewHours: number;
  renewRetryHours: number | null;
  didQuantity: number;
  allowedDidTags: string[];
  didHoldDays: number;
  minimumSpend: boolean;
  discounts: DiscountData[];
  startDate: Date | null;
  endDate: Date | null;
  createdAt: Date;
}

export function toView(pkg: Package, terms: PackageTerms): PackageView {
  return {
    id: pkg.id,
    termsId: pkg.termsId,
    ownerId: pkg.ownerId,
    sourceId: pkg.sourceId ?? null,
    name: pkg.name,
    description: pkg.description ?? null,
    status: pkg.status,
    statusReason: pkg.statusReason ?? null,
    currency: terms.currency,
    price: pkg.price,
    setupFee: pkg.setupFee,
    commissionRate: formatMoney(pkg.commissionRate),
    canBePurchased: pkg.canBePurchased,
    resellerCanResell: pkg.resellerCanResell,
    taxInclusive: pkg.taxInclusive,
    mandatory: pkg.mandatory,
    country: terms.country ?? null,
    category: terms.category ?? null,
    billingType: terms.billingType,
    billingDays: terms.billingDays,
    freeMinutes: terms.freeMinutes,
    applicableFor: terms.applicableFor,
    destinations: terms.destinations,
    chargeType: terms.chargeType,
    releaseIfNoBalance: terms.releaseIfNoBalance,
    priority: terms.priority,
    minimumDays: terms.minimumDays,
    activationPolicy: terms.activationPolicy,
    advanceRenewHours: terms.advanceRenewHours,
    renewRetryHours: terms.renewRetryHours ?? null,
    didQuantity: terms.didQuantity,
    allowedDidTags: terms.allowedDidTags,
    didHoldDays: terms.didHoldDays,
    minimumSpend: terms.minimumSpend,
    discounts: terms.discounts.map((d) => ({ fromActivation: d.fromActivation, amount: new Decimal(d.amount) })),
    startDate: terms.startDate ?? null,
    endDate: terms.endDate ?? null,
    createdAt: pkg.createdAt,
  };
}
