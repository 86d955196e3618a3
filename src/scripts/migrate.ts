import 'reflect-metadata';
import { ConfigError, loadConfig } from '../config.js';
import { migrate, openDatabase } from '../db/orm.js';
import { createLogger } from '../logger.js';

/**
 * `npm run migrate -- status|up`: the migrations the server applies on start (MIGRATE_ON_START), run on their
 * own, e.g. as a release step before instances that start with MIGRATE_ON_START=false. Same settings as the
 * server (DATABASE_URL or DATA_DIR), same advisory lock.
 */
const command = process.argv[2] ?? 'status';
if (!['status', 'up'].includes(command)) {
  console.error('usage: npm run migrate -- status|up');
  process.exit(2);
}

let exitCode = 0;
try {
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await openDatabase(config, log, { migrate: false });
  try {
    const migrator = db.orm.getMigrator();
    const before = await migrator.getPendingMigrations();
    if (command === 'up') {
      await migrate(db.orm, db.engine === 'pglite');
      console.log(before.length ? `applied ${before.length}: ${before.map((m) => m.name).join(', ')}` : 'nothing to apply');
    } else {
      const executed = await migrator.getExecutedMigrations();
      for (const m of executed) console.log(`applied  ${m.name}  ${new Date(m.executed_at).toISOString()}`);
      for (const m of before) console.log(`pending  ${m.name}`);
      console.log(`${executed.length} applied, ${before.length} pending (${db.engine})`);
    }
  } finally {
    await db.close();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `migrate ${command} failed: ${(error as Error).stack ?? error}`);
  exitCode = 1;
}
process.exit(exitCode);
