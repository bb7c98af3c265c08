import type { Mempool } from '../mem/mempool.js';

/** Counters of one device, accumulated since it was opened (ixy's `device_stats`). */
export interface DeviceStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  /** Packets the device dropped because no receive buffer was ready (ring full / missed). */
  rxDropped: number;
}

export function emptyStats(): DeviceStats {
  return { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 };
}

export interface DeviceOptions {
  /** Buffers for received packets come from here; buffers handed to txBatch must come from here too. */
  pool: Mempool;
  rxQueues?: number;
  txQueues?: number;
  /** Descriptors per ring, a power of two. */
  ringSize?: number;
  /** Take a PCI device even if the kernel is using it for an interface that is up. */
  force?: boolean;
}

/**
 * What every packet device offers (ixgbe, sim, virtio, af_xdp, af_packet, tap).
 * Buffers are mempool ids: rxBatch hands ownership of the returned ids to the caller; txBatch takes ownership
 * of ids[0..sent) (freed to the pool once the device is done with them) and the caller keeps the rest.
 */
export interface Device {
  /** The spec it was opened with, e.g. `sim:0` or `ixgbe:0000:03:00.0`. */
  readonly spec: string;
  readonly driverName: string;
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly ringSize: number;
  readonly pool: Mempool;
  /** Receives up to `max` packets from `queue` into ids[0..n); returns n. Never blocks. */
  rxBatch(queue: number, ids: Uint32Array, max: number): number;
  /** Queues ids[0..n) for transmission on `queue`; returns how many were taken. Never blocks. */
  txBatch(queue: number, ids: Uint32Array, n: number): number;
  /** Adds the counters since the last call to `into`. */
  readStats(into: DeviceStats): void;
  setPromisc(on: boolean): void;
  /** Link speed in Mbit/s, 0 when the link is down. */
  linkSpeedMbps(): number;
  /** MAC address as six bytes. */
  macAddress(): Uint8Array;
  /** The Linux interface it runs on (xdp, packet, tap), for messages about the link. */
  readonly ifname?: string;
  /** Frames dropped because they were longer than a buffer (a kernel's TSO/GSO super-frames), since open. */
  readonly rxOversize?: number;
  /** Buffers of `pool` currently owned by this device's rings (for leak accounting). */
  buffersInRings(): number;
  close(): void;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
