/**
 * `tap:<name>[,mq=N]`: a TAP interface we create; frames the kernel sends out of it are read() from our fd,
 * frames we write() enter the kernel as if received on it (Documentation/networking/tuntap.rst).
 * A copying device with one fd per queue; read/write go straight between the fd and mempool buffers.
 * The interface may be moved to another namespace (`ip link set NAME netns NS`): the fds keep working, but our
 * sysfs and ioctls no longer see it, so the MAC is read at open time and cached.
 */
import type { Mempool } from '../../mem/mempool.js';
import { linuxMemory, regionAddress, type MappedRegion } from '../../mem/mmap-dma.js';
import { lastErrno, libc, type Libc } from '../../sys/libc.js';
import { ifindexOf, ifindexOrZero, isLinkUp, readIfAttr, readMac, setIfPromisc, setIfUp } from '../../sys/netif.js';
import { IxyError } from '../../util/errors.js';
import type { Device, DeviceOptions, DeviceStats } from '../device.js';
import { openTapQueues } from './tun.js';

const EAGAIN = 11;
/** struct iovec (16 bytes): iov_base u64 @0, iov_len u64 @8. Two per queue: the buffer, then the spill area. */
const IOV_PAIR = 32;
/** Bytes past a buffer's data room that a read may fill: any at all means the frame did not fit. */
const SPILL = 64;
/** A TAP has no descriptor ring; ringSize is only reported (the kernel queues up to txqueuelen frames for us). */
const NOMINAL_RING_SIZE = 512;
/** A TAP has no link speed of its own; report 10 Gbit/s while it is up so applications treat it as a fast link. */
const TAP_SPEED_MBPS = 10000;

export class TapDevice implements Device {
  readonly driverName = 'tap';
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly ringSize: number;
  readonly pool: Mempool;
  /** Whether close() also removes the interface (false when we attached to an existing persistent TAP). */
  readonly removedOnClose: boolean;
  /** Frames longer than a buffer's data room, dropped on receive (also counted in rxDropped). */
  rxOversize = 0;
  /** Frames write() refused (shorter than an Ethernet header: EINVAL): freed, not sent. */
  txErrors = 0;
  private readonly c: Libc;
  private readonly fds: Int32Array;
  private readonly poolAddress: number;
  private readonly room: number;
  /** Per queue, an iovec pair {buffer, spill} in native memory; the buffer's address is rewritten per read. */
  private readonly iov: MappedRegion;
  private readonly iovU32: Uint32Array;
  private readonly iovAddress: number;
  private readonly mac: Uint8Array;
  private readonly ifindex: number;
  private readonly counters = new Float64Array(5); // rxPackets, rxBytes, txPackets, txBytes, rxDropped (ours)
  private readonly reported = new Float64Array(5);
  private kernelDropsBase: number;
  private lastKernelDrops = 0;
  private closed = false;

  private constructor(readonly spec: string, readonly ifname: string, fds: number[], existed: boolean, opts: DeviceOptions) {
    this.c = libc();
    this.pool = opts.pool;
    this.fds = Int32Array.from(fds);
    this.rxQueues = fds.length;
    this.txQueues = fds.length;
    this.ringSize = opts.ringSize ?? NOMINAL_RING_SIZE;
    this.removedOnClose = !existed;
    this.poolAddress = Number(regionAddress(opts.pool.region));
    this.room = opts.pool.dataRoom;
    this.ifindex = ifindexOf(ifname);
    this.mac = readMac(ifname);
    setIfUp(ifname);
    this.kernelDropsBase = this.readKernelDrops();
    // last: nothing after this can fail, so open() only has the fds to undo
    this.iov = linuxMemory.allocate(fds.length * IOV_PAIR + SPILL);
    this.iovU32 = new Uint32Array(this.iov.buffer);
    this.iovAddress = Number(this.iov.address);
    const spill = this.iovAddress + fds.length * IOV_PAIR;
    for (let q = 0; q < fds.length; q++) {
      const w = (q * IOV_PAIR) >>> 2;
      this.iovU32[w + 2] = this.room; // iov[0].iov_len (high half stays 0)
      this.iovU32[w + 4] = spill >>> 0; // iov[1].iov_base
      this.iovU32[w + 5] = Math.floor(spill / 0x1_0000_0000);
      this.iovU32[w + 6] = SPILL; // iov[1].iov_len
    }
  }

