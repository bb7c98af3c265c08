import * as R from '../ixgbe/regs.js';
import { Toeplitz } from '../../util/toeplitz.js';
import type { PhysView } from './phys-memory.js';

/** Where a port's transmitted frames go: the other port of a looped cable, a tester, or (later) a Linux interface. */
export interface WireEnd {
  /** Takes a frame of `len` bytes at mem[off]; returns false if it was dropped. */
  deliver(mem: Uint8Array, off: number, len: number): boolean;
  /** Whether the far end is there (cable plugged): link can come up only then. */
  present(): boolean;
}

export interface ModelContext {
  /**
   * The model thread's clock (ms), read once per loop into this cell. A cell, not an argument: a fractional number
   * passed to or returned from a call V8 does not inline is boxed, an allocation per call in the model's loop.
   */
  readonly now: Float64Array;
  /** Reports a broken hardware rule; the model stops this port's DMA, as the 82599's malicious-driver detection does. */
  fault(port: number, message: string): void;
}

// Bring-up timing of the model, in ms. Real hardware takes longer (link: up to seconds); these keep tests quick
// while still forcing the driver to wait for each step as the datasheet requires.
const RESET_MS = 1;
const EEPROM_MS = 2;
const DMA_INIT_MS = 3;
const LINK_MS = 20;
const MAX_FRAME = 1514; // without FCS
const MAX_JUMBO = 9710;
const SCRATCH = 16384;

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

/**
 * One port of a simulated 82599: its registers with their access semantics (§8.2.3), its reset and link
 * behaviour (§4.6.3), and the DMA engines that walk the advanced RX/TX descriptor rings (§7.1, §7.2) in the same
 * physical memory the driver writes. It runs on the model thread only.
 */
export class PortModel {
  private readonly regs = new Uint32Array(R.BAR0_SIZE >>> 2);
  wire: WireEnd | null = null;
  linkUp = false;
  faulted = false;
  private resetDoneAt = 0;
  private eepromDoneAt = 0;
  private dmaDoneAt = 0;
  private linkAt = Infinity;
  private anStarted = false; // auto-negotiation was started since reset: the link follows the cable from then on
  private resetting = false;
  // statistics (clear on read)
  private gprc = 0; private gptc = 0; private gorc = 0; private gotc = 0; private mpc = 0;
  private readonly qprc = new Float64Array(16);
  private readonly qptc = new Float64Array(16);
  private octetHigh = 0;
  private eicr = 0;
  // queues, as latched when enabled (word index of the ring in phys.u32, descriptor count, head, tail)
  private readonly rxOn = new Uint8Array(R.MAX_QUEUES);
  private readonly rxRing = new Int32Array(R.MAX_QUEUES);
  private readonly rxCount = new Int32Array(R.MAX_QUEUES);
  private readonly rxHead = new Int32Array(R.MAX_QUEUES);
  private readonly rxTail = new Int32Array(R.MAX_QUEUES);
  private readonly rxBufBytes = new Int32Array(R.MAX_QUEUES);
  private readonly txOn = new Uint8Array(R.MAX_QUEUES);
  private readonly txRing = new Int32Array(R.MAX_QUEUES);
  private readonly txCount = new Int32Array(R.MAX_QUEUES);
  private readonly txHead = new Int32Array(R.MAX_QUEUES);
  private readonly txTail = new Int32Array(R.MAX_QUEUES);
  private txQueuesOn = 0;
  private readonly scratch: Uint8Array;
  private scratchLen = 0;
  private scratchPaylen = 0;
  private macLo = 0; // bytes 0..3 of the station address (little-endian, as RAL holds them)
  private macHi = 0; // bytes 4..5

  constructor(
    readonly index: number,
    readonly mac: Uint8Array,
    private readonly phys: PhysView,
    private readonly ctx: ModelContext,
    scratch: Uint8Array,
  ) {
    this.scratch = scratch;
    this.powerOn();
  }

  // ---- register access (called in program order from the MMIO channels) ----

