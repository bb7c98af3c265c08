/**
 * Received TCP data, kept in the packet buffers it arrived in (zero-copy receive, as IX's `recv` event): per buffer
 * id, where its unread data starts and how long it is, and a next-pointer, so a connection's held data and its
 * out-of-order segments are intrusive lists over the pool — no allocation per segment.
 *
 * Small in-order segments are copied onto the end of the previous held buffer when they fit (coalescing), so a peer
 * sending tiny segments cannot pin one 2 KiB buffer per byte (Linux "collapses" its queues for the same reason).
 */
import type { Mempool } from '../../mem/mempool.js';
import { type TcpConn, seqDiff, seqGt, seqLe, seqLt } from './tcp-conn.js';

/** Segments up to this size are coalesced into the previous held buffer when there is room. */
const COALESCE_MAX = 512;
/** Out-of-order segments one connection may hold; more are dropped (the peer retransmits them). */
export const OOO_MAX_BUFS = 128;

export class RecvBuffers {
  readonly next: Int32Array;
  /** Offset of the unread data in the pool's bytes. */
  readonly off: Int32Array;
  readonly len: Int32Array;
  /** Out-of-order list: sequence number of the data at `off`. */
  readonly seq: Int32Array;
  private readonly pool: Mempool;
  private readonly bytes: Uint8Array;
  /**
   * Buffers of connections that ended during this iteration, freed by `releaseEnded()` once the app has handled the
   * iteration's events: a Recv event delivered before the end (a RST, a timeout, the app's own abort in the same
   * batch) still points into them, and a frame built meanwhile must not reuse them.
   */
  private readonly ended: Uint32Array;
  private endedCount = 0;

  constructor(pool: Mempool) {
    this.pool = pool;
    this.bytes = pool.bytes;
    this.ended = new Uint32Array(pool.count);
    this.next = new Int32Array(pool.count).fill(-1);
    this.off = new Int32Array(pool.count);
    this.len = new Int32Array(pool.count);
    this.seq = new Int32Array(pool.count);
  }

  /**
   * Appends in-order data `[off, off+len)` of buffer `id` to `c`'s held list. Returns the offset where the data
   * now lives (in `id`, or copied into the tail buffer, in which case `id` was freed).
   */
  append(c: TcpConn, id: number, off: number, len: number): number {
    const tail = c.heldTail;
    c.heldBytes += len;
    if (tail >= 0 && len <= COALESCE_MAX) {
      const end = this.off[tail] + this.len[tail];
      const limit = (tail + 1) * this.pool.entrySize;
      if (end + len <= limit) {
        this.bytes.copyWithin(end, off, off + len);
        this.len[tail] += len;
        this.pool.free(id);
        return end;
      }
    }
    this.off[id] = off;
    this.len[id] = len;
    this.next[id] = -1;
    if (tail >= 0) this.next[tail] = id; else c.heldHead = id;
    c.heldTail = id;
    c.heldBufs++;
    return off;
  }

  /** Releases `n` bytes from the front of `c`'s held data (the app's recvDone); n ≤ c.heldBytes. */
  consume(c: TcpConn, n: number): void {
    c.heldBytes -= n;
    let id = c.heldHead;
    while (n > 0 && id >= 0) {
      const l = this.len[id];
      if (n < l) { this.off[id] += n; this.len[id] = l - n; break; }
      n -= l;
      const nx = this.next[id];
      this.pool.free(id);
      c.heldBufs--;
      id = nx;
    }
    c.heldHead = id;
    if (id < 0) c.heldTail = -1;
  }

  /**
   * Inserts an out-of-order segment (data `[off, off+len)` of `id`, sequence `seq`) in order. Returns false when it
   * is a duplicate of data already held or the list is full — then the caller frees `id`.
   */
  insertOoo(c: TcpConn, id: number, off: number, len: number, seq: number): boolean {
    if (c.oooBufs >= OOO_MAX_BUFS) return false;
    let prev = -1;
    let cur = c.oooHead;
    while (cur >= 0 && seqLt(this.seq[cur], seq)) { prev = cur; cur = this.next[cur]; }
    const end = (seq + len) | 0;
    // Entirely inside a neighbour: nothing new.
    if (prev >= 0 && seqLe(end, (this.seq[prev] + this.len[prev]) | 0)) return false;
    if (cur >= 0 && this.seq[cur] === seq && this.len[cur] >= len) return false;
    this.off[id] = off;
    this.len[id] = len;
    this.seq[id] = seq;
    this.next[id] = cur;
    if (prev >= 0) this.next[prev] = id; else c.oooHead = id;
    c.oooBufs++;
    c.oooBytes += len;
    c.oooLast = seq;
    return true;
  }

