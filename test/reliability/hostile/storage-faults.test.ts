/**
 * A disk that refuses writes (full, read-only): the fault is visible — GET /health
 * 503 naming it, a metric of failed writes by kind — and survivable: a create either
 * happens whole or leaves nothing (no ghost that answers 409 to the next create),
 * operations answer 503 storage_unavailable instead of a bare 500, no temp file is
 * left behind, and everything works again once the disk does.
 *
 * The first case injects the failure into the store (deterministic, anywhere); the
 * second fills a real tmpfs, which needs root to mount.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WaSimulator } from '../../../src/sim/wa-simulator.js';
import type { SessionAuthState, SessionStore } from '../../../src/store/session-store.js';
import { removeDir, startTestService, tempSessionsDir } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';

let sim: WaSimulator;
let app: Awaited<ReturnType<typeof startTestService>> | null = null;

beforeEach(async () => {
  sim = await new WaSimulator().start();
});
afterEach(async () => {
  await stopApp();
  await sim.stop();
});

async function stopApp(): Promise<void> {
  await app?.service.stop();
  app = null;
}

/** A degraded process probes the disk at most once a second: recovery shows within a few. */
async function untilHealthy(): Promise<void> {
  await waitUntil(async () => (await health()).status === 200, 5_000);
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });

