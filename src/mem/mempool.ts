import { IxyError } from '../util/errors.js';
import { type DmaAllocator, type DmaRegion, PHYS_HI, PHYS_LO, u8View } from './dma.js';

/**
 * Bits of `Mempool.rxFlags`: what the receiving device knows about a frame's TCP/UDP checksum (DPDK's
 * RTE_MBUF_F_RX_L4_CKSUM_*). Zero: nothing, the stack verifies it.
 */
export const RxFlag = {
  /** The kernel vouches for the payload (AF_PACKET TP_STATUS_CSUMNOTREADY / TP_STATUS_CSUM_VALID): no check needed. */
  L4ChecksumGood: 1,
  /**
   * The frame comes from the local kernel (veth, tap) whose TX checksum offload may have left the field holding only
   * the pseudo-header sum (CHECKSUM_PARTIAL, completed by no one): a field equal to that sum is accepted.
   */
  L4ChecksumMaybePartial: 2,
} as const;

export interface MempoolOptions {
  /** Number of packet buffers. */
  count: number;
  /** Bytes per buffer including headroom; a power of two from 1024 to 4096 so no buffer crosses a 2 MiB page. */
  entrySize?: number;
  /** Bytes kept free in front of the packet data (room to prepend headers; AF_XDP wants 256). */
  headroom?: number;
}

/**
 * A pool of fixed-size packet buffers in one DMA region (DPDK's mempool, ixy's `mempool`).
 * A buffer is named by its id (0..count-1); everything known about it lives in typed arrays indexed by id,
 * so the hot path touches no objects. A batch of packets is a Uint32Array of ids.
 *
 * Accounting: every buffer is either free (on the stack here) or allocated — in a device ring or held by the
 * application. `allocated` counts the latter; devices report how many sit in their rings.
 */
export class Mempool {
  readonly count: number;
  readonly entrySize: number;
  readonly headroom: number;
  /** Largest packet a buffer holds. */
  readonly dataRoom: number;
  readonly region: DmaRegion;
  /** The region's bytes; a packet starts at `dataOffset(id)`. */
  readonly bytes: Uint8Array;
  /** Bus address of each buffer's data start, as two 32-bit halves (no BigInt on the hot path). */
  readonly physLo: Uint32Array;
  readonly physHi: Uint32Array;
  /** Packet length of each buffer, set by the receiving device or the application. */
  readonly len: Uint16Array;
  /** RxFlag bits of each buffer, set by the receiving device; zero again whenever the buffer is freed. */
  readonly rxFlags: Uint8Array;
  private readonly stack: Uint32Array;
  private top: number;
  private readonly inUse: Uint8Array;

  constructor(allocator: DmaAllocator, opts: MempoolOptions) {
    const entrySize = opts.entrySize ?? 2048;
    const headroom = opts.headroom ?? 128;
    if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 1 << 22) {
      throw new IxyError(`mempool size ${opts.count} is invalid: use 1..4194304 buffers`);
    }
    if (entrySize < 1024 || entrySize > 4096 || (entrySize & (entrySize - 1)) !== 0) {
      throw new IxyError(`mempool entry size ${entrySize} is invalid: use 1024, 2048 or 4096`);
    }
    if (headroom < 0 || headroom > entrySize - 256 || headroom % 64 !== 0) {
      throw new IxyError(`mempool headroom ${headroom} is invalid: use a multiple of 64 below ${entrySize - 256}`);
    }
    this.count = opts.count;
    this.entrySize = entrySize;
    this.headroom = headroom;
    this.dataRoom = entrySize - headroom;
    this.region = allocator.allocate(opts.count * entrySize, false);
    this.bytes = u8View(this.region);
    this.physLo = new Uint32Array(opts.count);
    this.physHi = new Uint32Array(opts.count);
    this.len = new Uint16Array(opts.count);
    this.rxFlags = new Uint8Array(opts.count);
    this.stack = new Uint32Array(opts.count);
    this.inUse = new Uint8Array(opts.count);
    for (let id = 0; id < opts.count; id++) {
      const phys = this.region.physAddr(id * entrySize + headroom);
      this.physLo[id] = PHYS_LO(phys);
      this.physHi[id] = PHYS_HI(phys);
      // LIFO stack: the most recently freed buffer is reused first (warm in cache); start with id 0 on top.
      this.stack[id] = opts.count - 1 - id;
    }
    this.top = opts.count;
  }

  /** Byte offset of a buffer's packet data within `bytes`. */
  dataOffset(id: number): number {
    return id * this.entrySize + this.headroom;
  }

  /** Free buffers right now. */
  get available(): number {
    return this.top;
  }

  /** Buffers in device rings or held by the application. */
  get allocated(): number {
    return this.count - this.top;
  }

  /** One buffer id, or -1 when the pool is empty. */
  alloc(): number {
    if (this.top === 0) return -1;
    const id = this.stack[--this.top];
    this.inUse[id] = 1;
    return id;
  }

  /** Fills out[start..start+n) with buffer ids; returns how many it could take (may be fewer than n). */
  allocBatch(out: Uint32Array, start: number, n: number): number {
    const take = n < this.top ? n : this.top;
    let top = this.top;
    for (let i = 0; i < take; i++) {
      const id = this.stack[--top];
      this.inUse[id] = 1;
      out[start + i] = id;
    }
    this.top = top;
    return take;
  }

  free(id: number): void {
    if (this.inUse[id] !== 1) this.badFree(id);
    this.inUse[id] = 0;
    this.rxFlags[id] = 0;
    this.stack[this.top++] = id;
  }

  /** Frees ids[start..start+n). */
  freeBatch(ids: Uint32Array, start: number, n: number): void {
    let top = this.top;
    for (let i = start; i < start + n; i++) {
      const id = ids[i];
      if (this.inUse[id] !== 1) { this.top = top; this.badFree(id); }
      this.inUse[id] = 0;
      this.rxFlags[id] = 0;
      this.stack[top++] = id;
    }
    this.top = top;
  }

  isAllocated(id: number): boolean {
    return this.inUse[id] === 1;
  }

  private badFree(id: number): never {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) {
      throw new IxyError(`buffer id ${id} does not belong to this mempool (0..${this.count - 1})`);
    }
    throw new IxyError(`buffer ${id} freed twice (it was already free): the application lost track of its ownership`);
  }

  destroy(): void {
    this.region.free();
  }
}
