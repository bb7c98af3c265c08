/**
 * Split virtqueues (virtio 1.0 §2.4; legacy layout §2.4.2 / virtio 0.9.5 §2.3) in DMA memory, shared by the
 * legacy and the modern transport. No interrupts: every ring sets VIRTQ_AVAIL_F_NO_INTERRUPT; the driver
 * notifies ("kicks") only when the device has not set VIRTQ_USED_F_NO_NOTIFY. EVENT_IDX is not negotiated.
 */
import type { DmaRegion } from '../../mem/dma.js';
import type { Mempool } from '../../mem/mempool.js';
import { IxyError } from '../../util/errors.js';
import { sleepMs } from '../bar.js';

/** What the device model needs from a transport (legacy I/O BAR or modern PCI capabilities). */
export interface VirtioTransport {
  readonly kind: 'legacy' | 'modern';
  /** Writes status 0 and waits until the device reads back 0 (its rings are forgotten, DMA stopped). */
  reset(): void;
  getStatus(): number;
  setStatus(status: number): void;
  deviceFeatures(): bigint;
  setDriverFeatures(features: bigint): void;
  /** Legacy: the device's (fixed) size of queue q; modern: its maximum. 0 = no such queue. */
  queueMax(q: number): number;
  /** Hands queue q (size entries, split layout at these bus addresses) to the device. */
  setupQueue(q: number, size: number, desc: number, avail: number, used: number): void;
  notify(q: number): void;
  /** One byte of the device-specific configuration (virtio_net_config). */
  readConfig8(offset: number): number;
  close(): void;
}

// §2.4.5 / §2.4.6: descriptor flags, ring flags
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Legacy layout: the used ring starts on the next 4096-byte boundary (QUEUE_ALIGN). */
export const QUEUE_ALIGN = 4096;
/** TX completions are reclaimed only once at least this many are ready (or descriptors run short). */
const TX_CLEAN_BATCH = 32;

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Bytes the split ring of `size` entries takes in the legacy layout (also valid for modern devices). */
export function virtqueueBytes(size: number): number {
  return align(align(16 * size + 6 + 2 * size, QUEUE_ALIGN) + 6 + 8 * size, QUEUE_ALIGN);
}

/**
 * One split virtqueue. For RX and TX, descriptor d always describes one buffer: `slots[d]` holds its mempool id,
 * the virtio_net_hdr sits in the buffer's headroom right before the frame (one descriptor per packet, no copy).
 */
export class Virtqueue {
  readonly mask: number;
  /** 4 words per descriptor: addr lo, addr hi, len, flags | next << 16. */
  readonly desc: Uint32Array;
  /** [flags, idx, ring[size]..., used_event] */
  readonly avail: Uint16Array;
  /** [flags, idx, ...]: the used ring's header. */
  readonly used16: Uint16Array;
  /** Used element e: id at 1 + 2e, len at 2 + 2e. */
  readonly used32: Uint32Array;
  readonly slots: Uint32Array;
  /** Free-running u16 indexes: next avail slot to publish, next used element to read. */
  availIdx = 0;
  lastUsed = 0;
  /** TX: descriptors not in flight (a stack). */
  private readonly freeDesc: Uint16Array;
  private freeTop: number;
  // software statistics, taken by the device's readStats
  packets = 0;
  bytes = 0;
  drops = 0;
  filled = false;

  constructor(region: DmaRegion, readonly offset: number, readonly size: number, readonly index: number,
    private readonly transport: VirtioTransport) {
    this.mask = size - 1;
    const base = region.byteOffset + offset;
    const availOff = 16 * size;
    const usedOff = align(availOff + 6 + 2 * size, QUEUE_ALIGN);
    this.desc = new Uint32Array(region.buffer, base, 4 * size);
    this.avail = new Uint16Array(region.buffer, base + availOff, 3 + size);
    this.used16 = new Uint16Array(region.buffer, base + usedOff, 3 + 4 * size);
    this.used32 = new Uint32Array(region.buffer, base + usedOff, 2 + 2 * size);
    new Uint8Array(region.buffer, base, virtqueueBytes(size)).fill(0);
    this.avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
    this.slots = new Uint32Array(size);
    this.freeDesc = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.freeDesc[i] = size - 1 - i;
    this.freeTop = size;
    transport.setupQueue(index, size, region.physAddr(offset), region.physAddr(offset + availOff), region.physAddr(offset + usedOff));
  }

