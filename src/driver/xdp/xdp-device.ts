/**
 * `xdp:IF[@Q][,mode=…]`: a Linux interface through AF_XDP sockets, one per queue Q..Q+N-1, with the mempool
 * as UMEM (packets land in and leave from pool buffers without a copy in user space). The kernel copies in
 * copy mode (veth, generic XDP); with a zero-copy driver not even that.
 */
import { type Mempool, RxFlag } from '../../mem/mempool.js';
import { regionAddress } from '../../mem/mmap-dma.js';
import { IxyError } from '../../util/errors.js';
import type { Device, DeviceOptions, DeviceStats } from '../device.js';
import { ethtoolDriver, ifindexOf, linkSpeedMbps, readMac, readMtu, readQueueCounts, setIfPromisc } from '../../sys/netif.js';
import { type XdpMode, type XdpModeRequest, XdpRedirect } from './xdp-program.js';
import { type BindMode, XDP_PACKET_HEADROOM, XskSocket, type XskStatistics } from './xsk-socket.js';

export interface XdpTarget {
  ifname: string;
  /** First queue (`@Q`, default 0). */
  queue: number;
  mode: XdpModeRequest;
  /** Join this XSKMAP (an fd of this process) instead of attaching a program: one thread of `--threads N`. */
  xskmapFd?: number;
}

export const DEFAULT_RING_SIZE = 512;
/** Ethernet header + one VLAN tag on top of the MTU. */
const L2_OVERHEAD = 14 + 4;
/** Link speed reported for an up interface that tells none (tun, some virtual NICs). */
const UNKNOWN_SPEED_MBPS = 1000;

/** The largest MTU whose frames (plus an Ethernet header and a VLAN tag) fit an AF_XDP chunk of `entrySize` bytes. */
export function xdpMaxMtu(entrySize: number): number {
  return entrySize - XDP_PACKET_HEADROOM - L2_OVERHEAD;
}

/**
 * Whether every frame on the interface was built by this kernel (a veth's peer, a tap's kernel side): its TX
 * checksum offload leaves TCP/UDP checksums partial (CHECKSUM_PARTIAL), and Linux itself trusts such frames when they
 * cross a veth. AF_XDP does not say which frames are partial, so the stack accepts a field equal to the pseudo-header
 * sum on these interfaces only.
 */
function fromLocalKernel(ifname: string): boolean {
  const driver = ethtoolDriver(ifname);
  return driver === 'veth' || driver === 'tun';
}

/** How long close() waits for queued frames to be sent. */
const TX_DRAIN_MS = 500;

export class XdpDevice implements Device {
  readonly driverName: string;
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly ringSize: number;
  readonly pool: Mempool;
  readonly ifname: string;
  readonly ifindex: number;
  readonly firstQueue: number;
  /** Where the program runs: in the driver (native) or on the generic skb path. */
  readonly xdpMode: XdpMode;
  /** How the sockets move data: zero-copy (driver support needed) or copy. */
  readonly bindMode: BindMode;
  private readonly mac: Uint8Array;
  private readonly owned: Uint8Array;
  private readonly sockets: XskSocket[] = [];
  /** Per queue index (0-based): the socket that receives / sends. Emptied by close(). */
  private readonly rxSocks: XskSocket[] = [];
  private readonly txSocks: XskSocket[] = [];
  private prog: XdpRedirect | null = null;
  /** IFF_PROMISC as it was before setPromisc first changed it (restored by close), or null. */
  private promiscBefore: boolean | null = null;
  private closed = false;

  constructor(readonly spec: string, t: XdpTarget, opts: DeviceOptions) {
    this.pool = opts.pool;
    this.ifname = t.ifname;
    this.firstQueue = t.queue;
    this.rxQueues = opts.rxQueues ?? 1;
    this.txQueues = opts.txQueues ?? 1;
    this.ringSize = opts.ringSize ?? DEFAULT_RING_SIZE;
    checkOptions(spec, opts.pool, this.rxQueues, this.txQueues, this.ringSize);
    const umemAddr = regionAddress(opts.pool.region);
    this.ifindex = ifindexOf(t.ifname);
    const nq = Math.max(this.rxQueues, this.txQueues);
    const queues = checkInterface(t, nq, opts.pool);
    this.mac = readMac(t.ifname);
    this.owned = new Uint8Array(opts.pool.count);
    const rxFlags = fromLocalKernel(t.ifname) ? RxFlag.L4ChecksumMaybePartial : 0;
    try {
      this.prog = t.xskmapFd !== undefined
        ? XdpRedirect.join(t.ifname, t.xskmapFd, t.mode === 'native' ? 'native' : 'generic')
        : XdpRedirect.attach(t.ifname, this.ifindex, Math.max(queues ?? 0, t.queue + nq), t.mode);
      this.xdpMode = this.prog.mode;
      let bind: BindMode | 'try' = this.xdpMode === 'generic' ? 'copy' : 'try';
      for (let i = 0; i < nq; i++) {
        const s = XskSocket.open({
          ifname: t.ifname, ifindex: this.ifindex, queue: t.queue + i, pool: opts.pool, umemAddr, ringSize: this.ringSize,
          rx: i < this.rxQueues, tx: i < this.txQueues, bind, owned: this.owned, rxFlags,
        });
        this.sockets.push(s);
        bind = s.bindMode; // the other queues bind the way the first one could
        if (i < this.rxQueues) {
          this.prog.setSocket(t.queue + i, s.fd);
          this.rxSocks.push(s);
        }
        if (i < this.txQueues) this.txSocks.push(s);
      }
      this.bindMode = bind as BindMode;
      this.driverName = `af_xdp/${this.xdpMode}/${this.bindMode}`;
    } catch (e) {
      this.teardown();
      throw e;
    }
  }

