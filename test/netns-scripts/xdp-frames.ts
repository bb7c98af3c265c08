/**
 * Test frames for the AF_XDP tests, shared by the scripts that run inside namespaces and by the test that checks
 * what they saw. Ethertype 0x88b5 (IEEE 802 local experimental): the Linux stack ignores these frames, and both
 * sides can tell them from the IPv6 chatter of a fresh link. No side effects on import.
 */
import { createHash } from 'node:crypto';

export const TEST_ETHERTYPE = 0x88b5;

/** Length of frame i: minimum, maximum (MTU 1500) and sizes in between. */
export function frameLength(i: number): number {
  switch (i % 3) {
    case 0: return 60;
    case 1: return 1514;
    default: return 64 + ((i * 37) % 1400);
  }
}

/** Frame i of stream `seed` from `src` to `dst`: header, seed and index (u32 LE), then pseudo-random bytes. */
export function testFrame(seed: number, i: number, dst: Uint8Array, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(frameLength(i));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = TEST_ETHERTYPE >> 8;
  f[13] = TEST_ETHERTYPE & 0xff;
  const dv = new DataView(f.buffer);
  dv.setUint32(14, seed >>> 0, true);
  dv.setUint32(18, i >>> 0, true);
  let s = (seed * 65537 + i * 7919) >>> 0; // mulberry32
  for (let k = 22; k < f.length; k++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    f[k] = (t ^ (t >>> 14)) & 0xff;
  }
  return f;
}

export function isTestFrame(b: Uint8Array, off: number, len: number): boolean {
  return len >= 22 && b[off + 12] === TEST_ETHERTYPE >> 8 && b[off + 13] === (TEST_ETHERTYPE & 0xff);
}

export function frameHash(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex').slice(0, 16);
}

/** The hashes a receiver must see for frames 0..count-1 of `seed`. */
export function expectedHashes(seed: number, count: number, dst: Uint8Array, src: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(frameHash(testFrame(seed, i, dst, src)));
  return out;
}

export function parseMac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':'), (p) => parseInt(p, 16));
}

/** Sleeps the thread (the scripts are synchronous loops). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
