/**
 * The two rings of a TPACKET_V3 socket, walked from user space (Documentation/networking/packet_mmap.rst).
 * Both copy: RX copies each frame from its block into a mempool buffer, TX copies a mempool buffer into a slot.
 * Small frames are copied a 32-bit word at a time in JavaScript (a call into libc costs more than copying 64
 * bytes); larger ones go through memcpy with plain-number addresses. The hot path makes no objects, strings or
 * BigInts.
 */
import { type Mempool, RxFlag } from '../../mem/mempool.js';
import type { Libc } from '../../sys/libc.js';
import {
  BD, ETH_P_8021Q, H3, TP_STATUS_AVAILABLE, TP_STATUS_CSUM_VALID, TP_STATUS_CSUMNOTREADY, TP_STATUS_KERNEL,
  TP_STATUS_SEND_REQUEST, TP_STATUS_SENDING, TP_STATUS_USER, TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID, TX_DATA_OFFSET,
} from './tpacket.js';

/** Where the rings are: one mapping, RX blocks first, then TX slots (packet_mmap.rst "Mapping and use of the circular buffer"). */
export interface RingMemory {
  /** Over the whole mapping. */
  readonly u32: Uint32Array;
  readonly u16: Uint16Array;
  /** Over the whole mapping, for unaligned word reads (RX frames start 2 bytes off a word, so the IP header is aligned). */
  readonly view: DataView;
  /** Native address of the mapping, as a plain number. */
  readonly address: number;
}

/** Frames up to this long are copied in JavaScript (TX may write up to 3 bytes past the frame, inside its slot). */
const JS_COPY_MAX = 256;

function poolWords(pool: Mempool): Uint32Array {
  return new Uint32Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength >>> 2);
}

const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
const IPPROTO_TCP = 6;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

function wr16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

/** RFC 791 header checksum of `len` bytes at `at` whose checksum field reads zero (RFC 1071). */
function ipHeaderChecksum(b: Uint8Array, at: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[at + i] << 8) | b[at + i + 1];
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** MAC addresses (12 bytes) come before an 802.1Q tag. */
const MAC_PAIR = 12;
const VLAN_TAG = 4;

/**
 * RX ring of blocks. The kernel fills a block with packets and hands it over by setting TP_STATUS_USER in
 * block_status (when it is full, or retire_blk_tov ms after its first packet); we walk its packets and give it
 * back with TP_STATUS_KERNEL, in block order. A batch may end inside a block: the position is kept.
 */
export class RxRingV3 {
  /** Frames longer than a buffer's data room (or truncated by the kernel), dropped here. */
  oversize = 0;
  packets = 0;
  bytes = 0;
  private block = 0;
  private readonly dst32: Uint32Array;
  /** Packets still unread in the current block (0: no block held). */
  private left = 0;
  /** Byte offset of the next packet header within the mapping. */
  private pkt = 0;
  /** TCP payload offset of the next segment to cut from the current super-frame (0: none started). */
  private cutAt = 0;
  /** Super-frames cut into segments (TSO/GSO from the local kernel), and the segments made. */
  superFrames = 0;
  segmentsCut = 0;

  constructor(
    private readonly mem: RingMemory,
    private readonly blockSize: number,
    private readonly blockNr: number,
    private readonly pool: Mempool,
    private readonly poolAddress: number,
    private readonly c: Libc,
    /** Longest segment cut from a super-frame: MTU + 14. */
    private readonly maxFrame: number,
  ) {
    this.dst32 = poolWords(pool);
  }

