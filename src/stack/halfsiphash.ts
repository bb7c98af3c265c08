/**
 * HalfSipHash-2-4 with 32-bit output (Aumasson's 32-bit-word variant of SipHash; reference code and test vectors in
 * github.com/veorq/SipHash, halfsiphash.c and vectors.h; Linux has it as `hsiphash`, include/linux/siphash.h). The
 * stack uses it where an attacker must not be able to predict or steer a 32-bit value: flow-table slots (hash
 * flooding) and SYN-cookie MACs. It needs only 32-bit arithmetic, which V8 does natively (SipHash's 64-bit lanes would
 * need pairs of words).
 *
 * The message is a fixed number of 32-bit words (4 or 6), with the reference's little-endian semantics: hashing the
 * words a, b, c, d equals the reference hashing the 16 bytes LE(a) LE(b) LE(c) LE(d) with the key bytes LE(k0) LE(k1).
 * Words may be passed signed (int32, as wire/ reads addresses and sequence numbers, see src/wire/bytes.ts) or unsigned.
 *
 * **The result is an int32** (the uint32 digest reinterpreted as signed; `h >>> 0` gives the reference's value): like
 * the rest of the stack's 32-bit quantities it then stays a V8 small integer across calls instead of becoming a heap
 * number. Nothing allocates per call: the rounds work on locals and a module-level scratch `Int32Array`.
 */
import { getRandomValues } from 'node:crypto';

const W = new Int32Array(6); // message words of the call in progress (single-threaded per isolate)

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** HalfSipHash-2-4 of the first `n` words of W; two compression rounds per word, four finalization rounds. */
function hsip(k0: number, k1: number, n: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (k0 ^ 0x6c796765) | 0;
  let v3 = (k1 ^ 0x74656462) | 0;
  // Blocks 0 … n-1 are the words, block n is the length block (byte count << 24: no tail bytes), block n + 1 the
  // finalization (v2 ^= 0xff, four rounds).
  for (let i = 0; i <= n + 1; i++) {
    const fin = i > n;
    const m = i < n ? W[i]! : fin ? 0 : n << 26;
    v3 ^= m;
    if (fin) v2 ^= 0xff;
    for (let r = fin ? 4 : 2; r > 0; r--) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5) ^ v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8) ^ v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7) ^ v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13) ^ v2; v2 = rotl(v2, 16);
    }
    v0 ^= m;
  }
  return v1 ^ v3;
}

/** HalfSipHash-2-4 (key k0, k1) of the four words a, b, c, d. Returns the digest as an int32. */
export function hsiphash4(k0: number, k1: number, a: number, b: number, c: number, d: number): number {
  W[0] = a; W[1] = b; W[2] = c; W[3] = d;
  return hsip(k0, k1, 4);
}

/** HalfSipHash-2-4 (key k0, k1) of the six words a … f. Returns the digest as an int32. */
export function hsiphash6(
  k0: number, k1: number, a: number, b: number, c: number, d: number, e: number, f: number,
): number {
  W[0] = a; W[1] = b; W[2] = c; W[3] = d; W[4] = e; W[5] = f;
  return hsip(k0, k1, 6);
}

/** A fresh random 64-bit key as two words [k0, k1] (from the OS CSPRNG; call at construction time, not per packet). */
export function randomKey(): Uint32Array {
  return getRandomValues(new Uint32Array(2));
}
