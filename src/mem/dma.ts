/**
 * DMA memory: bytes both the CPU and a device can reach.
 * Physical (bus) addresses are plain numbers: they stay below 2^53, so no BigInt is needed after set-up.
 */
export interface DmaRegion {
  /** Backing store: a SharedArrayBuffer for the simulated NIC, an ArrayBuffer over mmapped hugepages otherwise. */
  readonly buffer: ArrayBufferLike;
  /** Where this region starts inside `buffer`. Always a multiple of 4096. */
  readonly byteOffset: number;
  readonly size: number;
  /** Largest physically contiguous span starting at any multiple of it (2 MiB for hugepages). */
  readonly contiguousBytes: number;
  /** Bus address of the byte at `offset` within the region. Set-up only. */
  physAddr(offset: number): number;
  free(): void;
}

export interface DmaAllocator {
  /** Human-readable origin of the memory, shown in `ixy` output ("hugetlbfs /mnt/huge", "sim physical memory"). */
  readonly description: string;
  /** Allocates `size` bytes, zeroed, 4096-aligned. With `contiguous`, size must not exceed the contiguity granule. */
  allocate(size: number, contiguous: boolean): DmaRegion;
}

export function u32View(r: DmaRegion): Uint32Array {
  return new Uint32Array(r.buffer, r.byteOffset, r.size >>> 2);
}

export function u8View(r: DmaRegion): Uint8Array {
  return new Uint8Array(r.buffer, r.byteOffset, r.size);
}

export const PHYS_HI = (addr: number): number => Math.floor(addr / 0x1_0000_0000);
export const PHYS_LO = (addr: number): number => addr >>> 0;

/** Plain in-process memory with identity "physical" addresses: for devices that copy (AF_PACKET, TAP) and for unit tests. */
export class HeapDmaAllocator implements DmaAllocator {
  readonly description = 'process heap (no device DMA)';
  allocate(size: number): DmaRegion {
    const buffer = new ArrayBuffer(roundUp(size, 4096));
    return {
      buffer, byteOffset: 0, size: buffer.byteLength, contiguousBytes: buffer.byteLength,
      physAddr: (offset: number) => 0x1000_0000 + offset,
      free: () => {},
    };
  }
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
