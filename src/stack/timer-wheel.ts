/**
 * A hierarchical timer wheel for the TCP/IP stack, after IX's (16 µs resolution, O(1) add and cancel; most timers
 * are cancelled before they fire — retransmission, delayed ACK, keepalive, TIME_WAIT, ARP).
 *
 * ## Time
 * Time is an integer count of **ticks of 16 µs** supplied by the caller: the wheel never reads a clock. The dataplane
 * passes its loop time to `advance(nowTicks)`, which fires every timer due at or before `nowTicks`. Convert with
 * `ticksFromNs(ns)` / `ticksFromUs(us)` / `ticksFromMs(ms)` (floor, for "now") and `durationTicks(us)` (ceil, for
 * "in D µs"): `tick = floor(ns / 16000) = floor(µs / 16) = floor(ms × 62.5)`. Counting from the dataplane's start keeps
 * ticks below 2^30 (small integers in V8) for the first 4.7 hours; any safe integer works (2^53 ticks ≈ 4.6 k years).
 * A timer added at tick n with due n + D fires at the first `advance(now)` with now ≥ n + D, which is between D − 1 and
 * D ticks of real time later (time is floored to ticks); add 1 tick when "never early" matters to 16 µs.
 *
 * ## Layout
 * `levels` levels of 2^`slotBits` slots (default 4 × 256: slot widths 16 µs, 4.1 ms, 1.05 s, 268 s; the wheel spans
 * 2^32 ticks ≈ 19.1 hours, so TIME_WAIT (60–240 s) and the 2 h keepalive are inside it). The level of a pending timer
 * is the index of the highest base-2^slotBits digit in which its due tick differs from the wheel's current tick
 * (`clk`), and its slot is that digit of the due tick — a pure function of (due, clk). Hence all pending timers with
 * the same due tick sit in the same slot list, in insertion order, and move together when a coarse slot is
 * **cascaded** into finer ones (when `clk` reaches the slot's first tick); within a tick timers fire in insertion order
 * (`reschedule` counts as a new insertion).
 *
 * **Beyond the top level** (due tick differing from `clk` above the top digit, i.e. in another 2^32-tick span): the
 * timer goes to an overflow list (unordered by due) that is re-examined — its timers cascaded into the wheel or kept —
 * when `clk` reaches the first tick of the 2^32-tick-aligned block holding the earliest of them (a bound kept on
 * add; cancels leave it low, which costs only an early re-examination). Such a timer keeps its exact due tick and
 * never fires early. Nothing is clamped.
 *
 * A due tick at or before the wheel's current tick is **overdue**: it goes into level 0's slot for the current tick and
 * fires at the next `advance` call (whatever its `now`), after any overdue timers added before it. A timer added from
 * the fire callback with a due tick ≤ the tick being fired fires in the same `advance`, after the timers of that tick
 * already queued; one with a later due tick ≤ `now` also fires in the same `advance`, at its tick.
 *
 * ## Handles
 * Timers are integer handles into struct-of-arrays storage (Float64Array due ticks — an Int32Array would overflow
 * after 9.5 h of 16 µs ticks —, Int32Array slot and prev/next links, Uint32Array kind and owner, Int32Array
 * generation). A handle is `generation × 2^indexBits + index`, below 2^30 (a V8 small integer) and never 0
 * (`TIMER_NONE`); the generation is bumped when the timer fires or is cancelled, so a stale handle (fired, cancelled,
 * or its slot reused) is rejected: `cancel` / `reschedule` of it are no-ops. Freed entries are reused first-in
 * first-out, so a stale handle could only alias a live one after 2^(30 − indexBits) − 1 reuses of *every* free entry.
 * Capacity is fixed at construction; `add` throws `IxyError` (code `ETIMERSFULL`) when every timer is pending.
 *
 * ## Cost
 * `add`, `cancel`, `reschedule`, `isPending`: O(1), no allocation. `advance`: O(timers fired + timers cascaded +
 * levels), skipping empty stretches of time with per-level occupancy bitmaps (a jump of hours costs the same as one
 * tick). `nextDue` / `nextDueTick`: O(levels) on a cached value.
 */
import { IxyError } from '../util/errors.js';

/** Duration of one tick in nanoseconds (16 µs, IX's timer resolution). */
export const TICK_NS = 16_000;
/** Duration of one tick in microseconds. */
export const TICK_US = 16;
/** A handle value that is never a valid timer: use it for "no timer". `cancel(TIMER_NONE)` is a no-op. */
export const TIMER_NONE = 0;

