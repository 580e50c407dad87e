/**
 * `npm run demo`: the simulator and the service in one process, with two
 * sessions — one already paired (goes open), one new (shows its QR) — and
 * its URLs and the commands for breaking the connection and watching it
 * recover — and one message each way between demo/paired and a contact's
 * simulated phone. Its temporary sessions folder is removed when it stops (a
 * SESSIONS_DIR of your own is kept).
 * Nothing here reaches WhatsApp: the service talks to the simulator only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './app/config.js';
import { routeConsoleToLogger } from './logging/console-guard.js';
import { createLogger } from './logging/logger.js';
import { startService } from './app/service.js';
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
  // The simulator signs its certificate chain with its own root, not WhatsApp's.
  WA_ROOT_PUBLIC_KEY: sim.rootPublicKeyHex,
  SESSIONS_DIR: sessionsDir,
  PRINT_QR: 'true',
  RECONNECT_DELAYS_MS: process.env.RECONNECT_DELAYS_MS ?? '3000,10000,30000,60000,120000',
});
const logger = createLogger({ level: config.logLevel, format: config.logFormat });
routeConsoleToLogger(logger);
const service = await startService(config, logger);
await service.registry.create('demo', 'new');
// A contact on the simulated WhatsApp, with a phone that decrypts, receipts and writes back (real Signal crypto).
const contact = sim.addContact({ phone: '15551230000', pushName: 'Ada (demo contact)', receipts: 'read' });
const pairedDevice = '15550001000:1@s.whatsapp.net';

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
    `  - send Ada a message:        curl -X POST ${api}/sessions/demo/paired/messages -H 'content-type: application/json' -d '{"to":"+${contact.phone}","text":"hi Ada"}'`,
    `  - Ada writes to demo/paired: curl -X POST ${controlUrl}/contacts/${contact.phone}/messages -d '{"to":"${pairedDevice}","text":"hi"}'`,
    `  - messages as events:        curl -N "${api}/events?types=message.received,message.status"`,
    '  and watch the log lines: "Reconnection attempt", "Session open", "Keep-alive ping".',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n') + '\n',
);

let stopping = false;
void oneMessageEachWay().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'demo: the message exchange did not complete'));

/** Once demo/paired is open: Ada writes to it, and it answers through the API's own path (queue, socket, receipts). */
async function oneMessageEachWay(): Promise<void> {
  const key = { userId: 'demo', sessionId: 'paired' };
  const deadline = Date.now() + 60_000;
  while (!(service.registry.get(key.userId, key.sessionId).state === 'open' && sim.messaging.contacts.keysOf(pairedDevice))) {
    if (Date.now() > deadline || stopping) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await sim.sendText(pairedDevice, { from: contact.phone, text: 'Hello from my phone!' });
  const { message } = await service.messaging.send(key, { to: `+${contact.phone}`, text: 'Hello back from wa-vigil' });
  while (!contact.shownIds().includes(message.id)) {
    if (Date.now() > deadline || stopping) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stdout.write(
    `  demo: one message each way — Ada wrote to demo/paired (a message.received event), and her phone shows "Hello back from wa-vigil" (id ${message.id});\n` +
      `        its status: curl ${api}/sessions/demo/paired/messages/${message.id}\n`,
  );
}

const stop = async () => {
  // Ctrl-C reaches npm and node alike, and npm forwards its copy: the first one stops everything.
  if (stopping) return;
  stopping = true;
  await service.stop();
  control.server.close();
  await sim.stop();
  if (!ownSessionsDir) await rm(sessionsDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
