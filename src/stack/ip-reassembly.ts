/**
 * IPv4 fragment reassembly (RFC 791 §3.2 "An Example Reassembly Procedure"; RFC 1122 §3.3.2).
 *
 * ## Procedure
 * Fragments belong together when they share (source, destination, protocol, identification) — RFC 791 §3.2's
 * buffer identifier. Each datagram being reassembled owns one of `maxDatagrams` preallocated slots: a `Uint8Array`
 * with room for a 20-byte header and the data, so the result is contiguous, and a bitmap of the 8-byte units received
 * (RFC 791's "fragment block bit table"; RFC 815's hole list is the alternative). A fragment's data is copied to
 * `20 + offset` (the caller keeps and frees its own buffer), its units are marked, and the datagram is complete when
 * the last fragment (MF clear) fixed the data length and every unit up to it is marked. The result carries the first
 * fragment's header **without options** (IHL 5; RFC 791 §3.1 lets options differ between fragments, and the ones
 * that matter are copied into every fragment anyway), MF and offset cleared (DF kept), total length and header
 * checksum recomputed.
 *
 * ## Rules for hostile or broken input
 * - **Overlaps** are accepted and the newer fragment's bytes overwrite the older ones, as RFC 791 §3.2's procedure
 *   does. (Linux instead discards the whole datagram since 4.19, as RFC 5722 requires for IPv6; a stack that feeds
 *   reassembled data to security checks should do the same. Here overlap only matters for what ends up in the
 *   buffer, never for memory safety: every write is bounded by the slot.)
 * - **Inconsistent** fragments discard the whole datagram (`dropInconsistent`), like Linux's `ip_frag_queue`: a second
 *   last fragment with a different end, data past the end fixed by a last fragment, a last fragment ending before
 *   data already received, a non-last fragment whose length is not a multiple of 8 (RFC 791 §3.2: "the fragment
 *   boundaries must be on 8 octet boundaries") or that is empty. Input that is not a fragment counts here too.
 * - **Too big**: data ending past `maxSize`, or a result longer than 65535 bytes (the total-length field is 16 bits),
 *   discards the datagram (`dropTooBig`).
 * - **Timeout**: a datagram is discarded `timeoutMs` after its first fragment (Linux's `ipfrag_time`, 30 s; RFC 791's
 *   timer is restarted by each fragment's TTL, which lets a sender keep a slot busy forever). `expire` and `input`
 *   both reclaim timed-out slots (`dropTimeout`). ICMP time exceeded (RFC 792, RFC 1122 §3.3.2) is not sent.
 * - **No slot**: when all slots are busy, the oldest datagram is discarded to make room (`dropNoSlot`).
 *
 * Nothing here allocates after construction. Times are plain millisecond numbers from the caller.
 */
import { rd16, wr16 } from '../wire/bytes.js';
import { WireError } from '../wire/error.js';
import { IPV4_DF, IPV4_HEADER_LEN, ipv4FillChecksum, Ipv4View } from '../wire/ipv4.js';

export interface Ipv4ReassemblerOptions {
  /** Datagrams reassembled at once (1 … 4096). Default 8. */
  maxDatagrams?: number;
  /** How long a datagram may take to complete, from its first fragment, in ms. Default 30000 (Linux's ipfrag_time). */
  timeoutMs?: number;
  /**
   * Largest data end (fragment offset + data length) accepted, 8 … 65535. Default 65535. The result must also fit the
   * 16-bit total length with its 20-byte header, so at most 65515 bytes of data are ever reassembled.
   */
  maxSize?: number;
}

const MAX_TOTAL = 65535;

export class Ipv4Reassembler {
  readonly maxDatagrams: number;
  readonly timeoutMs: number;
  readonly maxSize: number;

  /** Datagrams discarded because they did not complete within `timeoutMs`. */
  dropTimeout = 0;
  /** Datagrams discarded because a fragment's data ended past `maxSize` (or the result would exceed 65535 bytes). */
  dropTooBig = 0;
  /** Datagrams discarded to make room when every slot was busy (the oldest goes). */
  dropNoSlot = 0;
  /** Datagrams (or lone fragments) discarded as inconsistent; see the header comment. */
  dropInconsistent = 0;
  /** Datagrams completed. */
  reassembled = 0;

