/** ARP for IPv4 over Ethernet (RFC 826; Ethernet hardware type 1, IPv4 protocol type 0x0800). */
import { NO_BYTES, rd16, rd32, wr16, wr32 } from './bytes.js';
import { copyMac } from './ethernet.js';
import { WireError } from './error.js';

/** Ethernet/IPv4 ARP packet: htype @0, ptype @2, hlen @4, plen @5, op @6, sha @8, spa @14, tha @18, tpa @24. */
export const ARP_LEN = 28;
export const ArpOp = { Request: 1, Reply: 2 } as const;
export type ArpOp = (typeof ArpOp)[keyof typeof ArpOp];
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export class ArpView {
  bytes: Uint8Array = NO_BYTES;
  off = 0;

  /** `len`: bytes from `off` to the end of the frame (Ethernet padding after the 28 bytes is ignored). */
  wrap(bytes: Uint8Array, off: number, len: number): WireError {
    this.bytes = bytes;
    this.off = off;
    if (len < ARP_LEN) return WireError.TooShort;
    // RFC 826 "Packet Reception": only answer for a hardware/protocol pair we speak.
    if (rd16(bytes, off) !== HTYPE_ETHERNET || rd16(bytes, off + 2) !== PTYPE_IPV4 ||
      bytes[off + 4] !== 6 || bytes[off + 5] !== 4) return WireError.Unsupported;
    const op = rd16(bytes, off + 6);
    return op === ArpOp.Request || op === ArpOp.Reply ? WireError.Ok : WireError.Unsupported;
  }

  get op(): number { return rd16(this.bytes, this.off + 6); }
  /** Offset of the sender hardware address in `bytes`. */
  get senderMacOff(): number { return this.off + 8; }
  get senderIp(): number { return rd32(this.bytes, this.off + 14); }
  /** Offset of the target hardware address in `bytes`. */
  get targetMacOff(): number { return this.off + 18; }
  get targetIp(): number { return rd32(this.bytes, this.off + 24); }

  /**
   * Turns the request in view into our reply, in place (RFC 826 "Packet Reception": swap sender and target, put
   * our addresses in the sender fields, opcode reply). The requester's MAC is then at `targetMacOff`, ready for
   * the Ethernet header.
   */
  toReply(myMac: Uint8Array, myMacOff: number, myIp: number): void {
    const b = this.bytes, o = this.off;
    copyMac(b, o + 18, b, o + 8);
    b[o + 24] = b[o + 14]; b[o + 25] = b[o + 15]; b[o + 26] = b[o + 16]; b[o + 27] = b[o + 17];
    copyMac(b, o + 8, myMac, myMacOff);
    wr32(b, o + 14, myIp);
    wr16(b, o + 6, ArpOp.Reply);
  }
}

/** Writes an Ethernet/IPv4 ARP packet; returns its length (28). For a request, pass ZERO_MAC as `tha`. */
export function emitArp(
  b: Uint8Array, off: number, op: number,
  sha: Uint8Array, shaOff: number, spa: number, tha: Uint8Array, thaOff: number, tpa: number,
): number {
  wr16(b, off, HTYPE_ETHERNET);
  wr16(b, off + 2, PTYPE_IPV4);
  b[off + 4] = 6;
  b[off + 5] = 4;
  wr16(b, off + 6, op);
  copyMac(b, off + 8, sha, shaOff);
  wr32(b, off + 14, spa);
  copyMac(b, off + 18, tha, thaOff);
  wr32(b, off + 24, tpa);
  return ARP_LEN;
}
