import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { systemEm, type Orm } from '../db/orm.js';
import type { AccountService } from './account.service.js';

/**
 * On an empty database, creates the root ADMIN from ADMIN_EMAIL / ADMIN_PASSWORD. An advisory lock makes two
 * instances starting at once agree on a single root.
 */
export async function bootstrapRoot(orm: Orm, accounts: AccountService, config: Config, log: Logger): Promise<void> {
  const em = systemEm(orm);
  await em.transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(hashtext('trellis.bootstrap'))`);
    const [{ count }] = await tx.execute<{ count: string }[]>(`select count(*)::text as count from accounts`);
    if (count !== '0') return;
    const root = await accounts.createRoot(tx, {
      name: 'Administrator',
      email: config.adminEmail,
      password: config.adminPassword,
    });
    log.info({ accountId: root.id, email: root.email }, 'created the root admin account');
    if (config.adminDefaults) {
      log.warn('the root admin uses the default ADMIN_EMAIL/ADMIN_PASSWORD: change the password now');
    }
  });
}
