import { dmaAllocatorFor, type DeviceSpec, parseDeviceSpec, poolHeadroomFor } from '../driver/index.js';
import { Mempool } from '../mem/mempool.js';

export interface PoolOptions {
  /** Packet buffers (default 4096). */
  count?: number;
  /** Bytes per buffer, a power of two 1024..4096 (default 2048). */
  entrySize?: number;
}

/**
 * A mempool every one of `specs` can use: in the DMA memory their kind needs (the simulated NIC's, hugepages, an
 * AF_XDP UMEM …) and with the largest headroom any of them asks for. Throws an IxyError for specs that cannot share.
 */
export function createPool(specs: (string | DeviceSpec)[], opts: PoolOptions = {}): Mempool {
  const parsed = specs.map((s) => (typeof s === 'string' ? parseDeviceSpec(s) : s));
  return new Mempool(dmaAllocatorFor(parsed), { count: opts.count ?? 4096, entrySize: opts.entrySize, headroom: poolHeadroomFor(parsed) });
}
