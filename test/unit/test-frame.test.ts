import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildTestFrame, ipv4HeaderChecksum, isTestFrame, MAGIC0, MAGIC1, OFF_MAGIC, OFF_SEQ, OFF_STREAM, OFF_TS,
  readU32LE, TEST_FRAME_LEN, writeU32BE, writeU32LE,
} from '../../src/util/test-frame.js';

const SRC = Uint8Array.of(0x02, 0x69, 0x78, 0x79, 0x00, 0x00);
const DST = Uint8Array.of(0x02, 0x74, 0x65, 0x73, 0x74, 0x01);
const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const be32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** RFC 1071 check, written independently: the one's complement sum over the header, checksum included, is 0xffff. */
function onesComplementSum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += be16(b, off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

describe('buildTestFrame', () => {
  test('layout: Ethernet, IPv4, UDP, magic, stream id, zero padding to 60 bytes', () => {
    const f = buildTestFrame({ src: SRC, dst: DST, stream: 3 });
    assert.equal(f.length, TEST_FRAME_LEN);
    assert.equal(f.length, 60);
    assert.deepEqual([...f.subarray(0, 6)], [...DST]);
    assert.deepEqual([...f.subarray(6, 12)], [...SRC]);
    assert.equal(be16(f, 12), 0x0800, 'ethertype IPv4');
    // IPv4
    assert.equal(f[14], 0x45, 'version 4, IHL 5');
    assert.equal(be16(f, 16), 46, 'IP total length = 60 - 14');
    assert.equal(f[22], 64, 'TTL');
    assert.equal(f[23], 17, 'protocol UDP');
    assert.equal(be32(f, 26), 0x0a000001 + 3, 'source 10.0.0.1 + stream');
    assert.equal(be32(f, 30), 0x0a000101, 'destination 10.0.1.1');
    assert.equal(onesComplementSum(f, 14, 20), 0xffff, 'IPv4 header checksum');
    assert.equal(be16(f, 24), ipv4HeaderChecksum(f, 14));
    // UDP
    assert.equal(be16(f, 34), 1024 + 3);
    assert.equal(be16(f, 36), 5000 + 3);
    assert.equal(be16(f, 38), 26, 'UDP length');
    assert.equal(be16(f, 40), 0, 'no UDP checksum');
    assert.equal(34 + be16(f, 38), 60, 'UDP length reaches the end of the frame');
    // payload
    assert.equal(f[OFF_MAGIC], MAGIC0);
    assert.equal(f[OFF_MAGIC + 1], MAGIC1);
    assert.equal(String.fromCharCode(f[42], f[43]), 'IX');
    assert.equal(readU32LE(f, OFF_SEQ), 0);
    assert.equal(readU32LE(f, OFF_TS), 0);
    assert.equal(f[OFF_STREAM] | (f[OFF_STREAM + 1] << 8), 3);
    assert.ok(f.subarray(54).every((b) => b === 0), 'padding');
  });

  test('explicit IP addresses and a two-byte stream id', () => {
    const f = buildTestFrame({ src: SRC, dst: DST, stream: 0x1234, srcIp: 0xc0a80001, dstIp: 0xffffffff });
    assert.equal(be32(f, 26), 0xc0a80001);
    assert.equal(be32(f, 30), 0xffffffff);
    assert.equal(f[OFF_STREAM], 0x34);
    assert.equal(f[OFF_STREAM + 1], 0x12);
    assert.equal(onesComplementSum(f, 14, 20), 0xffff);
  });

  test('ipv4HeaderChecksum matches a known header (0xb861)', () => {
    // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7
    const h = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
    assert.equal(ipv4HeaderChecksum(h, 0), 0xb861);
    h[10] = 0xb8; h[11] = 0x61;
    assert.equal(ipv4HeaderChecksum(h, 0), 0xb861, 'the checksum field itself is ignored');
    const padded = new Uint8Array(25);
    padded.set(h, 5);
    assert.equal(ipv4HeaderChecksum(padded, 5), 0xb861, 'at an offset');
  });

  test('property: for any MACs, stream and addresses the header checksum verifies and the fields are in place', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
    fc.assert(
      fc.property(mac, mac, fc.integer({ min: 0, max: 15 }), fc.option(fc.integer({ min: 0, max: 0xffffffff })),
        fc.option(fc.integer({ min: 0, max: 0xffffffff })), (src, dst, stream, srcIp, dstIp) => {
          const f = buildTestFrame({ src, dst, stream, srcIp: srcIp ?? undefined, dstIp: dstIp ?? undefined });
          assert.equal(f.length, 60);
          assert.equal(onesComplementSum(f, 14, 20), 0xffff);
          assert.deepEqual([...f.subarray(0, 6)], [...dst]);
          assert.deepEqual([...f.subarray(6, 12)], [...src]);
          assert.equal(be32(f, 26), srcIp ?? (0x0a000001 + stream));
          assert.equal(be32(f, 30), dstIp ?? 0x0a000101);
          assert.equal(f[OFF_STREAM] | (f[OFF_STREAM + 1] << 8), stream);
          assert.equal(be16(f, 34), 1024 + stream);
          assert.equal(be16(f, 36), 5000 + stream);
          assert.ok(isTestFrame(f, 0, 60));
        }),
      { numRuns: 1000 },
    );
  });

  test('property: the checksum stays valid for any stream id 0..65535', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), (stream) => {
      const f = buildTestFrame({ src: SRC, dst: DST, stream });
      assert.equal(onesComplementSum(f, 14, 20), 0xffff);
      assert.equal(f[OFF_STREAM] | (f[OFF_STREAM + 1] << 8), stream);
    }));
  });
});

