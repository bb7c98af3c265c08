import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  durationTicks, nsFromTicks, ticksFromMs, ticksFromNs, ticksFromUs, TIMER_NONE, TimerWheel, type TimerWheelOptions,
} from '../../src/stack/timer-wheel.js';
import { IxyError } from '../../src/util/errors.js';

// ---- the reference: a plain list, earliest (effective due, insertion sequence) first ----

/** What the model test drives: the wheel (through an adapter) and the reference, with the same timer ids. */
interface Sys {
  now(): number;
  add(due: number, kind: number, owner: number): number | 'full';
  cancel(id: number): boolean;
  reschedule(id: number, due: number): boolean;
  pending(id: number): boolean;
  advance(now: number): void;
  size(): number;
  lastId(): number;
}
type Script = (sys: Sys, id: number, kind: number, owner: number) => void;

interface RefTimer { id: number; due: number; eff: number; seq: number; kind: number; owner: number }

/**
 * Semantics: a timer's effective due is max(due, the current time when added or rescheduled); `advance(now)` fires,
 * one at a time, the pending timer with the smallest (effective due, sequence) whose effective due ≤ now, setting the
 * current time to that due while its callback runs; then the current time is now (never going back).
 */
class Reference implements Sys {
  private cur: number;
  private seq = 0;
  private ids = 0;
  private readonly timers: RefTimer[] = [];
  constructor(start: number, private readonly capacity: number, private readonly script: Script) {
    this.cur = start;
  }
  now(): number { return this.cur; }
  size(): number { return this.timers.length; }
  lastId(): number { return this.ids - 1; }
  earliest(): number {
    let e = Infinity;
    for (const t of this.timers) e = Math.min(e, t.eff);
    return e;
  }
  add(due: number, kind: number, owner: number): number | 'full' {
    if (this.timers.length === this.capacity) return 'full';
    const id = this.ids++;
    this.timers.push({ id, due, eff: Math.max(due, this.cur), seq: this.seq++, kind, owner });
    return id;
  }
  cancel(id: number): boolean {
    const k = this.timers.findIndex((t) => t.id === id);
    if (k < 0) return false;
    this.timers.splice(k, 1);
    return true;
  }
  reschedule(id: number, due: number): boolean {
    const t = this.timers.find((x) => x.id === id);
    if (t === undefined) return false;
    t.due = due;
    t.eff = Math.max(due, this.cur);
    t.seq = this.seq++;
    return true;
  }
  pending(id: number): boolean { return this.timers.some((t) => t.id === id); }
  advance(now: number): void {
    const target = Math.max(now, this.cur);
    for (;;) {
      let best = -1;
      for (let k = 0; k < this.timers.length; k++) {
        const t = this.timers[k]!;
        if (t.eff > target) continue;
        const b = best < 0 ? undefined : this.timers[best]!;
        if (b === undefined || t.eff < b.eff || (t.eff === b.eff && t.seq < b.seq)) best = k;
      }
      if (best < 0) break;
      const [t] = this.timers.splice(best, 1);
      this.cur = t!.eff;
      this.script(this, t!.id, t!.kind, t!.owner);
    }
    this.cur = target;
  }
}

class WheelSys implements Sys {
  readonly wheel: TimerWheel;
  private readonly handles: number[] = [];
  private readonly idOf = new Map<number, number>();
  constructor(options: TimerWheelOptions, script: Script) {
    this.wheel = new TimerWheel((kind, owner, handle) => {
      const id = this.idOf.get(handle);
      assert.ok(id !== undefined, `fired an unknown handle ${handle}`);
      assert.equal(this.wheel.isPending(handle), false, 'a firing timer is no longer pending');
      script(this, id, kind, owner);
    }, options);
  }
  now(): number { return this.wheel.now; }
  size(): number { return this.wheel.size; }
  lastId(): number { return this.handles.length - 1; }
  add(due: number, kind: number, owner: number): number | 'full' {
    let h: number;
    try {
      h = this.wheel.add(due, kind, owner);
    } catch (e) {
      if (e instanceof IxyError && e.code === 'ETIMERSFULL') return 'full';
      throw e;
    }
    assert.notEqual(h, TIMER_NONE);
    assert.ok(Number.isInteger(h) && h > 0 && h < 2 ** 30, `handle ${h} is a small positive integer`);
    assert.ok(!this.idOf.has(h), `handle ${h} issued twice`);
    this.idOf.set(h, this.handles.length);
    this.handles.push(h);
    return this.handles.length - 1;
  }
  cancel(id: number): boolean { return this.wheel.cancel(this.handles[id]!); }
  reschedule(id: number, due: number): boolean { return this.wheel.reschedule(this.handles[id]!, due); }
  pending(id: number): boolean { return this.wheel.isPending(this.handles[id]!); }
  advance(now: number): void { this.wheel.advance(now); }
}