  receive(ids: Uint32Array, max: number): number {
    const u32 = this.mem.u32;
    const u16 = this.mem.u16;
    const pool = this.pool;
    const room = pool.dataRoom;
    let n = 0;
    while (n < max) {
      if (this.left === 0) {
        const b = this.block * this.blockSize;
        // acquire: the packets of the block are written before its status
        if ((Atomics.load(u32, (b + BD.blockStatus) >>> 2) & TP_STATUS_USER) === 0) break;
        this.left = u32[(b + BD.numPkts) >>> 2];
        this.pkt = b + u32[(b + BD.offsetToFirstPkt) >>> 2];
        if (this.left === 0) { this.releaseBlock(); continue; }
      }
      const p = this.pkt;
      const snap = u32[(p + H3.snaplen) >>> 2];
      const len = u32[(p + H3.len) >>> 2];
      const status = u32[(p + H3.status) >>> 2];
      const tagged = (status & TP_STATUS_VLAN_VALID) !== 0;
      const total = tagged ? snap + VLAN_TAG : snap;
      if (total > room && snap === len && !tagged) {
        const before = n;
        n = this.cut(p + u16[(p + H3.mac) >>> 1], snap, ids, n, max);
        if (n < 0) { n = before; this.oversize++; } else if (this.cutAt !== 0 || n === before) break; // out of ids or buffers mid-frame
      } else if (snap < len || total > room) {
        this.oversize++;
      } else {
        const id = pool.alloc();
        if (id < 0) break; // pool empty: leave the packet in the block for the next call
        const off = pool.dataOffset(id);
        const mac = p + u16[(p + H3.mac) >>> 1];
        if (tagged) this.copyTagged(p, status, this.mem.address + mac, off, snap);
        else if (snap <= JS_COPY_MAX) {
          const view = this.mem.view;
          const dst = this.dst32;
          const w = off >>> 2; // buffers start on a 64-byte boundary
          const whole = snap & ~3;
          for (let i = 0; i < whole; i += 4) dst[w + (i >>> 2)] = view.getUint32(mac + i, true);
          const bytes = this.pool.bytes;
          for (let i = whole; i < snap; i++) bytes[off + i] = view.getUint8(mac + i);
        } else this.c.memcpyAt(this.poolAddress + off, this.mem.address + mac, snap);
        pool.len[id] = total;
        // A frame this kernel built (e.g. sent by a veth peer with TX checksum offload) or one it checked.
        if ((status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) !== 0) pool.rxFlags[id] = RxFlag.L4ChecksumGood;
        ids[n++] = id;
        this.packets++;
        this.bytes += total;
      }
      if (--this.left === 0) this.releaseBlock();
      else this.pkt = p + u32[(p + H3.nextOffset) >>> 2];
    }
    return n;
  }

  /**
   * A TCP/IPv4 frame longer than a buffer: a super-frame built by the kernel's TSO/GSO (a veth peer with the default
   * offloads hands them over whole, with the checksum left partial). Cut it into segments of at most MTU + 14 bytes,
   * as the NIC the kernel counted on would have: headers copied; IP total length, ID and header checksum; TCP
   * sequence number; FIN and PSH on the last segment only, CWR on the first only (the kernel's tcp_gso_segment). The
   * TCP checksum stays unverified (RxFlag.L4ChecksumGood: the data is the kernel's own). Returns the new count,
   * -1 for a frame that is not TCP/IPv4; stops at `max` or an empty pool with `cutAt` kept for the next call.
   */
  private cut(mac: number, snap: number, ids: Uint32Array, n: number, max: number): number {
    const view = this.mem.view;
    const pool = this.pool;
    const ip = mac + ETH_HLEN;
    if (snap < ETH_HLEN + 40 || view.getUint16(mac + 12) !== ETH_P_IP || (view.getUint8(ip) >>> 4) !== 4 || view.getUint8(ip + 9) !== IPPROTO_TCP) return -1;
    const ihl = (view.getUint8(ip) & 0x0f) << 2;
    const thl = (view.getUint8(ip + ihl + 12) >>> 4) << 2;
    const hdr = ETH_HLEN + ihl + thl;
    const ipTotal = view.getUint16(ip + 2);
    const segMax = (this.maxFrame < pool.dataRoom ? this.maxFrame : pool.dataRoom) - hdr;
    if (ihl < 20 || thl < 20 || ETH_HLEN + ipTotal > snap || segMax <= 0) return -1;
    const payload = ipTotal - ihl - thl;
    const ipId = view.getUint16(ip + 4);
    const seq = view.getUint32(ip + ihl + 4);
    const flags = view.getUint8(ip + ihl + 13);
    const bytes = pool.bytes;
    let at = this.cutAt;
    while (at < payload && n < max) {
      const id = pool.alloc();
      if (id < 0) break;
      const take = payload - at < segMax ? payload - at : segMax;
      const off = pool.dataOffset(id);
      this.c.memcpyAt(this.poolAddress + off, this.mem.address + mac, hdr);
      this.c.memcpyAt(this.poolAddress + off + hdr, this.mem.address + mac + hdr + at, take);
      const o = off + ETH_HLEN;
      const k = at / segMax;
      wr16(bytes, o + 2, ihl + thl + take);
      wr16(bytes, o + 4, (ipId + k) & 0xffff);
      wr16(bytes, o + 10, 0);
      wr16(bytes, o + 10, ipHeaderChecksum(bytes, o, ihl));
      const s = (seq + at) >>> 0;
      wr16(bytes, o + ihl + 4, s >>> 16);
      wr16(bytes, o + ihl + 6, s & 0xffff);
      at += take;
      bytes[o + ihl + 13] = flags & ~(at < payload ? TCP_FIN | TCP_PSH : 0) & ~(k > 0 ? TCP_CWR : 0);
      pool.len[id] = hdr + take;
      pool.rxFlags[id] = RxFlag.L4ChecksumGood;
      ids[n++] = id;
      this.packets++;
      this.bytes += hdr + take;
      this.segmentsCut++;
    }
    if (at < payload) { this.cutAt = at; return n; }
    this.cutAt = 0;
    this.superFrames++;
    return n;
  }

