/**
 * One allocation measurement of the bulk TCP path in a fresh process (so that other measurements' optimisation
 * feedback cannot change what V8 inlines): `node stack-alloc-probe.js real|virtual [iterations]` prints one JSON line
 * { gcs, bytesPerIteration, mb } per window for three windows after warm-up.
 */
import v8 from 'node:v8';
import { bulkBench } from './stack-echo.js';

const mode = process.argv[2] ?? 'real';
const n = Number(process.argv[3] ?? 3000);
const e = bulkBench({ check: false, ...(mode === 'virtual' ? { virtualClock: true, stepMs: 0.5 } : {}) });
for (let w = 0; w < 3; w++) e.run(n);
const out: Array<{ gcs: number; bytesPerIteration: number; mb: number }> = [];
for (let k = 0; k < 3; k++) {
  const p = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  p.start();
  const bytes = e.run(n);
  const grew = v8.getHeapStatistics().used_heap_size - before;
  out.push({ gcs: p.stop().statistics.length, bytesPerIteration: grew / n, mb: bytes / 1e6 });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