// ---- operations ----

type Op =
  | { op: 'add'; off: number; kind: number; owner: number }
  | { op: 'cancel'; pick: number }
  | { op: 'resched'; pick: number; off: number }
  | { op: 'advance'; gap: number };

/** Due offsets from the current time: overdue, this tick, each level, and far beyond a 2^32-tick wheel. */
const offsetArb = fc.oneof(
  fc.integer({ min: -6, max: 0 }),
  fc.integer({ min: 1, max: 20 }),
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 250, max: 70_000 }),
  fc.integer({ min: 60_000, max: 2 ** 25 }),
  fc.integer({ min: 2 ** 24, max: 2 ** 33 }),
  fc.integer({ min: 2 ** 31, max: 2 ** 36 }),
);
const gapArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 1, max: 70_000 }),
  fc.integer({ min: 1, max: 2 ** 26 }),
  fc.integer({ min: 2 ** 30, max: 2 ** 36 }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), off: offsetArb, kind: fc.integer({ min: 0, max: 4 }), owner: fc.integer({ min: 0, max: 0xffffffff }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('resched' as const), pick: fc.nat(), off: offsetArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), gap: gapArb }) },
);

/**
 * What a fire callback does, the same on both systems: kind 1 adds a follow-up timer near the current tick (overdue,
 * this tick or a little later: it must fire in the same advance when due ≤ now), kind 2 cancels the most recently
 * added timer, kind 3 reschedules it, kind 4 adds a far one; kind 0 does nothing.
 */
function makeScript(log: string[]): Script {
  return (sys, id, kind, owner) => {
    log.push(`fire ${id} k${kind} o${owner} @${sys.now()}`);
    const last = sys.lastId();
    if (kind === 1) log.push(`  add ${sys.add(Math.max(0, sys.now() + (owner % 13) - 6), 0, (owner * 7 + 1) >>> 0)}`);
    else if (kind === 2 && last >= 0) log.push(`  cancel ${last} ${sys.cancel(last)}`);
    else if (kind === 3 && last >= 0) log.push(`  resched ${last} ${sys.reschedule(last, sys.now() + (owner % 300))}`);
    else if (kind === 4) log.push(`  add ${sys.add(sys.now() + (owner % 100_000) + 1, 0, owner)}`);
  };
}

function pickId(pick: number, n: number): number {
  // Half the picks among the last 8 ids (likely pending), half among all (often stale: fired or cancelled).
  return pick % 2 === 0 ? Math.max(0, n - 1 - ((pick >>> 1) % 8)) : (pick >>> 1) % n;
}

/** Level (0-based) of due d relative to current tick c, or -1 beyond the wheel (overflow list). */
function levelOf(d: number, c: number, levels: number, slotBits: number): number {
  if (d <= c) return 0;
  const span = 2 ** (levels * slotBits);
  if (Math.floor(d / span) !== Math.floor(c / span)) return -1;
  for (let l = levels - 1; l >= 0; l--) {
    const w = 2 ** (slotBits * l);
    if (Math.floor(d / w) !== Math.floor(c / w)) return l;
  }
  return 0;
}