  read(off: number): number {
    if (!this.checkOffset(off)) return 0xffffffff;
    switch (off) {
      case R.CTRL: return this.resetting ? this.regs[0] | R.CTRL_RST : this.regs[0];
      case R.EICR: { const v = this.eicr; this.eicr = 0; return v; } // §8.2.3.5.1: clear on read
      case R.LINKS: return this.linkUp ? R.LINKS_UP | this.linkSpeedBits() : 0;
      case R.GPRC: { const v = this.gprc; this.gprc = 0; return v >>> 0; }
      case R.GPTC: { const v = this.gptc; this.gptc = 0; return v >>> 0; }
      // 36-bit octet counters: reading the low half latches the high half; reading the high half clears (§8.2.3.23)
      case R.GORCL: { const v = this.gorc; this.octetHigh = Math.floor(v / 0x1_0000_0000); this.gorc = 0; return v >>> 0; }
      case R.GOTCL: { const v = this.gotc; this.octetHigh = Math.floor(v / 0x1_0000_0000); this.gotc = 0; return v >>> 0; }
      case R.GORCH: case R.GOTCH: { const v = this.octetHigh & 0xf; this.octetHigh = 0; return v; }
      case R.MPC(0): { const v = this.mpc; this.mpc = 0; return v >>> 0; }
    }
    if (off >= 0x01000 && off < 0x02000) { // RX queues 0..63: heads and per-queue counters
      const q = (off - 0x01000) >> 6;
      const r = off & 0x3f;
      if (r === 0x10) return this.rxOn[q] ? this.rxHead[q] : this.regs[off >>> 2];
      if (r === 0x30 && q < 16) { const v = this.qprc[q]; this.qprc[q] = 0; return v >>> 0; }
    }
    if (off >= 0x06000 && off < 0x07000) {
      const q = (off - 0x06000) >> 6;
      const r = off & 0x3f;
      if (r === 0x10) return this.txOn[q] ? this.txHead[q] : this.regs[off >>> 2];
      if (r === 0x30 && q < 16) { const v = this.qptc[q]; this.qptc[q] = 0; return v >>> 0; }
    }
    return this.regs[off >>> 2];
  }

  write(off: number, v: number): void {
    if (!this.checkOffset(off)) return;
    v >>>= 0;
    if (this.resetting && off !== R.CTRL) {
      this.fail(`register ${hex(off)} written during global reset: wait until CTRL.RST reads back 0 (§4.6.3.2)`);
      return;
    }
    switch (off) {
      case R.CTRL:
        this.regs[0] = v & ~R.CTRL_RST_MASK;
        if (v & R.CTRL_RST) this.globalReset();
        else if (v & R.CTRL_LNK_RST) this.restartLink();
        return;
      case R.EIMS: this.regs[R.EIMS >>> 2] |= v; return;
      case R.EIMC: this.regs[R.EIMS >>> 2] &= ~v; return; // write 1 to clear mask bits
      case R.EICR: this.eicr &= ~v; return; // write 1 to clear causes
      case R.AUTOC:
        this.regs[R.AUTOC >>> 2] = v & ~R.AUTOC_AN_RESTART;
        if (v & R.AUTOC_AN_RESTART) this.restartLink();
        return;
    }
    if (off >= 0x01000 && off < 0x02000) { this.writeRxQueueReg((off - 0x01000) >> 6, off & 0x3f, off, v); return; }
    if (off >= 0x06000 && off < 0x07000) { this.writeTxQueueReg((off - 0x06000) >> 6, off & 0x3f, off, v); return; }
    if (off >= 0x02100 && off < 0x02140 && this.rxOn[(off - 0x02100) >> 2]) {
      this.fail(`SRRCTL(${(off - 0x02100) >> 2}) changed while the queue is enabled: disable it first (§8.2.3.8.7)`);
      return;
    }
    if (off >= R.RSSRK(0) && off < R.RSSRK(10)) this.rssKeyDirty = true;
    this.regs[off >>> 2] = v;
  }

  private checkOffset(off: number): boolean {
    if ((off & 3) !== 0 || off < 0 || off >= R.BAR0_SIZE) {
      this.fail(`register access at ${hex(off)}: not a 4-byte aligned offset inside BAR0 (128 KiB)`);
      return false;
    }
    return true;
  }

