import { type DmaAllocator, type DmaRegion, PHYS_HI, PHYS_LO, u32View } from '../../mem/dma.js';
import type { Mempool } from '../../mem/mempool.js';
import { IxyError } from '../../util/errors.js';
import { DEFAULT_RSS_KEY, makeReta } from '../../util/toeplitz.js';
import { type Bar, sleepMs, waitForBits } from '../bar.js';
import type { Device, DeviceOptions, DeviceStats } from '../device.js';
import * as R from './regs.js';
import { ringDistance, ringNext, rxLength, rxStatus, txDone, writeRxRead, writeTxData } from './descriptors.js';

/** What the driver stands on: registers and DMA memory. Real hardware and the simulated NIC each provide one. */
export interface IxgbePlatform {
  readonly bar: Bar;
  readonly dma: DmaAllocator;
  /** Undoes what opening took (unmap BAR0, rebind the kernel driver if `failed`). */
  release(failed: boolean): void;
  /** How long to wait for link on bring-up, in ms (the 82599 can take seconds). */
  readonly linkWaitMs: number;
}

export interface IxgbeOptions extends DeviceOptions {
  /** Accept frames for any MAC (default true, as ixy does). */
  promisc?: boolean;
  /**
   * One queue per thread (`--threads N`): the primary opens the device with N RX and TX queues and
   * `queues: 'deferred'` — reset, link, receive and transmit set-up and RSS, but no rings. Each thread then opens a
   * handle with `queueHandle: q`: it sets up and drives hardware queue pair q only, from its own mempool, as its
   * queue 0, and never resets the device (the primary owns it and closes last).
   */
  queues?: 'deferred';
  queueHandle?: number;
}

export const DEFAULT_RING_SIZE = 512;
/** TX descriptors are reclaimed in groups of this many, checking only the group's last DD bit (as ixy does). */
const TX_CLEAN_BATCH = 32;

/**
 * The ixgbe driver for 82599/X520/X540/X550, after the datasheet's initialisation sequence (§4.6.3) and
 * ixy's structure: no interrupts, one mempool, advanced descriptors, RDT/TDT written once per batch.
 */
export class IxgbeDevice implements Device {
  readonly driverName = 'ixgbe';
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly ringSize: number;
  readonly pool: Mempool;
  private readonly bar: Bar;
  private readonly mask: number;
  private readonly rings: DmaRegion[] = [];
  // Per-queue state as arrays indexed by queue: descriptor words, ring slot -> buffer id, indexes.
  private readonly rxDesc: Uint32Array[] = [];
  private readonly rxSlots: Uint32Array[] = [];
  private readonly rxIndex: Uint32Array;
  private readonly txDesc: Uint32Array[] = [];
  private readonly txSlots: Uint32Array[] = [];
  private readonly txIndex: Uint32Array;
  private readonly txClean: Uint32Array;
  private closed = false;
  /** Hardware queue of local queue 0 (a queue handle's queue; 0 otherwise). */
  private readonly hw: number;
  private readonly isHandle: boolean;

  private constructor(readonly spec: string, private readonly platform: IxgbePlatform, opts: IxgbeOptions) {
    this.bar = platform.bar;
    this.pool = opts.pool;
    this.rxQueues = opts.rxQueues ?? 1;
    this.txQueues = opts.txQueues ?? 1;
    this.ringSize = opts.ringSize ?? DEFAULT_RING_SIZE;
    this.mask = this.ringSize - 1;
    this.rxIndex = new Uint32Array(this.rxQueues);
    this.txIndex = new Uint32Array(this.txQueues);
    this.txClean = new Uint32Array(this.txQueues);
    this.hw = opts.queueHandle ?? 0;
    this.isHandle = opts.queueHandle !== undefined;
  }

  /** Brings the device up; on any failure the device is reset, its memory returned and the platform released. */
  static open(spec: string, platform: IxgbePlatform, opts: IxgbeOptions): IxgbeDevice {
    try {
      checkOptions(opts);
    } catch (e) {
      platform.bar.close();
      platform.release(true);
      throw e;
    }
    const dev = new IxgbeDevice(spec, platform, opts);
    try {
      if (dev.isHandle) dev.attachQueue();
      else dev.resetAndInit(opts.promisc ?? true, opts.queues === 'deferred');
      return dev;
    } catch (e) {
      dev.teardown(true);
      throw e;
    }
  }

