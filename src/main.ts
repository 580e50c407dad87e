/**
 * `npm start`: the service, configured from the environment (see config.ts).
 * SIGTERM / SIGINT stop every session without logging out, flush credential
 * writes and exit 0 — or exit 1 if that takes longer than shutdownDeadlineMs.
 */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logging/logger.js';
import { startService } from './service/service.js';

const shutdownDeadlineMs = 10_000;

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`wa-vigil: configuration error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger({ level: config.logLevel, format: config.logFormat });
const service = await startService(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'wa-vigil could not start');
  process.exit(1);
});

// Baileys runs many fire-and-forget promises per socket; one that rejects unhandled must not
// take every other session down with it. Log it and keep serving.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'Unhandled promise rejection (kept running)');
});

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'Shutting down: stopping sessions (credentials kept)');
  setTimeout(() => {
    logger.error('Shutdown took too long; exiting');
    process.exit(1);
  }, shutdownDeadlineMs).unref();
  service
    .stop()
    .then(() => {
      logger.info('Shutdown complete');
      logger.flush();
      process.exit(0);
    })
    .catch((error: unknown) => {
      logger.error({ err: error }, 'Shutdown failed');
      process.exit(1);
    });
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