  static open(spec: string, name: string, queues: number, opts: DeviceOptions): TapDevice {
    regionAddress(opts.pool.region); // a clear error for a pool outside Linux-interface memory, before creating anything
    const q = openTapQueues(spec, name, queues);
    try {
      return new TapDevice(spec, q.name, q.fds, q.existed, opts);
    } catch (e) {
      for (const fd of q.fds) libc().close(fd);
      throw e;
    }
  }

  rxBatch(queue: number, ids: Uint32Array, max: number): number {
    if (this.closed) return 0;
    const fd = this.fds[queue];
    const pool = this.pool;
    const room = this.room;
    const iov = this.iovU32;
    const w = (queue * IOV_PAIR) >>> 2;
    const iovAt = this.iovAddress + queue * IOV_PAIR;
    let n = 0;
    let bytes = 0;
    while (n < max) {
      const id = pool.alloc();
      if (id < 0) break;
      // A read() into `room` bytes would silently truncate a longer frame (it returns the bytes copied), so read
      // into the buffer plus a spill area: a result above `room` means the frame did not fit.
      const addr = this.poolAddress + pool.dataOffset(id);
      iov[w] = addr >>> 0;
      iov[w + 1] = Math.floor(addr / 0x1_0000_0000);
      const r = this.c.readvAt(fd, iovAt, 2);
      if (r <= 0) { pool.free(id); break; } // EAGAIN: nothing queued
      if (r > room) { pool.free(id); this.rxOversize++; continue; }
      pool.len[id] = r;
      ids[n++] = id;
      bytes += r;
    }
    this.counters[0] += n;
    this.counters[1] += bytes;
    return n;
  }

  txBatch(queue: number, ids: Uint32Array, n: number): number {
    if (this.closed) return 0;
    const fd = this.fds[queue];
    const pool = this.pool;
    let i = 0;
    let sent = 0;
    let bytes = 0;
    while (i < n) {
      const id = ids[i];
      const len = pool.len[id];
      const r = this.c.writeAt(fd, this.poolAddress + pool.dataOffset(id), len);
      if (r < 0) {
        if (lastErrno() === EAGAIN) break; // the caller keeps ids[i..n)
        this.txErrors++;
      } else {
        sent++;
        bytes += len;
      }
      pool.free(id);
      i++;
    }
    this.counters[2] += sent;
    this.counters[3] += bytes;
    return i;
  }

  readStats(into: DeviceStats): void {
    const c = this.counters;
    const r = this.reported;
    const drops = this.rxOversize + this.readKernelDrops() - this.kernelDropsBase;
    into.rxPackets += c[0] - r[0];
    into.rxBytes += c[1] - r[1];
    into.txPackets += c[2] - r[2];
    into.txBytes += c[3] - r[3];
    into.rxDropped += drops - r[4];
    r[0] = c[0]; r[1] = c[1]; r[2] = c[2]; r[3] = c[3]; r[4] = drops;
  }

  /** Whether the interface is still in our namespace (it may have been moved to another one). */
  private visible(): boolean {
    return !this.closed && ifindexOrZero(this.ifname) === this.ifindex;
  }

  /**
   * Frames the kernel dropped because we did not read them in time: the interface's tx_dropped (its queue toward
   * us is full). Only while the interface is visible here; otherwise the last value stands.
   */
  private readKernelDrops(): number {
    if (!this.visible()) return this.lastKernelDrops;
    try {
      this.lastKernelDrops = Number(readIfAttr(this.ifname, 'statistics/tx_dropped'));
    } catch { /* moved away meanwhile */ }
    return this.lastKernelDrops;
  }

  setPromisc(on: boolean): void {
    if (this.closed) return;
    if (!this.visible()) {
      throw new IxyError(`${this.spec}: interface '${this.ifname}' is in another network namespace now: set promiscuous mode there (ip -n NS link set ${this.ifname} promisc ${on ? 'on' : 'off'})`);
    }
    setIfPromisc(this.ifname, on);
  }

  linkSpeedMbps(): number {
    if (this.closed) return 0;
    // Moved to another namespace: we cannot see its state from here; the fd still works, so call it up.
    if (!this.visible()) return TAP_SPEED_MBPS;
    return isLinkUp(this.ifname) ? TAP_SPEED_MBPS : 0;
  }

  macAddress(): Uint8Array {
    return this.mac.slice();
  }

  buffersInRings(): number {
    return 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let q = 0; q < this.fds.length; q++) this.c.close(this.fds[q]);
    this.iov.free();
  }
}