  private writeRxQueueReg(q: number, r: number, off: number, v: number): void {
    const on = this.rxOn[q] === 1;
    switch (r) {
      case 0x00: case 0x04: case 0x08:
        if (on) return this.fail(`RX queue ${q}: ring base/length changed while the queue is enabled (§4.6.7.1)`);
        break;
      case 0x10: // RDH
        if (on && this.rxHead[q] !== this.rxTail[q]) return this.fail(`RX queue ${q}: RDH written while the NIC owns descriptors`);
        if (on) { if (v >= this.rxCount[q]) return this.fail(`RX queue ${q}: RDH ${v} beyond the ring (${this.rxCount[q]})`); this.rxHead[q] = v; }
        break;
      case 0x18: // RDT: hand descriptors [RDT, v) to the NIC
        if (on) { this.moveTail(q, v, true); return; }
        break;
      case 0x28: // RXDCTL
        this.regs[off >>> 2] = v;
        if ((v & R.RXDCTL_ENABLE) && !on) this.enableRx(q);
        else if (!(v & R.RXDCTL_ENABLE) && on) this.rxOn[q] = 0;
        return;
    }
    this.regs[off >>> 2] = v;
  }

  private writeTxQueueReg(q: number, r: number, off: number, v: number): void {
    const on = this.txOn[q] === 1;
    switch (r) {
      case 0x00: case 0x04: case 0x08:
        if (on) return this.fail(`TX queue ${q}: ring base/length changed while the queue is enabled (§4.6.8)`);
        break;
      case 0x10:
        if (on && this.txHead[q] !== this.txTail[q]) return this.fail(`TX queue ${q}: TDH written while the NIC owns descriptors`);
        if (on) { if (v >= this.txCount[q]) return this.fail(`TX queue ${q}: TDH ${v} beyond the ring (${this.txCount[q]})`); this.txHead[q] = v; }
        break;
      case 0x18:
        if (on) { this.moveTail(q, v, false); return; }
        break;
      case 0x28:
        this.regs[off >>> 2] = v;
        if ((v & R.TXDCTL_ENABLE) && !on) this.enableTx(q);
        else if (!(v & R.TXDCTL_ENABLE) && on) { this.txOn[q] = 0; this.txQueuesOn--; }
        return;
    }
    this.regs[off >>> 2] = v;
  }

  /** Latches a ring when its queue is enabled, after checking what the hardware requires of it. */
  private ringCheck(kind: 'RX' | 'TX', q: number, lo: number, hi: number, len: number): number {
    const where = kind === 'RX' ? '§8.2.3.8.1-3' : '§8.2.3.9.5-7';
    if (!(this.regs[R.RDRXCTL >>> 2] & R.RDRXCTL_DMAIDONE)) {
      this.fail(`${kind} queue ${q} enabled before DMA initialisation finished: wait for RDRXCTL.DMAIDONE (§4.6.3)`);
      return -1;
    }
    if (len === 0 || (lo === 0 && hi === 0)) {
      this.fail(`${kind} queue ${q} enabled before its ring was set up (base ${hex(hi)}:${hex(lo)}, length ${len}) (${where})`);
      return -1;
    }
    if ((lo & 0x7f) !== 0) { this.fail(`${kind} queue ${q}: ring base ${hex(lo)} is not 128-byte aligned (${where})`); return -1; }
    if ((len & 0x7f) !== 0) { this.fail(`${kind} queue ${q}: ring length ${len} is not a multiple of 128 bytes (${where})`); return -1; }
    if (len > 0x80000) { this.fail(`${kind} queue ${q}: ring length ${len} exceeds 32768 descriptors`); return -1; }
    const memOff = this.phys.offsetOf(lo, hi, len);
    if (memOff < 0) { this.fail(`${kind} queue ${q}: ring at ${hex(hi)}:${hex(lo)} (+${len}) lies outside DMA memory`); return -1; }
    return memOff;
  }

