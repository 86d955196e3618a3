import 'reflect-metadata';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createApp } from './server.js';

const config = loadConfig();
const log = createLogger(config.logLevel);

try {
  const app = await createApp(config, log);
  const url = await app.listen();
  log.info({ url: `${url}/graphql`, database: app.db.engine }, 'trellis is listening');

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down: draining HTTP and WebSocket connections');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    app.close().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