/** The tick containing the instant `ns` (nanoseconds, e.g. from the dataplane's loop clock). */
export function ticksFromNs(ns: number): number {
  return Math.floor(ns / TICK_NS);
}
/** The tick containing the instant `us` (microseconds). */
export function ticksFromUs(us: number): number {
  return Math.floor(us / TICK_US);
}
/** The tick containing the instant `ms` (milliseconds, e.g. `performance.now()`). */
export function ticksFromMs(ms: number): number {
  return Math.floor(ms * (1000 / TICK_US));
}
/** A duration in µs as a whole number of ticks, rounded up (a 200 ms RTO is `durationTicks(200_000)` = 12 500). */
export function durationTicks(us: number): number {
  return Math.ceil(us / TICK_US);
}
/** Ticks as nanoseconds (e.g. to park for `nsFromTicks(wheel.nextDue())`). */
export function nsFromTicks(ticks: number): number {
  return ticks * TICK_NS;
}

/** Called for every timer that fires: the `kind` and `owner` given to `add`, and the (now stale) handle. */
export type TimerFire = (kind: number, owner: number, handle: number) => void;

export interface TimerWheelOptions {
  /** Maximum number of pending timers (1 … 2^24). Default 65536. */
  capacity?: number;
  /** Number of levels (≥ 1). Default 4. `levels × slotBits` must be ≤ 32. */
  levels?: number;
  /** log2 of the slots per level (2 … 8). Default 8 (256 slots). */
  slotBits?: number;
  /** The wheel's initial current tick (a safe integer ≥ 0). Default 0. */
  startTick?: number;
}

const NIL = -1;
const FREE = -1; // slotOf[] of a free entry
const MAX_HANDLE_BITS = 30; // handles stay below 2^30: V8 small integers, never boxed

export class TimerWheel {
  /** Maximum number of pending timers. */
  readonly capacity: number;
  readonly levels: number;
  readonly slotBits: number;
  /** Ticks covered by the wheel (2^(levels × slotBits)); dues farther away wait in the overflow list. */
  readonly span: number;

  private readonly onFire: TimerFire;
  private readonly slots: number; // per level
  private readonly slotMask: number;
  private readonly words: number; // bitmap words per level
  private readonly overflowSlot: number; // list index of the overflow list
  private readonly overMask: number; // bits of a 32-bit xor that lie above the top level (0 when span = 2^32)
  private readonly spanMask: number; // lo32 & spanMask === 0 ⇔ tick is a multiple of span
  private readonly lowMask: Uint32Array; // [L]: lo32 & lowMask[L] === 0 ⇔ tick is a multiple of 2^(slotBits × L)
  private readonly revMask: Uint32Array; // [L]: 2^(slotBits × (L + 1)) − 1 (as uint32)
  private readonly slotWidth: Float64Array; // [L]: 2^(slotBits × L)
  private readonly indexBits: number;
  private readonly indexMask: number;
  private readonly genLimit: number; // generations are 1 … genLimit − 1

  // Per timer (struct of arrays).
  private readonly due: Float64Array;
  private readonly slotOf: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly gen: Int32Array;
  private readonly kinds: Uint32Array;
  private readonly owners: Uint32Array;

  // Per list (levels × slots wheel lists, then the overflow list).
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly bitmap: Uint32Array; // [L × words + w]
  private readonly summary: Uint32Array; // [L]: bit w set ⇔ bitmap word w of level L is non-zero

  // Free entries, first in first out.
  private readonly freeRing: Int32Array;
  private freeHead = 0;
  private freeCount: number;

  // Scalars that may exceed 2^31 are kept in a Float64Array so that updating them never allocates.
  // [0] clk: the current tick (every timer due before it has fired; overdue timers wait in its level-0 slot)
  // [1] clkHiBase: clk − lo32(clk)
  // [2] cached nextDueTick (valid when !nextDirty)
  // [3] a lower bound on the due ticks in the overflow list (exact after each re-examination; Infinity when empty)
  private readonly f64 = new Float64Array([0, 0, 0, Infinity]);
  private nextDirty = true;
  private pendingCount = 0;
  private firing = false;

