/**
 * One AF_XDP socket bound to one queue of an interface, with the mempool's region as its UMEM
 * (Documentation/networking/af_xdp.rst). Set-up order: socket → UMEM_REG → ring sizes → XDP_MMAP_OFFSETS →
 * mmap rings → pre-fill FILL → bind. Every socket registers the same memory as its own UMEM (two devices on one
 * mempool, or several queues of one device, each pin it once), so no XDP_SHARED_UMEM bookkeeping is needed:
 * a buffer id names the same bytes everywhere and belongs to one ring at a time.
 *
 * Addresses: chunk = pool.entrySize, UMEM headroom 0, so the kernel writes received data at chunk + 256
 * (XDP_PACKET_HEADROOM), which is pool.dataOffset(id) because the pool's headroom is 256.
 * FILL gets id * entrySize, TX descriptors id * entrySize + 256; RX and COMPLETION addresses map back with
 * id = floor(addr / entrySize).
 */
import type { Mempool } from '../../mem/mempool.js';
import { IxyError } from '../../util/errors.js';
import { errnoMessage, lastErrno, libc } from '../../sys/libc.js';
import {
  readMmapOffsets, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_RX_RING, XDP_STATISTICS,
  XDP_TX_RING, XDP_UMEM_COMPLETION_RING, XDP_UMEM_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING, XDP_UMEM_PGOFF_FILL_RING,
  XDP_UMEM_REG, XskRing,
} from './xsk-rings.js';
import { privilegeError } from './xdp-program.js';

const AF_XDP = 44;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
// sxdp_flags (if_xdp.h)
const XDP_COPY = 1 << 1;
const XDP_ZEROCOPY = 1 << 2;
const XDP_USE_NEED_WAKEUP = 1 << 3;
/** XDP_PACKET_HEADROOM (include/uapi/linux/bpf.h): the kernel keeps this much room in front of every received frame. */
export const XDP_PACKET_HEADROOM = 256;
/** FILL is topped up once this many buffers are missing (or when RX is idle). */
const FILL_BATCH = 32;

const EPERM = 1, EACCES = 13, ENOMEM = 12, EBUSY = 16, EINVAL = 22, ENOBUFS = 105, EOPNOTSUPP = 95, EAFNOSUPPORT = 97;

export type BindMode = 'zerocopy' | 'copy';

/** The kernel's per-socket counters (struct xdp_statistics). */
export interface XskStatistics {
  rxDropped: number;
  rxInvalidDescs: number;
  txInvalidDescs: number;
  rxRingFull: number;
  rxFillRingEmptyDescs: number;
  txRingEmptyDescs: number;
}

export interface XskSocketConfig {
  ifname: string;
  ifindex: number;
  queue: number;
  pool: Mempool;
  /** Native address of pool.region. */
  umemAddr: bigint;
  ringSize: number;
  rx: boolean;
  tx: boolean;
  /** 'try': zero-copy if the driver can, else copy. */
  bind: BindMode | 'try';
  /** Mempool RxFlag bits for every received frame (AF_XDP passes no checksum state). */
  rxFlags: number;
  /** Per buffer id: 1 while the kernel owns it (shared by the sockets of one device; close frees what is marked). */
  owned: Uint8Array;
}

export class XskSocket {
  readonly queue: number;
  fd = -1;
  bindMode: BindMode = 'copy';
  private fill: XskRing | null = null;
  private comp: XskRing | null = null;
  private rxr: XskRing | null = null;
  private txr: XskRing | null = null;
  /** Buffers given to the kernel through FILL and not yet back through RX; and through TX, not yet on COMPLETION. */
  fillOwned = 0;
  txOwned = 0;
  private readonly fillTarget: number;
  private readonly ringSize: number;
  private readonly pool: Mempool;
  private readonly owned: Uint8Array;
  private readonly rxFlags: number;
  private readonly shift: number;
  private readonly hiMul: number;
  private readonly chunkMask: number;
  private readonly scratch: Uint32Array;
  private rxPackets = 0;
  private rxBytes = 0;
  private txPackets = 0;
  private txBytes = 0;
  private dropsSeen = 0;
  private readonly statsBuf = Buffer.alloc(48);
  private readonly statsLen = Buffer.alloc(4);

  private constructor(cfg: XskSocketConfig) {
    this.queue = cfg.queue;
    this.pool = cfg.pool;
    this.owned = cfg.owned;
    this.rxFlags = cfg.rxFlags;
    this.ringSize = cfg.ringSize;
    this.fillTarget = cfg.rx ? cfg.ringSize : 0;
    this.shift = Math.log2(cfg.pool.entrySize);
    this.hiMul = 2 ** (32 - this.shift);
    this.chunkMask = cfg.pool.entrySize - 1;
    this.scratch = new Uint32Array(cfg.ringSize);
  }

