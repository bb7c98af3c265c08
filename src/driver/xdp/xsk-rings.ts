/**
 * The four AF_XDP rings (Documentation/networking/af_xdp.rst, "Rings"; include/uapi/linux/if_xdp.h).
 *
 * Each ring is mmapped from the socket at a fixed page offset and holds a producer index, a consumer index,
 * a flags word and `size` entries; the offsets of those come from getsockopt(XDP_MMAP_OFFSETS).
 * Indexes are free-running u32; an entry's slot is `idx & (size - 1)`. Single producer, single consumer:
 *   producer: write entries, then store the producer index (release);
 *   consumer: load the producer index (acquire), read entries, then store the consumer index (release).
 * Atomics.load/store on the index words give that ordering; the other side's index is cached and re-read only
 * when the ring looks empty (consumer) or full (producer).
 *
 * FILL and COMPLETION entries are u64 UMEM addresses (2 words); RX and TX entries are `struct xdp_desc`
 * { u64 addr; u32 len; u32 options } (4 words). Addresses are kept as two u32 words: no BigInt after set-up.
 */
import { IxyError } from '../../util/errors.js';
import { errnoMessage, libc, MAP_FAILED, MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE, viewOf } from '../../sys/libc.js';

// Socket options and ring page offsets (if_xdp.h).
export const SOL_XDP = 283;
export const XDP_MMAP_OFFSETS = 1;
export const XDP_RX_RING = 2;
export const XDP_TX_RING = 3;
export const XDP_UMEM_REG = 4;
export const XDP_UMEM_FILL_RING = 5;
export const XDP_UMEM_COMPLETION_RING = 6;
export const XDP_STATISTICS = 7;
export const XDP_MAX_TX_SKB_BUDGET = 9;
export const XDP_PGOFF_RX_RING = 0;
export const XDP_PGOFF_TX_RING = 0x8000_0000;
export const XDP_UMEM_PGOFF_FILL_RING = 0x1_0000_0000;
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x1_8000_0000;
/** Bit in a ring's flags word: the kernel waits for a wake-up call (XDP_USE_NEED_WAKEUP). */
export const XDP_RING_NEED_WAKEUP = 1;

/** `struct xdp_ring_offset`: byte offsets of the four parts of a ring in its mapping. */
export interface RingOffsets {
  producer: number;
  consumer: number;
  flags: number;
  desc: number;
}

/** `struct xdp_mmap_offsets` (128 bytes: rx, tx, fr, cr, each { producer, consumer, desc, flags } as u64). */
export interface MmapOffsets {
  rx: RingOffsets;
  tx: RingOffsets;
  fill: RingOffsets;
  completion: RingOffsets;
}

export function readMmapOffsets(fd: number): MmapOffsets {
  const buf = Buffer.alloc(128);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(128, 0);
  if (libc().getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, buf, len) !== 0) throw new IxyError(errnoMessage('getsockopt(XDP_MMAP_OFFSETS)'));
  if (len.readUInt32LE(0) < 128) throw new IxyError('this kernel has the pre-5.4 AF_XDP ring layout (no flags word): use Linux 5.4 or newer');
  const ring = (at: number): RingOffsets => ({
    producer: Number(buf.readBigUInt64LE(at)),
    consumer: Number(buf.readBigUInt64LE(at + 8)),
    desc: Number(buf.readBigUInt64LE(at + 16)),
    flags: Number(buf.readBigUInt64LE(at + 24)),
  });
  return { rx: ring(0), tx: ring(32), fill: ring(64), completion: ring(96) };
}

/** One mmapped ring. Fields are public for the hot path in xsk-socket.ts; methods keep the index protocol. */
export class XskRing {
  /** The whole mapping as u32 words. */
  readonly words: Uint32Array;
  /** Word indexes of the producer, consumer and flags words and of the first entry. */
  readonly prodWord: number;
  readonly consWord: number;
  readonly flagsWord: number;
  readonly descWord: number;
  readonly mask: number;
  /** Producer ring: our producer index. Consumer ring: the kernel's producer index as last read. */
  cachedProd: number;
  /** Producer ring: the kernel's consumer index as last read. Consumer ring: our consumer index. */
  cachedCons: number;
  private mapped: boolean;

  private constructor(private readonly addr: bigint, private readonly length: number, off: RingOffsets, readonly size: number) {
    this.words = new Uint32Array(viewOf(addr, length));
    this.prodWord = off.producer >>> 2;
    this.consWord = off.consumer >>> 2;
    this.flagsWord = off.flags >>> 2;
    this.descWord = off.desc >>> 2;
    this.mask = size - 1;
    this.cachedProd = Atomics.load(this.words, this.prodWord);
    this.cachedCons = Atomics.load(this.words, this.consWord);
    this.mapped = true;
  }

  /** mmaps the ring at page offset `pgoff` of socket `fd`; `entryBytes` is 8 (FILL/COMPLETION) or 16 (RX/TX). */
  static map(fd: number, pgoff: number, off: RingOffsets, size: number, entryBytes: number, name: string): XskRing {
    const length = off.desc + size * entryBytes;
    const addr = libc().mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
    if (addr === MAP_FAILED || addr === 0n) throw new IxyError(errnoMessage(`mmap of the AF_XDP ${name} ring`));
    return new XskRing(addr, length, off, size);
  }

  // ---- producer side (FILL, TX) ----

  /** Free entries, re-reading the kernel's consumer index if fewer than `want` seem free. */
  freeSlots(want: number): number {
    let free = this.size - ((this.cachedProd - this.cachedCons) >>> 0);
    if (free < want) {
      this.cachedCons = Atomics.load(this.words, this.consWord);
      free = this.size - ((this.cachedProd - this.cachedCons) >>> 0);
    }
    return free;
  }

  /** Publishes the entries written up to cachedProd. */
  submit(): void {
    Atomics.store(this.words, this.prodWord, this.cachedProd);
  }

  /** Whether entries we produced are still waiting for the kernel. */
  hasUnconsumed(): boolean {
    return Atomics.load(this.words, this.consWord) !== this.cachedProd;
  }

  // ---- consumer side (RX, COMPLETION) ----

  /** Entries ready to read, re-reading the kernel's producer index if fewer than `want` are known. */
  ready(want: number): number {
    let n = (this.cachedProd - this.cachedCons) >>> 0;
    if (n < want) {
      this.cachedProd = Atomics.load(this.words, this.prodWord);
      n = (this.cachedProd - this.cachedCons) >>> 0;
    }
    return n;
  }

  /** Hands `n` read entries back to the kernel. */
  release(n: number): void {
    this.cachedCons = (this.cachedCons + n) >>> 0;
    Atomics.store(this.words, this.consWord, this.cachedCons);
  }

  // ---- both ----

  needsWakeup(): boolean {
    return (this.words[this.flagsWord] & XDP_RING_NEED_WAKEUP) !== 0;
  }

  /** Unmaps the ring; `words` must not be touched afterwards. Idempotent. */
  unmap(): void {
    if (!this.mapped) return;
    this.mapped = false;
    libc().munmap(this.addr, this.length);
  }
}
