/**
 * An embedded PostgreSQL server in a child process (see embedded-postgres-main.ts
 * for why): for vitest's global setup and the benchmarks.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface EmbeddedServerProcess {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  readonly adminUrl: string;
  /** Stops the server and waits for its process to end. */
  stop(): Promise<void>;
}

export async function startEmbeddedPostgresProcess(options: { fsync?: boolean } = {}): Promise<EmbeddedServerProcess> {
  const main = fileURLToPath(new URL('./embedded-postgres-main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...(options.fsync ? ['--fsync'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const adminUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        resolve((JSON.parse(line) as { adminUrl: string }).adminUrl);
      } catch {
        reject(new Error(`embedded PostgreSQL: ${line}`));
      }
    });
    void exited.then(([code]) => reject(new Error(`embedded PostgreSQL exited with ${String(code)} before it started`)));
  });
  return {
    adminUrl,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