  // ---- bring-up (§4.6.3) ----

  private resetAndInit(promisc: boolean, deferQueues: boolean): void {
    const bar = this.bar;
    // §4.6.3.1: mask all interrupts, global reset, mask again
    bar.write32(R.EIMC, R.EIMC_ALL);
    bar.read32(R.EICR);
    bar.write32(R.CTRL, R.CTRL_RST_MASK);
    if (!waitForBits(() => bar.read32(R.CTRL), R.CTRL_RST_MASK, 0, 1000)) {
      throw new IxyError(`${this.spec}: device did not come out of reset (CTRL.RST stuck): is it an 82599-family NIC?`);
    }
    sleepMs(10); // §4.6.3.2: wait at least 10 ms after reset before further accesses
    bar.write32(R.EIMC, R.EIMC_ALL);
    bar.read32(R.EICR);
    // §4.6.3: EEPROM auto-read, then DMA initialisation
    if (!waitForBits(() => bar.read32(R.EEC), R.EEC_ARD, R.EEC_ARD, 2000)) throw new IxyError(`${this.spec}: EEPROM auto-read did not finish (EEC.ARD)`);
    if (!waitForBits(() => bar.read32(R.RDRXCTL), R.RDRXCTL_DMAIDONE, R.RDRXCTL_DMAIDONE, 2000)) {
      throw new IxyError(`${this.spec}: DMA initialisation did not finish (RDRXCTL.DMAIDONE)`);
    }
    this.initLink();
    this.readStats({ rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 }); // clear-on-read: start at 0
    this.initRx(deferQueues);
    this.initTx(deferQueues);
    if (!deferQueues) {
      for (let q = 0; q < this.rxQueues; q++) this.startRxQueue(q);
      for (let q = 0; q < this.txQueues; q++) this.startTxQueue(q);
    }
    this.setPromisc(promisc);
    waitForBits(() => bar.read32(R.LINKS), R.LINKS_UP, R.LINKS_UP, this.platform.linkWaitMs);
  }

  /** §4.6.4: 10G serial link mode, XAUI PMA/PMD, restart auto-negotiation. */
  private initLink(): void {
    const bar = this.bar;
    bar.write32(R.AUTOC, (bar.read32(R.AUTOC) & ~R.AUTOC_LMS_MASK) | R.AUTOC_LMS_10G_SERIAL);
    bar.write32(R.AUTOC, (bar.read32(R.AUTOC) & ~R.AUTOC_10G_PMA_PMD_MASK) | R.AUTOC_10G_XAUI);
    bar.write32(R.AUTOC, bar.read32(R.AUTOC) | R.AUTOC_AN_RESTART);
  }

  /** §4.6.7: receive path, one 128 KB packet buffer, CRC stripped, broadcast accepted, per-queue rings. */
  private initRx(deferQueues: boolean): void {
    const bar = this.bar;
    bar.write32(R.RXCTRL, bar.read32(R.RXCTRL) & ~R.RXCTRL_RXEN);
    bar.write32(R.RXPBSIZE(0), 128 << 10);
    for (let i = 1; i < 8; i++) bar.write32(R.RXPBSIZE(i), 0);
    bar.write32(R.HLREG0, bar.read32(R.HLREG0) | R.HLREG0_RXCRCSTRP);
    bar.write32(R.RDRXCTL, bar.read32(R.RDRXCTL) | R.RDRXCTL_CRCSTRIP);
    bar.write32(R.FCTRL, bar.read32(R.FCTRL) | R.FCTRL_BAM);
    if (!deferQueues) for (let q = 0; q < this.rxQueues; q++) this.setupRxRing(q);
    if (this.rxQueues > 1) this.initRss();
    bar.write32(R.CTRL_EXT, bar.read32(R.CTRL_EXT) | R.CTRL_EXT_NS_DIS); // §4.6.7: required on the 82599
    bar.write32(R.RXCTRL, bar.read32(R.RXCTRL) | R.RXCTRL_RXEN);
  }

