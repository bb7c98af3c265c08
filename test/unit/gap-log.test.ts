import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GapLog } from '../../src/util/gap-log.js';
import { summarise } from '../../lab/stall-floor.js';

test('GapLog logs only passes further apart than its threshold, with their end time and length', () => {
  const log = GapLog.create(16);
  const t = new Float64Array([1000, 1000]);
  for (const now of [1000.001, 1000.002, 1000.012, 1000.013, 1000.513]) {
    t[0] = now;
    log.sample(t);
  }
  const g = log.read();
  assert.equal(g.n, 2);
  assert.deepEqual(Array.from(g.endMs), [1000.012, 1000.513]);
  assert.ok(Math.abs(g.durUs[0] - 10) < 1e-6 && Math.abs(g.durUs[1] - 500) < 1e-6, `lengths ${Array.from(g.durUs)}`);
});

test('GapLog stops when full and reads a time window', () => {
  const log = GapLog.create(3);
  const t = new Float64Array([0, 0]);
  for (let i = 1; i <= 10; i++) {
    t[0] = i; // 1 ms apart: every pass is a gap
    log.sample(t);
  }
  assert.equal(log.read().n, 3);
  assert.deepEqual(Array.from(log.read(2, 3).endMs), [2, 3]);
});

test('latency floor: ten 100 µs gaps in one second', () => {
  const log = GapLog.create(16);
  const t = new Float64Array([0, 0]);
  for (let i = 1; i <= 10; i++) {
    t[1] = i * 100 - 0.1; // 100 µs before t[0]
    t[0] = i * 100;
    log.sample(t);
  }
  const s = summarise(1, 1, log.read(), { preemptions: 0, waitMs: 0 });
  // frames waiting more than x: 10 × (100 − x) µs of arrivals out of 1e6 µs
  assert.ok(s.floorP999Us < 1, `p99.9 floor ${s.floorP999Us}`); // 10 × 100 = 1000 µs = exactly 0.1 %
  assert.ok(Math.abs(s.floorP9999Us - 90) < 0.01, `p99.99 floor ${s.floorP9999Us}`);
  assert.equal(s.perSecondByUs['50-100'] + s.perSecondByUs['100-200'], 10); // 100 µs, give or take the float arithmetic
  assert.ok(Math.abs(s.lostFraction - 0.001) < 1e-9);
});

test('latency floor with a generator: only the part of a gap during which the generator ran counts', () => {
  const fwd = GapLog.create(16);
  const gen = GapLog.create(16);
  const t = new Float64Array(2);
  for (let i = 1; i <= 10; i++) {
    t[1] = i * 100 - 0.1; t[0] = i * 100; fwd.sample(t); // forwarder out for 100 µs
    t[1] = i * 100 - 0.1; t[0] = i * 100 - 0.05; gen.sample(t); // generator out for the first 50 µs of it
  }
  const s = summarise(1, 1, fwd.read(), { preemptions: 0, waitMs: 0 }, { cpu: 0, gaps: gen.read() });
  // arrivals only in the last 50 µs of each gap: waits of 0..50 µs; 10 × (50 − x) = 1e-4 × (1e6 − 500) → x ≈ 40
  assert.ok(Math.abs(s.jointFloorP9999Us! - 40.005) < 0.01, `joint p99.99 floor ${s.jointFloorP9999Us}`);
  assert.ok(s.floorP9999Us > s.jointFloorP9999Us!);
});

test('latency floor with a ring: of a long gap, only the first ring-full of arrivals waits; the rest is dropped', () => {
  const log = GapLog.create(4);
  const t = new Float64Array([0, 0]);
  t[1] = 100; t[0] = 102; log.sample(t); // one 2 ms gap
  const s = summarise(1, 1, log.read(), { preemptions: 0, waitMs: 0 }, undefined, 500);
  // the first 500 µs of arrivals wait 2000 … 1500 µs: min(2000 − x, 500) = 1e-4 × 1e6 = 100 → x = 1900
  assert.ok(Math.abs(s.floorP9999Us - 1900) < 0.01, `p99.99 floor ${s.floorP9999Us}`);
  // and with p99.9 (budget 1000 µs of arrivals) no x is enough: all 500 µs waited ≥ 1500 µs, so the floor is 0
  assert.equal(s.floorP999Us, 0);
  assert.equal(s.windowUs, 500);
  assert.ok(Math.abs(summarise(1, 1, log.read(), { preemptions: 0, waitMs: 0 }).floorP999Us - 1000) < 0.01); // no ring: 2000 − x = 1000
});