  /** Largest data end accepted: min(maxSize, 65535 − 20). */
  private readonly dataLimit: number;
  private readonly bufs: Uint8Array[];
  private readonly used: Uint8Array;
  private readonly srcs: Int32Array;
  private readonly dsts: Int32Array;
  /** protocol << 16 | identification */
  private readonly keys: Int32Array;
  private readonly born: Float64Array;
  /** Data length fixed by the last fragment, or -1 while it has not arrived. */
  private readonly ends: Int32Array;
  /** Highest data end received so far. */
  private readonly maxEnds: Int32Array;
  /** 8-byte units marked in the bitmap. */
  private readonly covered: Int32Array;
  private readonly haveFirst: Uint8Array;
  private readonly bitmap: Int32Array;
  /** Bitmap words per slot. */
  private readonly words: number;
  /** The slot returned complete by the last `input`, freed at the next `input` or `expire`; -1 if none. */
  private done = -1;
  private readonly view = new Ipv4View();

  constructor(opts: Ipv4ReassemblerOptions = {}) {
    const maxDatagrams = opts.maxDatagrams ?? 8;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const maxSize = opts.maxSize ?? 65535;
    if (!Number.isInteger(maxDatagrams) || maxDatagrams < 1 || maxDatagrams > 4096) {
      throw new RangeError(`Ipv4Reassembler: maxDatagrams ${maxDatagrams} is not an integer in 1 … 4096`);
    }
    if (!(timeoutMs > 0 && timeoutMs < Infinity)) throw new RangeError(`Ipv4Reassembler: timeoutMs ${timeoutMs} must be > 0`);
    if (!Number.isInteger(maxSize) || maxSize < 8 || maxSize > MAX_TOTAL) {
      throw new RangeError(`Ipv4Reassembler: maxSize ${maxSize} is not an integer in 8 … 65535`);
    }
    this.maxDatagrams = maxDatagrams;
    this.timeoutMs = timeoutMs;
    this.maxSize = maxSize;
    this.dataLimit = Math.min(maxSize, MAX_TOTAL - IPV4_HEADER_LEN);
    this.bufs = [];
    for (let i = 0; i < maxDatagrams; i++) this.bufs.push(new Uint8Array(IPV4_HEADER_LEN + this.dataLimit));
    this.used = new Uint8Array(maxDatagrams);
    this.srcs = new Int32Array(maxDatagrams);
    this.dsts = new Int32Array(maxDatagrams);
    this.keys = new Int32Array(maxDatagrams);
    this.born = new Float64Array(maxDatagrams);
    this.ends = new Int32Array(maxDatagrams);
    this.maxEnds = new Int32Array(maxDatagrams);
    this.covered = new Int32Array(maxDatagrams);
    this.haveFirst = new Uint8Array(maxDatagrams);
    this.words = (((this.dataLimit + 7) >>> 3) + 31) >>> 5;
    this.bitmap = new Int32Array(maxDatagrams * this.words);
    this.view.verifyChecksum = false; // the caller's Ipv4View.wrap verified it
  }

  /** Datagrams being reassembled (a completed one counts until it is freed). */
  get active(): number {
    let n = 0;
    for (let i = 0; i < this.maxDatagrams; i++) n += this.used[i];
    return n;
  }