  /**
   * §7.1.2.8: spread received flows over the RX queues with RSS — the Toeplitz hash of IPv4 addresses and TCP/UDP
   * ports under `rssKey`, then the redirection table (round-robin over the queues). Software that needs to know
   * where a flow's packets arrive (IX's port probing, dataplane/steering.ts) computes the same hash: see rss().
   */
  private initRss(): void {
    const bar = this.bar;
    const key = this.rssKey;
    for (let i = 0; i < 10; i++) {
      bar.write32(R.RSSRK(i), (key[4 * i] | (key[4 * i + 1] << 8) | (key[4 * i + 2] << 16) | (key[4 * i + 3] << 24)) >>> 0);
    }
    const reta = makeReta(this.rxQueues, R.RETA_ENTRIES);
    for (let i = 0; i < R.RETA_ENTRIES / 4; i++) {
      bar.write32(R.RETA(i), (reta[4 * i] | (reta[4 * i + 1] << 8) | (reta[4 * i + 2] << 16) | (reta[4 * i + 3] << 24)) >>> 0);
    }
    this.reta = reta;
    bar.write32(R.MRQC, R.MRQC_RSSEN | R.MRQC_RSS_FIELD_IPV4_TCP | R.MRQC_RSS_FIELD_IPV4 | R.MRQC_RSS_FIELD_IPV4_UDP);
  }

  /** The RSS key and redirection table in force (null with one RX queue: everything arrives on queue 0). */
  rss(): { key: Uint8Array; reta: Uint8Array } | null {
    return this.reta === null ? null : { key: Uint8Array.from(this.rssKey), reta: Uint8Array.from(this.reta) };
  }

  private readonly rssKey: Uint8Array = DEFAULT_RSS_KEY;
  private reta: Uint8Array | null = null;

  /** §4.6.7.1: one RX ring (descriptor type, buffer size, base, length) for local queue q, while it is disabled. */
  private setupRxRing(q: number): void {
    const bar = this.bar;
    const hq = this.hw + q;
    // SRRCTL counts in 1 KB. Without jumbo frames the MAC writes at most 1522 bytes (1518 + VLAN tag), so when the
    // data room holds that, 2 KB is safe even if the room is not a whole 2 KB (as ixy does with its 64-byte header).
    const MAX_FRAME = 1522;
    const bsizeKb = this.pool.dataRoom >= MAX_FRAME ? Math.ceil(MAX_FRAME / 1024) : Math.floor(this.pool.dataRoom / 1024);
    // advanced one-buffer descriptors; drop instead of stalling all queues when this one has no descriptor
    bar.write32(R.SRRCTL(hq), (bar.read32(R.SRRCTL(hq)) & ~(R.SRRCTL_DESCTYPE_MASK | R.SRRCTL_BSIZEPKT_MASK)) |
      R.SRRCTL_DESCTYPE_ADV_ONEBUF | R.SRRCTL_DROP_EN | bsizeKb);
    const ring = this.allocRing();
    const desc = u32View(ring);
    desc.fill(0xffffffff); // a descriptor the NIC fetches too early points nowhere useful (a trick from Snabb/ixy)
    const phys = ring.physAddr(0);
    bar.write32(R.RDBAL(hq), PHYS_LO(phys));
    bar.write32(R.RDBAH(hq), PHYS_HI(phys));
    bar.write32(R.RDLEN(hq), this.ringSize * R.DESC_BYTES);
    bar.write32(R.RDH(hq), 0);
    bar.write32(R.RDT(hq), 0);
    bar.write32(R.DCA_RXCTRL(hq), bar.read32(R.DCA_RXCTRL(hq)) & ~R.DCA_RXCTRL_RELAXED_ORDERING);
    this.rxDesc.push(desc);
    this.rxSlots.push(new Uint32Array(this.ringSize));
  }

  /** A queue handle: its RX and TX rings on a device the primary brought up (RXEN and DMATXCTL.TE already on). */
  private attachQueue(): void {
    this.setupRxRing(0);
    this.setupTxRing(0);
    this.startRxQueue(0);
    this.startTxQueue(0);
  }

