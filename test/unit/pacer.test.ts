import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_CATCHUP_MS, Pacer, PACER_BURST } from '../../src/driver/sim/pacer.js';

const LINE = 14.88;

/** Runs a pacer over the given clock readings (ms), sending every frame due; returns the frames sent per call. */
function run(p: Pacer, clock: Float64Array, times: number[]): number[] {
  return times.map((t) => {
    clock[0] = t;
    const n = p.due(clock);
    p.take(n);
    return n;
  });
}

test('paced at 1 Mpps: one frame per µs on a steady clock, no stalls', () => {
  const p = new Pacer();
  const clock = new Float64Array([100]);
  p.setRate(1, LINE, clock);
  const times = Array.from({ length: 2000 }, (_, i) => 100 + (i + 1) * 0.0005); // a pass every 0.5 µs for 1 ms
  const sent = run(p, clock, times).reduce((a, b) => a + b, 0);
  assert.ok(sent >= 999 && sent <= 1000, `sent ${sent} frames in 1 ms at 1 Mpps`);
  assert.equal(p.stalls, 0);
  assert.equal(p.skipped, 0);
});

test('paced: after a 1 ms stall it sends at most MAX_CATCHUP_MS worth at once and counts the frames it skipped', () => {
  const p = new Pacer();
  const clock = new Float64Array([0]);
  p.setRate(1, LINE, clock);
  run(p, clock, [0.001, 0.002]);
  const [burst] = run(p, clock, [1.002]); // held up for 1 ms
  assert.ok(burst <= Math.ceil(MAX_CATCHUP_MS * 1000) + 1, `burst of ${burst} frames after a stall`);
  assert.equal(p.stalls, 1);
  assert.equal(p.skipped, Math.floor((1 - MAX_CATCHUP_MS) * 1000));
});

test('at line rate it catches up, as far as the burst allows', () => {
  const p = new Pacer();
  const clock = new Float64Array([0]);
  p.setRate(LINE, LINE, clock);
  const [burst] = run(p, clock, [1]); // 1 ms late: 14880 frames due, capped
  assert.equal(burst, PACER_BURST);
  assert.equal(p.stalls, 0);
});

test('rate 0 sends nothing, and time spent stopped earns no credit', () => {
  const p = new Pacer();
  const clock = new Float64Array([0]);
  p.setRate(0, LINE, clock);
  assert.deepEqual(run(p, clock, [1, 2, 3]), [0, 0, 0]);
  clock[0] = 50;
  p.setRate(1, LINE, clock);
  assert.deepEqual(run(p, clock, [50.0005]), [0]);
});

test('property: paced, never more than rate × time (+1), and never a burst above the catch-up allowance', () => {
  fc.assert(fc.property(
    fc.double({ min: 0.01, max: 10, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: 1, maxLength: 300 }),
    (mpps, steps) => {
      const p = new Pacer();
      const clock = new Float64Array([0]);
      p.setRate(mpps, LINE, clock);
      let t = 0;
      let total = 0;
      for (const dt of steps) {
        t += dt;
        clock[0] = t;
        const n = p.due(clock);
        p.take(n);
        total += n;
        if (n > Math.ceil(MAX_CATCHUP_MS * mpps * 1000) + 1) return false;
      }
      return total <= mpps * 1000 * t + 1 && total + p.skipped <= mpps * 1000 * t + 1;
    },
  ));
});