function runModel(options: Required<Pick<TimerWheelOptions, 'capacity' | 'levels' | 'slotBits' | 'startTick'>>, ops: Op[]): void {
  const wlog: string[] = [];
  const rlog: string[] = [];
  const w = new WheelSys(options, makeScript(wlog));
  const r = new Reference(options.startTick, options.capacity, makeScript(rlog));
  for (const [step, o] of ops.entries()) {
    const n = r.lastId() + 1;
    const where = `step ${step} ${JSON.stringify(o)}`;
    switch (o.op) {
      case 'add': {
        const due = Math.max(0, r.now() + o.off);
        wlog.push(`add ${w.add(due, o.kind, o.owner)}`);
        rlog.push(`add ${r.add(due, o.kind, o.owner)}`);
        break;
      }
      case 'cancel':
        if (n === 0) break;
        wlog.push(`cancel ${w.cancel(pickId(o.pick, n))}`);
        rlog.push(`cancel ${r.cancel(pickId(o.pick, n))}`);
        break;
      case 'resched': {
        if (n === 0) break;
        const due = Math.max(0, r.now() + o.off);
        wlog.push(`resched ${w.reschedule(pickId(o.pick, n), due)}`);
        rlog.push(`resched ${r.reschedule(pickId(o.pick, n), due)}`);
        break;
      }
      case 'advance': {
        const now = r.now() + o.gap;
        wlog.push(`advance ${now}`);
        rlog.push(`advance ${now}`);
        w.advance(now);
        r.advance(now);
        break;
      }
    }
    assert.deepEqual(wlog, rlog, where);
    assert.equal(w.now(), r.now(), where);
    assert.equal(w.size(), r.size(), where);
    for (let id = 0; id <= r.lastId(); id++) assert.equal(w.pending(id), r.pending(id), `${where}: isPending(${id})`);
    // nextDue: never later than the true earliest, never before now, at most one slot of the earliest's level early.
    const bound = w.wheel.nextDueTick();
    const earliest = r.earliest();
    assert.equal(w.wheel.nextDue(), bound - w.now(), where);
    if (earliest === Infinity) {
      assert.equal(bound, Infinity, where);
    } else {
      assert.ok(bound <= earliest, `${where}: nextDueTick ${bound} later than the earliest due ${earliest}`);
      assert.ok(bound >= w.now(), `${where}: nextDueTick ${bound} before now ${w.now()}`);
      const level = levelOf(earliest, w.now(), options.levels, options.slotBits);
      if (level >= 0) {
        assert.ok(earliest - bound < 2 ** (options.slotBits * level),
          `${where}: nextDueTick ${bound} more than a level-${level} slot before ${earliest}`);
      }
    }
  }
  // Drain: everything still pending fires exactly once, in order, within one big jump of time.
  const end = r.now() + 2 ** 40;
  wlog.push(`advance ${end}`);
  rlog.push(`advance ${end}`);
  w.advance(end);
  r.advance(end);
  assert.deepEqual(wlog, rlog, 'final drain');
  assert.equal(w.size(), 0);
  assert.equal(w.wheel.nextDue(), Infinity);
  const fired = wlog.filter((l) => l.startsWith('fire ')).map((l) => l.split(' ')[1]);
  assert.equal(new Set(fired).size, fired.length, 'a timer fired twice');
}

const opsArb = fc.array(opArb, { minLength: 1, maxLength: 120 });

describe('timer wheel against a sorted-list reference (fast-check)', () => {
  const configs: Array<[string, Required<Pick<TimerWheelOptions, 'capacity' | 'levels' | 'slotBits' | 'startTick'>>]> = [
    ['default 4 × 256 slots', { capacity: 64, levels: 4, slotBits: 8, startTick: 0 }],
    ['4 × 256 slots starting just before a 2^32-tick boundary', { capacity: 64, levels: 4, slotBits: 8, startTick: 2 ** 32 - 150 }],
    ['4 × 256 slots starting at 2^40 + 2^32 − 70000', { capacity: 64, levels: 4, slotBits: 8, startTick: 2 ** 40 + 2 ** 32 - 70_000 }],
    ['3 × 4 slots (span 64: lots of cascading and overflow), capacity 12', { capacity: 12, levels: 3, slotBits: 2, startTick: 0 }],
    ['2 × 32 slots, capacity 20', { capacity: 20, levels: 2, slotBits: 5, startTick: 1000 }],
    ['1 level × 16 slots', { capacity: 16, levels: 1, slotBits: 4, startTick: 5 }],
  ];
  for (const [name, options] of configs) {
    test(name, () => {
      fc.assert(fc.property(opsArb, (ops) => runModel(options, ops)), { numRuns: 250 });
    });
  }

  test('small-gap heavy traffic (many timers per slot, callbacks adding timers)', () => {
    const small = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), off: fc.integer({ min: -3, max: 600 }), kind: fc.integer({ min: 0, max: 4 }), owner: fc.integer({ min: 0, max: 0xffffffff }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('resched' as const), pick: fc.nat(), off: fc.integer({ min: -3, max: 600 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), gap: fc.integer({ min: 0, max: 40 }) }) },
    ) as fc.Arbitrary<Op>;
    fc.assert(fc.property(fc.array(small, { maxLength: 300 }), (ops) => {
      runModel({ capacity: 200, levels: 4, slotBits: 8, startTick: 200 }, ops);
      runModel({ capacity: 200, levels: 3, slotBits: 3, startTick: 0 }, ops);
    }), { numRuns: 100 });
  });
});