  /** Creates, maps, fills and binds the socket; on failure everything it took is given back before the throw. */
  static open(cfg: XskSocketConfig): XskSocket {
    const s = new XskSocket(cfg);
    try {
      s.setUp(cfg);
      return s;
    } catch (e) {
      s.close(); // buffers it put into FILL stay marked in `owned`: the device frees them
      throw e;
    }
  }

  private setUp(cfg: XskSocketConfig): void {
    const c = libc();
    const where = `${cfg.ifname} queue ${cfg.queue}`;
    this.fd = c.socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (this.fd < 0) {
      const e = lastErrno();
      if (e === EPERM || e === EACCES) throw privilegeError(cfg.ifname, 'creating an AF_XDP socket');
      if (e === EAFNOSUPPORT) throw new IxyError('this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS): use packet:IF instead');
      throw new IxyError(errnoMessage('socket(AF_XDP)', e));
    }
    // struct xdp_umem_reg, all 32 bytes (with a shorter optlen the kernel ignores the flags): addr, len, chunk_size,
    // headroom, flags, tx_metadata_len.
    const reg = Buffer.alloc(32);
    reg.writeBigUInt64LE(cfg.umemAddr, 0);
    reg.writeBigUInt64LE(BigInt(cfg.pool.region.size), 8);
    reg.writeUInt32LE(cfg.pool.entrySize, 16);
    if (c.setsockopt(this.fd, SOL_XDP, XDP_UMEM_REG, reg, 32) !== 0) {
      const e = lastErrno();
      if (e === ENOBUFS || e === ENOMEM || e === EPERM) {
        throw new IxyError(`${errnoMessage(`registering the mempool as UMEM for ${where}`, e)}: pinned memory counts against RLIMIT_MEMLOCK: run as root or raise \`ulimit -l\``);
      }
      throw new IxyError(errnoMessage(`setsockopt(XDP_UMEM_REG) for ${where}`, e));
    }
    this.setRingSize(XDP_UMEM_FILL_RING, cfg.ringSize, 'FILL');
    this.setRingSize(XDP_UMEM_COMPLETION_RING, cfg.ringSize, 'COMPLETION');
    if (cfg.rx) this.setRingSize(XDP_RX_RING, cfg.ringSize, 'RX');
    if (cfg.tx) this.setRingSize(XDP_TX_RING, cfg.ringSize, 'TX');
    const off = readMmapOffsets(this.fd);
    this.fill = XskRing.map(this.fd, XDP_UMEM_PGOFF_FILL_RING, off.fill, cfg.ringSize, 8, 'FILL');
    this.comp = XskRing.map(this.fd, XDP_UMEM_PGOFF_COMPLETION_RING, off.completion, cfg.ringSize, 8, 'COMPLETION');
    if (cfg.rx) this.rxr = XskRing.map(this.fd, XDP_PGOFF_RX_RING, off.rx, cfg.ringSize, 16, 'RX');
    if (cfg.tx) {
      this.txr = XskRing.map(this.fd, XDP_PGOFF_TX_RING, off.tx, cfg.ringSize, 16, 'TX');
      // In copy mode each sendto() sends at most this many frames (default 32): allow a whole ring per kick.
      // Kernels without the option (< 6.16) reject it; that only costs more kicks.
      const budget = Buffer.alloc(4);
      budget.writeUInt32LE(Math.max(32, cfg.ringSize), 0);
      c.setsockopt(this.fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, budget, 4);
    }
    if (cfg.rx) {
      this.refill();
      if (this.fillOwned < this.fillTarget) {
        throw new IxyError(`${where}: the mempool has too few free buffers to fill the FILL ring (${cfg.ringSize} needed): make it larger`);
      }
    }
    this.bind(cfg, where);
  }

  private setRingSize(opt: number, n: number, name: string): void {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(n, 0);
    if (libc().setsockopt(this.fd, SOL_XDP, opt, v, 4) !== 0) throw new IxyError(errnoMessage(`setting the AF_XDP ${name} ring size to ${n}`));
  }

