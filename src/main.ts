import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createApp, type App } from './server.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  // LOG_LEVEL itself may be what is wrong: report at a level that always shows.
  const log = createLogger('info');
  if (error instanceof ConfigError) log.fatal({ problems: error.problems }, `refusing to start: ${error.message}`);
  else log.fatal({ err: error }, 'refusing to start');
  process.exit(1);
}
const log = createLogger(config.logLevel);

let app: App | undefined;
let stopping: string | undefined;

const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = signal;
  log.info({ signal }, 'shutting down: draining HTTP and WebSocket connections');
  const timer = setTimeout(() => {
    log.error('shutdown timed out; exiting');
    process.exit(1);
  }, config.drainDelayMs + config.shutdownTimeoutMs);
  timer.unref();
  // A signal during startup is acted on once the server exists: it then closes like any other.
  if (!app) return;
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
// Installed before anything is announced: without a listener, a SIGTERM sent as soon as the server says it
// is listening would kill the process outright.
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  app = await createApp(config, log);
  const url = await app.listen();
  log.info({ url: `${url}/graphql`, database: app.db.engine }, 'trellis is listening');
  if (stopping) {
    const signal = stopping;
    stopping = undefined;
    shutdown(signal);
  }
} catch (error) {
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