/** A store on a disk that fills up on demand: while full, every write fails with ENOSPC (making a folder and removing one still work). */
class FillingDisk {
  full = false;
  wrap(store: SessionStore): SessionStore {
    const refuse = <A extends unknown[], R>(write: (...args: A) => Promise<R>) => (...args: A) => (this.full ? Promise.reject(enospc()) : write(...args));
    const wrapAuth = (auth: SessionAuthState): SessionAuthState => ({
      ...auth,
      state: { creds: auth.state.creds, keys: { ...auth.state.keys, set: refuse(async (data) => auth.state.keys.set(data)) } },
      saveCreds: refuse(() => auth.saveCreds()),
    });
    return new Proxy(store, {
      get: (target, property) => {
        if (property === 'writeMeta') return refuse(target.writeMeta.bind(target));
        if (property === 'probeWrite') return refuse(target.probeWrite!.bind(target));
        if (property === 'openAuthState') return async (...args: Parameters<SessionStore['openAuthState']>) => wrapAuth(await target.openAuthState(...args));
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

async function metric(name: string, labels = ''): Promise<number> {
  const { body } = await app!.call('GET', '/metrics');
  const line = String(body)
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${app!.service.url}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Every file under `dir`, recursively, with its size. */
async function filesUnder(dir: string): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    // A write in flight renames its temp file away between the listing and the stat: not left behind.
    const info = await stat(path).catch(() => null);
    if (info) out.push({ path, size: info.size });
  }
  return out;
}

describe('a disk that refuses writes (injected)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempSessionsDir();
  });
  afterEach(async () => {
    await stopApp();
    await removeDir(dir);
  });

  it('health 503 naming the cause, failures counted by kind, 503 storage_unavailable, no ghost session; all well once the disk is', async () => {
    const disk = new FillingDisk();
    app = await startTestService({ sim, sessionsDir: dir, extra: { wrapStore: (store) => disk.wrap(store) } });
    expect((await app.call('POST', '/sessions', { userId: 'alive' })).status).toBe(201);
    await app.waitForState('alive', 'default', 'connecting.awaitingQr');
    expect((await health()).status).toBe(200);
    expect(await metric('wa_vigil_storage_write_failures_total', '{kind="meta"}')).toBe(0);
    expect(await metric('wa_vigil_storage_degraded')).toBe(0);

    disk.full = true;
    const create = await app.call('POST', '/sessions', { userId: 'ghost' });
    expect(create.status).toBe(503);
    expect(create.body).toMatchObject({ error: 'storage_unavailable' });
    expect(create.body.message).toContain('no space left on device (ENOSPC)');
    // All or nothing: no folder, not listed, not known.
    await expect(stat(join(dir, 'ghost'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await app.call('GET', '/sessions/ghost/default')).status).toBe(404);
    expect((app.service.registry.list()).map((s) => s.userId)).toEqual(['alive']);

    const unhealthy = await health();
    expect(unhealthy.status).toBe(503);
    expect(String(unhealthy.body.message)).toMatch(/meta: no space left on device \(ENOSPC\)/);
    expect(await metric('wa_vigil_storage_write_failures_total', '{kind="meta"}')).toBeGreaterThanOrEqual(1);
    expect(await metric('wa_vigil_storage_degraded')).toBe(1);

    // Stop cannot record itself: it says so, and the session is left as it was.
    const stop = await app.call('POST', '/sessions/alive/default/stop');
    expect(stop.status).toBe(503);
    expect(stop.body.error).toBe('storage_unavailable');
    expect((await app.call('GET', '/sessions/alive/default')).body.state).toBe('connecting');

    disk.full = false;
    await untilHealthy();
    // /metrics is rendered at most once a second: the recovery shows within that.
    await waitUntil(async () => (await metric('wa_vigil_storage_degraded')) === 0, 3_000);
    expect((await app.call('POST', '/sessions', { userId: 'ghost' })).status).toBe(201);
    expect((await app.call('POST', '/sessions/alive/default/stop')).status).toBe(202);
  });
});

/** Mounting needs root (CI runs as root in its container; a developer's laptop may not). */
function canMount(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

describe.runIf(canMount())('a real full tmpfs', () => {
  let mountPoint: string;
  beforeEach(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'wa-vigil-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
  });
  afterEach(async () => {
    await stopApp();
    execFileSync('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('ENOSPC: health 503, create 503 leaving nothing, no temp file left; space back → healthy and the create succeeds', async () => {
    const dir = join(mountPoint, 'sessions');
    app = await startTestService({ sim, sessionsDir: dir });
    expect((await app.call('POST', '/sessions', { userId: 'early' })).status).toBe(201);
    await app.waitForState('early', 'default', 'connecting.awaitingQr');

    // Fill the disk to the last byte.
    const fillerPath = join(mountPoint, 'filler');
    const filler = await open(fillerPath, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) await filler.write(chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (;;) await filler.write(Buffer.alloc(size, 1));
      } catch {
        // smaller pieces until not one byte fits
      }
    }
    await filler.close();

    // Events to store while the disk is full: the session drops, backs off and reconnects — as often as it
    // takes to fill the last page of the outbox's open segment (appends into it need no new block).
    const transitions = app.logs.lines.length;
    const outboxFailed = () => app!.logs.lines.slice(transitions).some((line) => line.includes('Outbox write failed'));
    for (let drop = 0; drop < 40 && !outboxFailed(); drop++) {
      sim.closeAll();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await waitUntil(outboxFailed, 5_000);

    const create = await app.call('POST', '/sessions', { userId: 'late' });
    expect(create.status).toBe(503);
    expect(create.body).toMatchObject({ error: 'storage_unavailable' });
    await expect(stat(join(dir, 'late'))).rejects.toMatchObject({ code: 'ENOENT' });
    const stop = await app.call('POST', '/sessions/early/default/stop');
    expect(stop.status).toBe(503);
    const unhealthy = await health();
    expect(unhealthy.status).toBe(503);
    expect(String(unhealthy.body.message)).toContain('ENOSPC');
    const counted = (await metric('wa_vigil_storage_write_failures_total', '{kind="meta"}')) + (await metric('wa_vigil_storage_write_failures_total', '{kind="lease"}'));
    expect(counted).toBeGreaterThanOrEqual(1);
    expect(await metric('wa_vigil_storage_write_failures_total', '{kind="outbox"}')).toBeGreaterThanOrEqual(1);
    // Failed writes leave no temp file behind (a zero-byte .tmp per failed write filled folders before).
    expect((await filesUnder(dir)).filter((f) => f.path.endsWith('.tmp'))).toEqual([]);

    await rm(fillerPath);
    await untilHealthy();
    expect((await app.call('POST', '/sessions', { userId: 'late' })).status).toBe(201);
    await app.waitForState('late', 'default', 'connecting.awaitingQr');
    expect((await app.call('POST', '/sessions/early/default/stop')).status).toBe(202);
    expect((await filesUnder(dir)).filter((f) => f.path.endsWith('.tmp'))).toEqual([]);
  });

  it('EROFS (a read-only remount): health 503 naming it, create 503 storage_unavailable; read-write again → healthy, the create succeeds', async () => {
    const dir = join(mountPoint, 'sessions');
    app = await startTestService({ sim, sessionsDir: dir });
    expect((await health()).status).toBe(200);
    execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
    try {
      const create = await app.call('POST', '/sessions', { userId: 'ro' });
      expect(create.status).toBe(503);
      expect(create.body).toMatchObject({ error: 'storage_unavailable' });
      expect(create.body.message).toContain('read-only file system (EROFS)');
      const unhealthy = await health();
      expect(unhealthy.status).toBe(503);
      expect(String(unhealthy.body.message)).toContain('session: read-only file system (EROFS)');
      expect(await metric('wa_vigil_storage_write_failures_total', '{kind="session"}')).toBeGreaterThanOrEqual(1);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
    }
    await untilHealthy();
    expect((await app.call('POST', '/sessions', { userId: 'ro' })).status).toBe(201);
    await app.waitForState('ro', 'default', 'connecting.awaitingQr');
  });
});