  /** bind(2) with XDP_USE_NEED_WAKEUP; zero-copy first when asked to try, then copy mode. */
  private bind(cfg: XskSocketConfig, where: string): void {
    const modes: BindMode[] = cfg.bind === 'try' ? ['zerocopy', 'copy'] : [cfg.bind];
    let err = 0;
    for (const mode of modes) {
      // struct sockaddr_xdp (16): family u16, flags u16, ifindex u32, queue_id u32, shared_umem_fd u32.
      const sa = Buffer.alloc(16);
      sa.writeUInt16LE(AF_XDP, 0);
      sa.writeUInt16LE(XDP_USE_NEED_WAKEUP | (mode === 'zerocopy' ? XDP_ZEROCOPY : XDP_COPY), 2);
      sa.writeUInt32LE(cfg.ifindex, 4);
      sa.writeUInt32LE(cfg.queue, 8);
      if (libc().bind(this.fd, sa, 16) === 0) {
        this.bindMode = mode;
        return;
      }
      err = lastErrno();
      if (err !== EOPNOTSUPP && err !== EINVAL) break; // zero-copy unsupported shows as one of these: try copy
    }
    if (err === EBUSY) throw new IxyError(`${where} is already used by another AF_XDP socket (another ixy process?): stop it or pick another queue with @N`);
    if (err === EPERM || err === EACCES) throw privilegeError(cfg.ifname, 'binding an AF_XDP socket');
    throw new IxyError(`${errnoMessage(`binding an AF_XDP socket to ${where}`, err)}: is the interface up and the queue valid?`);
  }

  // ---- hot path: no allocation ----