  /** §4.6.8: transmit path: CRC and padding by the NIC, one 40 KB packet buffer, per-queue rings, then DMA on. */
  private initTx(deferQueues: boolean): void {
    const bar = this.bar;
    bar.write32(R.HLREG0, bar.read32(R.HLREG0) | R.HLREG0_TXCRCEN | R.HLREG0_TXPADEN);
    bar.write32(R.TXPBSIZE(0), 40 << 10);
    for (let i = 1; i < 8; i++) bar.write32(R.TXPBSIZE(i), 0);
    bar.write32(R.DTXMXSZRQ, 0xffff);
    bar.write32(R.RTTDCS, bar.read32(R.RTTDCS) & ~R.RTTDCS_ARBDIS);
    if (!deferQueues) for (let q = 0; q < this.txQueues; q++) this.setupTxRing(q);
    bar.write32(R.DMATXCTL, R.DMATXCTL_TE);
  }

  private setupTxRing(q: number): void {
    const bar = this.bar;
    const hq = this.hw + q;
    const ring = this.allocRing();
    const desc = u32View(ring);
    const phys = ring.physAddr(0);
    bar.write32(R.TDBAL(hq), PHYS_LO(phys));
    bar.write32(R.TDBAH(hq), PHYS_HI(phys));
    bar.write32(R.TDLEN(hq), this.ringSize * R.DESC_BYTES);
    // prefetch/host/write-back thresholds as in the Linux driver and ixy (§8.2.3.9.10)
    bar.write32(R.TXDCTL(hq), (36 << R.TXDCTL_PTHRESH_SHIFT) | (8 << R.TXDCTL_HTHRESH_SHIFT) | (4 << R.TXDCTL_WTHRESH_SHIFT));
    this.txDesc.push(desc);
    this.txSlots.push(new Uint32Array(this.ringSize));
  }

  private allocRing(): DmaRegion {
    const ring = this.platform.dma.allocate(this.ringSize * R.DESC_BYTES, true);
    this.rings.push(ring);
    return ring;
  }

  private startRxQueue(q: number): void {
    const bar = this.bar;
    const desc = this.rxDesc[q];
    const slots = this.rxSlots[q];
    const got = this.pool.allocBatch(slots, 0, this.ringSize);
    if (got !== this.ringSize) {
      this.pool.freeBatch(slots, 0, got);
      throw new IxyError(`${this.spec}: mempool has too few free buffers to fill RX queue ${q} (${this.ringSize} needed): make it larger`);
    }
    const { physLo, physHi } = this.pool;
    for (let i = 0; i < this.ringSize; i++) writeRxRead(desc, i, physLo[slots[i]], physHi[slots[i]]);
    this.rxFilled[q] = 1;
    const hq = this.hw + q;
    bar.write32(R.RXDCTL(hq), bar.read32(R.RXDCTL(hq)) | R.RXDCTL_ENABLE);
    if (!waitForBits(() => bar.read32(R.RXDCTL(hq)), R.RXDCTL_ENABLE, R.RXDCTL_ENABLE, 1000)) throw new IxyError(`${this.spec}: RX queue ${hq} did not enable`);
    bar.write32(R.RDH(hq), 0);
    bar.write32(R.RDT(hq), this.ringSize - 1); // all but one descriptor to the NIC
    this.rxIndex[q] = 0;
  }

  private readonly rxFilled = new Uint8Array(64);

  private startTxQueue(q: number): void {
    const bar = this.bar;
    const hq = this.hw + q;
    bar.write32(R.TDH(hq), 0);
    bar.write32(R.TDT(hq), 0);
    bar.write32(R.TXDCTL(hq), bar.read32(R.TXDCTL(hq)) | R.TXDCTL_ENABLE);
    if (!waitForBits(() => bar.read32(R.TXDCTL(hq)), R.TXDCTL_ENABLE, R.TXDCTL_ENABLE, 1000)) throw new IxyError(`${this.spec}: TX queue ${hq} did not enable`);
    this.txIndex[q] = 0;
    this.txClean[q] = 0;
  }

  // ---- hot path ----

