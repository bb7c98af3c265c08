/**
 * Page-aligned anonymous memory for devices behind a Linux interface (AF_XDP, AF_PACKET, TAP).
 * AF_XDP registers it as UMEM (the kernel pins it and addresses frames by offset), so "physical" addresses
 * here are offsets into the region; the copying devices (AF_PACKET, TAP) just need ordinary memory.
 * One allocator instance for all three kinds, so one mempool can serve `fwd xdp:a packet:b`.
 */
import { IxyError } from '../util/errors.js';
import { errnoMessage, libc, MAP_ANONYMOUS, MAP_FAILED, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE, viewOf } from '../sys/libc.js';
import { roundUp, type DmaAllocator, type DmaRegion } from './dma.js';

/** A region together with the native address the kernel needs (UMEM registration). */
export interface MappedRegion extends DmaRegion {
  readonly address: bigint;
}

export class MmapDmaAllocator implements DmaAllocator {
  readonly description = 'mmapped process memory (Linux interfaces)';

  allocate(size: number): MappedRegion {
    const len = roundUp(size, 4096);
    const c = libc();
    const addr = c.mmap(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (addr === MAP_FAILED || addr === 0n) throw new IxyError(`${errnoMessage(`mmap of ${len} bytes`)}: lower --pool-size`);
    let freed = false;
    return {
      buffer: viewOf(addr, len), byteOffset: 0, size: len, contiguousBytes: len, address: addr,
      physAddr: (offset: number) => offset,
      free: () => {
        if (freed) return;
        freed = true;
        c.munmap(addr, len);
      },
    };
  }
}

/** The allocator every Linux-interface device kind returns from `dmaAllocator()`. */
export const linuxMemory = new MmapDmaAllocator();

/** The native address of a region from `linuxMemory`, or an error naming what went wrong. */
export function regionAddress(r: DmaRegion): bigint {
  const a = (r as Partial<MappedRegion>).address;
  if (typeof a !== 'bigint') throw new IxyError('this device needs a mempool in Linux-interface memory (linuxMemory), not in other DMA memory');
  return a;
}
