/**
 * A lock on a folder's build, between processes: a directory (mkdir is atomic)
 * holding the owner's pid. A lock whose owner is gone (killed mid-build) is taken
 * over; one held longer than waitMs by a live process is an error.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function ownerAlive(ownerFile) {
  let text;
  try {
    text = readFileSync(ownerFile, 'utf8');
  } catch {
    // Created, its pid not yet written: a build that is just starting.
    return true;
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Blocks until this process holds `lockDir`; returns the release function.
 * `onWait` is called once, when another live process holds it.
 */
export function acquireLock(lockDir, { waitMs = 5 * 60_000, pollMs = 200, onWait = () => {} } = {}) {
  const ownerFile = join(lockDir, 'pid');
  mkdirSync(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + waitMs;
  let waited = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(ownerFile, String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    if (!ownerAlive(ownerFile)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another build has held ${lockDir} for ${waitMs / 1000} s; remove it if no build is running`);
    if (!waited) {
      waited = true;
      onWait();
    }
    sleep(pollMs);
  }
}