describe('isTestFrame', () => {
  test('accepts a test frame, also at an offset in a larger buffer', () => {
    const f = buildTestFrame({ src: SRC, dst: DST, stream: 0 });
    assert.equal(isTestFrame(f, 0, 60), true);
    const big = new Uint8Array(200);
    big.set(f, 77);
    assert.equal(isTestFrame(big, 77, 60), true);
    assert.equal(isTestFrame(big, 0, 60), false);
  });

  test('rejects short frames: the stream id must be inside the frame', () => {
    const f = buildTestFrame({ src: SRC, dst: DST, stream: 0 });
    assert.equal(isTestFrame(f, 0, OFF_STREAM + 2), true);
    for (const len of [0, 14, 42, 44, OFF_STREAM + 1]) assert.equal(isTestFrame(f, 0, len), false, `length ${len}`);
  });

  test('rejects a mutated magic or ethertype', () => {
    for (const [i, v] of [[OFF_MAGIC, 0x48], [OFF_MAGIC + 1, 0x59], [OFF_MAGIC, 0], [12, 0x86], [13, 0x06]] as const) {
      const f = buildTestFrame({ src: SRC, dst: DST, stream: 0 });
      f[i] = v;
      assert.equal(isTestFrame(f, 0, 60), false, `byte ${i} = ${v}`);
    }
  });

  test('property: flipping any bit of magic or ethertype makes it not a test frame', () => {
    fc.assert(fc.property(fc.constantFrom(12, 13, OFF_MAGIC, OFF_MAGIC + 1), fc.integer({ min: 0, max: 7 }), (i, bit) => {
      const f = buildTestFrame({ src: SRC, dst: DST, stream: 1 });
      f[i] ^= 1 << bit;
      assert.equal(isTestFrame(f, 0, 60), false);
    }));
  });
});

describe('byte helpers', () => {
  test('readU32LE/writeU32LE round trip; writeU32BE is big-endian', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 12 }), (v, off) => {
      const b = new Uint8Array(16);
      writeU32LE(b, off, v);
      assert.equal(readU32LE(b, off), v);
      assert.equal(new DataView(b.buffer).getUint32(off, true), v);
      writeU32BE(b, off, v);
      assert.equal(new DataView(b.buffer).getUint32(off, false), v);
    }));
  });
});
