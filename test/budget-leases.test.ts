import { describe, expect, it } from 'vitest';
import { ThrottleService } from '../src/services/throttle.service.js';
import { testConfig } from './support/harness.js';

/**
 * Budget leases at the end of a window (src/services/throttle.service.ts). The shared count here is the one that
 * stands in for PostgreSQL's while the database cannot answer: the same limiter, in memory.
 */
describe('a request budget spent from leases', () => {
  it("spends only what requests cost in a window's last second, where no lease may be kept", async () => {
    // A one-second window: every lease would end past its margin, as in the last second of any window.
    const throttle = new ThrottleService(testConfig({ requestBudget: 10_000, requestBudgetWindowSeconds: 1 }), {
      engine: 'postgresql',
    });
    const refused: unknown[] = [];
    // 300 requests of cost 1 against a budget of 10,000 (leases of 100): none may be refused.
    for (let i = 0; i < 300; i++) await throttle.spend('account:a', 1).catch((error: unknown) => refused.push(error));
    expect(refused).toEqual([]);
  });

  it('still refuses past the budget', async () => {
    const throttle = new ThrottleService(testConfig({ requestBudget: 1_000, requestBudgetWindowSeconds: 60 }), {
      engine: 'postgresql',
    });
    let spent = 0;
    for (let i = 0; i < 30; i++) {
      try {
        await throttle.spend('account:b', 50);
        spent += 50;
      } catch (error) {
        expect((error as { code?: string }).code).toBe('RATE_LIMITED');
      }
    }
    expect(spent).toBe(1_000);
  });
});
