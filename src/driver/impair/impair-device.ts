/**
 * The `impair:` device: a user-space netem in front of any app, wrapping any device. It impairs both directions:
 * frames the app hands to txBatch before the inner device gets them, and frames the inner device receives before
 * rxBatch returns them. This kernel has no netem, and this way the impairment is the same on every kind of device.
 *
 * Each frame goes through, in order:
 *   loss     freed to the pool and counted; txBatch still reports it taken, as a lossy wire would
 *   dup      a copy from the pool right behind it (none, and counted, when the pool is empty)
 *   corrupt  one random bit of one random byte flipped (anywhere in the frame: checksums upstream catch it)
 *   reorder  held back and let out right after the next frame; when no frame follows, the first call that brings
 *            no frame at least HOLD_MS after it was held lets it go, so nothing waits forever
 *   delay    into a FIFO, released by a later call no earlier than D after it was seen
 * Frames leave through one FIFO per queue and direction (4 × ring size, at least 64; frames beyond it are dropped and
 * counted as queueDrops). Delayed TX frames go out on a later txBatch(q, …) — txBatch(q, ids, 0) will do — or on
 * any rxBatch(q), so an app that only polls still gets them onto the wire.
 *
 * Determinism: every queue and direction draws from its own PRNG stream of the seed (RX of queue q is stream 2q,
 * TX stream 2q+1), and what a frame draws depends only on the options and the frames before it, never on the
 * clock. So the same seed and the same traffic give the same loss, duplication, corruption and reorder decisions
 * and the same output order. The clock only decides when frames come out (delay; a reordered frame that nothing
 * follows) and what a full FIFO drops.
 *
 * Hot path: typed arrays allocated at open, no objects or closures per call. The clock (performance.now(), which
 * allocates in Node 20) is read at most once per call: on every call with a delay, else only when a frame is held
 * for reordering or a held frame may have waited long enough.
 */
import type { Mempool } from '../../mem/mempool.js';
import type { Device, DeviceStats } from '../device.js';
import type { ImpairConfig } from './impair-spec.js';
import { Prng, thresholdOf } from './prng.js';

/** How long a reordered frame waits for a successor before an idle call lets it out alone. */
const HOLD_MS = 1;
const QUEUE_PER_RING = 4;

// Counter indexes (one Float64Array per direction).
const LOST = 0;
const DUPLICATED = 1;
const DUP_NO_BUFFER = 2;
const CORRUPTED = 3;
const REORDERED = 4;
const DELAYED = 5;
const QUEUE_DROPS = 6;

export interface ImpairCounters {
  lost: number;
  duplicated: number;
  /** Duplicates not made because the pool was empty. */
  dupNoBuffer: number;
  corrupted: number;
  /** Frames overtaken by the frame after them. */
  reordered: number;
  /** Frames that went through the delay FIFO with a delay. */
  delayed: number;
  /** Frames dropped because their FIFO was full. */
  queueDrops: number;
}

export interface ImpairStats {
  rx: ImpairCounters;
  tx: ImpairCounters;
}

/** One direction of one queue: a FIFO of frames with the time each may leave, and the reorder slot. */
class Lane {
  readonly ids: Uint32Array;
  readonly due: Float64Array;
  readonly mask: number;
  head = 0;
  count = 0;
  /** The frame held back for reordering, or -1; heldAt[0] is when it was seen. */
  held = -1;
  readonly heldAt = new Float64Array(1);

  constructor(capacity: number, readonly rng: Prng, readonly ctr: Float64Array) {
    this.ids = new Uint32Array(capacity);
    this.due = new Float64Array(capacity);
    this.mask = capacity - 1;
  }
}

export class ImpairDevice implements Device {
  readonly driverName: string;
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly ringSize: number;
  readonly pool: Mempool;
  private readonly rx: Lane[] = [];
  private readonly tx: Lane[] = [];
  private readonly rxCtr = new Float64Array(7);
  private readonly txCtr = new Float64Array(7);
  /** Inner rxBatch target and TX staging for the inner txBatch. */
  private readonly scratch: Uint32Array;
  private readonly lossT: number;
  private readonly dupT: number;
  private readonly corruptT: number;
  private readonly reorderT: number;
  private readonly delayMs: number;
  /** This call's performance.now(), or -1 until something needs it. */
  private readonly clock = new Float64Array(1);
  private closed = false;

