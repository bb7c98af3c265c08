/**
 * TCP options: EOL, NOP, MSS (RFC 9293 §3.2), window scale and timestamps (RFC 7323 §2, §3), SACK-permitted and
 * SACK blocks (RFC 2018). Parsed into one reusable `TcpOptions` and emitted from it, so the same object serves the
 * stack in both directions.
 */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { WireError } from './error.js';

export const TcpOptionKind = { Eol: 0, Nop: 1, Mss: 2, WindowScale: 3, SackPermitted: 4, Sack: 5, Timestamps: 8 } as const;
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];
/** The options area is at most 40 bytes (data offset 15 words, RFC 9293 §3.1). */
export const TCP_MAX_OPTIONS_LEN = 40;
/** At most 4 SACK blocks fit in 40 bytes (RFC 2018 §3), 3 alongside timestamps. */
export const TCP_MAX_SACK_BLOCKS = 4;
/** RFC 7323 §2.3: a shift above 14 is treated as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;
/** RFC 9293 §3.7.1: the MSS to assume when the peer sends none (IPv4). */
export const TCP_DEFAULT_MSS = 536;

export class TcpOptions {
  hasMss = false;
  mss = 0;
  hasWindowScale = false;
  /** Shift count, already clamped to 14. */
  windowScale = 0;
  sackPermitted = false;
  hasTimestamps = false;
  /** TSval and TSecr, int32. */
  tsVal = 0;
  tsEcr = 0;
  /** Number of valid entries in sackLeft/sackRight (0..4). */
  sackBlocks = 0;
  /** SACK block edges: [left, right) in sequence space, int32 like every 32-bit value in wire/. */
  readonly sackLeft = new Int32Array(TCP_MAX_SACK_BLOCKS);
  readonly sackRight = new Int32Array(TCP_MAX_SACK_BLOCKS);

  clear(): void {
    this.hasMss = false;
    this.mss = 0;
    this.hasWindowScale = false;
    this.windowScale = 0;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackBlocks = 0;
  }
}

/**
 * Parses the options area `b[off, off+len)` into `out` (cleared first). Unknown kinds are skipped by their length
 * (RFC 9293 §3.1, RFC 1122 §4.2.2.5); a missing or illegal length, or a known kind with the wrong length, is
 * `BadOptionLength` (RFC 9293 §3.1: "MUST be prepared to handle an illegal option length"). A later duplicate wins.
 */
export function parseTcpOptions(b: Uint8Array, off: number, len: number, out: TcpOptions): WireError {
  out.clear();
  const end = off + len;
  let i = off;
  while (i < end) {
    const kind = b[i];
    if (kind === TcpOptionKind.Eol) break;
    if (kind === TcpOptionKind.Nop) { i++; continue; }
    if (i + 1 >= end) return WireError.BadOptionLength;
    const olen = b[i + 1];
    if (olen < 2 || olen > end - i) return WireError.BadOptionLength;
    switch (kind) {
      case TcpOptionKind.Mss:
        if (olen !== 4) return WireError.BadOptionLength;
        out.hasMss = true;
        out.mss = rd16(b, i + 2);
        break;
      case TcpOptionKind.WindowScale:
        if (olen !== 3) return WireError.BadOptionLength;
        out.hasWindowScale = true;
        out.windowScale = b[i + 2] > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : b[i + 2];
        break;
      case TcpOptionKind.SackPermitted:
        if (olen !== 2) return WireError.BadOptionLength;
        out.sackPermitted = true;
        break;
      case TcpOptionKind.Sack: {
        // RFC 2018 §3: length 2 + 8n, n >= 1; the 40-byte limit bounds n by 4.
        if (olen < 10 || ((olen - 2) & 7) !== 0) return WireError.BadOptionLength;
        const n = (olen - 2) >> 3;
        for (let k = 0; k < n; k++) {
          out.sackLeft[k] = rd32(b, i + 2 + 8 * k);
          out.sackRight[k] = rd32(b, i + 6 + 8 * k);
        }
        out.sackBlocks = n;
        break;
      }
      case TcpOptionKind.Timestamps:
        if (olen !== 10) return WireError.BadOptionLength;
        out.hasTimestamps = true;
        out.tsVal = rd32(b, i + 2);
        out.tsEcr = rd32(b, i + 6);
        break;
      default:
        break;
    }
    i += olen;
  }
  return WireError.Ok;
}

/**
 * Writes the options `o` asks for at `off`, in the layout Linux uses so middleboxes see nothing unusual, and returns
 * the length (a multiple of 4, at most 40; data offset = 5 + length / 4):
 *   MSS (4) · SACK-permitted + timestamps (12) or NOP NOP timestamps (12) or NOP NOP SACK-permitted (4) ·
 *   NOP window scale (4) · NOP NOP SACK blocks (4 + 8n, as many blocks as fit).
 * Fields left false/0 are omitted; the caller decides what belongs in a SYN (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2).
 */
export function emitTcpOptions(b: Uint8Array, off: number, o: TcpOptions): number {
  let i = off;
  if (o.hasMss) {
    b[i] = TcpOptionKind.Mss; b[i + 1] = 4; wr16(b, i + 2, o.mss);
    i += 4;
  }
  if (o.hasTimestamps) {
    if (o.sackPermitted) { b[i] = TcpOptionKind.SackPermitted; b[i + 1] = 2; } else { b[i] = 1; b[i + 1] = 1; }
    b[i + 2] = TcpOptionKind.Timestamps; b[i + 3] = 10; wr32(b, i + 4, o.tsVal); wr32(b, i + 8, o.tsEcr);
    i += 12;
  } else if (o.sackPermitted) {
    b[i] = 1; b[i + 1] = 1; b[i + 2] = TcpOptionKind.SackPermitted; b[i + 3] = 2;
    i += 4;
  }
  if (o.hasWindowScale) {
    b[i] = 1; b[i + 1] = TcpOptionKind.WindowScale; b[i + 2] = 3; b[i + 3] = o.windowScale;
    i += 4;
  }
  let n = o.sackBlocks;
  const room = (off + TCP_MAX_OPTIONS_LEN - i - 4) >> 3;
  if (n > room) n = room;
  if (n > 0) {
    b[i] = 1; b[i + 1] = 1; b[i + 2] = TcpOptionKind.Sack; b[i + 3] = 2 + 8 * n;
    for (let k = 0; k < n; k++) {
      wr32(b, i + 4 + 8 * k, o.sackLeft[k]);
      wr32(b, i + 8 + 8 * k, o.sackRight[k]);
    }
    i += 4 + 8 * n;
  }
  return i - off;
}
