import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateRateGroupDocument,
  RateCallDocument,
  UpdateAccountDocument,
  UpsertRatesDocument,
  type RateInput,
} from './generated/graphql.js';
import { beginScopedTransaction, systemEm, type Em } from '../src/db/orm.js';
import { Direction } from '../src/entities/index.js';
import { createPlatform, ENGINE, sql, startServer, type TestServer } from './support/harness.js';
import { addAccount, type Node } from './support/tree.js';

/**
 * Rating holds rate decks in memory (RATE_CACHE_MAX_RATES). What a call costs must be exactly what the
 * database says at that moment, whichever instance changed the rates and whatever the cache holds.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

let n = 0;
const callOf = (accountId: string) => ({
  accountId,
  callId: `cache-${++n}`,
  destination: '447700900123',
  direction: 'OUTBOUND' as const,
  durationSeconds: 60,
  startedAt: new Date(Date.now() - 86_400_000).toISOString(),
});

/** admin -> R -> C; R pays the admin's group, C pays R's. Returns what rating the customer's calls needs. */
async function chain(on: TestServer, rates: { admin: RateInput[]; reseller: RateInput[] }) {
  const p = await createPlatform(on);
  const admin: Node = { id: p.id, token: p.token, email: p.email };
  const r = await addAccount(on, admin.token, { kind: 'RESELLER' });
  const c = await addAccount(on, r.token, { kind: 'CUSTOMER' });
  const group = async (token: string, list: RateInput[]) =>
    (await on.ok(CreateRateGroupDocument, { input: { name: `g${++n}`, rates: list } }, token)).createRateGroup.id as string;
  const gAdmin = await group(admin.token, rates.admin);
  const gReseller = await group(r.token, rates.reseller);
  await on.ok(UpdateAccountDocument, { id: r.id, input: { rateGroupId: gAdmin } }, admin.token);
  await on.ok(UpdateAccountDocument, { id: c.id, input: { rateGroupId: gReseller } }, r.token);
  const rate = async (via: TestServer = on) => {
    const { rateCall } = await via.ok(RateCallDocument, { input: callOf(c.id) }, admin.token);
    return (rateCall.charges as { amount: string }[]).map((x) => x.amount);
  };
  return { admin, r, c, gAdmin, gReseller, rate };
}

describe('rate decks held in memory', () => {
  it('a rate change is used by the very next call', async () => {
    const t = await chain(server, {
      admin: [{ prefix: '44', ratePerMinute: '0.01' }],
      reseller: [{ prefix: '44', ratePerMinute: '0.05' }],
    });
    expect(await t.rate()).toEqual(['0.05', '0.01']);
    await server.ok(
      UpsertRatesDocument,
      { rateGroupId: t.gReseller, rates: [{ prefix: '4477', ratePerMinute: '0.07' }] },
      t.r.token,
    );
    expect(await t.rate()).toEqual(['0.07', '0.01']);
    await server.ok(
      UpsertRatesDocument,
      { rateGroupId: t.gAdmin, rates: [{ prefix: '44', ratePerMinute: '0.02' }] },
      t.admin.token,
    );
    expect(await t.rate()).toEqual(['0.07', '0.02']);
  });

  it.skipIf(ENGINE === 'pglite')('a rate changed through another instance is used by the next call here', async () => {
    const other = await startServer();
    try {
      const t = await chain(server, {
        admin: [{ prefix: '44', ratePerMinute: '0.01' }],
        reseller: [{ prefix: '44', ratePerMinute: '0.05' }],
      });
      expect(await t.rate()).toEqual(['0.05', '0.01']);
      expect(await t.rate(other)).toEqual(['0.05', '0.01']);
      await other.ok(
        UpsertRatesDocument,
        { rateGroupId: t.gReseller, rates: [{ prefix: '44', ratePerMinute: '0.09' }] },
        t.r.token,
      );
      expect(await t.rate()).toEqual(['0.09', '0.01']);
    } finally {
      await other.close();
    }
  });

  it('a change that was rolled back is never used, though a lookup inside its transaction saw it', async () => {
    const t = await chain(server, {
      admin: [{ prefix: '44', ratePerMinute: '0.01' }],
      reseller: [{ prefix: '44', ratePerMinute: '0.05' }],
    });
    expect(await t.rate()).toEqual(['0.05', '0.01']);
    const lookup = (em: Em) =>
      server.app.services.rates
        .findRate(em, t.gReseller, '447700900123', Direction.OUTBOUND)
        .then((r) => r?.ratePerMinute.toFixed());
    const em = systemEm(server.app.db.orm).fork() as Em;
    await beginScopedTransaction(em, `/${t.admin.id}/`);
    try {
      await em.execute(`update rates set rate_per_minute = 0.5 where rate_group_id = ?`, [t.gReseller]);
      expect(await lookup(em)).toBe('0.5');
    } finally {
      await em.rollback();
    }
    expect(await t.rate()).toEqual(['0.05', '0.01']);
  });

  it('a rate moved to another group is gone from the first at once', async () => {
    const t = await chain(server, {
      admin: [{ prefix: '44', ratePerMinute: '0.01' }],
      reseller: [
        { prefix: '44', ratePerMinute: '0.05' },
        { prefix: '447700', ratePerMinute: '0.06' },
      ],
    });
    expect(await t.rate()).toEqual(['0.06', '0.01']);
    const other = (await server.ok(CreateRateGroupDocument, { input: { name: `g${++n}`, rates: [] } }, t.r.token)).createRateGroup
      .id;
    await sql(server, `update rates set rate_group_id = ? where rate_group_id = ? and prefix = '447700'`, [other, t.gReseller]);
    expect(await t.rate()).toEqual(['0.05', '0.01']);
  });

  it('groups too large to hold are rated from the database, with the same results', async () => {
    for (const rateCacheMaxRates of [1, 0]) {
      const small = await startServer({ rateCacheMaxRates });
      try {
        const t = await chain(small, {
          admin: [{ prefix: '44', ratePerMinute: '0.01' }],
          reseller: [
            { prefix: '44', ratePerMinute: '0.05' },
            { prefix: '447700', ratePerMinute: '0.06' },
          ],
        });
        expect(await t.rate()).toEqual(['0.06', '0.01']);
        await small.ok(
          UpsertRatesDocument,
          { rateGroupId: t.gReseller, rates: [{ prefix: '447700', ratePerMinute: '0.08' }] },
          t.r.token,
        );
        expect(await t.rate()).toEqual(['0.08', '0.01']);
      } finally {
        await small.close();
      }
    }
  });
});