  constructor(readonly spec: string, readonly inner: Device, cfg: ImpairConfig) {
    this.driverName = `impair(${inner.driverName})`;
    this.rxQueues = inner.rxQueues;
    this.txQueues = inner.txQueues;
    this.ringSize = inner.ringSize;
    this.pool = inner.pool;
    this.lossT = thresholdOf(cfg.lossPct);
    this.dupT = thresholdOf(cfg.dupPct);
    this.corruptT = thresholdOf(cfg.corruptPct);
    this.reorderT = thresholdOf(cfg.reorderPct);
    this.delayMs = cfg.delayMs;
    let capacity = 64;
    while (capacity < inner.ringSize * QUEUE_PER_RING) capacity *= 2;
    // Streams 2q (RX) and 2q+1 (TX): the decisions of one queue and direction do not depend on the others' traffic.
    for (let q = 0; q < inner.rxQueues; q++) this.rx.push(new Lane(capacity, new Prng(cfg.seed, 2 * q), this.rxCtr));
    for (let q = 0; q < inner.txQueues; q++) this.tx.push(new Lane(capacity, new Prng(cfg.seed, 2 * q + 1), this.txCtr));
    this.scratch = new Uint32Array(Math.max(32, inner.ringSize));
  }

  rxBatch(queue: number, ids: Uint32Array, max: number): number {
    if (this.closed) return 0;
    this.clock[0] = this.delayMs > 0 ? performance.now() : -1;
    if (queue < this.tx.length) {
      const t = this.tx[queue];
      if (t.count > 0 || t.held >= 0) this.flushTx(queue, t, true);
    }
    const lane = this.rx[queue];
    let out = lane.count > 0 ? this.takeDue(lane, ids, 0, max) : 0;
    if (out < max) {
      const s = this.scratch;
      const k = this.inner.rxBatch(queue, s, Math.min(max - out, s.length));
      for (let i = 0; i < k; i++) this.impair(lane, s[i]);
      if (k === 0 && lane.held >= 0) this.releaseStale(lane);
      if (lane.count > 0) out = this.takeDue(lane, ids, out, max);
    }
    return out;
  }

  txBatch(queue: number, ids: Uint32Array, n: number): number {
    if (this.closed) return 0;
    this.clock[0] = this.delayMs > 0 ? performance.now() : -1;
    const lane = this.tx[queue];
    for (let i = 0; i < n; i++) this.impair(lane, ids[i]);
    this.flushTx(queue, lane, n === 0);
    return n; // every frame is ours now: sent, queued, or dropped and counted
  }

  /** Makes clock[0] this call's time (read on first use; returned through the array, not as a boxed double). */
  private readClock(): void {
    if (this.clock[0] < 0) this.clock[0] = performance.now();
  }

  /** Hands the due TX frames to the inner device (always calling it, so it reclaims its ring); the rest wait. */
  private flushTx(queue: number, lane: Lane, idle: boolean): void {
    if (idle && lane.held >= 0) this.releaseStale(lane);
    const s = this.scratch;
    for (;;) {
      const k = this.peekDue(lane, s, 0, s.length);
      const sent = this.inner.txBatch(queue, s, k);
      lane.head = (lane.head + sent) & lane.mask;
      lane.count -= sent;
      if (k < s.length || sent < k) return;
    }
  }

  /** Copies the due frames at the head of `lane` to dst[start..limit) without removing them; returns the end. */
  private peekDue(lane: Lane, dst: Uint32Array, start: number, limit: number): number {
    const now = this.delayMs > 0 ? this.clock[0] : 0; // without a delay every due time is 0
    let h = lane.head;
    let end = start;
    const stop = Math.min(limit, start + lane.count);
    while (end < stop && lane.due[h] <= now) {
      dst[end++] = lane.ids[h];
      h = (h + 1) & lane.mask;
    }
    return end;
  }

  /** Moves the due frames at the head of `lane` to dst[start..limit); returns the end. */
  private takeDue(lane: Lane, dst: Uint32Array, start: number, limit: number): number {
    const end = this.peekDue(lane, dst, start, limit);
    lane.head = (lane.head + end - start) & lane.mask;
    lane.count -= end - start;
    return end;
  }