  /**
   * Takes the IPv4 fragment at `bytes[ipOff …]` (for which `Ipv4View.wrap` returned `WireError.Fragment`) and copies
   * its data. Returns the slot of the datagram it completed — read it with `datagramBytes(slot)` /
   * `datagramLen(slot)` until the next `input` or `expire` call — or -1 (incomplete, or dropped and counted).
   */
  input(bytes: Uint8Array, ipOff: number, nowMs: number): number {
    if (this.done >= 0) this.release(this.done);
    const v = this.view;
    if (v.wrap(bytes, ipOff, bytes.length - ipOff) !== WireError.Fragment) {
      this.dropInconsistent++;
      return -1;
    }
    const src = v.src, dst = v.dst;
    const key = (v.protocol << 16) | v.ident;
    // Find the datagram, reclaiming timed-out slots on the way.
    let s = -1;
    for (let i = 0; i < this.maxDatagrams; i++) {
      if (this.used[i] === 0) continue;
      if (nowMs - this.born[i] >= this.timeoutMs) {
        this.release(i);
        this.dropTimeout++;
      } else if (this.srcs[i] === src && this.dsts[i] === dst && this.keys[i] === key) {
        s = i;
      }
    }
    const off = v.fragOffset;
    const len = v.payloadLen;
    const end = off + len;
    const last = !v.moreFragments;
    if (end > this.dataLimit) {
      if (s >= 0) this.release(s);
      this.dropTooBig++;
      return -1;
    }
    if (!last && (len === 0 || (len & 7) !== 0)) return this.inconsistent(s);
    if (s < 0) {
      s = this.allocSlot(nowMs);
      this.srcs[s] = src;
      this.dsts[s] = dst;
      this.keys[s] = key;
    } else {
      const known = this.ends[s];
      if (last ? (known >= 0 && known !== end) || end < this.maxEnds[s] : known >= 0 && end > known) {
        return this.inconsistent(s);
      }
    }
    if (last) this.ends[s] = end;
    if (end > this.maxEnds[s]) this.maxEnds[s] = end;

    const buf = this.bufs[s];
    if (off === 0) {
      // The first fragment's fixed header (its options, at 20 …, are left out).
      for (let k = 0; k < IPV4_HEADER_LEN; k++) buf[k] = bytes[ipOff + k];
      this.haveFirst[s] = 1;
    }
    const from = v.payloadOff, to = IPV4_HEADER_LEN + off;
    for (let k = 0; k < len; k++) buf[to + k] = bytes[from + k];

    // Mark units [off / 8, ceil(end / 8)); offsets are multiples of 8, only the last fragment may end mid-unit.
    const bitmap = this.bitmap;
    const base = s * this.words;
    let added = 0;
    for (let u = off >>> 3, stop = (end + 7) >>> 3; u < stop; u++) {
      const w = base + (u >>> 5);
      const bit = 1 << (u & 31);
      const old = bitmap[w];
      if ((old & bit) === 0) {
        bitmap[w] = old | bit;
        added++;
      }
    }
    const covered = this.covered[s] + added;
    this.covered[s] = covered;
    const total = this.ends[s];
    if (total < 0 || covered !== (total + 7) >>> 3 || this.haveFirst[s] === 0) return -1;

    // Complete: finish the header (RFC 791 §3.2 "reassembly": total length, offset and MF zero, checksum).
    buf[0] = 0x45;
    wr16(buf, 2, IPV4_HEADER_LEN + total);
    wr16(buf, 6, rd16(buf, 6) & IPV4_DF);
    ipv4FillChecksum(buf, 0);
    this.reassembled++;
    this.done = s;
    return s;
  }

  /** The buffer of a completed slot: an IPv4 header (20 bytes) at 0, the data after it; `datagramLen` bytes are valid. */
  datagramBytes(slot: number): Uint8Array {
    return this.bufs[slot];
  }

  /** Total length (header + data) of a completed slot's datagram. */
  datagramLen(slot: number): number {
    return IPV4_HEADER_LEN + this.ends[slot];
  }

  /** Frees the datagrams older than `timeoutMs` (and the last completed slot); returns how many timed out. */
  expire(nowMs: number): number {
    if (this.done >= 0) this.release(this.done);
    let n = 0;
    for (let i = 0; i < this.maxDatagrams; i++) {
      if (this.used[i] !== 0 && nowMs - this.born[i] >= this.timeoutMs) {
        this.release(i);
        n++;
      }
    }
    this.dropTimeout += n;
    return n;
  }

  // ---- internals ----

  /** A fresh slot: a free one, else the oldest datagram's (counted in `dropNoSlot`). */
  private allocSlot(nowMs: number): number {
    let s = -1;
    let oldest = -1;
    for (let i = 0; i < this.maxDatagrams; i++) {
      if (this.used[i] === 0) { s = i; break; }
      if (oldest < 0 || this.born[i] < this.born[oldest]) oldest = i;
    }
    if (s < 0) {
      s = oldest;
      this.release(s);
      this.dropNoSlot++;
    }
    this.used[s] = 1;
    this.born[s] = nowMs;
    this.ends[s] = -1;
    this.maxEnds[s] = 0;
    this.covered[s] = 0;
    this.haveFirst[s] = 0;
    this.bitmap.fill(0, s * this.words, (s + 1) * this.words);
    return s;
  }

  private release(s: number): void {
    this.used[s] = 0;
    if (this.done === s) this.done = -1;
  }

  private inconsistent(s: number): number {
    if (s >= 0) this.release(s);
    this.dropInconsistent++;
    return -1;
  }
}
