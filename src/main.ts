/**
 * `npm start`: the service, configured from the environment (see config.ts).
 *
 * SIGTERM / SIGINT are handled from the first line: during start (even mid-restore)
 * as after it, they stop every session without logging out, flush credential
 * writes, release ownership and exit 0 — or exit 1 if that takes longer than
 * shutdownDeadlineMs. Run node directly under a supervisor (systemd, a container
 * runtime, pm2): `npm start` builds in `prestart`, then runs node alone, so npm
 * hands the signal to node and waits for it.
 */
const shutdownDeadlineMs = 10_000;

let requestStop: (signal: string) => void = (signal) => {
  // Before the service exists there is nothing to flush: leave at once, cleanly.
  process.stderr.write(`wa-vigil: ${signal} before start; exiting\n`);
  process.exit(0);
};
process.once('SIGTERM', () => requestStop('SIGTERM'));
process.once('SIGINT', () => requestStop('SIGINT'));
// One line in the logger's own JSON shape (the logger itself loads with the rest, below).
process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), service: 'wa-vigil', pid: process.pid, msg: 'wa-vigil starting' })}\n`);

// Imported after the handlers: loading Baileys takes a moment, and a signal then must not kill us mid-way.
const { ConfigError, loadConfig } = await import('./config.js');
const { createLogger } = await import('./logging/logger.js');
const { createService, logListening } = await import('./service/service.js');

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
const service = createService(config, logger, {
  onListening: (url) => logListening(logger, url, service.registry.ownership.holder),
});

let stopping = false;
requestStop = (signal) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'Shutting down: stopping sessions (credentials kept)');
  setTimeout(() => {
    logger.error('Shutdown took too long; exiting');
    logger.flush();
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
      logger.flush();
      process.exit(1);
    });
};

// Baileys runs many fire-and-forget promises per socket; one that rejects unhandled must not
// take every other session down with it. Log it and keep serving.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'Unhandled promise rejection (kept running)');
});

service.run().catch((error: unknown) => {
  if (stopping) return; // stopped while starting: the stop path exits
  logger.fatal({ err: error }, 'wa-vigil could not start');
  logger.flush();
  process.exit(1);
});
