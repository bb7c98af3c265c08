/**
 * virtio-net behind the Device interface (virtio 1.0 §5.1; legacy: virtio 0.9.5 Appendix C), after ixy's
 * virtio driver: one RX queue (0), one TX queue (1), the control queue (2) for promiscuous mode, no interrupts.
 * Each frame carries a virtio_net_hdr (10 bytes legacy, 12 with VIRTIO_F_VERSION_1) placed in the mempool
 * buffer's headroom right in front of it, so one descriptor per packet and no copy.
 */
import type { DmaAllocator, DmaRegion } from '../../mem/dma.js';
import type { Mempool } from '../../mem/mempool.js';
import { IxyError } from '../../util/errors.js';
import type { Device, DeviceOptions, DeviceStats } from '../device.js';
import { type VirtioTransport, Virtqueue, virtqueueBytes } from './virtqueue.js';

// §2.1 device status bits
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_FAILED = 128;

// §5.1.3 feature bits (and §6 reserved ones)
export const F = {
  CSUM: 0n, GUEST_CSUM: 1n, MTU: 3n, MAC: 5n, MRG_RXBUF: 15n, STATUS: 16n, CTRL_VQ: 17n, CTRL_RX: 18n,
  ANY_LAYOUT: 27n, INDIRECT_DESC: 28n, EVENT_IDX: 29n, VERSION_1: 32n, ACCESS_PLATFORM: 33n, SPEED_DUPLEX: 63n,
} as const;
const bit = (b: bigint): bigint => 1n << b;

/** Names of the set bits we know (for messages and `features()`). */
export function featureNames(f: bigint): string[] {
  return Object.entries(F).filter(([, b]) => (f & bit(b)) !== 0n).map(([n]) => `VIRTIO_${n === 'VERSION_1' || n === 'ACCESS_PLATFORM' || n === 'ANY_LAYOUT' || n === 'INDIRECT_DESC' || n === 'EVENT_IDX' ? 'F' : 'NET_F'}_${n}`);
}

// §5.1.4 struct virtio_net_config, §5.1.6.5.1 control commands
const CFG_STATUS = 6;
const CFG_SPEED = 12;
const VIRTIO_NET_S_LINK_UP = 1;
const VIRTIO_NET_CTRL_RX = 0;
const VIRTIO_NET_CTRL_RX_PROMISC = 0;
const VIRTIO_NET_OK = 0;
const RXQ = 0;
const TXQ = 1;
const CTRLQ = 2;
/** Ethernet frame without FCS (the device hands us neither FCS nor, without GSO, anything larger). */
const MAX_FRAME = 1514;
export const DEFAULT_VIRTIO_RING = 256;

export interface VirtioPlatform {
  readonly transport: VirtioTransport;
  /** DMA memory for the rings (asked for only once the device passed its checks). */
  dma(): DmaAllocator;
  /** Undoes what opening took (BAR mappings; with `failed`, rebinds the kernel driver). */
  release(failed: boolean): void;
}

export interface VirtioFeatures { transport: 'legacy' | 'modern'; offered: string[]; negotiated: string[]; headerBytes: number }

export class VirtioDevice implements Device {
  readonly driverName = 'virtio';
  readonly rxQueues = 1;
  readonly txQueues = 1;
  ringSize = 0;
  readonly pool: Mempool;
  private readonly t: VirtioTransport;
  private offered = 0n;
  private negotiated = 0n;
  private hdr = 10;
  private region: DmaRegion | null = null;
  private rx: Virtqueue | null = null;
  private tx: Virtqueue | null = null;
  private ctrl: Virtqueue | null = null;
  private ctrlBuf = 0;
  private readonly words: Uint16Array;
  private closed = false;

  private constructor(readonly spec: string, private readonly platform: VirtioPlatform, opts: DeviceOptions) {
    this.t = platform.transport;
    this.pool = opts.pool;
    const b = opts.pool.bytes;
    this.words = new Uint16Array(b.buffer, b.byteOffset, b.byteLength >>> 1);
  }

