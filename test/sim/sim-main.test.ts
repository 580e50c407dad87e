/**
 * `npm run sim` as a process: ports from SIM_PORT / SIM_CONTROL_PORT (fixed
 * defaults 3900/3901, so README commands work on every run), and a port
 * already taken is one line naming the variable, exit 1.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultSimControlPort, defaultSimPort } from '../../src/sim/ports.js';

const holder = createServer();
let busyPort: number;
beforeAll(async () => {
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  busyPort = (holder.address() as { port: number }).port;
});
afterAll(() => {
  holder.close();
});

function runSim(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sim/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout, stderr, exited };
}

/** Waits for a started simulator's two lines; its WebSocket URL and control URL as printed (undefined if never). */
async function printedUrls(sim: ReturnType<typeof runSim>): Promise<{ simUrl?: string; controlUrl?: string }> {
  const deadline = Date.now() + 25_000;
  while (!sim.stdout.some((line) => line.startsWith('Controls: ')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const printed = sim.stdout.join('\n');
  return { simUrl: /listening on (ws:\/\/\S+)/.exec(printed)?.[1], controlUrl: /Controls: (http:\/\/\S+)/.exec(printed)?.[1] };
}

it('the defaults are fixed ports, the README’s', () => {
  expect([defaultSimPort, defaultSimControlPort]).toEqual([3900, 3901]);
});

it('SIM_PORT already in use: one line naming the port and the variable, exit 1', async () => {
  const sim = runSim({ SIM_PORT: String(busyPort), SIM_CONTROL_PORT: '0' });
  expect(await sim.exited).toBe(1);
  expect(sim.stderr).toEqual([`simulator: port ${busyPort} is already in use on 127.0.0.1 (set SIM_PORT to another one, or 0 for any)`]);
}, 30_000);

it('SIM_PORT and SIM_CONTROL_PORT choose the ports; the control endpoint answers there', async () => {
  const sim = runSim({ SIM_PORT: '0', SIM_CONTROL_PORT: '0' });
  try {
    const { simUrl, controlUrl } = await printedUrls(sim);
    expect(controlUrl).toBeDefined();
    const state = (await (await fetch(`${controlUrl}/state`)).json()) as { url: string };
    expect(state.url).toBe(simUrl);
    expect(simUrl).not.toContain(`:${defaultSimPort}/`);
  } finally {
    sim.child.kill('SIGTERM');
  }
  expect(await sim.exited).toBe(0);
}, 30_000);

it('a client that resets its connection after a refused upgrade does not take the simulator down', async () => {
  const sim = runSim({ SIM_PORT: '0', SIM_CONTROL_PORT: '0' });
  try {
    const { simUrl, controlUrl } = await printedUrls(sim);
    const simPort = Number(new URL(simUrl!).port);
    const put = await fetch(`${controlUrl}/behaviour`, { method: 'PUT', body: JSON.stringify({ rejectUpgrades: true }) });
    expect(put.status).toBe(200);

    // What a SIGKILLed service does to a connection the simulator has just refused: the kernel resets it.
    const refusedThenReset = async (): Promise<string> => {
      const socket = connect(simPort, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      const [reply] = (await once(socket, 'data')) as [Buffer];
      socket.resetAndDestroy();
      return reply.toString('latin1').split('\r\n')[0]!;
    };
    expect(await refusedThenReset()).toBe('HTTP/1.1 403 Forbidden');
    expect(await refusedThenReset()).toBe('HTTP/1.1 403 Forbidden');
    const state = (await (await fetch(`${controlUrl}/state`)).json()) as { counters: { upgradesRejected: number } };
    expect(state.counters.upgradesRejected).toBe(2);
    expect(sim.child.exitCode).toBeNull();
  } finally {
    sim.child.kill('SIGTERM');
  }
  expect(await sim.exited).toBe(0);
}, 30_000);
