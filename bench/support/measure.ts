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

/** One JSON line per benchmark on stdout: `{ bench, ...figures }`. */
export function report(bench: string, figures: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ bench, ...figures }) + '\n');
}
