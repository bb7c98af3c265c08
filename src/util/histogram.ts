/**
 * A log-linear histogram of non-negative integers (HDR-style, 32 sub-buckets per power of two: <= 3.1% error),
 * stored in a Uint32Array so it can live in shared memory: one thread records, another reads percentiles live.
 * Values 0..63 are exact. Recording allocates nothing.
 */
export const HISTOGRAM_BUCKETS = 27 * 32 + 64;

export function bucketOf(v: number): number {
  if (v < 64) return v < 0 ? 0 : v;
  const msb = 31 - Math.clz32(v);
  const e = msb - 5;
  return e * 32 + (v >>> e);
}

/** Smallest value that falls in bucket i, and the width of the bucket. */
export function bucketLow(i: number): number {
  if (i < 64) return i;
  const e = (i >>> 5) - 1;
  return ((i & 31) | 32) * 2 ** e;
}

export function bucketWidth(i: number): number {
  return i < 64 ? 1 : 2 ** ((i >>> 5) - 1);
}

export function record(h: Uint32Array, v: number): void {
  h[bucketOf(v <= 0 ? 0 : v > 0xffffffff ? 0xffffffff : v >>> 0)]++;
}

export function total(h: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) n += h[i];
  return n;
}

/** Value at percentile p (0..100): the midpoint of the bucket holding that rank; NaN when empty. */
export function percentile(h: Uint32Array, p: number): number {
  const n = total(h);
  if (n === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
    seen += h[i];
    if (seen >= rank) return bucketLow(i) + (bucketWidth(i) - 1) / 2;
  }
  return NaN;
}

export function maxValue(h: Uint32Array): number {
  for (let i = HISTOGRAM_BUCKETS - 1; i >= 0; i--) if (h[i] !== 0) return bucketLow(i) + bucketWidth(i) - 1;
  return NaN;
}
