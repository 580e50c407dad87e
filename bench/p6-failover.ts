/**
 * P6 failover: 3 nodes × 100 paired sessions on one PostgreSQL, real Baileys
 * against the simulator, the service's default lease settings (TTL 15 s, renew
 * 5 s). Kill one node, measure until every session it owned is open on the
 * others, and count logins that replaced a live one at the simulator.
 *
 *   SIGKILL: goal ≤ TTL + 5 s, 0 replacements
 *   SIGTERM to node alone: goal ≤ 3 s, 0 replacements
 *   SIGTERM to the process group of `npm start`, as systemd stops a unit (npm and node
 *   both get it, npm forwards its copy to node): goal ≤ 3 s, 0 replacements
 *
 * The npm node runs `npm start --ignore-scripts` (the build is done once, first), so the
 * command line is npm's own but the measurement holds no compile.
 *
 * Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else an embedded server.
 * Prints one JSON line with its verdict.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { WaSimulator } from '../src/sim/wa-simulator.js';
import { defaultPgLeaseTtlMs } from '../src/store/postgres/pg-ownership.js';
import { startEmbeddedPostgresProcess, type EmbeddedServerProcess } from '../fixtures/embedded-postgres-process.js';
import { seedPairedSessions } from '../fixtures/pg-seed.js';
import { spawnService, type ServiceProcess } from '../fixtures/service-process.js';
import { waitUntil } from '../fixtures/wait.js';
import { report } from './support/measure.js';

const nodesCount = 3;
const sessionsPerNode = Number(process.env.P6_SESSIONS_PER_NODE ?? 100);
const sessionCount = nodesCount * sessionsPerNode;
const killGoalMs = defaultPgLeaseTtlMs + 5_000;
const termGoalMs = 3_000;

interface View {
  state: string;
  owner: string | null;
}

let embedded: EmbeddedServerProcess | null = null;
let adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
if (!adminUrl) {
  embedded = await startEmbeddedPostgresProcess({ fsync: true });
  adminUrl = embedded.adminUrl;
}
const name = `wa_vigil_p6_${Date.now()}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${name}`;
const pool = new pg.Pool({ connectionString: dbUrl.toString() });
const { migrate } = await import('../src/store/postgres/migrate.js');
await migrate(pool);
const progress = (what: string) => process.stderr.write(`p6: ${what}\n`);
await seedPairedSessions(pool, sessionCount, '1555300');
progress(`${sessionCount} sessions seeded`);

const sim = await new WaSimulator().start();
const dir = await mkdtemp(join(tmpdir(), 'wa-vigil-p6-'));
const nodes: ServiceProcess[] = [];
// The service's own lease defaults: only the ports and the simulator are set here.
const boot = (through: 'node' | 'npm' = 'node') => {
  const node = spawnService({
    sessionsDir: dir,
    waUrl: sim.url,
    env: { DATABASE_URL: dbUrl.toString(), LEASE_TTL_MS: '', LEASE_RENEW_MS: '', LOG_LEVEL: 'info' },
    ...(through === 'npm' ? { command: ['npm', 'start', '--ignore-scripts'], ownProcessGroup: true } : {}),
  });
  nodes.push(node);
  return node;
};
const alive = (n: ServiceProcess) => n.child.exitCode === null && n.child.signalCode === null;

async function views(node: ServiceProcess): Promise<View[]> {
  return (await node.call('/sessions')).body as unknown as View[];
}
async function allOpenOn(node: ServiceProcess, holders: string[]): Promise<boolean> {
  const list = await views(node);
  return list.length === sessionCount && list.every((v) => v.state === 'open' && v.owner !== null && holders.includes(v.owner));
}

/** `group`: the signal goes to the victim's whole process group (it must lead one: the npm node). */
async function failover(signal: 'SIGKILL' | 'SIGTERM', target: ServiceProcess, group = false): Promise<{ ms: number; moved: number; replacements: number; exitCode: number | null }> {
  const all = await Promise.all(nodes.filter(alive).map(async (n) => ({ node: n, holder: await n.holder })));
  const victim = all.find((l) => l.node === target)!;
  // Read from a survivor: the victim first in the list it is not.
  const live = [...all.filter((l) => l !== victim), victim];
  await waitUntil(() => allOpenOn(live[0]!.node, live.map((l) => l.holder)), 120_000);
  progress(`all open on ${live.length} nodes; ${signal}${group ? ' to the process group of' : ''} one`);
  const moved = (await views(live[0]!.node)).filter((v) => v.owner === victim.holder).length;
  const survivors = live.filter((l) => l !== victim).map((l) => l.holder);
  const replacementsBefore = sim.counters.replacements;
  const startedAt = performance.now();
  if (group) process.kill(-victim.node.child.pid!, signal);
  else victim.node.child.kill(signal);
  const exitCode = await victim.node.exited;
  await waitUntil(() => allOpenOn(live[0]!.node, survivors), 120_000);
  return { ms: Math.round(performance.now() - startedAt), moved, replacements: sim.counters.replacements - replacementsBefore, exitCode };
}

try {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  // One of the three runs under npm, leading a process group of its own as under systemd.
  const [first, second] = [boot(), boot()];
  const npmNode = boot('npm');
  const kill = await failover('SIGKILL', second);
  boot(); // back to three nodes; it takes its share by hand-over
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  const termGroup = await failover('SIGTERM', npmNode, true);
  boot();
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  const term = await failover('SIGTERM', first);
  const verdict = (r: { ms: number; replacements: number; exitCode: number | null }) => r.ms <= termGoalMs && r.replacements === 0 && r.exitCode === 0;
  report('p6-failover', {
    nodes: nodesCount,
    sessions: sessionCount,
    leaseTtlMs: defaultPgLeaseTtlMs,
    sigkill: { ...kill, goalMs: killGoalMs, met: kill.ms <= killGoalMs && kill.replacements === 0 },
    sigterm: { ...term, goalMs: termGoalMs, met: verdict(term) },
    sigtermNpmProcessGroup: { ...termGroup, goalMs: termGoalMs, met: verdict(termGroup) },
  });
} finally {
  for (const node of nodes) {
    if (node.child.pid !== undefined && alive(node)) {
      try {
        process.kill(-node.child.pid, 'SIGKILL'); // a group leader (the npm node): node with it
      } catch {
        // not a group leader
      }
    }
    node.child.kill('SIGKILL');
  }
  await Promise.all(nodes.map((n) => n.exited));
  await sim.stop();
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  await rm(dir, { recursive: true, force: true });
}