  /** Makes avail entries up to availIdx visible (a full barrier: Atomics.store), then kicks if the device wants it. */
  private publish(): void {
    Atomics.store(this.avail, 1, this.availIdx);
    // §2.4.7.2: read used->flags only after the idx store; the device clears NO_NOTIFY when it wants a kick
    if ((Atomics.load(this.used16, 0) & VIRTQ_USED_F_NO_NOTIFY) === 0) this.transport.notify(this.index);
  }

  /** Descriptors the driver has handed to the device and not yet taken back. */
  inFlight(): number {
    return this.filled ? this.size : this.size - this.freeTop;
  }

  // ---- RX ----

  /** Puts a fresh buffer behind every descriptor (device-writable: header in the headroom + data room). */
  fillRx(pool: Mempool, hdr: number): void {
    const got = pool.allocBatch(this.slots, 0, this.size);
    if (got !== this.size) {
      pool.freeBatch(this.slots, 0, got);
      throw new IxyError(`the mempool has too few free buffers to fill a ${this.size}-entry RX queue: make it larger (--pool-size)`);
    }
    const { physLo, physHi } = pool;
    for (let d = 0; d < this.size; d++) {
      const id = this.slots[d];
      this.writeDesc(d, physLo[id] - hdr, physHi[id], hdr + pool.dataRoom, VIRTQ_DESC_F_WRITE);
      this.avail[2 + d] = d;
    }
    this.availIdx = this.size & 0xffff;
    this.filled = true;
    this.publish();
  }

  /** Takes up to `max` received frames; each used descriptor gets a fresh buffer, published once per call. */
  receive(pool: Mempool, ids: Uint32Array, max: number, hdr: number): number {
    const usedIdx = Atomics.load(this.used16, 1);
    let last = this.lastUsed;
    if (usedIdx === last) return 0;
    const { desc, avail, used32, slots, mask } = this;
    const { physLo, physHi, len } = pool;
    let ai = this.availIdx;
    let n = 0;
    let bytes = 0;
    while (last !== usedIdx && n < max) {
      const fresh = pool.alloc();
      if (fresh < 0) break; // nothing to put back: leave the frame in the ring until the application frees some
      const e = last & mask;
      const d = used32[1 + 2 * e];
      const l = used32[2 + 2 * e];
      const id = slots[d];
      slots[d] = fresh;
      desc[4 * d] = physLo[fresh] - hdr;
      desc[4 * d + 1] = physHi[fresh];
      avail[2 + (ai & mask)] = d;
      ai = (ai + 1) & 0xffff;
      last = (last + 1) & 0xffff;
      if (l <= hdr) { pool.free(id); this.drops++; continue; } // no frame behind the header
      len[id] = l - hdr;
      bytes += l - hdr;
      ids[n++] = id;
    }
    this.lastUsed = last;
    this.packets += n;
    this.bytes += bytes;
    if (ai !== this.availIdx) {
      this.availIdx = ai;
      this.publish();
    }
    return n;
  }

  // ---- TX ----

  /** Returns the buffers of completed TX descriptors to the pool. */
  reclaim(pool: Mempool): void {
    const usedIdx = Atomics.load(this.used16, 1);
    let last = this.lastUsed;
    const { used32, slots, freeDesc, mask } = this;
    let top = this.freeTop;
    while (last !== usedIdx) {
      const d = used32[1 + 2 * (last & mask)];
      pool.free(slots[d]);
      freeDesc[top++] = d;
      last = (last + 1) & 0xffff;
    }
    this.freeTop = top;
    this.lastUsed = last;
  }