  /**
   * Moves out-of-order segments that `rcvNxt` has reached onto the held list, trimming overlap. Calls
   * `deliver(offset, len)` for each piece of new in-order data; returns the new rcvNxt.
   */
  pullInOrder(c: TcpConn, rcvNxt: number, deliver: (c: TcpConn, off: number, len: number) => void): number {
    let id = c.oooHead;
    while (id >= 0 && seqLe(this.seq[id], rcvNxt)) {
      const nx = this.next[id];
      c.oooBufs--;
      c.oooBytes -= this.len[id];
      const skip = seqDiff(rcvNxt, this.seq[id]);
      const len = this.len[id] - skip;
      if (len <= 0) {
        this.pool.free(id);
      } else {
        const at = this.append(c, id, this.off[id] + skip, len);
        rcvNxt = (rcvNxt + len) | 0;
        deliver(c, at, len);
      }
      id = nx;
    }
    c.oooHead = id;
    return rcvNxt;
  }

  /**
   * Writes up to `max` SACK blocks (RFC 2018 §4) for `c`'s out-of-order data into left/right: contiguous runs
   * merged, the run holding the latest arrival first. Returns the number of blocks.
   */
  sackBlocks(c: TcpConn, left: Int32Array, right: Int32Array, max: number): number {
    if (max > left.length) max = left.length;
    // First the run holding the latest arrival (RFC 2018 §4: MUST be the first block), then the others in order.
    let n = 0;
    let id = c.oooHead;
    while (id >= 0) {
      const l = this.seq[id];
      let r = (l + this.len[id]) | 0;
      id = this.next[id];
      while (id >= 0 && seqLe(this.seq[id], r)) {
        const e = (this.seq[id] + this.len[id]) | 0;
        if (seqGt(e, r)) r = e;
        id = this.next[id];
      }
      if (seqLe(l, c.oooLast) && seqLt(c.oooLast, r)) { left[0] = l; right[0] = r; n = 1; break; }
    }
    id = c.oooHead;
    while (id >= 0 && n < max) {
      const l = this.seq[id];
      let r = (l + this.len[id]) | 0;
      id = this.next[id];
      while (id >= 0 && seqLe(this.seq[id], r)) {
        const e = (this.seq[id] + this.len[id]) | 0;
        if (seqGt(e, r)) r = e;
        id = this.next[id];
      }
      if (n > 0 && left[0] === l) continue;
      left[n] = l;
      right[n] = r;
      n++;
    }
    return n;
  }

  /** Lets go of everything `c` holds: freed at the next `releaseEnded()`. */
  freeAll(c: TcpConn): void {
    const ended = this.ended;
    let n = this.endedCount;
    for (let id = c.heldHead; id >= 0;) { const nx = this.next[id]; this.next[id] = -1; ended[n++] = id; id = nx; }
    for (let id = c.oooHead; id >= 0;) { const nx = this.next[id]; this.next[id] = -1; ended[n++] = id; id = nx; }
    this.endedCount = n;
    c.heldHead = c.heldTail = c.oooHead = -1;
    c.heldBytes = c.heldBufs = c.oooBufs = c.oooBytes = 0;
  }

  /** Frees the buffers of connections that ended (after the app has read the events that point into them). */
  releaseEnded(): void {
    const n = this.endedCount;
    if (n === 0) return;
    this.pool.freeBatch(this.ended, 0, n);
    this.endedCount = 0;
  }

  /** Buffers waiting for `releaseEnded()`, for mempool accounting. */
  get endedBuffers(): number { return this.endedCount; }
}