  /** Brings the device up (§3.1.1); on any failure it is reset (status 0), its memory returned and the platform released. */
  static open(spec: string, platform: VirtioPlatform, opts: DeviceOptions): VirtioDevice {
    const dev = new VirtioDevice(spec, platform, opts);
    try {
      dev.init(opts);
      return dev;
    } catch (e) {
      try { dev.t.setStatus(dev.t.getStatus() | STATUS_FAILED); } catch { /* reported below */ }
      dev.teardown(true);
      throw e;
    }
  }

  private init(opts: DeviceOptions): void {
    const t = this.t;
    const modern = t.kind === 'modern';
    t.reset();
    t.setStatus(STATUS_ACKNOWLEDGE);
    t.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.offered = t.deviceFeatures();
    // the header goes in front of the frame in the same descriptor: VERSION_1 implies that layout, legacy needs ANY_LAYOUT
    const required = bit(F.MAC) | (modern ? bit(F.VERSION_1) : bit(F.ANY_LAYOUT));
    const missing = required & ~this.offered;
    if (missing !== 0n) {
      throw new IxyError(`${this.spec}: the device does not offer ${featureNames(missing).join(', ')} (offers ${featureNames(this.offered).join(' ') || 'none we know'}): ` +
        (modern ? 'use a virtio 1.0 device or ,mode=legacy' : 'use a newer QEMU or ,mode=modern'));
    }
    // §6.1 VIRTIO_F_ACCESS_PLATFORM (QEMU's iommu_platform=on): DMA goes through the IOMMU; QEMU refuses FEATURES_OK without it
    let want = required | (this.offered & (bit(F.STATUS) | bit(F.CTRL_VQ) | bit(F.SPEED_DUPLEX) | bit(F.ACCESS_PLATFORM)));
    if ((want & bit(F.CTRL_VQ)) !== 0n) want |= this.offered & bit(F.CTRL_RX);
    t.setDriverFeatures(want);
    if (modern) {
      t.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
      if ((t.getStatus() & STATUS_FEATURES_OK) === 0) throw new IxyError(`${this.spec}: the device did not accept features ${featureNames(want).join(' ')} (FEATURES_OK cleared)`);
    }
    this.negotiated = want;
    this.hdr = modern ? 12 : 10; // §5.1.6: num_buffers is always there with VERSION_1
    if (this.pool.headroom < this.hdr) throw new IxyError(`${this.spec}: mempool headroom ${this.pool.headroom} is too small for the ${this.hdr}-byte virtio_net_hdr: use at least 64`);
    if (this.pool.dataRoom < MAX_FRAME) throw new IxyError(`${this.spec}: mempool buffers hold ${this.pool.dataRoom} bytes, a virtio frame up to ${MAX_FRAME}: use 2048-byte entries`);

    const queues = (want & bit(F.CTRL_VQ)) !== 0n ? [RXQ, TXQ, CTRLQ] : [RXQ, TXQ];
    const sizes = queues.map((q) => this.queueSize(q, opts.ringSize));
    this.ringSize = sizes[0]!;
    let total = 0;
    const offs = sizes.map((s) => { const o = total; total += virtqueueBytes(s); return o; });
    this.ctrlBuf = total;
    total += 4096;
    const region = this.platform.dma().allocate(total, true);
    this.region = region;
    this.rx = new Virtqueue(region, offs[0]!, sizes[0]!, RXQ, t);
    this.tx = new Virtqueue(region, offs[1]!, sizes[1]!, TXQ, t);
    if (queues.length === 3) this.ctrl = new Virtqueue(region, offs[2]!, sizes[2]!, CTRLQ, t);
    t.setStatus(t.getStatus() | STATUS_DRIVER_OK);
    this.rx.fillRx(this.pool, this.hdr); // after DRIVER_OK: the device may only look at rings from then on (§3.1.1)
    if ((t.getStatus() & STATUS_FAILED) !== 0) throw new IxyError(`${this.spec}: the device set FAILED during set-up`);
  }