  rxBatch(queue: number, ids: Uint32Array, max: number): number {
    const desc = this.rxDesc[queue];
    const slots = this.rxSlots[queue];
    const mask = this.mask;
    const pool = this.pool;
    let idx = this.rxIndex[queue];
    // The NIC writes length, then status. One atomic read here orders V8 against it; after that, plain reads
    // suffice: V8 keeps typed-array accesses in program order and x86 does not reorder loads with loads.
    if ((Atomics.load(desc, (idx << 2) + 2) & R.RXD_STAT_DD) === 0) return 0;
    const physLo = pool.physLo;
    const physHi = pool.physHi;
    const len = pool.len;
    let discarding = this.rxDiscarding[queue];
    let n = 0;
    while (n < max) {
      const status = rxStatus(desc, idx);
      if ((status & R.RXD_STAT_DD) === 0) break;
      const fresh = pool.alloc();
      if (fresh < 0) break; // no buffer to put back: leave the packet in the ring until the app frees some
      const id = slots[idx];
      len[id] = rxLength(desc, idx);
      slots[idx] = fresh;
      writeRxRead(desc, idx, physLo[fresh], physHi[fresh]);
      idx = ringNext(idx, mask);
      if (discarding !== 0 || (status & R.RXD_STAT_EOP) === 0) {
        // a frame spread over several buffers (larger than the pool's buffers): drop all its parts
        pool.free(id);
        discarding = (status & R.RXD_STAT_EOP) === 0 ? 1 : 0;
        if (discarding === 0) this.rxSegmentsDropped++;
        continue;
      }
      ids[n++] = id;
    }
    this.rxDiscarding[queue] = discarding;
    if (idx !== this.rxIndex[queue]) {
      this.rxIndex[queue] = idx;
      this.bar.write32(R.RDT(this.hw + queue), (idx - 1) & mask);
    }
    return n;
  }

  private rxSegmentsDropped = 0;
  private readonly rxDiscarding = new Uint8Array(64);

  txBatch(queue: number, ids: Uint32Array, n: number): number {
    const desc = this.txDesc[queue];
    const slots = this.txSlots[queue];
    const mask = this.mask;
    const pool = this.pool;
    let clean = this.txClean[queue];
    let idx = this.txIndex[queue];
    // Reclaim sent buffers a group at a time: if the group's last descriptor is done, all before it are (§7.2.3.5).
    while (ringDistance(clean, idx, mask) >= TX_CLEAN_BATCH) {
      const last = (clean + TX_CLEAN_BATCH - 1) & mask;
      if (!txDone(desc, last)) break;
      for (let i = 0; i < TX_CLEAN_BATCH; i++) pool.free(slots[(clean + i) & mask]);
      clean = (last + 1) & mask;
    }
    this.txClean[queue] = clean;
    const physLo = pool.physLo;
    const physHi = pool.physHi;
    const len = pool.len;
    let sent = 0;
    while (sent < n) {
      const next = ringNext(idx, mask);
      if (next === clean) break; // ring full
      const id = ids[sent];
      writeTxData(desc, idx, physLo[id], physHi[id], len[id]);
      slots[idx] = id;
      idx = next;
      sent++;
    }
    if (sent > 0) {
      this.txIndex[queue] = idx;
      this.bar.write32(R.TDT(this.hw + queue), idx);
    }
    return sent;
  }

  // ---- control ----

  readStats(into: DeviceStats): void {
    const bar = this.bar;
    if (this.isHandle) {
      // the global counters belong to the primary; a handle reads its queue's (clear-on-read, §8.2.3.23). The
      // per-queue byte counters are not read (the model does not keep them).
      into.rxPackets += bar.read32(R.QPRC(this.hw));
      into.txPackets += bar.read32(R.QPTC(this.hw));
      into.rxDropped += this.rxSegmentsDropped;
      this.rxSegmentsDropped = 0;
      return;
    }
    into.rxPackets += bar.read32(R.GPRC);
    into.txPackets += bar.read32(R.GPTC);
    into.rxBytes += bar.read32(R.GORCL) + bar.read32(R.GORCH) * 0x1_0000_0000;
    into.txBytes += bar.read32(R.GOTCL) + bar.read32(R.GOTCH) * 0x1_0000_0000;
    into.rxDropped += bar.read32(R.MPC(0)) + this.rxSegmentsDropped;
    this.rxSegmentsDropped = 0;
  }

