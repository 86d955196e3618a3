import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import {
  AssignPackageDocument,
  BalanceDocument,
  EarningsDocument,
  PurchasePackageDocument,
  TerminateSubscriptionDocument,
  TopUpDocument,
} from './generated/graphql.js';
import { createPlatform, sql, startServer, type TestServer } from './support/harness.js';
import { optIn, original } from './support/chain.js';
import { addAccount } from './support/tree.js';

/**
 * Random reseller trees, random packages and opt-ins (MARGIN and COMMISSION mixed), and random sequences of
 * top-ups, purchases, assignments and terminations, checked against a model written from DOMAIN.md alone:
 * every balance, every DENY refusal, balance == sum(ledger), and every reseller's earnings.
 */
const SEEDS = [1, 2, 3, 4, 5, 6];
const OPS = 50;
const D = (v: Decimal.Value) => new Decimal(v);
const round = (d: Decimal) => d.toDecimalPlaces(4, Decimal.ROUND_HALF_UP);

function rng(seed: number) {
  let x = seed * 2654435761;
  return {
    next() {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    },
    int(lo: number, hi: number) {
      return lo + Math.floor(this.next() * (hi - lo + 1));
    },
    pick<T>(items: T[]): T {
      return items[Math.floor(this.next() * items.length)];
    },
    money(lo: number, hi: number) {
      return D(lo + this.next() * (hi - lo))
        .toDecimalPlaces(2)
        .toFixed();
    },
  };
}

interface MAccount {
  id: string;
  token: string;
  parent?: MAccount;
  kind: 'ADMIN' | 'RESELLER' | 'CUSTOMER';
  model?: 'MARGIN' | 'COMMISSION';
  balance: Decimal;
  sales: Decimal;
  costs: Decimal;
  commissions: Decimal;
}

interface MPackage {
  id: string;
  owner: MAccount;
  source?: MPackage;
  price: Decimal;
  setupFee: Decimal;
  rate: Decimal; // the commission it gives to COMMISSION subscribers
  chargeType: string;
  billingDays: number;
  freeMinutes: number;
  deny: boolean;
}

interface MLevel {
  account: MAccount;
  pkg: MPackage;
  price: Decimal;
  commission: Decimal;
  rate: Decimal;
}

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