  /** Queues ids[0..n): header zeroed in each buffer's headroom, one device-readable descriptor per frame. */
  transmit(pool: Mempool, ids: Uint32Array, n: number, hdr: number, words: Uint16Array): number {
    if (((Atomics.load(this.used16, 1) - this.lastUsed) & 0xffff) >= TX_CLEAN_BATCH || this.freeTop < n) this.reclaim(pool);
    const { desc, avail, slots, freeDesc, mask } = this;
    const { physLo, physHi, len } = pool;
    const entry = pool.entrySize;
    const headroom = pool.headroom;
    const hw = hdr >>> 1;
    let top = this.freeTop;
    let ai = this.availIdx;
    let sent = 0;
    let bytes = 0;
    while (sent < n && top > 0) {
      const d = freeDesc[--top];
      const id = ids[sent++];
      const h = (id * entry + headroom - hdr) >>> 1;
      for (let k = 0; k < hw; k++) words[h + k] = 0; // virtio_net_hdr: no checksum offload, no GSO
      const l = len[id];
      desc[4 * d] = physLo[id] - hdr;
      desc[4 * d + 1] = physHi[id];
      desc[4 * d + 2] = l + hdr;
      desc[4 * d + 3] = 0;
      slots[d] = id;
      avail[2 + (ai & mask)] = d;
      ai = (ai + 1) & 0xffff;
      bytes += l;
    }
    if (sent > 0) {
      this.freeTop = top;
      this.availIdx = ai;
      this.packets += sent;
      this.bytes += bytes;
      this.publish();
    }
    return sent;
  }

  /** Waits up to `ms` until the device has used everything published (TX drained). */
  drain(ms: number): boolean {
    const deadline = performance.now() + ms;
    this.transport.notify(this.index);
    while (Atomics.load(this.used16, 1) !== this.availIdx) {
      if (performance.now() > deadline) return false;
      sleepMs(1);
    }
    return true;
  }

  /** Every buffer still owned by this queue goes back to the pool (after the device was reset). */
  releaseBuffers(pool: Mempool): void {
    if (this.filled) { pool.freeBatch(this.slots, 0, this.size); this.filled = false; return; }
    this.reclaim(pool);
    // what the device never completed: everything not on the free stack
    const free = new Uint8Array(this.size);
    for (let i = 0; i < this.freeTop; i++) free[this.freeDesc[i]] = 1;
    for (let d = 0; d < this.size; d++) if (!free[d]) { pool.free(this.slots[d]); this.freeDesc[this.freeTop++] = d; }
  }

  // ---- control queue (§5.1.6.5) ----

  /**
   * Sends one control command: a device-readable descriptor with class, command and data, a device-writable one
   * for the ack; waits for the device (QEMU handles it during the notify). Returns the ack (0 = VIRTIO_NET_OK).
   */
  command(region: DmaRegion, bufOff: number, bytes: number[], timeoutMs = 1000): number {
    const buf = new Uint8Array(region.buffer, region.byteOffset + bufOff, 64 + 1);
    buf.set(bytes, 0);
    buf[64] = 0xff;
    const cmd = region.physAddr(bufOff);
    const ack = region.physAddr(bufOff + 64);
    this.writeDesc(0, cmd % 0x1_0000_0000, Math.floor(cmd / 0x1_0000_0000), bytes.length, VIRTQ_DESC_F_NEXT | (1 << 16));
    this.writeDesc(1, ack % 0x1_0000_0000, Math.floor(ack / 0x1_0000_0000), 1, VIRTQ_DESC_F_WRITE);
    this.avail[2 + (this.availIdx & this.mask)] = 0;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    Atomics.store(this.avail, 1, this.availIdx);
    this.transport.notify(this.index);
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.used16, 1) === this.lastUsed) {
      if (performance.now() > deadline) throw new IxyError(`control queue: the device did not answer within ${timeoutMs} ms`);
      sleepMs(1);
    }
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    return Atomics.load(buf, 64);
  }

  private writeDesc(d: number, lo: number, hi: number, len: number, flagsNext: number): void {
    this.desc[4 * d] = lo;
    this.desc[4 * d + 1] = hi;
    this.desc[4 * d + 2] = len;
    this.desc[4 * d + 3] = flagsNext;
  }
}
