/**
 * Two devices joined by a wire in memory: what one end transmits, the other receives (copied into a buffer of the
 * receiver's pool, as a NIC would DMA it). For running two stacks in one process — tests, examples, a TCP
 * client and server without root or a network. Each end has its own pool; a full receive ring or an empty pool
 * drops the frame and counts it, like a NIC without descriptors.
 */
import { type Device, type DeviceStats } from '../device.js';
import type { Mempool } from '../../mem/mempool.js';

class MemoryEnd implements Device {
  readonly driverName = 'memory';
  readonly rxQueues = 1;
  readonly txQueues = 1;
  peer!: MemoryEnd;
  private readonly ring: Uint32Array;
  private head = 0;
  private count = 0;
  private rxPackets = 0; private rxBytes = 0; private txPackets = 0; private txBytes = 0; private rxDropped = 0;
  /** Drop every frame sent while false (a cut cable). */
  up = true;

  constructor(readonly spec: string, readonly pool: Mempool, readonly ringSize: number, private readonly mac: Uint8Array) {
    this.ring = new Uint32Array(ringSize);
  }

  rxBatch(_queue: number, ids: Uint32Array, max: number): number {
    let n = 0;
    while (n < max && this.count > 0) {
      const id = this.ring[this.head];
      ids[n++] = id;
      this.head = (this.head + 1) & (this.ringSize - 1);
      this.count--;
      this.rxPackets++;
      this.rxBytes += this.pool.len[id];
    }
    return n;
  }

  txBatch(_queue: number, ids: Uint32Array, n: number): number {
    const p = this.peer;
    const src = this.pool.bytes, dst = p.pool.bytes;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const len = this.pool.len[id];
      this.txPackets++;
      this.txBytes += len;
      if (this.up && p.count < p.ringSize) {
        const to = p.pool.alloc();
        if (to >= 0) {
          const s = this.pool.dataOffset(id), d = p.pool.dataOffset(to);
          for (let k = 0; k < len; k++) dst[d + k] = src[s + k];
          p.pool.len[to] = len;
          p.ring[(p.head + p.count) & (p.ringSize - 1)] = to;
          p.count++;
        } else p.rxDropped++;
      } else p.rxDropped++;
      this.pool.free(id);
    }
    return n;
  }

  readStats(into: DeviceStats): void {
    into.rxPackets += this.rxPackets; into.txPackets += this.txPackets;
    into.rxBytes += this.rxBytes; into.txBytes += this.txBytes; into.rxDropped += this.rxDropped;
    this.rxPackets = this.txPackets = this.rxBytes = this.txBytes = this.rxDropped = 0;
  }

  setPromisc(): void { /* a point-to-point wire delivers everything */ }
  linkSpeedMbps(): number { return this.up ? 10000 : 0; }
  macAddress(): Uint8Array { return this.mac.slice(); }
  buffersInRings(): number { return this.count; }
  close(): void {
    while (this.count > 0) { this.pool.free(this.ring[this.head]); this.head = (this.head + 1) & (this.ringSize - 1); this.count--; }
  }
}

/** A pair of devices on one in-memory wire; `a` and `b` get MACs 02:00:00:00:00:0a and …:0b unless given. */
export function memoryWire(poolA: Mempool, poolB: Mempool, ringSize = 1024): { a: MemoryEnd; b: MemoryEnd } {
  if ((ringSize & (ringSize - 1)) !== 0) throw new RangeError('ring size must be a power of two');
  const a = new MemoryEnd('memory:a', poolA, ringSize, Uint8Array.of(2, 0, 0, 0, 0, 0x0a));
  const b = new MemoryEnd('memory:b', poolB, ringSize, Uint8Array.of(2, 0, 0, 0, 0, 0x0b));
  a.peer = b;
  b.peer = a;
  return { a, b };
}
export type { MemoryEnd };
