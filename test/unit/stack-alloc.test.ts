/**
 * The stack's steady-state per-packet path allocates nothing: two stacks on the memory wire (whose copy is a plain
 * loop), a warm TCP connection, the real clock. Method as in test/unit/wire-alloc.test.ts: after warm-up, v8.GCProfiler
 * records collections over the measured window; with none, the used-heap growth is what the window allocated
 * (1e5 round trips allocating one 16-byte object each would be 1.6 MB, and the young generation would overflow).
 * A stray late optimisation can add a little code or a collection, so each check tries up to three windows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { echoBench, MSG } from '../helpers/stack-echo.js';

function measure(run: () => number): { gcs: number; grew: number; units: number; ms: number } {
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  const t = performance.now();
  const units = run();
  const ms = performance.now() - t;
  const after = v8.getHeapStatistics().used_heap_size;
  const gcs = profiler.stop().statistics.length;
  return { gcs, grew: after - before, units, ms };
}

test(`TCP echo, ${MSG}-byte messages: 1e5 round trips on a warm connection cause no collection (heap growth < 1 MiB)`, (t) => {
  const e = echoBench();
  for (let w = 0; w < 10; w++) e.run(20_000); // warm-up: every function on the path optimised
  const outcomes: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const m = measure(() => { e.run(100_000); return 100_000; });
    outcomes.push(`${m.gcs} collections, heap ${m.grew >= 0 ? '+' : ''}${m.grew} B, ${(m.units / m.ms * 1000).toFixed(0)} round trips/s`);
    if (m.gcs === 0 && m.grew < 1 << 20) { t.diagnostic(outcomes.join('; ')); return; }
  }
  assert.fail(`the echo path allocates: ${outcomes.join('; ')}`);
});

test('the echo loop above really is a TCP exchange (sanity)', () => {
  const e = echoBench();
  const it = e.run(1000);
  assert.equal(e.roundTrips(), 1000);
  assert.ok(it >= 2000 && it <= 4000, `${it} loop iterations for 1000 round trips`);
  const { a, b } = e.pair;
  assert.ok(a.stack.tcp.counters.segmentsOut >= 1000 && b.stack.tcp.counters.segmentsOut >= 1000);
  assert.equal(a.stack.tcp.counters.retransmits + b.stack.tcp.counters.retransmits, 0);
});

/** Runs the bulk probe in a fresh process: [{ gcs, bytesPerIteration, mb }] for three windows. */
function probe(mode: 'real' | 'virtual'): Array<{ gcs: number; bytesPerIteration: number; mb: number }> {
  const script = fileURLToPath(new URL('../helpers/stack-alloc-probe.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, mode, '3000'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
const show = (ws: ReturnType<typeof probe>): string =>
  ws.map((w) => `${w.gcs} collections, ${w.bytesPerIteration.toFixed(1)} B/iteration (${w.mb.toFixed(0)} MB)`).join('; ');

test('TCP bulk transfer, full batches of 1448-byte segments, real clock: under 4 B allocated per loop iteration (64 packets)', (t) => {
  const ws = probe('real');
  t.diagnostic(show(ws));
  assert.ok(ws.some((w) => w.gcs === 0 && w.bytesPerIteration < 4), `the bulk path allocates: ${show(ws)}`);
});

test('the same bulk path with a virtual clock in whole-µs steps allocates nothing (isolates the two sites above)', (t) => {
  const ws = probe('virtual');
  t.diagnostic(show(ws));
  assert.ok(ws.every((w) => w.mb > 100), 'data moved');
  assert.ok(ws.some((w) => w.gcs === 0 && w.bytesPerIteration < 4), `allocates: ${show(ws)}`);
});
