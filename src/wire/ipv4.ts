/** IPv4 header (RFC 791 §3.1). Options are skipped, not interpreted. */
import { NO_BYTES, rd16, rd32, wr16, wr32 } from './bytes.js';
import { checksum, csumUpdate16, fold, sum16 } from './checksum.js';
import { WireError } from './error.js';

export const IPV4_HEADER_LEN = 20;
export const IpProtocol = { Icmp: 1, Tcp: 6, Udp: 17 } as const;
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];
/** Flags/fragment-offset word (@6): don't fragment, more fragments, offset in 8-byte units (RFC 791 §3.1). */
export const IPV4_DF = 0x4000;
export const IPV4_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;
/** RFC 1122 §3.2.1.7 recommends 64 for the default TTL. */
export const IPV4_DEFAULT_TTL = 64;

/**
 * View over an IPv4 header. `wrap` validates in RFC 791 §3.1 order and sets `headerLen`, `payloadOff`,
 * `payloadLen` (from the total length, so Ethernet padding is excluded). Addresses are int32 (bytes.ts explains).
 */
export class Ipv4View {
  bytes: Uint8Array = NO_BYTES;
  off = 0;
  headerLen = 0;
  payloadOff = 0;
  payloadLen = 0;
  /** Set false when the device verified the header checksum already (offload). */
  verifyChecksum = true;

  /**
   * `len`: bytes available from `off` (the Ethernet payload). Returns `Fragment` for a valid fragment (view usable,
   * RFC 791 §2.3: MF set or offset non-zero); every other non-Ok result means drop.
   */
  wrap(bytes: Uint8Array, off: number, len: number): WireError {
    this.bytes = bytes;
    this.off = off;
    this.headerLen = 0;
    this.payloadOff = off;
    this.payloadLen = 0;
    if (len < IPV4_HEADER_LEN) return WireError.TooShort;
    const vihl = bytes[off];
    if (vihl >> 4 !== 4) return WireError.BadVersion;
    const hlen = (vihl & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LEN || hlen > len) return WireError.BadIhl;
    const total = rd16(bytes, off + 2);
    if (total < hlen || total > len) return WireError.BadTotalLength;
    // RFC 1122 §3.2.1.2: silently discard a datagram whose header checksum fails.
    if (this.verifyChecksum && sum16(bytes, off, hlen, 0) !== 0xffff) return WireError.BadChecksum;
    this.headerLen = hlen;
    this.payloadOff = off + hlen;
    this.payloadLen = total - hlen;
    return (rd16(bytes, off + 6) & (IPV4_MF | FRAG_OFFSET_MASK)) !== 0 ? WireError.Fragment : WireError.Ok;
  }

  get version(): number { return this.bytes[this.off] >> 4; }
  get tos(): number { return this.bytes[this.off + 1]; }
  get totalLen(): number { return rd16(this.bytes, this.off + 2); }
  get ident(): number { return rd16(this.bytes, this.off + 4); }
  get dontFragment(): boolean { return (this.bytes[this.off + 6] & 0x40) !== 0; }
  get moreFragments(): boolean { return (this.bytes[this.off + 6] & 0x20) !== 0; }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragOffset(): number { return (rd16(this.bytes, this.off + 6) & FRAG_OFFSET_MASK) << 3; }
  get ttl(): number { return this.bytes[this.off + 8]; }
  get protocol(): number { return this.bytes[this.off + 9]; }
  get checksum(): number { return rd16(this.bytes, this.off + 10); }
  get src(): number { return rd32(this.bytes, this.off + 12); }
  get dst(): number { return rd32(this.bytes, this.off + 16); }
  /** Partial sum of src and dst: what UDP/TCP views take for the pseudo-header (equals `pseudoAddrSum(src, dst)`). */
  get addrSum(): number { return ipv4AddrSum(this.bytes, this.off); }

  /** Sets the TTL and patches the checksum incrementally (RFC 1624 eqn. 3; TTL shares a word with protocol). */
  setTtl(ttl: number): void {
    const b = this.bytes, o = this.off;
    const old = rd16(b, o + 8);
    b[o + 8] = ttl;
    wr16(b, o + 10, csumUpdate16(rd16(b, o + 10), old, rd16(b, o + 8)));
  }

  /** Swaps source and destination for a reply; the checksum stays valid (the one's complement sum commutes). */
  swapAddresses(): void {
    const b = this.bytes, o = this.off;
    const s = rd32(b, o + 12);
    wr32(b, o + 12, rd32(b, o + 16));
    wr32(b, o + 16, s);
  }
}

/** Partial sum of the addresses of the IPv4 header at `off` (see `pseudoAddrSum`). */
export function ipv4AddrSum(b: Uint8Array, off: number): number {
  return fold(rd16(b, off + 12) + rd16(b, off + 14) + rd16(b, off + 16) + rd16(b, off + 18));
}

/**
 * Writes a 20-byte IPv4 header without options, checksum filled in; returns 20. `payloadLen` bytes follow it.
 * Addresses may be signed or unsigned; pass int32 (`x | 0`) from hot code (bytes.ts).
 */
export function emitIpv4(
  b: Uint8Array, off: number, src: number, dst: number, protocol: number, payloadLen: number,
  ident: number, ttl: number, dontFragment: boolean,
): number {
  b[off] = 0x45; // version 4, IHL 5
  b[off + 1] = 0; // DSCP 0 (RFC 2474), not ECN-capable (RFC 3168)
  wr16(b, off + 2, IPV4_HEADER_LEN + payloadLen);
  wr16(b, off + 4, ident);
  wr16(b, off + 6, dontFragment ? IPV4_DF : 0);
  b[off + 8] = ttl;
  b[off + 9] = protocol;
  wr16(b, off + 10, 0);
  wr32(b, off + 12, src);
  wr32(b, off + 16, dst);
  wr16(b, off + 10, checksum(b, off, IPV4_HEADER_LEN));
  return IPV4_HEADER_LEN;
}

/** Recomputes the header checksum of the IPv4 header at `off` (after changing fields in place). */
export function ipv4FillChecksum(b: Uint8Array, off: number): void {
  wr16(b, off + 10, 0);
  wr16(b, off + 10, checksum(b, off, (b[off] & 0x0f) << 2));
}
