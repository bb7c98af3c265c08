/**
 * Big-endian ("network byte order", RFC 1700) field access. Tiny and monomorphic so V8 inlines them into every view.
 *
 * 32-bit fields (IPv4 addresses, sequence and acknowledgment numbers, timestamps, SACK edges) are read as SIGNED
 * int32 throughout wire/: on x64 Node (no pointer compression) every int32 is a V8 small integer, so it crosses a
 * call or lands in a field without being boxed. An unsigned value >= 2^31 passed to a function V8 did not inline
 * becomes a fresh HeapNumber — an allocation per packet (test/unit/wire-alloc.test.ts measured exactly that). Sequence
 * arithmetic stays modulo 2^32 with `(a - b) | 0` (RFC 1982 serial numbers); print with `x >>> 0`.
 * Writes take signed or unsigned values alike.
 */
export function rd16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Signed int32 (see above). */
export function rd32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** A zero-length buffer views point at before their first `wrap`, so their fields have one type from the start. */
export const NO_BYTES = new Uint8Array(0);

/**
 * Copies bytes between two arrays without making a subarray view (which would allocate per segment). The loop is
 * unrolled by 8; V8 compiles it to plain byte moves.
 */
export function copyBytes(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, n: number): void {
  let i = 0;
  const n8 = n & ~7;
  for (; i < n8; i += 8) {
    dst[dOff + i] = src[sOff + i];
    dst[dOff + i + 1] = src[sOff + i + 1];
    dst[dOff + i + 2] = src[sOff + i + 2];
    dst[dOff + i + 3] = src[sOff + i + 3];
    dst[dOff + i + 4] = src[sOff + i + 4];
    dst[dOff + i + 5] = src[sOff + i + 5];
    dst[dOff + i + 6] = src[sOff + i + 6];
    dst[dOff + i + 7] = src[sOff + i + 7];
  }
  for (; i < n; i++) dst[dOff + i] = src[sOff + i];
}
