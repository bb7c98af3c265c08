import { IxyError } from '../../util/errors.js';
import type { DmaAllocator, DmaRegion } from '../../mem/dma.js';
import { PHYS_BASE, PHYS_HEADER_BYTES } from './layout.js';

/**
 * The simulated machine's physical memory: one SharedArrayBuffer seen by the driver threads and the model thread.
 * Bus address = PHYS_BASE + offset. Allocation is a page bump pointer shared by all threads; memory returns to the
 * system when the simulated NIC stops (regions are not reused while it runs).
 */
export class SimDmaAllocator implements DmaAllocator {
  readonly description = 'simulated physical memory';
  private readonly header: Int32Array;

  constructor(readonly phys: SharedArrayBuffer) {
    this.header = new Int32Array(phys, 0, 1);
  }

  static init(phys: SharedArrayBuffer): void {
    Atomics.store(new Int32Array(phys, 0, 1), 0, PHYS_HEADER_BYTES / 4096);
  }

  allocate(size: number, contiguous: boolean): DmaRegion {
    void contiguous; // the whole simulated memory is contiguous
    const pages = Math.ceil(size / 4096);
    const first = Atomics.add(this.header, 0, pages);
    const byteOffset = first * 4096;
    if (byteOffset + pages * 4096 > this.phys.byteLength) {
      Atomics.sub(this.header, 0, pages);
      throw new IxyError(
        `simulated physical memory exhausted (${this.phys.byteLength >> 20} MiB, asked for ${Math.ceil(size / 1024)} KiB more): ` +
          'start the simulated NIC with more memory (--sim-mem MiB) or a smaller mempool',
      );
    }
    const phys = this.phys;
    return {
      buffer: phys, byteOffset, size: pages * 4096, contiguousBytes: phys.byteLength,
      physAddr: (offset: number) => PHYS_BASE + byteOffset + offset,
      free: () => {},
    };
  }
}

/** The model's view of physical memory: translates bus addresses to byte offsets. */
export class PhysView {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly size: number;
  constructor(phys: SharedArrayBuffer) {
    this.u8 = new Uint8Array(phys);
    this.u32 = new Uint32Array(phys);
    this.size = phys.byteLength;
  }
  /** Byte offset of [lo, hi] spanning `len` bytes, or -1 if any of it lies outside memory. */
  offsetOf(lo: number, hi: number, len: number): number {
    const off = hi * 0x1_0000_0000 + lo - PHYS_BASE;
    return off >= PHYS_HEADER_BYTES && off + len <= this.size ? off : -1;
  }
}