  private enableRx(q: number): void {
    const base = R.RDBAL(q) >>> 2;
    const len = this.regs[base + 2];
    const memOff = this.ringCheck('RX', q, this.regs[base], this.regs[base + 1], len);
    if (memOff < 0) return;
    const srrctl = this.regs[R.SRRCTL(q) >>> 2];
    if ((srrctl & R.SRRCTL_DESCTYPE_MASK) !== R.SRRCTL_DESCTYPE_ADV_ONEBUF) {
      return this.fail(`RX queue ${q}: SRRCTL descriptor type ${hex(srrctl & R.SRRCTL_DESCTYPE_MASK)} is not modelled: use advanced one-buffer (§8.2.3.8.7)`);
    }
    const bsize = (srrctl & R.SRRCTL_BSIZEPKT_MASK) * 1024;
    if (bsize === 0) return this.fail(`RX queue ${q}: SRRCTL.BSIZEPACKET is 0 (§8.2.3.8.7)`);
    const count = len >>> 4;
    const head = this.regs[base + 4];
    const tail = this.regs[base + 6];
    if (head >= count || tail >= count) return this.fail(`RX queue ${q}: RDH/RDT (${head}/${tail}) beyond the ring of ${count}`);
    this.rxRing[q] = memOff >>> 2;
    this.rxCount[q] = count;
    this.rxHead[q] = head;
    this.rxTail[q] = tail;
    this.rxBufBytes[q] = bsize;
    this.rxOn[q] = 1;
  }

  private enableTx(q: number): void {
    if (!(this.regs[R.DMATXCTL >>> 2] & R.DMATXCTL_TE)) {
      return this.fail(`TX queue ${q} enabled before DMATXCTL.TE: enable transmit DMA first (§4.6.8)`);
    }
    const base = R.TDBAL(q) >>> 2;
    const len = this.regs[base + 2];
    const memOff = this.ringCheck('TX', q, this.regs[base], this.regs[base + 1], len);
    if (memOff < 0) return;
    const count = len >>> 4;
    const head = this.regs[base + 4];
    const tail = this.regs[base + 6];
    if (head >= count || tail >= count) return this.fail(`TX queue ${q}: TDH/TDT (${head}/${tail}) beyond the ring of ${count}`);
    this.txRing[q] = memOff >>> 2;
    this.txCount[q] = count;
    this.txHead[q] = head;
    this.txTail[q] = tail;
    this.txOn[q] = 1;
    this.txQueuesOn++;
  }

  /**
   * The NIC owns descriptors [head, tail). A new tail hands over [tail, newTail); that is legal only while the NIC
   * would own at most count-1 descriptors — otherwise the driver gave back descriptors the NIC still holds.
   */
  private moveTail(q: number, v: number, rx: boolean): void {
    const count = rx ? this.rxCount[q] : this.txCount[q];
    const head = rx ? this.rxHead[q] : this.txHead[q];
    const tail = rx ? this.rxTail[q] : this.txTail[q];
    const name = rx ? 'RDT' : 'TDT';
    if (v >= count) return this.fail(`${rx ? 'RX' : 'TX'} queue ${q}: ${name} ${v} is beyond the ring of ${count} descriptors`);
    const owned = (tail - head + count) % count;
    const added = (v - tail + count) % count;
    if (owned + added > count - 1) {
      return this.fail(
        `${rx ? 'RX' : 'TX'} queue ${q}: ${name} moved from ${tail} to ${v} past the head ${head}: ` +
          'the driver handed back descriptors the NIC still owns',
      );
    }
    if (rx) this.rxTail[q] = v; else this.txTail[q] = v;
    this.regs[(rx ? R.RDT(q) : R.TDT(q)) >>> 2] = v;
  }

  // ---- reset and link (§4.6.3) ----

  private powerOn(): void {
    this.regs.fill(0);
    this.rssKeyDirty = true;
    this.rxOn.fill(0);
    this.txOn.fill(0);
    this.txQueuesOn = 0;
    this.linkUp = false;
    this.linkAt = Infinity;
    this.anStarted = false;
    this.gprc = this.gptc = this.gorc = this.gotc = this.mpc = this.eicr = 0;
    this.qprc.fill(0);
    this.qptc.fill(0);
    this.regs[R.AUTOC >>> 2] = 0x4 << R.AUTOC_LMS_SHIFT; // KX4/KX/KR, as an EEPROM commonly leaves it
    this.regs[R.RXPBSIZE(0) >>> 2] = 512 << 10;
    this.regs[R.EIMS >>> 2] = 0;
    this.scratchLen = 0;
  }

