import assert from 'node:assert/strict';
import v8 from 'node:v8';

/**
 * Steady-state allocation check, as test/unit/wire-alloc.test.ts measures it: after warm-up (optimised code), `n`
 * iterations (default 1e6) must run with no garbage collection and < 1 MiB of heap growth; one allocation per
 * iteration would be ≥ 16 MB. Up to three attempts, as a stray late optimisation can show up once.
 */
export function assertNoAlloc(what: string, run: (n: number) => number, n = 1_000_000): void {
  for (let w = 0; w < 5; w++) run(n / 5);
  const outcomes: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const profiler = new v8.GCProfiler();
    const before = v8.getHeapStatistics().used_heap_size;
    profiler.start();
    const acc = run(n);
    const after = v8.getHeapStatistics().used_heap_size;
    const gcs = profiler.stop().statistics.length;
    outcomes.push(`${gcs} collections, heap ${after - before >= 0 ? '+' : ''}${after - before} B (acc ${acc})`);
    if (gcs === 0 && after - before < 1 << 20) return;
  }
  assert.fail(`${what} allocates in steady state: ${outcomes.join('; ')}`);
}
