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