  private globalReset(): void {
    this.powerOn();
    this.resetting = true;
    this.resetDoneAt = this.ctx.now[0] + RESET_MS;
    this.eepromDoneAt = this.ctx.now[0] + EEPROM_MS;
    this.dmaDoneAt = this.ctx.now[0] + DMA_INIT_MS;
  }

  private restartLink(): void {
    this.linkUp = false;
    this.anStarted = true;
    const lms = this.regs[R.AUTOC >>> 2] & R.AUTOC_LMS_MASK;
    this.linkAt = lms === (0x7 << R.AUTOC_LMS_SHIFT) ? Infinity : this.ctx.now[0] + LINK_MS;
  }

  private linkSpeedBits(): number {
    const lms = this.regs[R.AUTOC >>> 2] & R.AUTOC_LMS_MASK;
    if (lms === 0 || lms === 0x2 << R.AUTOC_LMS_SHIFT) return R.LINKS_SPEED_1G;
    if (lms === 0x5 << R.AUTOC_LMS_SHIFT) return R.LINKS_SPEED_1G;
    return R.LINKS_SPEED_10G;
  }

  /** Link speed in Mbit/s, for the testers' line-rate limit. */
  linkMbps(): number {
    if (!this.linkUp) return 0;
    return this.linkSpeedBits() === R.LINKS_SPEED_10G ? 10000 : 1000;
  }

  /** The next time (ms) something is due, set by tick(), for the model's idle sleep. */
  due = Infinity;