describe('property: random chains and operations', () => {
  it.each(SEEDS)('seed %i', async (seed) => {
    const r = rng(seed);
    const p = await createPlatform(server);
    const blank = () => ({ balance: D(0), sales: D(0), costs: D(0), commissions: D(0) });
    const admin: MAccount = { id: p.id, token: p.token, kind: 'ADMIN', ...blank() };
    const accounts: MAccount[] = [admin];
    const resellersOf = (a: MAccount) => accounts.filter((x) => x.parent === a && x.kind === 'RESELLER');

    // A tree: up to 3 levels of resellers, customers under the admin and every reseller.
    const grow = async (parent: MAccount, depth: number) => {
      const n = depth === 0 ? 2 : r.int(0, 2);
      for (let i = 0; i < n && depth < 3; i++) {
        const model = r.pick(['MARGIN', 'COMMISSION'] as const);
        const node = await addAccount(server, parent.token, { kind: 'RESELLER', resellerModel: model });
        const acc: MAccount = { id: node.id, token: node.token, parent, kind: 'RESELLER', model, ...blank() };
        accounts.push(acc);
        await grow(acc, depth + 1);
      }
      for (let i = 0; i < r.int(1, 2); i++) {
        const node = await addAccount(server, parent.token, { kind: 'CUSTOMER' });
        accounts.push({ id: node.id, token: node.token, parent, kind: 'CUSTOMER', ...blank() });
      }
    };
    await grow(admin, 0);

    // Originals at the admin, clones all the way down (each reseller opts into each of its parent's packages).
    const packages: MPackage[] = [];
    for (let i = 0; i < 2; i++) {
      const spec = {
        price: r.money(1, 30),
        setupFee: r.pick(['0', r.money(0, 5)]),
        commissionRate: r.pick(['5', '12.5', '33.3333']),
        chargeType: r.pick(['FULL', 'UTILIZED_DAYS', 'UTILIZED_DAYS', 'UTILIZED_MINUTES', 'HIGHEST_UTILIZATION']),
        billingDays: r.pick([7, 28, 30]),
        freeMinutes: r.pick([0, 100]),
        activationPolicy: r.pick(['DENY_IF_INSUFFICIENT', 'ALLOW_IF_INSUFFICIENT'] as const),
      };
      const id = await original(server, admin.token, spec);
      packages.push({
        id,
        owner: admin,
        price: D(spec.price),
        setupFee: D(spec.setupFee),
        rate: D(spec.commissionRate),
        chargeType: spec.chargeType,
        billingDays: spec.billingDays,
        freeMinutes: spec.freeMinutes,
        deny: spec.activationPolicy === 'DENY_IF_INSUFFICIENT',
      });
    }
    const cloneDown = async (owner: MAccount) => {
      for (const child of resellersOf(owner)) {
        for (const source of packages.filter((x) => x.owner === owner)) {
          const rate = r.pick(['0', '10', '15', '20']);
          const margin = child.model === 'MARGIN';
          const price = margin ? source.price.plus(r.money(0, 4)) : source.price;
          const setupFee = margin ? source.setupFee.plus(r.pick(['0', '0.5'])) : source.setupFee;
          const id = await optIn(
            server,
            child.token,
            source.id,
            margin ? { price: price.toFixed(), setupFee: setupFee.toFixed(), commissionRate: rate } : { commissionRate: rate },
          );
          packages.push({ ...source, id, owner: child, source, price, setupFee, rate: D(rate) });
        }
        await cloneDown(child);
      }
    };
    await cloneDown(admin);

    const customers = accounts.filter((a) => a.kind === 'CUSTOMER');
    const chains: { id: string; levels: MLevel[]; pkg: MPackage; active: boolean }[] = [];

    const chainFor = (buyer: MAccount, pkg: MPackage): MLevel[] => {
      const levels: MLevel[] = [];
      let subscriber = buyer;
      let current: MPackage | undefined = pkg;
      while (current) {
        const earns = subscriber.kind === 'RESELLER' && subscriber.model === 'COMMISSION';
        const rate = earns ? current.rate : D(0);
        levels.push({
          account: subscriber,
          pkg: current,
          price: round(current.price),
          commission: round(rate.div(100).times(current.setupFee.plus(current.price))),
          rate,
        });
        subscriber = current.owner;
        current = current.source;
      }
      return levels;
    };

    for (let op = 0; op < OPS; op++) {
      const kind = r.pick(['topUp', 'topUp', 'buy', 'buy', 'terminate']);
      if (kind === 'topUp') {
        const target = r.pick(accounts.filter((a) => a.parent));
        const amount = r.money(5, 120);
        await server.ok(TopUpDocument, { input: { accountId: target.id, amount } }, target.parent!.token);
        target.balance = target.balance.plus(amount);
      } else if (kind === 'buy') {
        const buyer = r.pick(customers);
        const offers = packages.filter((x) => x.owner === buyer.parent);
        const pkg = r.pick(offers);
        const levels = chainFor(buyer, pkg);
        const short = levels.findIndex((l) => l.account.balance.lt(round(l.pkg.setupFee).plus(l.price)));
        const assign = r.next() < 0.5;
        const result = assign
          ? await server.gql(
              AssignPackageDocument,
              { input: { accountId: buyer.id, packageId: pkg.id, startAt: new Date(Date.now() - 3_600_000).toISOString() } },
              buyer.parent!.token,
            )
          : await server.gql(PurchasePackageDocument, { input: { packageId: pkg.id } }, buyer.token);
        if (pkg.deny && short >= 0) {
          expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INSUFFICIENT_FUNDS', level: short });
          continue;
        }
        expect(result.errors).toBeUndefined();
        for (const l of levels) {
          const charge = round(l.pkg.setupFee).plus(l.price);
          l.account.balance = l.account.balance.minus(charge).plus(l.commission);
          l.account.costs = l.account.costs.plus(l.account.kind === 'CUSTOMER' ? 0 : charge);
          l.account.commissions = l.account.commissions.plus(l.commission);
          l.pkg.owner.sales = l.pkg.owner.sales.plus(charge).minus(l.commission);
        }
        const sub = (result.data as any).assignPackage ?? (result.data as any).purchasePackage;
        chains.push({ id: sub.id, levels, pkg, active: true });
      } else {
        const live = chains.filter((c) => c.active);
        if (live.length === 0) continue;
        const chain = r.pick(live);
        const customer = chain.levels[0].account;
        const by = r.pick([customer, customer.parent!, admin]);
        const result = await server.gql(TerminateSubscriptionDocument, { id: chain.id }, by.token);
        expect(result.errors).toBeUndefined();
        chain.active = false;
        for (const l of chain.levels) {
          // Terminated within the first day: one used day; no free seconds were used.
          const days = D(1).div(chain.pkg.billingDays);
          const minutes = chain.pkg.freeMinutes > 0 ? D(0) : D(1);
          const use = {
            FULL: D(1),
            UTILIZED_DAYS: days,
            UTILIZED_MINUTES: minutes,
            HIGHEST_UTILIZATION: Decimal.max(days, minutes),
          }[chain.pkg.chargeType]!;
          const refund = round(l.price.times(D(1).minus(use)));
          const reversal = Decimal.min(l.commission, round(l.rate.div(100).times(refund)));
          l.account.balance = l.account.balance.plus(refund).minus(reversal);
          l.account.costs = l.account.costs.minus(l.account.kind === 'CUSTOMER' ? 0 : refund);
          l.account.commissions = l.account.commissions.minus(reversal);
          l.pkg.owner.sales = l.pkg.owner.sales.minus(refund).plus(reversal);
        }
      }
    }

    for (const a of accounts) {
      const { account } = await server.ok(BalanceDocument, { id: a.id }, admin.token);
      expect(account!.balance, `balance of ${a.kind} ${a.id}`).toBe(a.balance.toFixed());
      const [{ total }] = await sql<{ total: string }>(
        server,
        `select coalesce(sum(amount), 0)::text as total from ledger_entries where account_id = ?`,
        [a.id],
      );
      expect(D(total).eq(a.balance), `ledger of ${a.id}`).toBe(true);
      if (a.kind === 'CUSTOMER') continue;
      const { earnings } = await server.ok(
        EarningsDocument,
        { accountId: a.id, from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' },
        a.token,
      );
      expect(earnings, `earnings of ${a.kind} ${a.id}`).toEqual({
        sales: a.sales.toFixed(),
        costs: a.costs.toFixed(),
        commissions: a.commissions.toFixed(),
        margin: a.sales.minus(a.costs).plus(a.commissions).toFixed(),
      });
    }
  });
});