  /** Loss, duplication and corruption of one frame, then on to the reorder slot and the FIFO. */
  private impair(lane: Lane, id: number): void {
    const rng = lane.rng;
    const pool = this.pool;
    if (this.lossT > 0 && rng.chance(this.lossT)) {
      pool.free(id);
      lane.ctr[LOST]++;
      return;
    }
    let copy = -1;
    if (this.dupT > 0 && rng.chance(this.dupT)) {
      copy = pool.alloc();
      if (copy < 0) {
        lane.ctr[DUP_NO_BUFFER]++;
      } else {
        const len = pool.len[id];
        const from = pool.dataOffset(id);
        pool.bytes.copyWithin(pool.dataOffset(copy), from, from + len);
        pool.len[copy] = len;
        pool.rxFlags[copy] = pool.rxFlags[id];
        lane.ctr[DUPLICATED]++;
      }
    }
    if (this.corruptT > 0 && rng.chance(this.corruptT) && pool.len[id] > 0) {
      pool.bytes[pool.dataOffset(id) + rng.below(pool.len[id])] ^= 1 << rng.below(8);
      pool.rxFlags[id] = 0; // what the device vouched for is no longer true: the stack checks the checksum
      lane.ctr[CORRUPTED]++;
    }
    this.admit(lane, id);
    if (copy >= 0) this.admit(lane, copy);
  }

  /** The reorder stage: a held frame goes out right behind the next one. */
  private admit(lane: Lane, id: number): void {
    // Drawn for every frame, held or not, so the stream stays in step however long a held frame waited.
    const pick = this.reorderT > 0 && lane.rng.chance(this.reorderT);
    if (lane.held >= 0) {
      this.enqueue(lane, id, this.clock);
      this.enqueue(lane, lane.held, lane.heldAt);
      lane.held = -1;
      lane.ctr[REORDERED]++;
    } else if (pick) {
      lane.held = id;
      this.readClock();
      lane.heldAt[0] = this.clock[0];
    } else {
      this.enqueue(lane, id, this.clock);
    }
  }

  /** Lets a held frame go alone once it waited HOLD_MS (called when no frame came to overtake it). */
  private releaseStale(lane: Lane): void {
    this.readClock();
    if (this.clock[0] - lane.heldAt[0] < HOLD_MS) return;
    this.enqueue(lane, lane.held, lane.heldAt);
    lane.held = -1;
  }

  /**
   * Appends to the FIFO, due `delayMs` after seenAt[0] (this.clock or lane.heldAt: a typed array, not a number, as a
   * double argument would be boxed on every call that is not inlined).
   */
  private enqueue(lane: Lane, id: number, seenAt: Float64Array): void {
    if (lane.count === lane.ids.length) {
      this.pool.free(id);
      lane.ctr[QUEUE_DROPS]++;
      return;
    }
    const at = (lane.head + lane.count) & lane.mask;
    lane.ids[at] = id;
    if (this.delayMs > 0) {
      lane.due[at] = seenAt[0] + this.delayMs;
      lane.ctr[DELAYED]++;
    } else {
      lane.due[at] = 0;
    }
    lane.count++;
  }

  /** Counters of both directions since open. */
  impairStats(): ImpairStats {
    return { rx: countersOf(this.rxCtr), tx: countersOf(this.txCtr) };
  }

  /** The inner device's counters, unchanged: frames lost here never reached (TX) or left (RX) it. */
  readStats(into: DeviceStats): void {
    this.inner.readStats(into);
  }

  setPromisc(on: boolean): void {
    this.inner.setPromisc(on);
  }

  linkSpeedMbps(): number {
    return this.inner.linkSpeedMbps();
  }

  macAddress(): Uint8Array {
    return this.inner.macAddress();
  }

  /** The inner device's buffers plus the frames waiting here (FIFOs and reorder slots). */
  buffersInRings(): number {
    let n = this.inner.buffersInRings();
    for (const lane of this.rx) n += lane.count + (lane.held >= 0 ? 1 : 0);
    for (const lane of this.tx) n += lane.count + (lane.held >= 0 ? 1 : 0);
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      for (const lane of [...this.rx, ...this.tx]) {
        for (; lane.count > 0; lane.count--) {
          this.pool.free(lane.ids[lane.head]);
          lane.head = (lane.head + 1) & lane.mask;
        }
        if (lane.held >= 0) this.pool.free(lane.held);
        lane.held = -1;
      }
    } finally {
      this.inner.close();
    }
  }
}

function countersOf(c: Float64Array): ImpairCounters {
  return {
    lost: c[LOST], duplicated: c[DUPLICATED], dupNoBuffer: c[DUP_NO_BUFFER], corrupted: c[CORRUPTED],
    reordered: c[REORDERED], delayed: c[DELAYED], queueDrops: c[QUEUE_DROPS],
  };
}
