/** UDP (RFC 768) over IPv4. */
import { NO_BYTES, rd16, wr16 } from './bytes.js';
import { pseudoSum, sum16 } from './checksum.js';
import { WireError } from './error.js';
import { IpProtocol } from './ipv4.js';

/** Source port @0, destination port @2, length @4 (header + data), checksum @6, data @8. */
export const UDP_HEADER_LEN = 8;

export class UdpView {
  bytes: Uint8Array = NO_BYTES;
  off = 0;
  payloadOff = 0;
  payloadLen = 0;
  verifyChecksum = true;

  /**
   * `len`: the IPv4 payload length; `addrSum`: the pseudo-header's address sum (`Ipv4View.addrSum`). Bytes past the
   * UDP length field are ignored. A zero checksum field means the sender computed none (RFC 768 "Fields").
   */
  wrap(bytes: Uint8Array, off: number, len: number, addrSum: number): WireError {
    this.bytes = bytes;
    this.off = off;
    this.payloadOff = off + UDP_HEADER_LEN;
    this.payloadLen = 0;
    if (len < UDP_HEADER_LEN) return WireError.TooShort;
    const ulen = rd16(bytes, off + 4);
    if (ulen < UDP_HEADER_LEN || ulen > len) return WireError.BadLength;
    if (this.verifyChecksum && rd16(bytes, off + 6) !== 0 &&
      sum16(bytes, off, ulen, pseudoSum(addrSum, IpProtocol.Udp, ulen)) !== 0xffff) return WireError.BadChecksum;
    this.payloadLen = ulen - UDP_HEADER_LEN;
    return WireError.Ok;
  }

  get srcPort(): number { return rd16(this.bytes, this.off); }
  get dstPort(): number { return rd16(this.bytes, this.off + 2); }
  get length(): number { return rd16(this.bytes, this.off + 4); }
  get checksum(): number { return rd16(this.bytes, this.off + 6); }
}

/**
 * Writes a UDP header whose `payloadLen` data bytes are already in place at `off + 8`, with the checksum over
 * pseudo-header, header and data; returns 8. A computed 0 is sent as 0xffff (RFC 768: zero means "none").
 */
export function emitUdp(b: Uint8Array, off: number, srcPort: number, dstPort: number, payloadLen: number, addrSum: number): number {
  const ulen = UDP_HEADER_LEN + payloadLen;
  wr16(b, off, srcPort);
  wr16(b, off + 2, dstPort);
  wr16(b, off + 4, ulen);
  wr16(b, off + 6, 0);
  const c = ~sum16(b, off, ulen, pseudoSum(addrSum, IpProtocol.Udp, ulen)) & 0xffff;
  wr16(b, off + 6, c === 0 ? 0xffff : c);
  return UDP_HEADER_LEN;
}
