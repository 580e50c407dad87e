/**
 * `npm start`: the service, configured from the environment (see config.ts).
 *
 * SIGTERM / SIGINT are handled from the first line to the last: during start (even
 * mid-restore) as after it, they stop every session without logging out, flush
 * credential writes, release ownership and exit 0 — or exit 1 if that takes longer
 * than shutdownDeadlineMs, the only forced exit. A signal usually arrives more than
 * once: a terminal's Ctrl-C goes to the whole foreground process group (npm and
 * node), systemd's stop signals the whole control group, and npm forwards what it
 * gets to node. So the handlers stay installed for the life of the process (never
 * `once`, which would hand the second signal to Node's default handler and kill the
 * shutdown half-way), and a repeat during a shutdown is only noted.
 */
const shutdownDeadlineMs = 10_000;

let requestStop: (signal: string) => void = (signal) => {
  // Before the service exists there is nothing to flush: leave at once, cleanly.
  process.stderr.write(`wa-vigil: ${signal} before start; exiting\n`);
  process.exit(0);
};
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => requestStop(signal));
// Imported after the handlers: loading Baileys takes a moment, and a signal then must not kill us mid-way.
const { ConfigError } = await import('./config/config-values.js');
const { loadEnvFile } = await import('./app/env-file.js');
const { createLogger, loggerOptionsFromEnv } = await import('./logging/logger.js');
const { routeConsoleToLogger } = await import('./logging/console-guard.js');

/** A bad value (or an unreadable .env) is one line on stderr and exit 1: the log format itself may be what is wrong. */
function refuseConfiguration(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`wa-vigil: configuration error: ${error.message}\n`);
  process.exit(1);
}

// ./.env first: it may set LOG_FORMAT, and variables already in the environment win over it.
try {
  loadEnvFile();
} catch (error) {
  refuseConfiguration(error);
}
// The logger loads in a fraction of the time the rest takes, so even the first line is in the configured
// format (a bad LOG_FORMAT or LOG_LEVEL falls back to the default here and is refused just below).
const logger = createLogger(loggerOptionsFromEnv(process.env));
// libsignal prints Signal session objects (private keys) with console.info: only the logger writes output.
routeConsoleToLogger(logger);
logger.info({ pid: process.pid }, 'wa-vigil starting');

const { loadConfig } = await import('./app/config.js');
const { createService, logListening } = await import('./app/service.js');
const { describeStartFailure } = await import('./service/start-failure.js');

let config;
try {
  config = loadConfig();
} catch (error) {
  refuseConfiguration(error);
}
const service = createService(config, logger, {
  onListening: (url) => logListening(logger, url, service.registry.ownership.holder),
});

let stopping = false;
let repeatNoted = false;
requestStop = (signal) => {
  if (stopping) {
    // The same stop delivered again (process group, control group, npm forwarding): the shutdown
    // under way already does what it asks. Said once, so a supervisor that keeps signalling is no flood.
    if (!repeatNoted) logger.info({ signal }, 'Shutdown already under way; repeated signal ignored');
    repeatNoted = true;
    return;
  }
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
  // One line naming the cause (port in use, database refused, folder unreadable), not a stack trace.
  const failure = describeStartFailure(error, config);
  logger.fatal({ code: failure.code }, `wa-vigil could not start: ${failure.message}`);
  logger.flush();
  process.exit(1);
});
