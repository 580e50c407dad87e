/**
 * `npm run demo`: the simulator and the service in one process, with two
 * sessions — one already paired (goes open), one new (shows its QR) — and
 * its URLs and the commands for breaking the connection and watching it
 * recover. Its temporary sessions folder is removed when it stops (a
 * SESSIONS_DIR of your own is kept).
 * Nothing here reaches WhatsApp: the service talks to the simulator only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { createLogger } from './logging/logger.js';
import { startService } from './service/service.js';
import { startControlServer } from './sim/control-server.js';
import { WaSimulator } from './sim/wa-simulator.js';
import { openFileAuthState } from './store/files/file-auth-state.js';

const sim = await new WaSimulator().start();
const control = await startControlServer(sim);
const ownSessionsDir = process.env.SESSIONS_DIR;
const sessionsDir = ownSessionsDir ?? (await mkdtemp(join(tmpdir(), 'wa-vigil-demo-')));

// A device the simulator will accept, as if it had been paired earlier.
const paired = await openFileAuthState(join(sessionsDir, 'demo', 'paired'));
paired.state.creds.me = { id: '15550001000:1@s.whatsapp.net', name: 'Demo' };
await paired.saveCreds();

const config = loadConfig({
  ...process.env,
  WA_WS_URL: sim.url,
  SESSIONS_DIR: sessionsDir,
  PRINT_QR: 'true',
  RECONNECT_DELAYS_MS: process.env.RECONNECT_DELAYS_MS ?? '3000,10000,30000,60000,120000',
});
const service = await startService(config, createLogger({ level: config.logLevel, format: config.logFormat }));
await service.registry.create('demo', 'new');

const api = service.url;
const controlUrl = control.url;
process.stdout.write(
  [
    '',
    'wa-vigil demo (nothing here reaches WhatsApp)',
    `  API:        ${api}`,
    `  inspector:  ${api}/inspector     (open in your browser)`,
    `  API docs:   ${api}/docs`,
    `  metrics:    ${api}/metrics`,
    `  simulator:  ${sim.url}   control: ${controlUrl}`,
    `  sessions/:  ${sessionsDir}${ownSessionsDir ? '' : '   (temporary: removed on exit)'}`,
    '',
    '  demo/paired goes open; demo/new waits for its QR to be scanned.',
    `  - list the sessions:         curl ${api}/sessions`,
    `  - save the QR as a PNG:      curl -f -o qr.png ${api}/sessions/demo/new/qr`,
    `  - "scan" it:                 curl -s "${api}/sessions/demo/new/qr?format=raw" | curl -X POST ${controlUrl}/scan -d @-`,
    `  - break every connection:    curl -X POST ${controlUrl}/faults/close`,
    `  - a silent dead link:        curl -X POST ${controlUrl}/faults/deafen`,
    `  - watch it live:             curl -N ${api}/sessions/demo/paired/events`,
    '  and watch the log lines: "Reconnection attempt", "Session open", "Keep-alive ping".',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n') + '\n',
);

const stop = async () => {
  await service.stop();
  control.server.close();
  await sim.stop();
  if (!ownSessionsDir) await rm(sessionsDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
