/**
 * The ixy.ts test frame: a minimum-size (60 bytes + FCS) Ethernet/IPv4/UDP frame whose payload carries what a
 * MoonGen-like sink needs to check a stream. Used by `ixy pktgen` and by the simulated NIC's tester.
 *
 *   0  Ethernet dst, src, type 0x0800
 *  14  IPv4 (20 bytes, header checksum filled in), protocol UDP
 *  34  UDP src port 1024+stream, dst port 5000+stream, length 26, checksum 0 (none, RFC 768)
 *  42  magic 'I' 'X'
 *  44  sequence number, u32 little-endian
 *  48  timestamp: low 32 bits of the sender's clock in ns, u32 little-endian (0 = none)
 *  52  stream id, u16 little-endian
 *  54  zero padding to 60 bytes
 */
export const TEST_FRAME_LEN = 60;
export const OFF_MAGIC = 42;
export const OFF_SEQ = 44;
export const OFF_TS = 48;
export const OFF_STREAM = 52;
export const MAGIC0 = 0x49; // 'I'
export const MAGIC1 = 0x58; // 'X'
export const MAX_STREAMS = 16;

export interface TestFrameOptions {
  src: Uint8Array;
  dst: Uint8Array;
  stream: number;
  srcIp?: number;
  dstIp?: number;
}

/** Builds the template; only sequence number and timestamp change from frame to frame. */
export function buildTestFrame(o: TestFrameOptions): Uint8Array {
  const f = new Uint8Array(TEST_FRAME_LEN);
  f.set(o.dst, 0);
  f.set(o.src, 6);
  f[12] = 0x08; f[13] = 0x00;
  const ip = 14;
  f[ip] = 0x45; // version 4, IHL 5
  const totalLen = TEST_FRAME_LEN - 14;
  f[ip + 2] = totalLen >> 8; f[ip + 3] = totalLen & 0xff;
  f[ip + 8] = 64; // TTL
  f[ip + 9] = 17; // UDP
  writeU32BE(f, ip + 12, o.srcIp ?? 0x0a000001 + o.stream); // 10.0.0.1+stream
  writeU32BE(f, ip + 16, o.dstIp ?? 0x0a000101); // 10.0.1.1
  const csum = ipv4HeaderChecksum(f, ip);
  f[ip + 10] = csum >> 8; f[ip + 11] = csum & 0xff;
  const udp = 34;
  const sport = 1024 + o.stream;
  const dport = 5000 + o.stream;
  f[udp] = sport >> 8; f[udp + 1] = sport & 0xff;
  f[udp + 2] = dport >> 8; f[udp + 3] = dport & 0xff;
  f[udp + 5] = TEST_FRAME_LEN - udp; // UDP length 26
  f[OFF_MAGIC] = MAGIC0; f[OFF_MAGIC + 1] = MAGIC1;
  f[OFF_STREAM] = o.stream & 0xff; f[OFF_STREAM + 1] = o.stream >> 8;
  return f;
}

/** RFC 791 §3.1 / RFC 1071: one's complement of the one's complement sum of the header's 16-bit words. */
export function ipv4HeaderChecksum(b: Uint8Array, off: number): number {
  const ihl = (b[off] & 0x0f) * 4;
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) {
    if (i === 10) continue; // the checksum field itself counts as zero
    sum += (b[off + i] << 8) | b[off + i + 1];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function writeU32BE(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24; b[off + 1] = (v >>> 16) & 0xff; b[off + 2] = (v >>> 8) & 0xff; b[off + 3] = v & 0xff;
}

export function readU32LE(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

export function writeU32LE(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff; b[off + 1] = (v >>> 8) & 0xff; b[off + 2] = (v >>> 16) & 0xff; b[off + 3] = v >>> 24;
}

/** Whether a frame looks like a test frame (length and magic); the stream id is then at OFF_STREAM. */
export function isTestFrame(b: Uint8Array, off: number, len: number): boolean {
  return len >= OFF_STREAM + 2 && b[off + OFF_MAGIC] === MAGIC0 && b[off + OFF_MAGIC + 1] === MAGIC1 &&
    b[off + 12] === 0x08 && b[off + 13] === 0x00;
}
