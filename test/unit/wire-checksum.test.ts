import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checksum, csumUpdate16, csumUpdate32, emitIpv4, fold, Ipv4View, pseudoAddrSum, pseudoSum, rd16, rd32, sum16, WireError, wr16,
  wr32,
} from '../../src/wire/index.js';

/**
 * The reference: RFC 1071 read literally — 16-bit big-endian words, an odd last byte padded with zero on the right,
 * summed as an ordinary integer; the one's complement sum is that integer modulo 0xffff with 0 kept as 0 only for
 * an all-zero input (end-around carry never produces 0 from a non-zero sum).
 */
function refSum(b: Uint8Array, off: number, len: number): number {
  let total = 0;
  for (let i = 0; i < len; i += 2) total += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  if (total === 0) return 0;
  const r = total % 0xffff;
  return r === 0 ? 0xffff : r;
}

describe('wire: Internet checksum (RFC 1071)', () => {
  test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d', () => {
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    assert.equal(sum16(b, 0, 8, 0), 0xddf2);
    assert.equal(checksum(b, 0, 8), 0x220d);
    assert.equal(refSum(b, 0, 8), 0xddf2);
  });

  test('sum16 equals the reference for any bytes, offset and length (odd included)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), fc.nat(), (b, x, y) => {
      const off = b.length === 0 ? 0 : x % b.length;
      const len = b.length - off === 0 ? 0 : y % (b.length - off + 1);
      assert.equal(sum16(b, off, len, 0), refSum(b, off, len));
    }), { numRuns: 1000 });
  });

  test('long buffers (chunked folding) and all-0xff input stay exact', () => {
    for (const n of [0x8000, 0x8002, 65535, 200001]) {
      const ff = new Uint8Array(n).fill(0xff);
      assert.equal(sum16(ff, 0, n, 0), refSum(ff, 0, n), `0xff × ${n}`);
      const r = new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24);
      assert.equal(sum16(r, 0, n, 0), refSum(r, 0, n), `pseudo-random × ${n}`);
    }
  });

  test('partial sums add: sum(a ‖ b) = fold(sum(a) + sum(b)) for even-length a; initial carries in', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a0, b) => {
      const a = a0.length & 1 ? a0.subarray(1) : a0;
      const ab = new Uint8Array(a.length + b.length);
      ab.set(a); ab.set(b, a.length);
      const whole = sum16(ab, 0, ab.length, 0);
      assert.equal(sum16(b, 0, b.length, sum16(a, 0, a.length, 0)), whole);
      assert.equal(fold(sum16(a, 0, a.length, 0) + sum16(b, 0, b.length, 0)), whole);
    }));
  });

  test('a header with its checksum filled in sums to 0xffff', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (h) => {
      h[0] = 0x45;
      wr16(h, 10, 0);
      wr16(h, 10, checksum(h, 0, 20));
      assert.equal(sum16(h, 0, 20, 0), 0xffff);
    }));
  });

  test('pseudo-header sum equals the sum of the 12-byte pseudo-header written out (RFC 768, RFC 9293 §3.1)', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 255 }), fc.nat({ max: 0xffff }),
      (src, dst, proto, len) => {
        const p = new Uint8Array(12);
        wr32(p, 0, src); wr32(p, 4, dst); p[9] = proto; wr16(p, 10, len);
        const s = pseudoSum(pseudoAddrSum(src, dst), proto, len);
        assert.equal(s, refSum(p, 0, 12));
      }));
  });
});

describe('wire: incremental update (RFC 1624) equals recomputation', () => {
  // A 20-byte header with a non-zero first word (as every IPv4 header has), checksum field at 10.
  const header = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((h) => { h[0] |= 0x40; return h; });

  test('16-bit word', () => {
    fc.assert(fc.property(header, fc.integer({ min: 0, max: 9 }).filter((w) => w !== 5), fc.nat({ max: 0xffff }), (h, w, nv) => {
      wr16(h, 10, 0);
      wr16(h, 10, checksum(h, 0, 20));
      const old = rd16(h, 2 * w);
      const hc = csumUpdate16(rd16(h, 10), old, nv);
      wr16(h, 2 * w, nv);
      wr16(h, 10, 0);
      assert.equal(hc, checksum(h, 0, 20));
    }), { numRuns: 2000 });
  });

  test('32-bit field, signed or unsigned values', () => {
    fc.assert(fc.property(header, fc.integer({ min: 0, max: 4 }).filter((w) => w !== 2), fc.nat({ max: 0xffffffff }), fc.boolean(),
      (h, w, nv, signed) => {
        wr16(h, 10, 0);
        wr16(h, 10, checksum(h, 0, 20));
        const old = rd32(h, 4 * w);
        const hc = csumUpdate32(rd16(h, 10), signed ? old : old >>> 0, signed ? nv | 0 : nv);
        wr32(h, 4 * w, nv);
        wr16(h, 10, 0);
        assert.equal(hc, checksum(h, 0, 20));
      }), { numRuns: 2000 });
  });

  test('Ipv4View.setTtl patches the checksum the way a full recomputation would', () => {
    const ip = new Ipv4View();
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 255 }), fc.nat({ max: 255 }),
      (src, dst, ttl, ttl2) => {
        const a = new Uint8Array(20), b = new Uint8Array(20);
        emitIpv4(a, 0, src, dst, 6, 0, 1, ttl, true);
        emitIpv4(b, 0, src, dst, 6, 0, 1, ttl2, true);
        assert.equal(ip.wrap(a, 0, 20), WireError.Ok);
        ip.setTtl(ttl2);
        assert.deepEqual(a, b);
      }));
  });
});