  /** Advances timed behaviour to the model's clock and sets `due`. */
  tick(): void {
    const now = this.ctx.now[0];
    let next = Infinity;
    if (this.resetting) {
      if (now >= this.resetDoneAt) this.resetting = false; else next = this.resetDoneAt;
    }
    if (this.eepromDoneAt && now >= this.eepromDoneAt) {
      this.eepromDoneAt = 0;
      this.regs[R.EEC >>> 2] |= R.EEC_ARD;
      const m = this.mac; // the EEPROM's station address lands in RAL/RAH(0)
      this.macLo = (m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24)) >>> 0;
      this.macHi = m[4] | (m[5] << 8);
      this.regs[R.RAL0 >>> 2] = this.macLo;
      this.regs[R.RAH0 >>> 2] = (this.macHi | R.RAH_AV) >>> 0;
    } else if (this.eepromDoneAt) next = Math.min(next, this.eepromDoneAt);
    if (this.dmaDoneAt && now >= this.dmaDoneAt) {
      this.dmaDoneAt = 0;
      this.regs[R.RDRXCTL >>> 2] |= R.RDRXCTL_DMAIDONE;
    } else if (this.dmaDoneAt) next = Math.min(next, this.dmaDoneAt);
    const present = this.wire !== null && this.wire.present();
    if (this.linkUp && !present) { this.linkUp = false; this.eicr |= R.EICR_LSC; }
    if (!this.linkUp && !present && this.anStarted) this.linkAt = Infinity;
    if (!this.linkUp && present && this.anStarted && this.linkAt === Infinity) this.linkAt = now + LINK_MS; // partner back
    if (!this.linkUp && now >= this.linkAt && present) { this.linkUp = true; this.linkAt = Infinity; this.eicr |= R.EICR_LSC; }
    if (this.linkAt !== Infinity) next = Math.min(next, this.linkAt);
    this.due = next;
  }

  // ---- receive path (§7.1) ----

  /** Whether the filters let a frame with this destination through (§7.1.1: exact match, broadcast, promiscuous). */
  accepts(dst: Uint8Array, off: number): boolean {
    const fctrl = this.regs[R.FCTRL >>> 2];
    const b0 = dst[off];
    if (b0 & 1) { // group address
      const bcast = (b0 & dst[off + 1] & dst[off + 2] & dst[off + 3] & dst[off + 4] & dst[off + 5]) === 0xff;
      return bcast ? (fctrl & R.FCTRL_BAM) !== 0 : (fctrl & R.FCTRL_MPE) !== 0;
    }
    if (fctrl & R.FCTRL_UPE) return true;
    const lo = (b0 | (dst[off + 1] << 8) | (dst[off + 2] << 16) | (dst[off + 3] << 24)) >>> 0;
    const hi = dst[off + 4] | (dst[off + 5] << 8);
    return lo === this.regs[R.RAL0 >>> 2] && (this.regs[R.RAH0 >>> 2] & R.RAH_AV) !== 0 && hi === (this.regs[R.RAH0 >>> 2] & 0xffff);
  }

  /** Queue of the frame being received: set by receive() from RSS; testers that write in place use queue 0. */
  private rxQueueFor(): number {
    return this.rxQ;
  }

  private rxQ = 0;
  /** The hash of the key in RSSRK, rebuilt when the key changed (rssKeyDirty) and RSS is on. */
  private rss: Toeplitz | null = null;
  private rssKeyDirty = true;
  private readonly rssKeyBytes = new Uint8Array(40);

  /**
   * §7.1.2.8: with MRQC.MRQE = RSS, IPv4 frames are hashed (Toeplitz, key in RSSRK) over source and destination
   * address, plus the ports for TCP (and UDP) when MRQC enables those fields; non-IP frames, fragments and
   * disabled types get hash 0. The queue is RETA[hash bits 6:0].
   */
  private rssQueueOf(src: Uint8Array, off: number, len: number): number {
    const mrqc = this.regs[R.MRQC >>> 2];
    if ((mrqc & 0xf) !== R.MRQC_RSSEN) return 0;
    let hash = 0;
    if (len >= 34 && src[off + 12] === 0x08 && src[off + 13] === 0x00 && (src[off + 14] >>> 4) === 4) {
      if (this.rssKeyDirty || this.rss === null) {
        for (let i = 0; i < 40; i++) this.rssKeyBytes[i] = (this.regs[(R.RSSRK(i >>> 2) >>> 2)] >>> ((i & 3) * 8)) & 0xff;
        this.rss = new Toeplitz(this.rssKeyBytes);
        this.rssKeyDirty = false;
      }
      const ip = off + 14;
      const sip = (src[ip + 12] << 24) | (src[ip + 13] << 16) | (src[ip + 14] << 8) | src[ip + 15];
      const dip = (src[ip + 16] << 24) | (src[ip + 17] << 16) | (src[ip + 18] << 8) | src[ip + 19];
      const proto = src[ip + 9];
      const fragment = ((src[ip + 6] & 0x3f) | src[ip + 7]) !== 0;
      const l4 = ip + (src[ip] & 0x0f) * 4;
      const ports = !fragment && l4 + 4 <= off + len &&
        ((proto === 6 && (mrqc & R.MRQC_RSS_FIELD_IPV4_TCP) !== 0) || (proto === 17 && (mrqc & R.MRQC_RSS_FIELD_IPV4_UDP) !== 0));
      if (ports) {
        hash = this.rss!.hashIpv4TcpI32(sip, dip, (src[l4] << 8) | src[l4 + 1], (src[l4 + 2] << 8) | src[l4 + 3]);
      } else if (mrqc & R.MRQC_RSS_FIELD_IPV4) {
        hash = this.rss!.hashIpv4I32(sip, dip);
      }
    }
    const entry = hash & (R.RETA_ENTRIES - 1);
    return (this.regs[(R.RETA(entry >>> 2)) >>> 2] >>> ((entry & 3) * 8)) & 0x0f;
  }

  /**
   * Offset in phys.u8 of the buffer the next received frame would land in, or -1 if the NIC can't take one now
   * (receiver or queue off, no free descriptor: counted as missed). Used by testers that write frames in place.
   */
  rxBuffer(): number {
    if (this.faulted || !this.linkUp || !(this.regs[R.RXCTRL >>> 2] & R.RXCTRL_RXEN)) return -1;
    const q = this.rxQueueFor();
    if (!this.rxOn[q] || this.rxHead[q] === this.rxTail[q]) { this.mpc++; return -1; }
    const w = this.rxRing[q] + (this.rxHead[q] << 2);
    const u32 = this.phys.u32;
    // the NIC writes at most one maximum-size frame into a buffer, even when the buffer size says more
    const off = this.phys.offsetOf(u32[w], u32[w + 1], Math.min(this.rxBufBytes[q], MAX_FRAME + 8));
    if (off < 0 || (off & 1) !== 0) {
      this.fail(`RX queue ${q}: descriptor ${this.rxHead[q]} holds buffer address ${hex(u32[w + 1])}:${hex(u32[w])}, ` +
        'outside DMA memory or odd (§7.1.6.1)');
      return -1;
    }
    return off;
  }

  /** Completes the descriptor rxBuffer() returned: writes back length and DD|EOP, advances the head. */
  rxCommit(len: number): void {
    const q = this.rxQueueFor();
    const head = this.rxHead[q];
    const w = this.rxRing[q] + (head << 2);
    const u32 = this.phys.u32;
    u32[w + 3] = len; // length, VLAN 0
    u32[w + 2] = R.RXD_STAT_DD | R.RXD_STAT_EOP; // written last: the driver trusts the rest once DD is set
    this.rxHead[q] = head + 1 === this.rxCount[q] ? 0 : head + 1;
    this.gprc++;
    this.gorc += len + 4;
    this.qprc[q]++;
  }

  /** Receives a copy of a frame (from the other port or a Linux interface), split over buffers if it must be. */
  receive(src: Uint8Array, srcOff: number, len: number): boolean {
    if (!this.accepts(src, srcOff)) return false;
    this.rxQ = this.rssQueueOf(src, srcOff, len);
    const taken = this.receiveOnQueue(src, srcOff, len);
    this.rxQ = 0; // back to the testers' queue (receiveOnQueue reports rule breaks through fail(), it does not throw)
    return taken;
  }

  private receiveOnQueue(src: Uint8Array, srcOff: number, len: number): boolean {
    const q = this.rxQueueFor();
    const bsize = this.rxBufBytes[q];
    if (len <= bsize || !this.rxOn[q]) {
      const off = this.rxBuffer();
      if (off < 0) return false;
      if (src === this.phys.u8) src.copyWithin(off, srcOff, srcOff + len);
      else this.phys.u8.set(src.subarray(srcOff, srcOff + len), off);
      this.rxCommit(len);
      return true;
    }
    const need = Math.ceil(len / bsize);
    const free = (this.rxTail[q] - this.rxHead[q] + this.rxCount[q]) % this.rxCount[q];
    if (free < need) { this.mpc++; return false; }
    const u32 = this.phys.u32;
    for (let done = 0; done < len; done += bsize) {
      const off = this.rxBuffer();
      if (off < 0) return false;
      const part = Math.min(bsize, len - done);
      this.phys.u8.set(src.subarray(srcOff + done, srcOff + done + part), off);
      const w = this.rxRing[q] + (this.rxHead[q] << 2);
      u32[w + 3] = part;
      u32[w + 2] = done + part === len ? R.RXD_STAT_DD | R.RXD_STAT_EOP : R.RXD_STAT_DD;
      this.rxHead[q] = (this.rxHead[q] + 1) % this.rxCount[q];
    }
    this.gprc++;
    this.gorc += len + 4;
    this.qprc[q]++;
    return true;
  }

  // ---- transmit path (§7.2) ----

  /** Sends up to `budget` frames from the enabled TX queues to the wire; returns how many descriptors it used. */
  transmit(budget: number): number {
    if (this.txQueuesOn === 0 || this.faulted || !(this.regs[R.DMATXCTL >>> 2] & R.DMATXCTL_TE)) return 0;
    let used = 0;
    for (let q = 0; q < R.MAX_QUEUES && used < budget; q++) {
      if (this.txOn[q] && this.txHead[q] !== this.txTail[q]) used += this.transmitQueue(q, budget - used);
    }
    return used;
  }

  private transmitQueue(q: number, budget: number): number {
    const u32 = this.phys.u32;
    const u8 = this.phys.u8;
    const ring = this.txRing[q];
    const count = this.txCount[q];
    const tail = this.txTail[q];
    const wire = this.wire;
    const up = this.linkUp;
    const jumbo = (this.regs[R.HLREG0 >>> 2] & R.HLREG0_JUMBOEN) !== 0;
    let head = this.txHead[q];
    // Read the descriptors and the first line of each frame of this pass in a loop of nothing but those loads, so
    // that the CPU fetches several at once (each was just written by the driver's core), before the loop below
    // handles them one by one. This only makes the model faster; what it does is unchanged.
    let touched = 0;
    for (let h = head, k = 0; h !== tail && k < budget; h = h + 1 === count ? 0 : h + 1, k++) {
      const w = ring + (h << 2);
      const off = this.phys.offsetOf(u32[w], u32[w + 1], 1);
      if (off >= 0) touched |= u8[off];
    }
    this.touched = touched;
    let used = 0;
    while (head !== tail && used < budget) {
      const w = ring + (head << 2);
      const cmd = u32[w + 2];
      const olinfo = u32[w + 3];
      const len = cmd & R.TXD_LEN_MASK;
      if ((cmd & R.TXD_DCMD_DEXT) === 0 || (cmd & R.TXD_DTYP_MASK) !== R.TXD_DTYP_DATA) {
        if ((cmd & R.TXD_DCMD_DEXT) !== 0 && (cmd & R.TXD_DTYP_MASK) === 0x2 << 20) { // context descriptor: no frame
          head = head + 1 === count ? 0 : head + 1; used++; continue;
        }
        this.fail(`TX queue ${q}: descriptor ${head} is not an advanced data descriptor (cmd_type_len ${hex(cmd)}, §7.2.3.2.4)`);
        break;
      }
      if (len === 0) { this.fail(`TX queue ${q}: descriptor ${head} has a zero buffer length (§7.2.3.2.4)`); break; }
      const off = this.phys.offsetOf(u32[w], u32[w + 1], len);
      if (off < 0) { this.fail(`TX queue ${q}: descriptor ${head} points outside DMA memory (${hex(u32[w + 1])}:${hex(u32[w])} +${len})`); break; }
      const eop = (cmd & R.TXD_DCMD_EOP) !== 0;
      if (!eop || this.scratchLen > 0) { // multi-buffer frame: gather
        if (this.scratchLen === 0) this.scratchPaylen = olinfo >>> R.TXD_PAYLEN_SHIFT;
        if (this.scratchLen + len > SCRATCH) { this.fail(`TX queue ${q}: frame spanning descriptors exceeds ${SCRATCH} bytes`); break; }
        this.scratch.set(u8.subarray(off, off + len), this.scratchLen);
        this.scratchLen += len;
      }
      if (eop) {
        const total = this.scratchLen > 0 ? this.scratchLen : len;
        const paylen = this.scratchLen > 0 ? this.scratchPaylen : olinfo >>> R.TXD_PAYLEN_SHIFT;
        if (paylen !== total) { this.fail(`TX queue ${q}: descriptor ${head} says PAYLEN ${paylen} for a ${total}-byte frame (§7.2.3.2.4)`); break; }
        if (total > (jumbo ? MAX_JUMBO : MAX_FRAME)) { this.fail(`TX queue ${q}: ${total}-byte frame exceeds the maximum frame size (HLREG0.JUMBOEN ${jumbo ? 'on' : 'off'})`); break; }
        if (up && wire !== null) {
          if (this.scratchLen > 0) wire.deliver(this.scratch, 0, total);
          else wire.deliver(u8, off, total);
          this.gptc++;
          this.gotc += (total < 60 ? 60 : total) + 4;
          if (q < 16) this.qptc[q]++;
        }
        this.scratchLen = 0;
      }
      if (cmd & R.TXD_DCMD_RS) u32[w + 3] = R.TXD_STAT_DD; // write-back: DD in the status field (§7.2.3.2.4)
      head = head + 1 === count ? 0 : head + 1;
      used++;
    }
    this.txHead[q] = head;
    return used;
  }

  /** Sink for the loads of transmitQueue's first loop (so that they are not optimised away). */
  touched = 0;

  private fail(message: string): void {
    if (this.faulted) return;
    this.faulted = true;
    this.ctx.fault(this.index, `sim port ${this.index}: ${message}`);
  }
}
