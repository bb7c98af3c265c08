/**
 * The Toeplitz hash of receive-side scaling (Microsoft, "RSS Hashing Functions"; Intel 82599 datasheet §7.1.2.8):
 * for each bit of the input, most significant bit of the first byte first, XOR the result with the 32 key bits that
 * start at that bit's position in the 40-byte key. The dataplane computes it to predict which queue the NIC put (or
 * will put) a flow on, and to spread flows itself on devices without RSS.
 *
 * Input, in packet order (all big-endian): source IPv4 address, destination address, then for TCP/UDP the source
 * and destination ports. Addresses may be passed signed (int32, as wire/ reads them) or unsigned.
 *
 * The hash is linear over GF(2), so it is the XOR of one contribution per input byte: the constructor tabulates
 * those, 12 byte positions × 256 values (an Int32Array of 12 KiB), and a hash is 8 or 12 table reads.
 *
 * `hashIpv4` and `hashIpv4Tcp` return **uint32, as non-negative numbers** (the value the NIC writes into the receive
 * descriptor and Microsoft's table lists). Such a number ≥ 2^31 is not a V8 small integer: returned from a call that
 * V8 does not inline it becomes a fresh heap number (measured with --no-turbo-inlining: 1e6 `hashIpv4Tcp` calls cost
 * 8–16 scavenges, the int32 variants none; see src/wire/bytes.ts). Hot paths therefore use `hashIpv4I32` /
 * `hashIpv4TcpI32`: the same 32 bits as an int32 (`h >>> 0` converts). `rssQueue` takes either. Nothing else
 * allocates per call.
 */

/**
 * The 40-byte key of Microsoft's verification suite ("Verifying the RSS Hash Calculation"); the 82599 datasheet's RSS
 * verification suite (§7.1.2.8.3) uses it too, and DPDK's ixgbe driver takes it as its default key.
 */
export const DEFAULT_RSS_KEY: Uint8Array = new Uint8Array([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
  0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
  0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
]);

const POSITIONS = 12; // IPv4 + ports: 4 + 4 + 2 + 2 bytes

export class Toeplitz {
  /** [p × 256 + v]: the hash contribution of byte value v at input byte position p. */
  private readonly lut = new Int32Array(POSITIONS * 256);

  /** `key`: the RSS key, at least 40 bytes (only the first 12 + 4 bytes matter for IPv4 inputs). */
  constructor(key: Uint8Array = DEFAULT_RSS_KEY) {
    if (key.length < 40) throw new RangeError(`Toeplitz: key has ${key.length} bytes, needs 40`);
    const keyBit = (i: number): number => (key[i >>> 3]! >>> (7 - (i & 7))) & 1;
    for (let p = 0; p < POSITIONS; p++) {
      const base = p * 256;
      for (let v = 1; v < 256; v++) {
        const low = 31 - Math.clz32(v & -v); // the lowest set bit of v is input bit 8p + (7 − low)
        const start = 8 * p + 7 - low;
        let window = 0; // key bits start … start + 31
        for (let k = 0; k < 32; k++) window = (window << 1) | keyBit(start + k);
        this.lut[base + v] = this.lut[base + (v & (v - 1))]! ^ window;
      }
    }
  }

  /** RSS hash of an IPv4 packet without ports ("IPv4 only"): uint32. */
  hashIpv4(srcIp: number, dstIp: number): number {
    return this.hashIpv4I32(srcIp, dstIp) >>> 0;
  }

  /** RSS hash of an IPv4 TCP (or UDP) packet ("IPv4 with TCP"): uint32. */
  hashIpv4Tcp(srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    return this.hashIpv4TcpI32(srcIp, dstIp, srcPort, dstPort) >>> 0;
  }

  /** `hashIpv4` as an int32 (same bits), for hot paths: see the header. */
  hashIpv4I32(srcIp: number, dstIp: number): number {
    const t = this.lut;
    return t[srcIp >>> 24]! ^ t[256 + ((srcIp >>> 16) & 0xff)]! ^ t[512 + ((srcIp >>> 8) & 0xff)]! ^
      t[768 + (srcIp & 0xff)]! ^ t[1024 + (dstIp >>> 24)]! ^ t[1280 + ((dstIp >>> 16) & 0xff)]! ^
      t[1536 + ((dstIp >>> 8) & 0xff)]! ^ t[1792 + (dstIp & 0xff)]!;
  }

  /** `hashIpv4Tcp` as an int32 (same bits), for hot paths: see the header. */
  hashIpv4TcpI32(srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    const t = this.lut;
    return this.hashIpv4I32(srcIp, dstIp) ^ t[2048 + ((srcPort >>> 8) & 0xff)]! ^ t[2304 + (srcPort & 0xff)]! ^
      t[2560 + ((dstPort >>> 8) & 0xff)]! ^ t[2816 + (dstPort & 0xff)]!;
  }
}

/**
 * The queue RSS picks for `hash`: `reta[hash mod reta.length]`, reta.length a power of two. The 82599's redirection
 * table has 128 entries indexed by the hash's low 7 bits (datasheet §7.1.2.8).
 */
export function rssQueue(hash: number, reta: Uint8Array): number {
  return reta[hash & (reta.length - 1)]!;
}

/** A redirection table of `size` (a power of two; 128 for the 82599) entries spreading `queues` queues round-robin. */
export function makeReta(queues: number, size = 128): Uint8Array {
  if (!Number.isInteger(queues) || queues < 1 || queues > 256) throw new RangeError(`makeReta: ${queues} queues`);
  if (!Number.isInteger(size) || size < 1 || (size & (size - 1)) !== 0) throw new RangeError(`makeReta: size ${size}`);
  const reta = new Uint8Array(size);
  for (let i = 0; i < size; i++) reta[i] = i % queues;
  return reta;
}