  /** Moves up to `max` received buffer ids into ids[0..n). */
  rxBatch(ids: Uint32Array, max: number): number {
    const rx = this.rxr!;
    let n = rx.ready(max);
    if (n > max) n = max;
    if (n === 0) {
      if (this.fillOwned < this.fillTarget) this.refill();
      if (this.fill!.needsWakeup()) libc().recvfromAt(this.fd, 0, 0, MSG_DONTWAIT, 0, 0);
      return 0;
    }
    const w = rx.words;
    const base = rx.descWord;
    const mask = rx.mask;
    const pool = this.pool;
    const plen = pool.len;
    const flags = pool.rxFlags;
    const rxFlags = this.rxFlags;
    const owned = this.owned;
    const shift = this.shift;
    const hiMul = this.hiMul;
    const chunkMask = this.chunkMask;
    const entry = pool.entrySize;
    let idx = rx.cachedCons;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const d = base + ((idx & mask) << 2);
      const lo = w[d];
      const id = w[d + 1] * hiMul + (lo >>> shift);
      const len = w[d + 2];
      const at = lo & chunkMask;
      if (at !== XDP_PACKET_HEADROOM) {
        // Not where the mempool expects the data (a driver with another layout): move it there.
        const chunk = id * entry;
        pool.bytes.copyWithin(chunk + XDP_PACKET_HEADROOM, chunk + at, chunk + at + len);
      }
      plen[id] = len;
      flags[id] = rxFlags;
      owned[id] = 0;
      ids[i] = id;
      bytes += len;
      idx = (idx + 1) >>> 0;
    }
    rx.release(n);
    this.fillOwned -= n;
    this.rxPackets += n;
    this.rxBytes += bytes;
    if (this.fillTarget - this.fillOwned >= FILL_BATCH) this.refill();
    return n;
  }

  /** Queues ids[0..n) for sending; returns how many were taken (the kernel owns them until they complete). */
  txBatch(ids: Uint32Array, n: number): number {
    const tx = this.txr!;
    if (this.txOwned > 0) this.reclaim();
    const room = this.ringSize - this.txOwned; // TX entries ≤ txOwned ≤ COMPLETION size: neither ring can overflow
    const k = n < room ? n : room;
    if (k > 0) {
      const w = tx.words;
      const base = tx.descWord;
      const mask = tx.mask;
      const plen = this.pool.len;
      const owned = this.owned;
      const shift = this.shift;
      let idx = tx.cachedProd;
      let bytes = 0;
      for (let i = 0; i < k; i++) {
        const id = ids[i];
        const d = base + ((idx & mask) << 2);
        const len = plen[id];
        w[d] = (id << shift) | XDP_PACKET_HEADROOM;
        w[d + 1] = id >>> (32 - shift);
        w[d + 2] = len;
        w[d + 3] = 0;
        owned[id] = 1;
        bytes += len;
        idx = (idx + 1) >>> 0;
      }
      tx.cachedProd = idx;
      tx.submit();
      this.txOwned += k;
      this.txPackets += k;
      this.txBytes += bytes;
    }
    // need_wakeup: the kernel only sends when kicked while the flag is set (always so in copy mode).
    if (tx.needsWakeup() && (k > 0 || (this.txOwned > 0 && tx.hasUnconsumed()))) {
      libc().sendtoAt(this.fd, 0, 0, MSG_DONTWAIT, 0, 0);
    }
    return k;
  }

  /** Takes sent buffers off COMPLETION and frees them to the pool, all that are there in one batch. */
  private reclaim(): void {
    const cq = this.comp!;
    const n = cq.ready(this.txOwned);
    if (n === 0) return;
    const w = cq.words;
    const base = cq.descWord;
    const mask = cq.mask;
    const owned = this.owned;
    const scratch = this.scratch;
    const shift = this.shift;
    const hiMul = this.hiMul;
    let idx = cq.cachedCons;
    for (let i = 0; i < n; i++) {
      const d = base + ((idx & mask) << 1);
      const id = w[d + 1] * hiMul + (w[d] >>> shift);
      owned[id] = 0;
      scratch[i] = id;
      idx = (idx + 1) >>> 0;
    }
    cq.release(n);
    this.txOwned -= n;
    this.pool.freeBatch(scratch, 0, n);
  }

  /** Tops FILL up to fillTarget buffers with fresh ones from the pool (as many as it has). */
  private refill(): void {
    const fill = this.fill!;
    let want = this.fillTarget - this.fillOwned;
    const free = fill.freeSlots(want);
    if (want > free) want = free;
    const k = this.pool.allocBatch(this.scratch, 0, want);
    if (k === 0) return;
    const w = fill.words;
    const base = fill.descWord;
    const mask = fill.mask;
    const owned = this.owned;
    const scratch = this.scratch;
    const shift = this.shift;
    let idx = fill.cachedProd;
    for (let i = 0; i < k; i++) {
      const id = scratch[i];
      const d = base + ((idx & mask) << 1);
      w[d] = id << shift;
      w[d + 1] = id >>> (32 - shift);
      owned[id] = 1;
      idx = (idx + 1) >>> 0;
    }
    fill.cachedProd = idx;
    fill.submit();
    this.fillOwned += k;
  }

  // ---- control ----

  /** Adds packets/bytes since the last call and the kernel's new drops (XDP_STATISTICS) to `into`. */
  addStats(into: { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; rxDropped: number }): void {
    into.rxPackets += this.rxPackets;
    into.rxBytes += this.rxBytes;
    into.txPackets += this.txPackets;
    into.txBytes += this.txBytes;
    this.rxPackets = this.rxBytes = this.txPackets = this.txBytes = 0;
    const drops = this.kernelDrops();
    into.rxDropped += drops - this.dropsSeen;
    this.dropsSeen = drops;
  }

  /**
   * Frames the kernel dropped for this socket, from XDP_STATISTICS: rx_dropped + rx_ring_full, plus
   * rx_fill_ring_empty_descs in zero-copy mode only. In copy mode a frame that finds FILL empty is counted in both
   * rx_dropped and rx_fill_ring_empty_descs (seen on 6.18: 436 drops showed as 436 + 436); in zero-copy mode
   * rx_dropped does not see those (the frame waits in, or is dropped by, the NIC).
   */
  kernelDrops(): number {
    const s = this.statistics();
    if (s === null) return this.dropsSeen;
    return s.rxDropped + s.rxRingFull + (this.bindMode === 'zerocopy' ? s.rxFillRingEmptyDescs : 0);
  }

  /** `struct xdp_statistics` (48 bytes, six u64; if_xdp.h), or null once closed. */
  statistics(): XskStatistics | null {
    if (this.fd < 0) return null;
    this.statsLen.writeUInt32LE(48, 0);
    if (libc().getsockopt(this.fd, SOL_XDP, XDP_STATISTICS, this.statsBuf, this.statsLen) !== 0) {
      throw new IxyError(errnoMessage('getsockopt(XDP_STATISTICS)'));
    }
    const b = this.statsBuf;
    const u64 = (at: number): number => Number(b.readBigUInt64LE(at));
    return {
      rxDropped: u64(0), rxInvalidDescs: u64(8), txInvalidDescs: u64(16), rxRingFull: u64(24),
      rxFillRingEmptyDescs: u64(32), txRingEmptyDescs: u64(40),
    };
  }

  /**
   * Gives frames still queued for sending up to `ms` to leave (kick, reclaim), so that a program that stops right
   * after its last txBatch (pktgen --count) does not lose them when the socket closes. Returns how many are left.
   */
  drainTx(ms: number): number {
    if (this.fd < 0 || this.txr === null) return 0;
    const deadline = performance.now() + ms;
    while (this.txOwned > 0 && performance.now() < deadline) {
      libc().sendtoAt(this.fd, 0, 0, MSG_DONTWAIT, 0, 0);
      this.reclaim();
    }
    return this.txOwned;
  }

  /** Closes the socket and unmaps its rings (idempotent). Buffers marked in `owned` are freed by the device. */
  close(): void {
    if (this.fd >= 0) libc().close(this.fd);
    this.fd = -1;
    for (const r of [this.fill, this.comp, this.rxr, this.txr]) r?.unmap();
    this.fill = this.comp = this.rxr = this.txr = null;
    this.fillOwned = this.txOwned = 0;
  }
}