  /** Legacy: the device's fixed size, a non-zero power of two. Modern: ours (default 256), capped at its maximum. */
  private queueSize(q: number, asked: number | undefined): number {
    const max = this.t.queueMax(q);
    if (max === 0) throw new IxyError(`${this.spec}: virtqueue ${q} has size 0 (the device does not have it): is this a virtio-net device?`);
    if (this.t.kind === 'legacy') {
      if ((max & (max - 1)) !== 0) throw new IxyError(`${this.spec}: virtqueue ${q} has size ${max}, not a power of two: a legacy split ring cannot use it`);
      return max;
    }
    if (asked !== undefined && (!Number.isInteger(asked) || asked < 1 || (asked & (asked - 1)) !== 0)) {
      throw new IxyError(`ring size ${asked} is invalid: use a power of two`);
    }
    let size = 1;
    while (size * 2 <= Math.min(q === CTRLQ ? 64 : (asked ?? DEFAULT_VIRTIO_RING), max, 32768)) size *= 2;
    return size;
  }

  // ---- hot path ----

  rxBatch(queue: number, ids: Uint32Array, max: number): number {
    return this.rx!.receive(this.pool, ids, max, this.hdr);
  }

  txBatch(queue: number, ids: Uint32Array, n: number): number {
    return this.tx!.transmit(this.pool, ids, n, this.hdr, this.words);
  }

  // ---- control ----

  readStats(into: DeviceStats): void {
    const rx = this.rx;
    const tx = this.tx;
    if (rx === null || tx === null) return;
    into.rxPackets += rx.packets; into.rxBytes += rx.bytes; into.rxDropped += rx.drops;
    into.txPackets += tx.packets; into.txBytes += tx.bytes;
    rx.packets = rx.bytes = rx.drops = tx.packets = tx.bytes = 0;
  }

  /** VIRTIO_NET_CTRL_RX_PROMISC over the control queue (QEMU starts promiscuous; without CTRL_RX it stays so). */
  setPromisc(on: boolean): void {
    if (this.ctrl === null || (this.negotiated & bit(F.CTRL_RX)) === 0n) {
      if (on) return;
      throw new IxyError(`${this.spec}: the device offers no VIRTIO_NET_F_CTRL_RX, so promiscuous mode cannot be turned off`);
    }
    const ack = this.ctrl.command(this.region!, this.ctrlBuf, [VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, on ? 1 : 0]);
    if (ack !== VIRTIO_NET_OK) throw new IxyError(`${this.spec}: the device refused promiscuous ${on ? 'on' : 'off'} (ack ${ack})`);
  }

  /** 0 when VIRTIO_NET_F_STATUS says the link is down; the speed from config with SPEED_DUPLEX, else 10000 nominal. */
  linkSpeedMbps(): number {
    if ((this.negotiated & bit(F.STATUS)) !== 0n && (this.cfg16(CFG_STATUS) & VIRTIO_NET_S_LINK_UP) === 0) return 0;
    if ((this.negotiated & bit(F.SPEED_DUPLEX)) !== 0n) {
      const s = this.cfg16(CFG_SPEED) + this.cfg16(CFG_SPEED + 2) * 0x10000;
      if (s > 0 && s !== 0xffffffff) return s;
    }
    return 10000;
  }

  macAddress(): Uint8Array {
    const mac = new Uint8Array(6);
    for (let i = 0; i < 6; i++) mac[i] = this.t.readConfig8(i);
    return mac;
  }

  /** What `ixy devices`-style reports show: the transport and the feature negotiation. */
  features(): VirtioFeatures {
    return { transport: this.t.kind, offered: featureNames(this.offered), negotiated: featureNames(this.negotiated), headerBytes: this.hdr };
  }

  buffersInRings(): number {
    return (this.rx?.inFlight() ?? 0) + (this.tx?.inFlight() ?? 0);
  }

  close(): void {
    this.teardown(false);
  }

  private cfg16(off: number): number {
    return this.t.readConfig8(off) | (this.t.readConfig8(off + 1) << 8);
  }

  /** Lets TX drain, resets the device (no more DMA) before any memory goes back, then releases the platform. */
  private teardown(failed: boolean): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!failed && this.tx !== null) this.tx.drain(1000);
    } catch { /* reset below stops it anyway */ }
    try { this.t.reset(); } catch { /* the device may be gone; memory is still returned */ }
    for (const q of [this.rx, this.tx]) if (q !== null) q.releaseBuffers(this.pool);
    this.rx = this.tx = this.ctrl = null;
    this.region?.free();
    this.region = null;
    this.t.close();
    this.platform.release(failed);
  }
}
