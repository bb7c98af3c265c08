/**
 * A small deterministic PRNG for the impair device: xoshiro128** (Blackman & Vigna, 2018), seeded through a
 * splitmix-style mixer so nearby seeds and stream numbers give unrelated sequences. 32-bit integer math only
 * (Math.imul, shifts); the state sits in a Uint32Array, so drawing a number allocates nothing.
 */

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const GOLDEN = 0x9e3779b9; // 2^32 / φ: the Weyl increment of splitmix

export class Prng {
  private readonly s = new Uint32Array(4);

  /** Stream `stream` of `seed`: different streams of one seed are independent sequences. */
  constructor(seed: number, stream = 0) {
    let x = (mix32(seed >>> 0) ^ mix32(Math.imul(stream + 1, GOLDEN))) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + GOLDEN) >>> 0;
      this.s[i] = mix32(x);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // the one state xoshiro never leaves
  }

  /** The next value, a uniform integer in 0..2^32-1. */
  next(): number {
    return this.step() >>> 0;
  }

  /**
   * Whether an event of probability threshold/2^32 happens (see thresholdOf). The hot path uses this and below():
   * a uint32 above 2^31-1 returned from a call V8 did not inline would be boxed in a new HeapNumber.
   */
  chance(threshold: number): boolean {
    return this.step() >>> 0 < threshold;
  }

  /** A uniform integer in 0..n-1 (n ≤ 2^21, so the product stays exact in a double). */
  below(n: number): number {
    return Math.floor(((this.step() >>> 0) * n) / 4294967296);
  }

  /** One xoshiro128** step; the result as an int32. */
  private step(): number {
    const s = this.s;
    const s1 = s[1];
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s[2] ^= s[0];
    s[3] ^= s1;
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The threshold `next()` must fall below for an event of probability pct/100 (100 % → always, 0 % → never). */
export function thresholdOf(pct: number): number {
  return Math.round((pct / 100) * 4294967296);
}
