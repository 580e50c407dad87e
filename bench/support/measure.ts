import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Shared helpers of the benchmarks: gc, memory, percentiles, JSON output. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
}

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

export function rss(): number {
  return process.memoryUsage().rss;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/**
 * One JSON line per benchmark on stdout: `{ bench, ...figures }`. With BENCH_SAVE_DIR
 * set, also saved there as `<id>[-<sessions>].json`, the input of render-results.ts.
 */
export function report(bench: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ bench, at: new Date().toISOString(), node: process.version, ...figures });
  process.stdout.write(line + '\n');
  const dir = process.env.BENCH_SAVE_DIR;
  if (dir) {
    const id = bench.split(' ')[0]!.toLowerCase();
    const sessions = typeof figures.sessions === 'number' ? `-${figures.sessions}` : '';
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${id}${sessions}.json`), line + '\n');
  }
}
