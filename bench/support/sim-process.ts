/**
 * The simulator in its own process, so its CPU and memory stay out of the
 * figures of the process being measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SimProcess {
  url: string;
  controlUrl: string;
  fault(name: string, body?: unknown): Promise<{ affected: number }>;
  state(): Promise<{ cpuMs: number; counters: Record<string, number>; connections: Array<{ id: number; phase: string }> }>;
  stop(): void;
}

export function startSimProcess(): Promise<SimProcess> {
  // Any free ports: `npm run sim`'s fixed defaults may be taken by a simulator the user runs.
  const env = { ...process.env, SIM_PORT: '0', SIM_CONTROL_PORT: '0' };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/sim/main.ts'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    let url = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const sim = /listening on (ws:\/\/\S+)/.exec(line);
      if (sim) url = sim[1]!;
      const control = /^Controls: (http:\/\/\S+)/.exec(line);
      if (control) {
        const controlUrl = control[1]!;
        resolve({
          url,
          controlUrl,
          fault: async (name, body) => (await fetch(`${controlUrl}/faults/${name}`, { method: 'POST', body: JSON.stringify(body ?? {}) })).json() as Promise<{ affected: number }>,
          state: async () => (await fetch(`${controlUrl}/state`)).json() as never,
          stop: () => child.kill('SIGTERM'),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
}
