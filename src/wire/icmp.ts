/** ICMP for IPv4 (RFC 792), with echo request/reply as RFC 1122 §3.2.2.6 requires of every host. */
import { NO_BYTES, rd16, rd32, wr16, wr32 } from './bytes.js';
import { checksum, csumUpdate16, sum16 } from './checksum.js';
import { WireError } from './error.js';

/** Type @0, code @1, checksum @2, rest of header @4 (echo: identifier @4, sequence number @6), data @8. */
export const ICMP_HEADER_LEN = 8;
export const IcmpType = { EchoReply: 0, DestUnreachable: 3, Echo: 8, TimeExceeded: 11 } as const;
export type IcmpType = (typeof IcmpType)[keyof typeof IcmpType];
/** Destination-unreachable codes (RFC 792; 4 with the next-hop MTU per RFC 1191). */
export const IcmpUnreachCode = { Net: 0, Host: 1, Protocol: 2, Port: 3, FragNeeded: 4 } as const;

export class IcmpView {
  bytes: Uint8Array = NO_BYTES;
  off = 0;
  len = 0;
  verifyChecksum = true;

  /** `len`: the ICMP message length (the IPv4 payload length). The checksum covers the whole message (RFC 792). */
  wrap(bytes: Uint8Array, off: number, len: number): WireError {
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    if (len < ICMP_HEADER_LEN) return WireError.TooShort;
    if (this.verifyChecksum && sum16(bytes, off, len, 0) !== 0xffff) return WireError.BadChecksum;
    return WireError.Ok;
  }

  get type(): number { return this.bytes[this.off]; }
  get code(): number { return this.bytes[this.off + 1]; }
  get checksum(): number { return rd16(this.bytes, this.off + 2); }
  /** The 4 bytes after the checksum, as one int32. */
  get restOfHeader(): number { return rd32(this.bytes, this.off + 4); }
  get ident(): number { return rd16(this.bytes, this.off + 4); }
  get seq(): number { return rd16(this.bytes, this.off + 6); }
  get dataOff(): number { return this.off + ICMP_HEADER_LEN; }
  get dataLen(): number { return this.len - ICMP_HEADER_LEN; }

  /**
   * Turns an echo request into its reply in place: type 0, identifier, sequence number and data unchanged
   * (RFC 792 "Echo or Echo Reply Message"); the checksum is patched incrementally (RFC 1624), not recomputed.
   */
  echoToReply(): void {
    const b = this.bytes, o = this.off;
    const old = rd16(b, o);
    b[o] = IcmpType.EchoReply;
    b[o + 1] = 0;
    wr16(b, o + 2, csumUpdate16(rd16(b, o + 2), old, IcmpType.EchoReply << 8));
  }
}

/**
 * Writes an ICMP header whose `dataLen` data bytes are already in place at `off + 8`, checksum over header and data;
 * returns 8. For an error message the data is the offending IP header plus its first 8 payload bytes (RFC 792).
 */
export function emitIcmp(b: Uint8Array, off: number, type: number, code: number, restOfHeader: number, dataLen: number): number {
  b[off] = type;
  b[off + 1] = code;
  wr16(b, off + 2, 0);
  wr32(b, off + 4, restOfHeader);
  wr16(b, off + 2, checksum(b, off, ICMP_HEADER_LEN + dataLen));
  return ICMP_HEADER_LEN;
}

/** An echo request (type 8) or reply (type 0) with data already at `off + 8`. */
export function emitIcmpEcho(b: Uint8Array, off: number, type: number, ident: number, seq: number, dataLen: number): number {
  return emitIcmp(b, off, type, 0, ((ident & 0xffff) << 16) | (seq & 0xffff), dataLen);
}