  // ---- hot path ----

  rxBatch(queue: number, ids: Uint32Array, max: number): number {
    return this.rxSocks[queue].rxBatch(ids, max);
  }

  txBatch(queue: number, ids: Uint32Array, n: number): number {
    return this.txSocks[queue].txBatch(ids, n);
  }

  // ---- control ----

  readStats(into: DeviceStats): void {
    for (const s of this.sockets) s.addStats(into);
  }

  /**
   * Sets IFF_PROMISC on the interface (restored by close). Needed on real NICs to see frames for other MACs;
   * veth hands every frame to XDP anyway.
   */
  /** The kernel's XDP_STATISTICS counters, summed over this device's sockets (cumulative, for diagnostics). */
  kernelStatistics(): XskStatistics {
    const sum: XskStatistics = { rxDropped: 0, rxInvalidDescs: 0, txInvalidDescs: 0, rxRingFull: 0, rxFillRingEmptyDescs: 0, txRingEmptyDescs: 0 };
    for (const s of this.sockets) {
      const st = s.statistics();
      if (st) for (const k of Object.keys(sum) as (keyof XskStatistics)[]) sum[k] += st[k];
    }
    return sum;
  }

  /**
   * Frames longer than a UMEM chunk (TSO/GSO super-frames reach generic XDP whole): the kernel counts them in
   * rx_dropped (xsk_rcv_check → -ENOSPC), as it does frames that found the FILL ring empty, which it also counts
   * in rx_fill_ring_empty_descs (copy mode).
   */
  get rxOversize(): number {
    if (this.closed) return 0;
    const s = this.kernelStatistics();
    return Math.max(0, s.rxDropped - s.rxFillRingEmptyDescs);
  }

  setPromisc(on: boolean): void {
    const was = setIfPromisc(this.ifname, on);
    if (this.promiscBefore === null) this.promiscBefore = was;
  }

  linkSpeedMbps(): number {
    return linkSpeedMbps(this.ifname, UNKNOWN_SPEED_MBPS);
  }

  macAddress(): Uint8Array {
    return this.mac.slice();
  }

  buffersInRings(): number {
    let n = 0;
    for (const s of this.sockets) n += s.fillOwned + s.txOwned;
    return n;
  }

  close(): void {
    if (this.closed) return;
    for (const s of this.txSocks) s.drainTx(TX_DRAIN_MS);
    if (this.promiscBefore !== null) {
      try { setIfPromisc(this.ifname, this.promiscBefore); } catch { /* the interface may be gone */ }
    }
    this.teardown();
  }

  /** Detaches the program, closes the sockets, frees every buffer the kernel held. Idempotent. */
  private teardown(): void {
    this.closed = true;
    this.rxSocks.length = 0; // later rxBatch/txBatch calls fail with a TypeError instead of touching unmapped rings
    this.txSocks.length = 0;
    this.prog?.close();
    this.prog = null;
    for (const s of this.sockets) s.close();
    this.sockets.length = 0;
    const owned = this.owned;
    for (let id = 0; id < owned.length; id++) {
      if (owned[id] === 1) {
        owned[id] = 0;
        this.pool.free(id);
      }
    }
  }
}

function checkOptions(spec: string, pool: Mempool, rxq: number, txq: number, ring: number): void {
  if (pool.headroom !== XDP_PACKET_HEADROOM) {
    throw new IxyError(
      `${spec} needs mempool buffers with ${XDP_PACKET_HEADROOM} bytes of headroom (XDP_PACKET_HEADROOM), this pool has ${pool.headroom}: ` +
        'create it with headroom 256 (poolHeadroomFor(specs) does)',
    );
  }
  if (pool.entrySize < 2048) throw new IxyError(`${spec} needs mempool entries of 2048 or 4096 bytes (AF_XDP chunk size), not ${pool.entrySize}`);
  if (!Number.isInteger(ring) || ring < 64 || ring > 16384 || (ring & (ring - 1)) !== 0) {
    throw new IxyError(`ring size ${ring} is invalid for ${spec}: use a power of two from 64 to 16384`);
  }
  for (const [name, n] of [['rx', rxq], ['tx', txq]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new IxyError(`${n} ${name} queues is invalid for ${spec}: use 1..64`);
  }
}

/** Checks queues and MTU against sysfs; returns the interface's queue count (null if sysfs does not show it). */
function checkInterface(t: XdpTarget, nq: number, pool: Mempool): number | null {
  const queues = readQueueCounts(t.ifname)?.rx ?? null;
  if (queues !== null && t.queue + nq > queues) {
    const have = queues === 1 ? '1 queue (0)' : `${queues} queues (0..${queues - 1})`;
    const wanted = nq === 1 ? `queue ${t.queue}` : `queues ${t.queue}..${t.queue + nq - 1}`;
    throw new IxyError(`${wanted} of ${t.ifname} do${nq === 1 ? 'es' : ''} not exist: it has ${have}; pick one with xdp:${t.ifname}@N or use fewer queues`);
  }
  const mtu = readMtu(t.ifname);
  const max = xdpMaxMtu(pool.entrySize); // checkOptions made sure the pool's headroom is XDP_PACKET_HEADROOM
  if (mtu > max) {
    throw new IxyError(
      `MTU ${mtu} of ${t.ifname} is too large for ${pool.entrySize}-byte mempool buffers (frames up to ${pool.dataRoom} bytes): ` +
        `lower it to ${max} or less (ip link set dev ${t.ifname} mtu ${max})` +
        (pool.entrySize < 4096 ? ' or use 4096-byte buffers' : ''),
    );
  }
  return queues;
}
