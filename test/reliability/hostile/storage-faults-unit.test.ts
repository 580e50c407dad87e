/**
 * StorageFaults on its own, on a stepped clock: what makes a process degraded,
 * what makes it healthy again, and that a flood of /health on a degraded process
 * costs one probe write a second, not one per request.
 */
import { expect, it } from 'vitest';
import { LeaseLostError } from '../../../src/store/ownership.js';
import { StorageFaults, storageProblem } from '../../../src/store/storage-faults.js';

const errno = (code: string) => Object.assign(new Error(`${code}: failed, open '/secret/path/creds.json'`), { code });

it('degraded from a failed write until that kind succeeds; a lost lease is no storage fault', async () => {
  const faults = new StorageFaults();
  faults.failed('meta', new LeaseLostError({ key: { userId: 'a', sessionId: 'b' }, holder: 'h', epoch: 1 }));
  expect(faults.degraded).toBe(false);
  expect(faults.failures.get('meta')).toBe(0);

  await expect(faults.track('meta', () => Promise.reject(errno('ENOSPC')))).rejects.toMatchObject({ code: 'ENOSPC' });
  await expect(faults.track('credentials', () => Promise.reject(errno('EIO')))).rejects.toMatchObject({ code: 'EIO' });
  const health = await faults.health();
  expect(health.ok).toBe(false);
  expect(health.message).toContain('meta: no space left on device (ENOSPC)');
  expect(health.message).toContain('credentials: input/output error (EIO)');
  // What reaches clients names the problem, never a path.
  expect(health.message).not.toContain('/secret/path');

  await faults.track('meta', async () => undefined);
  expect((await faults.health()).message).not.toContain('meta');
  await faults.track('credentials', async () => undefined);
  expect(await faults.health()).toEqual({ ok: true });
  expect(faults.failures.get('meta')).toBe(1);
});

it('a degraded process probes at most once per interval, however often /health is asked', async () => {
  let now = 0;
  let diskFull = true;
  let probes = 0;
  const faults = new StorageFaults({
    now: () => now,
    probeIntervalMs: 1_000,
    probe: async () => {
      probes += 1;
      if (diskFull) throw errno('ENOSPC');
    },
  });
  faults.failed('outbox', errno('ENOSPC'));
  await Promise.all(Array.from({ length: 1_000 }, () => faults.health()));
  expect(probes).toBe(1);
  now = 999;
  diskFull = false;
  expect((await faults.health()).ok).toBe(false);
  expect(probes).toBe(1);
  now = 1_000;
  expect(await faults.health()).toEqual({ ok: true });
  expect(probes).toBe(2);
  // Healthy: no probe at all.
  now = 5_000;
  await faults.health();
  expect(probes).toBe(2);
});

it('names storage errors of files and of PostgreSQL, and nothing else', () => {
  expect(storageProblem(errno('EROFS'))).toBe('read-only file system (EROFS)');
  expect(storageProblem({ code: '53100' })).toBe('the database is out of resources (53100)');
  expect(storageProblem({ code: '25006' })).toBe('the database is read-only (25006)');
  expect(storageProblem(new Error('plain'))).toBeNull();
  expect(storageProblem({ code: 'ERR_LEASE_LOST' })).toBeNull();
});

it('a message the disk refuses degrades the process like any write; a full queue or a bad id does not', async () => {
  const { watchStore } = await import('../../../src/store/storage-faults.js');
  const { QueueFullError } = await import('../../../src/store/message-queue.js');
  let refusal: Error = errno('ENOSPC');
  const messages = {
    accept: () => Promise.reject(refusal),
    update: () => Promise.resolve(null),
    prune: () => Promise.resolve(0),
    get: () => Promise.resolve(null),
    list: () => Promise.resolve([]),
  };
  const faults = new StorageFaults();
  const store = watchStore({ messages } as unknown as Parameters<typeof watchStore>[0], faults);
  const lease = { key: { userId: 'a', sessionId: 'b' }, holder: 'h', epoch: 1 };
  const draft = { id: '3EB0AAAABBBBCCCC0001', to: '15551111111@s.whatsapp.net', text: 'x', createdAt: new Date(0).toISOString() };

  await expect(store.messages.accept(lease, draft, 10)).rejects.toMatchObject({ code: 'ENOSPC' });
  expect((await faults.health()).message).toContain('messages: no space left on device (ENOSPC)');
  expect(faults.failures.get('messages')).toBe(1);
  await store.messages.update(lease, draft.id, { status: 'sent' });
  expect(await faults.health()).toEqual({ ok: true });

  refusal = new QueueFullError(10);
  await expect(store.messages.accept(lease, draft, 10)).rejects.toBeInstanceOf(QueueFullError);
  expect(await faults.health()).toEqual({ ok: true });
  expect(faults.failures.get('messages')).toBe(1);
});
