/** TCP header (RFC 9293 §3.1) over IPv4. Options live in tcp-options.ts. */
import { NO_BYTES, rd16, rd32, wr16, wr32 } from './bytes.js';
import { pseudoSum, sum16 } from './checksum.js';
import { WireError } from './error.js';
import { IpProtocol } from './ipv4.js';
import { parseTcpOptions, TcpOptions } from './tcp-options.js';

/**
 * Source port @0, destination port @2, sequence number @4, acknowledgment number @8, data offset (4 bits) and
 * reserved @12, flags @13, window @14, checksum @16, urgent pointer @18, options @20, data @ data offset × 4.
 */
export const TCP_HEADER_LEN = 20;
/** The control bits in byte 13 (RFC 9293 §3.1; CWR/ECE from RFC 3168). */
export const TcpFlag = { Fin: 0x01, Syn: 0x02, Rst: 0x04, Psh: 0x08, Ack: 0x10, Urg: 0x20, Ece: 0x40, Cwr: 0x80 } as const;
export type TcpFlag = (typeof TcpFlag)[keyof typeof TcpFlag];

/**
 * View over a TCP segment. `wrap` validates the data offset, the checksum and the options (into `options`, one
 * object reused for every segment). seq and ack are int32 (bytes.ts explains).
 */
export class TcpView {
  bytes: Uint8Array = NO_BYTES;
  off = 0;
  headerLen = 0;
  payloadOff = 0;
  payloadLen = 0;
  verifyChecksum = true;
  readonly options = new TcpOptions();

  /** `len`: the IPv4 payload length (the TCP segment length); `addrSum`: `Ipv4View.addrSum` for the pseudo-header. */
  wrap(bytes: Uint8Array, off: number, len: number, addrSum: number): WireError {
    this.bytes = bytes;
    this.off = off;
    this.headerLen = 0;
    this.payloadOff = off;
    this.payloadLen = 0;
    if (len < TCP_HEADER_LEN) return WireError.TooShort;
    const hlen = (bytes[off + 12] >> 4) << 2;
    if (hlen < TCP_HEADER_LEN || hlen > len) return WireError.BadDataOffset;
    // RFC 9293 §3.1 "Checksum" / §3.10.7.4: a segment that fails the checksum is dropped.
    if (this.verifyChecksum && sum16(bytes, off, len, pseudoSum(addrSum, IpProtocol.Tcp, len)) !== 0xffff) {
      return WireError.BadChecksum;
    }
    const err = parseTcpOptions(bytes, off + TCP_HEADER_LEN, hlen - TCP_HEADER_LEN, this.options);
    if (err !== WireError.Ok) return err;
    this.headerLen = hlen;
    this.payloadOff = off + hlen;
    this.payloadLen = len - hlen;
    return WireError.Ok;
  }

  get srcPort(): number { return rd16(this.bytes, this.off); }
  get dstPort(): number { return rd16(this.bytes, this.off + 2); }
  get seq(): number { return rd32(this.bytes, this.off + 4); }
  get ack(): number { return rd32(this.bytes, this.off + 8); }
  /** The control bits, `TcpFlag` values or'ed. */
  get flags(): number { return this.bytes[this.off + 13]; }
  get window(): number { return rd16(this.bytes, this.off + 14); }
  get checksum(): number { return rd16(this.bytes, this.off + 16); }
  get urgent(): number { return rd16(this.bytes, this.off + 18); }
  /** Sequence space the segment occupies: data plus one each for SYN and FIN (RFC 9293 §3.4). */
  get segLen(): number {
    const f = this.bytes[this.off + 13];
    return this.payloadLen + (f & TcpFlag.Syn ? 1 : 0) + (f & TcpFlag.Fin ? 1 : 0);
  }
}

/**
 * Writes a TCP header at `off` whose `optionsLen` option bytes (from `emitTcpOptions`, a multiple of 4) are already
 * at `off + 20` and whose `payloadLen` data bytes follow them; fills the checksum over pseudo-header, header and
 * data. Urgent pointer 0. `seq`/`ack` may be signed or unsigned; pass int32 from hot code. Returns the header length (20 + optionsLen).
 */
export function emitTcp(
  b: Uint8Array, off: number, srcPort: number, dstPort: number, seq: number, ack: number, flags: number,
  window: number, optionsLen: number, payloadLen: number, addrSum: number,
): number {
  const hlen = TCP_HEADER_LEN + optionsLen;
  wr16(b, off, srcPort);
  wr16(b, off + 2, dstPort);
  wr32(b, off + 4, seq);
  wr32(b, off + 8, ack);
  b[off + 12] = (hlen >> 2) << 4;
  b[off + 13] = flags;
  wr16(b, off + 14, window);
  wr16(b, off + 16, 0);
  wr16(b, off + 18, 0);
  const segLen = hlen + payloadLen;
  wr16(b, off + 16, ~sum16(b, off, segLen, pseudoSum(addrSum, IpProtocol.Tcp, segLen)) & 0xffff);
  return hlen;
}