  setPromisc(on: boolean): void {
    const f = this.bar.read32(R.FCTRL);
    const bits = R.FCTRL_MPE | R.FCTRL_UPE;
    this.bar.write32(R.FCTRL, on ? f | bits : f & ~bits);
  }

  linkSpeedMbps(): number {
    const links = this.bar.read32(R.LINKS);
    if (!(links & R.LINKS_UP)) return 0;
    switch (links & R.LINKS_SPEED_MASK) {
      case R.LINKS_SPEED_100M: return 100;
      case R.LINKS_SPEED_1G: return 1000;
      case R.LINKS_SPEED_10G: return 10000;
      default: return 0;
    }
  }

  macAddress(): Uint8Array {
    const lo = this.bar.read32(R.RAL0);
    const hi = this.bar.read32(R.RAH0);
    return Uint8Array.of(lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff);
  }

  buffersInRings(): number {
    let n = 0;
    for (let q = 0; q < this.rxQueues; q++) if (this.rxFilled[q]) n += this.ringSize;
    for (let q = 0; q < this.txQueues; q++) n += ringDistance(this.txClean[q], this.txIndex[q], this.mask);
    return n;
  }

  close(): void {
    this.teardown(false);
  }

  /** A handle stops only its own queue pair (§4.6.7.1: clear the enable bit, wait until it reads back 0). */
  private stopOwnQueues(): void {
    const bar = this.bar;
    const hq = this.hw;
    bar.write32(R.RXDCTL(hq), bar.read32(R.RXDCTL(hq)) & ~R.RXDCTL_ENABLE);
    waitForBits(() => bar.read32(R.RXDCTL(hq)), R.RXDCTL_ENABLE, 0, 1000);
    bar.write32(R.TXDCTL(hq), bar.read32(R.TXDCTL(hq)) & ~R.TXDCTL_ENABLE);
    waitForBits(() => bar.read32(R.TXDCTL(hq)), R.TXDCTL_ENABLE, 0, 1000);
  }

  /** Stops all DMA with a global reset (a queue handle: its queues) before any memory goes back, then releases the platform. */
  private teardown(failed: boolean): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.isHandle) this.stopOwnQueues();
      else {
        this.bar.write32(R.EIMC, R.EIMC_ALL);
        this.bar.write32(R.CTRL, R.CTRL_RST_MASK);
        waitForBits(() => this.bar.read32(R.CTRL), R.CTRL_RST_MASK, 0, 1000);
      }
    } catch {
      // the device may already be gone or faulted; its memory is still returned below
    }
    for (let q = 0; q < this.rxSlots.length; q++) if (this.rxFilled[q]) { this.pool.freeBatch(this.rxSlots[q], 0, this.ringSize); this.rxFilled[q] = 0; }
    for (let q = 0; q < this.txSlots.length; q++) {
      const slots = this.txSlots[q];
      for (let i = this.txClean[q]; i !== this.txIndex[q]; i = (i + 1) & this.mask) this.pool.free(slots[i]);
      this.txClean[q] = this.txIndex[q];
    }
    for (const r of this.rings) r.free();
    this.rings.length = 0;
    try { this.bar.close(); } catch { /* already reported */ }
    this.platform.release(failed);
  }
}

function checkOptions(o: IxgbeOptions): void {
  const ring = o.ringSize ?? DEFAULT_RING_SIZE;
  if (!Number.isInteger(ring) || ring < 64 || ring > 4096 || (ring & (ring - 1)) !== 0) {
    throw new IxyError(`ring size ${ring} is invalid: use a power of two from 64 to 4096`);
  }
  for (const [name, n] of [['rx', o.rxQueues ?? 1], ['tx', o.txQueues ?? 1]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new IxyError(`${n} ${name} queues is invalid: use 1..16`);
  }
  const h = o.queueHandle;
  if (h !== undefined) {
    if (!Number.isInteger(h) || h < 0 || h > 15) throw new IxyError(`queue ${h} is invalid: use 0..15`);
    if ((o.rxQueues ?? 1) !== 1 || (o.txQueues ?? 1) !== 1) throw new IxyError('a queue handle drives one RX and one TX queue');
  }
  if (o.pool.dataRoom < 1024 + 0) throw new IxyError('mempool buffers are too small for the 82599 (at least 1 KiB of data room)');
}