// ---- specific behaviour ----

interface Fired { kind: number; owner: number; handle: number; at: number }
function recorder(options: TimerWheelOptions = {}): { wheel: TimerWheel; fired: Fired[] } {
  const fired: Fired[] = [];
  const wheel: TimerWheel = new TimerWheel((kind, owner, handle) => { fired.push({ kind, owner, handle, at: wheel.now }); }, options);
  return { wheel, fired };
}

describe('timer wheel', () => {
  test('fires at the first advance whose now ≥ due, with kind and owner', () => {
    const { wheel, fired } = recorder();
    const h = wheel.add(100, 7, 0xdeadbeef);
    assert.ok(wheel.isPending(h));
    assert.equal(wheel.dueTick(h), 100);
    assert.equal(wheel.advance(99), 0);
    assert.equal(wheel.advance(150), 1);
    assert.deepEqual(fired, [{ kind: 7, owner: 0xdeadbeef, handle: h, at: 100 }]);
    assert.equal(wheel.isPending(h), false);
    assert.equal(wheel.dueTick(h), -1);
    assert.equal(wheel.now, 150);
  });

  test('same due tick: insertion order, even when the first one came down from a coarser level', () => {
    const { wheel, fired } = recorder();
    wheel.add(1_000_000, 1, 0); // level 2 when added at tick 0
    wheel.add(1_000_000, 6, 0); // the same slot, after it: the cascade must keep the order
    wheel.advance(999_990);
    wheel.add(1_000_000, 2, 0); // level 0
    wheel.add(999_999, 3, 0);
    const h = wheel.add(1_000_000, 4, 0);
    wheel.add(1_000_000, 5, 0);
    wheel.reschedule(h, 1_000_000); // a reschedule counts as a new insertion
    wheel.advance(1_000_000);
    assert.deepEqual(fired.map((f) => f.kind), [3, 1, 6, 2, 5, 4]);
  });

  test('overdue timers fire at the next advance, in insertion order, before later ones', () => {
    const { wheel, fired } = recorder({ startTick: 500 });
    wheel.add(600, 1, 0);
    wheel.add(400, 2, 0);
    wheel.add(500, 3, 0);
    wheel.add(0, 4, 0);
    assert.equal(wheel.nextDue(), 0);
    assert.equal(wheel.nextDueTick(), 500);
    wheel.advance(500); // time has not moved: the overdue ones fire anyway
    assert.deepEqual(fired.map((f) => [f.kind, f.at]), [[2, 500], [3, 500], [4, 500]]);
    wheel.advance(10); // now going back is taken as now
    assert.equal(wheel.now, 500);
    wheel.advance(600);
    assert.deepEqual(fired.map((f) => f.kind), [2, 3, 4, 1]);
  });

  test('timers added while firing: due ≤ now fire in the same advance, the rest later', () => {
    const log: string[] = [];
    const wheel: TimerWheel = new TimerWheel((kind, owner) => {
      log.push(`${kind}/${owner}@${wheel.now}`);
      if (kind === 1) {
        wheel.add(wheel.now - 5, 2, 1); // overdue: this tick, after the ones queued
        wheel.add(wheel.now, 2, 2); // this tick
        wheel.add(wheel.now + 300, 2, 3); // later in this advance (other level)
        wheel.add(wheel.now + 5000, 2, 4); // after this advance
      }
    });
    wheel.add(10, 1, 0);
    wheel.add(10, 3, 0);
    wheel.advance(1000);
    assert.deepEqual(log, ['1/0@10', '3/0@10', '2/1@10', '2/2@10', '2/3@310']);
    assert.equal(wheel.nextDueTick(), 5010 - (5010 % 256)); // a level-1 slot's first tick
    wheel.advance(5010);
    assert.deepEqual(log.at(-1), '2/4@5010');
  });

  test('long timers: TIME_WAIT, 2 h keepalive, and beyond the 2^32-tick span', () => {
    const { wheel, fired } = recorder({ startTick: 12345 });
    const tw = durationTicks(240e6); // 2 MSL = 240 s
    const ka = durationTicks(2 * 3600e6); // 2 h
    const far = 2 ** 33 + 17; // ~38 h: overflow list
    wheel.add(12345 + far, 3, 0);
    wheel.add(12345 + ka, 2, 0);
    wheel.add(12345 + tw, 1, 0);
    assert.equal(tw, 15_000_000);
    assert.equal(ka, 450_000_000);
    assert.ok(wheel.nextDueTick() <= 12345 + tw);
    wheel.advance(12345 + tw - 1);
    assert.equal(fired.length, 0);
    wheel.advance(12345 + ka + 5);
    assert.deepEqual(fired.map((f) => [f.kind, f.at]), [[1, 12345 + tw], [2, 12345 + ka]]);
    wheel.advance(12345 + far - 1);
    assert.equal(fired.length, 2);
    assert.equal(wheel.nextDue(), 1);
    wheel.advance(2 ** 50);
    assert.deepEqual(fired.map((f) => f.at), [12345 + tw, 12345 + ka, 12345 + far]);
  });

  test('stale handles: cancel, reschedule, isPending are safe no-ops after fire, cancel and reuse', () => {
    const { wheel, fired } = recorder({ capacity: 1 });
    const h1 = wheel.add(5, 1, 0);
    assert.equal(wheel.cancel(h1), true);
    assert.equal(wheel.cancel(h1), false);
    const h2 = wheel.add(5, 2, 0); // the same entry, a new generation
    assert.notEqual(h2, h1);
    assert.equal(wheel.cancel(h1), false);
    assert.equal(wheel.reschedule(h1, 1), false);
    assert.equal(wheel.isPending(h1), false);
    assert.equal(wheel.isPending(h2), true);
    wheel.advance(5);
    assert.deepEqual(fired.map((f) => f.kind), [2]);
    assert.equal(wheel.cancel(h2), false);
    const h3 = wheel.add(6, 3, 0);
    assert.equal(wheel.cancel(h2), false);
    assert.equal(wheel.isPending(h3), true);
    for (const bogus of [TIMER_NONE, -1, 0.5, 2 ** 30, 2 ** 40, Number.NaN, h3 + 1]) {
      assert.equal(wheel.cancel(bogus), false, String(bogus));
      assert.equal(wheel.isPending(bogus), false, String(bogus));
    }
    assert.equal(wheel.size, 1);
  });

  test('capacity: a clear error when full, usable again after a cancel', () => {
    const { wheel } = recorder({ capacity: 4 });
    const hs = [wheel.add(10, 0, 0), wheel.add(20, 0, 0), wheel.add(30, 0, 0), wheel.add(40, 0, 0)];
    assert.throws(() => wheel.add(50, 0, 0), (e: unknown) => e instanceof IxyError && e.code === 'ETIMERSFULL'
      && /all 4 timers are pending/.test(e.message));
    assert.equal(wheel.size, 4);
    wheel.cancel(hs[1]!);
    const h = wheel.add(50, 0, 0);
    assert.ok(wheel.isPending(h));
    assert.throws(() => new TimerWheel(() => {}, { capacity: 0 }), RangeError);
    assert.throws(() => new TimerWheel(() => {}, { levels: 5, slotBits: 8 }), RangeError);
    assert.throws(() => wheel.add(-1, 0, 0), RangeError);
    assert.throws(() => wheel.add(1.5, 0, 0), RangeError);
    assert.throws(() => wheel.advance(Number.NaN), RangeError);
  });

  test('advance from the callback throws; a throwing callback leaves the rest pending', () => {
    let n = 0;
    const wheel: TimerWheel = new TimerWheel((kind) => {
      n++;
      if (kind === 1) wheel.advance(100);
      if (kind === 2) throw new Error('boom');
    });
    wheel.add(3, 1, 0);
    assert.throws(() => wheel.advance(3), /own fire callback/);
    wheel.add(5, 2, 0);
    const h = wheel.add(5, 0, 0);
    wheel.add(7, 0, 0);
    assert.throws(() => wheel.advance(10), /boom/);
    assert.ok(wheel.isPending(h));
    assert.equal(wheel.now, 5);
    assert.equal(wheel.nextDue(), 0);
    n = 0;
    assert.equal(wheel.advance(10), 2);
    assert.equal(n, 2);
  });

  test('nextDue: Infinity when empty, exact within the current 256-tick block, a slot start beyond', () => {
    const { wheel } = recorder({ startTick: 1000 }); // 1000 = 3 × 256 + 232
    assert.equal(wheel.nextDue(), Infinity);
    const h = wheel.add(1020, 0, 0);
    assert.equal(wheel.nextDue(), 20);
    wheel.add(1022, 0, 0);
    assert.equal(wheel.nextDue(), 20);
    wheel.cancel(h);
    assert.equal(wheel.nextDue(), 22);
    const h2 = wheel.add(1010, 0, 0);
    assert.equal(wheel.nextDueTick(), 1010);
    wheel.cancel(h2);
    wheel.advance(1030);
    wheel.add(1000 + 100_000, 0, 0); // level 2 (digits differ at 2^16)
    assert.equal(wheel.nextDueTick(), 65536); // level 2, slot 1: its first tick
    wheel.advance(wheel.nextDueTick()); // cascade: the bound gets finer
    assert.equal(wheel.nextDueTick(), 101_000 - (101_000 % 256));
    wheel.advance(wheel.nextDueTick());
    assert.equal(wheel.nextDueTick(), 101_000);
  });

  test('unit conversions', () => {
    assert.equal(ticksFromNs(16_000), 1);
    assert.equal(ticksFromNs(31_999), 1);
    assert.equal(ticksFromUs(48), 3);
    assert.equal(ticksFromMs(1), 62);
    assert.equal(ticksFromMs(2), 125);
    assert.equal(durationTicks(200_000), 12_500);
    assert.equal(durationTicks(17), 2);
    assert.equal(nsFromTicks(3), 48_000);
  });

  test('1e6 add + cancel pairs and 1e5 fired timers do not grow or churn the heap', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let fires = 0;
    const wheel = new TimerWheel(() => { fires++; }, { capacity: 1 << 16 });
    const keep = new Int32Array(64);
    const offsets = new Int32Array(64); // 1 … 2^29 ticks: every level
    for (let k = 0; k < 64; k++) offsets[k] = 1 + (Math.imul(k + 1, 0x9e3779b1) >>> 0) % (2 ** (k % 30));
    const churn = (rounds: number): void => {
      for (let r = 0; r < rounds; r++) {
        const now = wheel.now;
        for (let k = 0; k < 64; k++) keep[k] = wheel.add(now + offsets[k]!, k, r);
        for (let k = 0; k < 64; k++) wheel.cancel(keep[k]!);
        wheel.add(now + 5, 0, r);
        wheel.advance(now + 8);
      }
    };
    churn(2000); // warm up (JIT)
    gc();
    const before = process.memoryUsage().heapUsed;
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => { scavenges += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    const f0 = fires;
    churn(1_000_000 / 64);
    await new Promise((resolve) => setImmediate(resolve));
    obs.disconnect();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(fires - f0, 1_000_000 / 64);
    assert.equal(wheel.size, 0);
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${grown} bytes`);
    // Allocating even 16 bytes per add would take dozens of young-generation collections.
    assert.ok(scavenges <= 6, `${scavenges} garbage collections during 1e6 add + cancel`);
  });
});