  /** The kernel moved the 802.1Q tag into metadata (tp_vlan_tci); put it back after the MAC addresses. */
  private copyTagged(p: number, status: number, src: number, off: number, snap: number): void {
    const bytes = this.pool.bytes;
    const tpid = (status & TP_STATUS_VLAN_TPID_VALID) !== 0 ? this.mem.u16[(p + H3.vlanTpid) >>> 1] : ETH_P_8021Q;
    const tci = this.mem.u32[(p + H3.vlanTci) >>> 2];
    this.c.memcpyAt(this.poolAddress + off, src, MAC_PAIR);
    bytes[off + 12] = tpid >>> 8; bytes[off + 13] = tpid & 0xff;
    bytes[off + 14] = (tci >>> 8) & 0xff; bytes[off + 15] = tci & 0xff;
    this.c.memcpyAt(this.poolAddress + off + MAC_PAIR + VLAN_TAG, src + MAC_PAIR, snap - MAC_PAIR);
  }

  private releaseBlock(): void {
    const b = this.block * this.blockSize;
    Atomics.store(this.mem.u32, (b + BD.blockStatus) >>> 2, TP_STATUS_KERNEL);
    this.left = 0;
    this.block = this.block + 1 === this.blockNr ? 0 : this.block + 1;
  }
}

/**
 * TX ring of fixed slots (frame_size apart; a V3 socket uses the tpacket3_hdr slot layout, data at
 * TX_DATA_OFFSET, tp_next_offset 0). A slot is ours while TP_STATUS_AVAILABLE; we fill it and set
 * TP_STATUS_SEND_REQUEST; the kernel sends every requested slot from its head on the next send() and sets the slot
 * back to AVAILABLE when the skb is freed (tpacket_destruct_skb).
 */
export class TxRing {
  packets = 0;
  bytes = 0;
  /** Frames we refused: shorter than an Ethernet header or longer than the MTU allows. */
  rejected = 0;
  /** Whether the last queue() stopped at a busy slot (then a kick is due even if nothing new was queued). */
  full = false;
  private head = 0;
  private readonly src32: Uint32Array;

  constructor(
    private readonly mem: RingMemory,
    /** Byte offset of slot 0 within the mapping. */
    private readonly base: number,
    private readonly frameSize: number,
    private readonly frameNr: number,
    /** Longest frame the kernel accepts: MTU + 14 (+ 4 for a VLAN tag), as tpacket_snd() computes size_max. */
    private readonly maxLen: number,
    private readonly pool: Mempool,
    private readonly poolAddress: number,
    private readonly c: Libc,
  ) {
    this.src32 = poolWords(pool);
  }

  /** Whether every slot is back with us (AVAILABLE or refused by the kernel): nothing is waiting to be sent. */
  idle(): boolean {
    const u32 = this.mem.u32;
    for (let i = 0; i < this.frameNr; i++) {
      const st = Atomics.load(u32, (this.base + i * this.frameSize + H3.status) >>> 2);
      if (st === TP_STATUS_SEND_REQUEST || st === TP_STATUS_SENDING) return false;
    }
    return true;
  }

  /** Copies ids[0..) into free slots and frees them; returns how many were taken. Sets `full` when a slot was busy. */
  queue(ids: Uint32Array, n: number): number {
    const u32 = this.mem.u32;
    const pool = this.pool;
    let i = 0;
    this.full = false;
    while (i < n) {
      const slot = this.base + this.head * this.frameSize;
      if (Atomics.load(u32, (slot + H3.status) >>> 2) !== TP_STATUS_AVAILABLE) { this.full = true; break; }
      const id = ids[i++];
      const len = pool.len[id];
      if (len < 14 || len > this.maxLen) {
        this.rejected++;
        pool.free(id);
        continue;
      }
      if (len <= JS_COPY_MAX) {
        // both ends word-aligned: slots start on TPACKET_ALIGNMENT, data at 48; buffers on 64 bytes
        const d = (slot + TX_DATA_OFFSET) >>> 2;
        const sw = pool.dataOffset(id) >>> 2;
        const src = this.src32;
        for (let k = 0; k < len; k += 4) u32[d + (k >>> 2)] = src[sw + (k >>> 2)];
      } else this.c.memcpyAt(this.mem.address + slot + TX_DATA_OFFSET, this.poolAddress + pool.dataOffset(id), len);
      u32[(slot + H3.nextOffset) >>> 2] = 0;
      u32[(slot + H3.len) >>> 2] = len;
      u32[(slot + H3.snaplen) >>> 2] = len;
      // release: the frame is written before the kernel can see SEND_REQUEST
      Atomics.store(u32, (slot + H3.status) >>> 2, TP_STATUS_SEND_REQUEST);
      pool.free(id);
      this.packets++;
      this.bytes += len;
      this.head = this.head + 1 === this.frameNr ? 0 : this.head + 1;
    }
    return i;
  }
}