  constructor(onFire: TimerFire, options: TimerWheelOptions = {}) {
    const capacity = options.capacity ?? 65536;
    const levels = options.levels ?? 4;
    const slotBits = options.slotBits ?? 8;
    const startTick = options.startTick ?? 0;
    if (typeof onFire !== 'function') throw new TypeError('TimerWheel: onFire must be a function');
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`TimerWheel: capacity ${capacity} is not an integer in 1 … 2^24`);
    }
    if (!Number.isInteger(slotBits) || slotBits < 2 || slotBits > 8) {
      throw new RangeError(`TimerWheel: slotBits ${slotBits} is not an integer in 2 … 8`);
    }
    if (!Number.isInteger(levels) || levels < 1 || levels * slotBits > 32) {
      throw new RangeError(`TimerWheel: levels ${levels} × slotBits ${slotBits} must be ≥ 1 and ≤ 32 bits`);
    }
    if (!Number.isSafeInteger(startTick) || startTick < 0) {
      throw new RangeError(`TimerWheel: startTick ${startTick} is not a safe integer ≥ 0`);
    }
    this.onFire = onFire;
    this.capacity = capacity;
    this.levels = levels;
    this.slotBits = slotBits;
    const total = levels * slotBits;
    this.span = 2 ** total;
    this.slots = 1 << slotBits;
    this.slotMask = this.slots - 1;
    this.words = Math.max(1, this.slots >>> 5);
    this.overflowSlot = levels * this.slots;
    this.overMask = total === 32 ? 0 : (~(2 ** total - 1)) >>> 0;
    this.spanMask = (2 ** total - 1) >>> 0;
    this.lowMask = new Uint32Array(levels);
    this.revMask = new Uint32Array(levels);
    this.slotWidth = new Float64Array(levels);
    for (let l = 0; l < levels; l++) {
      this.lowMask[l] = (2 ** (slotBits * l) - 1) >>> 0;
      this.revMask[l] = (2 ** (slotBits * (l + 1)) - 1) >>> 0;
      this.slotWidth[l] = 2 ** (slotBits * l);
    }
    let indexBits = 0;
    while (1 << indexBits < capacity) indexBits++;
    this.indexBits = indexBits;
    this.indexMask = (1 << indexBits) - 1;
    this.genLimit = 2 ** (MAX_HANDLE_BITS - indexBits);

    this.due = new Float64Array(capacity);
    this.slotOf = new Int32Array(capacity).fill(FREE);
    this.next = new Int32Array(capacity).fill(NIL);
    this.prev = new Int32Array(capacity).fill(NIL);
    this.gen = new Int32Array(capacity).fill(1);
    this.kinds = new Uint32Array(capacity);
    this.owners = new Uint32Array(capacity);
    this.head = new Int32Array(this.overflowSlot + 1).fill(NIL);
    this.tail = new Int32Array(this.overflowSlot + 1).fill(NIL);
    this.bitmap = new Uint32Array(levels * this.words);
    this.summary = new Uint32Array(levels);
    this.freeRing = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeRing[i] = i;
    this.freeCount = capacity;
    this.setClk(startTick);
  }

  /** The wheel's current tick: the largest `now` given to `advance` (or the start tick). */
  get now(): number {
    return this.f64[0]!;
  }

  /** Number of pending timers. */
  get size(): number {
    return this.pendingCount;
  }

  /**
   * Schedules a timer for tick `dueTick` (a safe integer; ≤ `now` means overdue: it fires at the next `advance`).
   * `kind` and `owner` (uint32) are handed back to the fire callback. Returns the handle (never `TIMER_NONE`).
   * Throws `IxyError` (code `ETIMERSFULL`) when all `capacity` timers are pending.
   */
  add(dueTick: number, kind: number, owner: number): number {
    checkTick(dueTick);
    if (this.freeCount === 0) {
      throw new IxyError(
        `timer wheel full: all ${this.capacity} timers are pending; construct the TimerWheel with a larger capacity`,
        'ETIMERSFULL');
    }
    const i = this.freeRing[this.freeHead]!;
    this.freeHead = this.freeHead + 1 === this.capacity ? 0 : this.freeHead + 1;
    this.freeCount--;
    this.pendingCount++;
    this.kinds[i] = kind;
    this.owners[i] = owner;
    this.place(i, dueTick);
    return this.gen[i]! * (this.indexMask + 1) + i;
  }

  /** Cancels a pending timer in O(1). A stale handle (fired, cancelled, reused) or `TIMER_NONE` is a no-op: false. */
  cancel(handle: number): boolean {
    const i = this.indexOf(handle);
    if (i < 0) return false;
    this.unlink(i);
    this.release(i);
    return true;
  }

  /**
   * Moves a pending timer to a new due tick, keeping its handle, kind and owner; it counts as a new insertion for the
   * order within a tick. A stale handle is a no-op: false.
   */
  reschedule(handle: number, dueTick: number): boolean {
    checkTick(dueTick);
    const i = this.indexOf(handle);
    if (i < 0) return false;
    this.unlink(i);
    this.place(i, dueTick);
    return true;
  }

  /** Whether `handle` is a timer that has neither fired nor been cancelled. */
  isPending(handle: number): boolean {
    return this.indexOf(handle) >= 0;
  }

  /** The due tick of a pending timer, or -1 for a stale handle. */
  dueTick(handle: number): number {
    const i = this.indexOf(handle);
    return i < 0 ? -1 : this.due[i]!;
  }

  /**
   * Fires, in order of due tick and then insertion, every timer due at or before `nowTicks` (and all overdue ones),
   * calling the constructor's `onFire(kind, owner, handle)` for each; the timer is no longer pending when it is
   * called. The callback may add, cancel and reschedule timers, but not call `advance`. A `nowTicks` below `now` is
   * taken as `now` (time does not go back; overdue timers still fire). If the callback throws, the timers not yet
   * fired stay pending (overdue) and fire at the next `advance`. Returns the number of timers fired.
   */
  advance(nowTicks: number): number {
    checkTick(nowTicks);
    if (this.firing) throw new Error('TimerWheel.advance called from its own fire callback');
    this.firing = true;
    let fired = 0;
    try {
      fired += this.drain(this.slotIndexOf0(this.f64[0]!));
      while (this.f64[0]! < nowTicks) {
        const t = this.nextEventTick(true);
        if (t > nowTicks) {
          this.setClk(nowTicks);
          break;
        }
        this.setClk(t);
        this.cascadeAt(t);
        fired += this.drain(this.slotIndexOf0(t));
      }
    } finally {
      this.firing = false;
      this.nextDirty = true;
    }
    return fired;
  }

  /**
   * A lower bound on the earliest due tick among pending timers (Infinity when none; `now` when some are overdue).
   * Exact when that timer is due in the current level-0 revolution (the same 2^slotBits-tick block as `now`); otherwise
   * it is the first tick of its slot at the level it sits on, at most one slot width of that level early (4.1 ms at
   * level 1, 1.05 s at level 2, 268 s at level 3 with the defaults; for the overflow list, the first tick of the
   * 2^32-tick-aligned block holding its earliest due tick). Waking at the bound and calling `advance` cascades that slot, after which the bound is finer. Cached:
   * cheap enough to call every loop iteration.
   */
  nextDueTick(): number {
    if (this.nextDirty) {
      this.f64[2] = this.nextEventTick(false);
      this.nextDirty = false;
    }
    return this.f64[2]!;
  }

  /** Ticks from `now` to `nextDueTick()` (0 when a timer is overdue, Infinity when none is pending): how long to park. */
  nextDue(): number {
    return this.nextDueTick() - this.f64[0]!;
  }

  // ---- internals ----

  private setClk(t: number): void {
    this.f64[0] = t;
    this.f64[1] = t - (t >>> 0);
  }

  /** The handle's entry index if it is pending, else -1. */
  private indexOf(handle: number): number {
    if (!(handle > 0 && handle < 1073741824) || (handle | 0) !== handle) return -1;
    const i = handle & this.indexMask;
    if (i >= this.capacity || this.gen[i] !== handle >>> this.indexBits || this.slotOf[i] === FREE) return -1;
    return i;
  }

  private slotIndexOf0(t: number): number {
    return (t >>> 0) & this.slotMask;
  }

  /** Puts entry i (unlinked) at the tail of the list for due tick d relative to the current tick. */
  private place(i: number, d: number): void {
    this.due[i] = d;
    const c = this.f64[0]!;
    let s: number;
    if (d <= c) {
      s = (c >>> 0) & this.slotMask; // overdue: level 0, the current tick's slot
    } else {
      const dlo = d >>> 0;
      const x = (dlo ^ (c >>> 0)) >>> 0;
      if (d - dlo !== this.f64[1] || (x & this.overMask) !== 0) {
        s = this.overflowSlot;
      } else {
        const level = ((31 - Math.clz32(x)) / this.slotBits) | 0;
        s = (level << this.slotBits) | ((dlo >>> (level * this.slotBits)) & this.slotMask);
      }
    }
    this.append(i, s);
    if (!this.nextDirty && d < this.f64[2]!) this.nextDirty = true;
  }

  private append(i: number, s: number): void {
    const t = this.tail[s]!;
    this.slotOf[i] = s;
    this.prev[i] = t;
    this.next[i] = NIL;
    if (t === NIL) {
      this.head[s] = i;
      if (s !== this.overflowSlot) this.markSlot(s);
    } else {
      this.next[t] = i;
    }
    this.tail[s] = i;
    if (s === this.overflowSlot && this.due[i]! < this.f64[3]!) this.f64[3] = this.due[i]!;
  }

  private unlink(i: number): void {
    const s = this.slotOf[i]!;
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p === NIL) this.head[s] = n; else this.next[p] = n;
    if (n === NIL) this.tail[s] = p; else this.prev[n] = p;
    if (this.head[s] === NIL) {
      if (s !== this.overflowSlot) this.clearSlot(s); else this.f64[3] = Infinity;
      this.nextDirty = true;
    }
  }

  /** Returns an unlinked entry to the free ring and invalidates its handles. */
  private release(i: number): void {
    this.slotOf[i] = FREE;
    const g = this.gen[i]! + 1;
    this.gen[i] = g === this.genLimit ? 1 : g;
    let at = this.freeHead + this.freeCount;
    if (at >= this.capacity) at -= this.capacity;
    this.freeRing[at] = i;
    this.freeCount++;
    this.pendingCount--;
  }

  private markSlot(s: number): void {
    const level = s >>> this.slotBits;
    const k = s & this.slotMask;
    const w = level * this.words + (k >>> 5);
    this.bitmap[w] = (this.bitmap[w]! | (1 << (k & 31))) >>> 0;
    this.summary[level] = (this.summary[level]! | (1 << (w - level * this.words))) >>> 0;
  }

  private clearSlot(s: number): void {
    const level = s >>> this.slotBits;
    const k = s & this.slotMask;
    const w = level * this.words + (k >>> 5);
    const v = (this.bitmap[w]! & ~(1 << (k & 31))) >>> 0;
    this.bitmap[w] = v;
    if (v === 0) this.summary[level] = (this.summary[level]! & ~(1 << (w - level * this.words))) >>> 0;
  }

  /**
   * The earliest tick ≥ clk (> clk when `afterClk`, used while advancing once the current slot is drained) at which
   * something happens: a level-0 slot fires, a coarser slot cascades, or the overflow list is re-examined.
   * Events of level L all come before those of level L + 1, so the lowest non-empty level decides.
   */
  private nextEventTick(afterClk: boolean): number {
    const c = this.f64[0]!;
    const clo = c >>> 0;
    const cur0 = clo & this.slotMask;
    if (!afterClk && this.head[cur0] !== NIL) return c;
    for (let l = 0; l < this.levels; l++) {
      const sum = this.summary[l]!;
      if (sum === 0) continue;
      const w = 31 - Math.clz32(sum & -sum);
      const bits = this.bitmap[l * this.words + w]!;
      const slot = (w << 5) + (31 - Math.clz32(bits & -bits));
      // Level-L slots hold timers whose higher digits equal clk's: the slot's first tick is in clk's level-(L+1) block.
      const base = c - ((clo & this.revMask[l]!) >>> 0);
      return base + slot * this.slotWidth[l]!;
    }
    // The overflow list matters when clk reaches the span-aligned block holding its earliest due tick.
    if (this.head[this.overflowSlot] !== NIL) return Math.floor(this.f64[3]! / this.span) * this.span;
    return Infinity;
  }

  /** At tick t (just reached), moves the due timers of coarser lists down: overflow first, then top level to level 1. */
  private cascadeAt(t: number): void {
    const lo = t >>> 0;
    if ((lo & this.spanMask) === 0 && this.head[this.overflowSlot] !== NIL) this.cascade(this.overflowSlot);
    for (let l = this.levels - 1; l >= 1; l--) {
      if ((lo & this.lowMask[l]!) !== 0) continue;
      const s = (l << this.slotBits) | ((lo >>> (l * this.slotBits)) & this.slotMask);
      if (this.head[s] !== NIL) this.cascade(s);
    }
  }

  /** Detaches list s and re-places its timers, in order, relative to the current tick. */
  private cascade(s: number): void {
    let i = this.head[s]!;
    this.head[s] = NIL;
    this.tail[s] = NIL;
    if (s !== this.overflowSlot) this.clearSlot(s); else this.f64[3] = Infinity;
    while (i !== NIL) {
      const n = this.next[i]!;
      this.place(i, this.due[i]!);
      i = n;
    }
  }

  /** Fires every timer of list s, including those appended while firing. */
  private drain(s: number): number {
    let fired = 0;
    for (;;) {
      const i = this.head[s]!;
      if (i === NIL) return fired;
      const handle = this.gen[i]! * (this.indexMask + 1) + i;
      this.unlink(i);
      this.release(i);
      fired++;
      this.onFire(this.kinds[i]!, this.owners[i]!, handle);
    }
  }
}

function checkTick(t: number): void {
  if (!(t >= 0 && t <= Number.MAX_SAFE_INTEGER) || Math.floor(t) !== t) {
    throw new RangeError(`TimerWheel: tick ${t} is not a safe integer ≥ 0`);
  }
}
