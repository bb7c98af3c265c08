import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_RSS_KEY, makeReta, rssQueue, Toeplitz } from '../../src/util/toeplitz.js';
import { assertNoAlloc } from '../helpers/no-alloc.js';

/**
 * Microsoft, "Verifying the RSS Hash Calculation" (Windows driver docs, network/verifying-the-rss-hash-calculation.md
 * in github.com/MicrosoftDocs/windows-driver-docs, commit 088014e6eeaf46b4631e7e9d0faafc2dfb08db9e): the IPv4 table,
 * all five rows, with the key DEFAULT_RSS_KEY. Columns: destination address:port, source address:port, "IPv4 only",
 * "IPv4 with TCP". The hash input is source address, destination address, source port, destination port.
 */
const MS_IPV4: Array<[dst: string, dport: number, src: string, sport: number, ipv4: number, tcp: number]> = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
];

/** Dotted quad → int32, the way wire/ reads an address (big-endian, signed). */
function ip(s: string): number {
  return s.split('.').reduce((a, b) => (a << 8) | Number(b), 0);
}

/** The specification's ComputeHash, bit by bit, with a BigInt key window: the oracle for random inputs. */
function computeHash(key: Uint8Array, input: number[]): number {
  let k = 0n;
  for (const b of key) k = (k << 8n) | BigInt(b);
  const bits = BigInt(key.length * 8);
  let result = 0;
  for (let i = 0; i < input.length * 8; i++) {
    if ((input[i >>> 3]! >>> (7 - (i & 7))) & 1) result ^= Number((k >> (bits - 32n - BigInt(i))) & 0xffffffffn);
  }
  return result >>> 0;
}

function bytesOf(srcIp: number, dstIp: number, ports?: [number, number]): number[] {
  const b = [srcIp >>> 24, (srcIp >>> 16) & 255, (srcIp >>> 8) & 255, srcIp & 255,
    dstIp >>> 24, (dstIp >>> 16) & 255, (dstIp >>> 8) & 255, dstIp & 255];
  if (ports) b.push(ports[0] >>> 8, ports[0] & 255, ports[1] >>> 8, ports[1] & 255);
  return b;
}


describe('Toeplitz RSS hash', () => {
  const t = new Toeplitz(DEFAULT_RSS_KEY);

  test('Microsoft verification table (IPv4 only and IPv4 with TCP, all rows)', () => {
    for (const [dst, dport, src, sport, h4, h4tcp] of MS_IPV4) {
      assert.equal(t.hashIpv4(ip(src), ip(dst)), h4, `${src} → ${dst}`);
      assert.equal(t.hashIpv4Tcp(ip(src), ip(dst), sport, dport), h4tcp, `${src}:${sport} → ${dst}:${dport}`);
      assert.equal(computeHash(DEFAULT_RSS_KEY, bytesOf(ip(src), ip(dst), [sport, dport])), h4tcp, 'the oracle agrees');
    }
    assert.equal(new Toeplitz().hashIpv4(ip('66.9.149.187'), ip('161.142.100.80')), 0x323e8fc2, 'default key');
  });

  test('results are uint32 (non-negative), the I32 variants int32; addresses may be given signed or unsigned', () => {
    const [dst, dport, src, sport, , h4tcp] = MS_IPV4[0]!;
    const h = t.hashIpv4(ip('199.92.111.2'), ip('65.69.140.83'));
    assert.equal(h, 0xd718262a);
    assert.ok(h >= 2 ** 31 && h < 2 ** 32, 'a hash with the top bit set is a positive number');
    assert.equal(t.hashIpv4(ip(src) >>> 0, ip(dst) >>> 0), t.hashIpv4(ip(src), ip(dst)));
    assert.equal(t.hashIpv4Tcp(ip(src) >>> 0, ip(dst) >>> 0, sport, dport), h4tcp);
    for (const [d, dp, s, sp, h4, h4t] of MS_IPV4) {
      assert.equal(t.hashIpv4I32(ip(s), ip(d)), h4 | 0, 'the int32 variant: the same bits');
      assert.equal(t.hashIpv4TcpI32(ip(s), ip(d), sp, dp), h4t | 0);
    }
  });

  test('equals the bit-by-bit ComputeHash for random keys and inputs (fast-check)', () => {
    const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    const port = fc.integer({ min: 0, max: 65535 });
    const key = fc.uint8Array({ minLength: 40, maxLength: 40 });
    fc.assert(fc.property(key, fc.array(fc.tuple(i32, i32, port, port), { minLength: 1, maxLength: 8 }), (k, flows) => {
      const tk = new Toeplitz(k);
      for (const [s, d, sp, dp] of flows) {
        const h = tk.hashIpv4(s, d);
        const ht = tk.hashIpv4Tcp(s, d, sp, dp);
        assert.equal(h, computeHash(k, bytesOf(s, d)));
        assert.equal(ht, computeHash(k, bytesOf(s, d, [sp, dp])));
        assert.ok(h >= 0 && ht >= 0);
      }
    }), { numRuns: 300 });
  });

  test('hashes and rssQueue allocate nothing in steady state (1e6 rounds, no GC)', () => {
    const reta = makeReta(8);
    assertNoAlloc('Toeplitz', (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const src = Math.imul(i, 0x9e3779b1);
        const h = t.hashIpv4TcpI32(src, 0xc0a80001 | 0, i & 0xffff, 443);
        acc = (acc + rssQueue(h, reta) + (t.hashIpv4I32(src, ~src) & 0xff)) | 0;
        acc = (acc + (t.hashIpv4Tcp(src, 0x0a000001, 80, i & 0xffff) & 0xff) + rssQueue(t.hashIpv4(src, i), reta)) | 0;
      }
      return acc;
    });
  });

  test('rssQueue: the 82599 indexes its 128-entry redirection table with the hash low 7 bits', () => {
    const reta = makeReta(4);
    assert.equal(reta.length, 128);
    assert.deepEqual([...reta.subarray(0, 6)], [0, 1, 2, 3, 0, 1]);
    assert.equal(rssQueue(0x51ccc178, reta), reta[0x78]);
    assert.equal(rssQueue(0x51ccc178, reta), 0);
    assert.equal(rssQueue(0xffffffff, reta), reta[127]);
    assert.equal(rssQueue(0x80 | 5, reta), 1);
    const reta3 = makeReta(3, 512);
    assert.equal(rssQueue(0x10e828a2, reta3), 0x0a2 % 3);
    assert.throws(() => makeReta(0), RangeError);
    assert.throws(() => makeReta(4, 100), RangeError);
    assert.throws(() => new Toeplitz(new Uint8Array(39)), RangeError);
  });
});
