import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hsiphash4, hsiphash6, randomKey } from '../../src/stack/halfsiphash.js';
import { assertNoAlloc } from '../helpers/no-alloc.js';

/**
 * HalfSipHash-2-4, 32-bit output, from the reference test vectors: vectors_hsip32 in vectors.h of
 * https://github.com/veorq/SipHash (commit 1a7d041abc95055170c996d9af80887d4046aa5a). Entry i is the digest of the
 * i bytes 00 01 … (i − 1) under the key bytes 00 01 … 07; the four digest bytes are listed here as a little-endian
 * uint32 (vectors.h byte order a9 35 9f 5b → 0x5b9f35a9).
 */
const VECTORS_HSIP32 = [
  0x5b9f35a9, 0xb85a4727, 0x03a662fa, 0x04e7fe8a, 0x89466e2a, 0x69b6fac5, 0x23fc6358, 0xc563cf8b,
  0x8f84b8d0, 0x79e706f8, 0x3479b094, 0x50300808, 0x2f87f057, 0xff63e677, 0x7cf8ffd6, 0x972bfe74,
  0x84acb5d9, 0x5b6474c4, 0x9b8d5b46, 0x87e3ef7b, 0x45104de3, 0xb3623f61, 0xfe67f370, 0xbdb8ade6,
  0x630c4027, 0x75787826, 0x5f7b564f, 0x69e6b03a, 0x004064b0, 0xb40f67ff, 0x8b339e50, 0x1a9f585d,
  0x1221e7fe, 0x59327533, 0x8c4f436a, 0x29b728fe, 0xecc65ce7, 0x548d7e69, 0x0f8b6863, 0xb4620b65,
  0x4018bcb6, 0x0545075d, 0x2efd4224, 0x3a86b77b, 0x48d50577, 0xb10852d7, 0xc899d4b6, 0x2e209208,
  0xe32ce169, 0xe580b58d, 0xc6649736, 0x04026e01, 0xd4f3853b, 0xbe66dbfe, 0x3a2a691e, 0xc08489c6,
  0x40b9c5a5, 0x8ce8e99b, 0x4081bc7d, 0xc58e077c, 0x736ce7d4, 0xb9cb8f42, 0x7a9983bd, 0x744aea59,
];
const K0 = 0x03020100; // key bytes 00 … 03, little-endian
const K1 = 0x07060504;

/** A plain byte-oriented HalfSipHash-2-4 (any length, uint32 arithmetic), written from the reference's description. */
function refHalfSipHash(k0: number, k1: number, msg: Uint8Array): number {
  const v = [k0 >>> 0, k1 >>> 0, (0x6c796765 ^ k0) >>> 0, (0x74656462 ^ k1) >>> 0];
  const rotl = (x: number, b: number): number => ((x << b) | (x >>> (32 - b))) >>> 0;
  const round = (): void => {
    v[0] = (v[0]! + v[1]!) >>> 0; v[1] = rotl(v[1]!, 5); v[1] = (v[1] ^ v[0]) >>> 0; v[0] = rotl(v[0], 16);
    v[2] = (v[2]! + v[3]!) >>> 0; v[3] = rotl(v[3]!, 8); v[3] = (v[3] ^ v[2]) >>> 0;
    v[0] = (v[0] + v[3]) >>> 0; v[3] = rotl(v[3], 7); v[3] = (v[3] ^ v[0]) >>> 0;
    v[2] = (v[2] + v[1]) >>> 0; v[1] = rotl(v[1], 13); v[1] = (v[1] ^ v[2]) >>> 0; v[2] = rotl(v[2], 16);
  };
  const absorb = (m: number): void => {
    v[3] = (v[3]! ^ m) >>> 0;
    round(); round();
    v[0] = (v[0]! ^ m) >>> 0;
  };
  const whole = msg.length & ~3;
  for (let i = 0; i < whole; i += 4) absorb((msg[i]! | (msg[i + 1]! << 8) | (msg[i + 2]! << 16) | (msg[i + 3]! << 24)) >>> 0);
  let last = (msg.length << 24) >>> 0;
  for (let j = msg.length - 1; j >= whole; j--) last = (last | (msg[j]! << (8 * (j - whole)))) >>> 0;
  absorb(last);
  v[2] = (v[2]! ^ 0xff) >>> 0;
  round(); round(); round(); round();
  return (v[1]! ^ v[3]!) >>> 0;
}

function leBytes(words: number[]): Uint8Array {
  const b = new Uint8Array(4 * words.length);
  words.forEach((w, i) => { for (let k = 0; k < 4; k++) b[4 * i + k] = w >>> (8 * k); });
  return b;
}

function counting(n: number): number[] {
  return Array.from({ length: n / 4 }, (_, i) => ((4 * i) | ((4 * i + 1) << 8) | ((4 * i + 2) << 16) | ((4 * i + 3) << 24)) >>> 0);
}


describe('HalfSipHash-2-4', () => {
  test('the byte-oriented test reference reproduces all 64 reference vectors', () => {
    for (let n = 0; n < 64; n++) {
      const msg = Uint8Array.from({ length: n }, (_, i) => i);
      assert.equal(refHalfSipHash(K0, K1, msg), VECTORS_HSIP32[n], `vector ${n}`);
    }
  });

  test('hsiphash4 and hsiphash6 match the 16- and 24-byte reference vectors (int32 results)', () => {
    const [a, b, c, d, e, f] = counting(24) as [number, number, number, number, number, number];
    assert.equal(hsiphash4(K0, K1, a, b, c, d), VECTORS_HSIP32[16]! | 0);
    assert.equal(hsiphash6(K0, K1, a, b, c, d, e, f), VECTORS_HSIP32[24]! | 0);
    assert.equal(hsiphash4(K0, K1, a, b, c, d) >>> 0, 0x84acb5d9);
    assert.ok(hsiphash4(K0, K1, a, b, c, d) < 0, 'an int32, not a uint32');
    // Signed and unsigned spellings of the same words and key are the same input.
    assert.equal(hsiphash6(K0 | 0, K1 | 0, a | 0, b | 0, c | 0, d | 0, e | 0, f | 0), hsiphash6(K0, K1, a, b, c, d, e, f));
  });

  test('equals the byte reference on random keys and words (fast-check)', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    const word = fc.oneof(u32, i32);
    fc.assert(fc.property(word, word, fc.array(word, { minLength: 6, maxLength: 6 }), (k0, k1, w) => {
      const [a, b, c, d, e, f] = w as [number, number, number, number, number, number];
      assert.equal(hsiphash4(k0, k1, a, b, c, d), refHalfSipHash(k0, k1, leBytes([a, b, c, d])) | 0);
      assert.equal(hsiphash6(k0, k1, a, b, c, d, e, f), refHalfSipHash(k0, k1, leBytes(w)) | 0);
    }), { numRuns: 2000 });
  });

  test('randomKey: two fresh words', () => {
    const k = randomKey();
    assert.ok(k instanceof Uint32Array && k.length === 2);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(randomKey().join(','));
    assert.equal(seen.size, 8);
  });
  test('hsiphash4 / hsiphash6 allocate nothing (1e6 calls, no GC)', () => {
    assertNoAlloc('HalfSipHash', (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const x = Math.imul(i, 0x9e3779b1);
        acc ^= hsiphash4(K0, 0x87654321 | 0, x, ~x, i, 0x80000000 | 0);
        acc ^= hsiphash6(x, K1, 0xc0a80001 | 0, x, i, acc, 0xffffffff | 0, 7);
      }
      return acc;
    });
  });
});
