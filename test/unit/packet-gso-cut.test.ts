/**
 * RxRingV3 on a hand-made TPACKET_V3 block: a TCP/IPv4 super-frame as a veth peer's TSO/GSO hands it over
 * (TP_STATUS_CSUMNOTREADY, 20 000 bytes of payload) is cut into MTU-sized segments whose headers, sequence numbers,
 * flags and IP checksums are right, marked RxFlag.L4ChecksumGood, across batches smaller than the segment count;
 * and the cutting allocates nothing in steady state. The kernel side (real super-frames) is in stack-veth-defaults.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool, RxFlag } from '../../src/mem/mempool.js';
import { RxRingV3 } from '../../src/driver/packet/tpacket-rings.js';
import { BD, H3, TP_STATUS_CSUMNOTREADY, TP_STATUS_KERNEL, TP_STATUS_USER } from '../../src/driver/packet/tpacket.js';
import { sum16 } from '../../src/wire/checksum.js';
import type { Libc } from '../../src/sys/libc.js';
import { assertNoAlloc } from '../helpers/no-alloc.js';

const BLOCK = 1 << 17;
const PKT = 64;
const MAC_AT = 80; // tp_mac, from the packet header
const PAYLOAD = 20_000;
const MTU = 1500;
const POOL_ADDR = 1 << 30;
const SEQ = 0xfffff000; // wraps inside the super-frame

function setUp(): { ring: RxRingV3; pool: Mempool; mem: Uint8Array; u32: Uint32Array } {
  const buf = new ArrayBuffer(BLOCK);
  const mem = new Uint8Array(buf);
  const u32 = new Uint32Array(buf);
  const pool = new Mempool(new HeapDmaAllocator(), { count: 256 });
  const pb = pool.bytes;
  const memcpyAt = (dst: number, src: number, n: number): void => { for (let i = 0; i < n; i++) pb[dst - POOL_ADDR + i] = mem[src + i]; };
  const c = { memcpyAt } as unknown as Libc;
  const ring = new RxRingV3({ u32, u16: new Uint16Array(buf), view: new DataView(buf), address: 0 }, BLOCK, 1, pool, POOL_ADDR, c, MTU + 14);
  const f = PKT + MAC_AT;
  const dv = new DataView(buf);
  dv.setUint16(f + 12, 0x0800);
  dv.setUint8(f + 14, 0x45); dv.setUint16(f + 16, 40 + PAYLOAD); dv.setUint16(f + 18, 0x1234); dv.setUint16(f + 20, 0x4000);
  dv.setUint8(f + 22, 64); dv.setUint8(f + 23, 6); dv.setUint32(f + 26, 0x0a000001); dv.setUint32(f + 30, 0x0a000002);
  const tcp = f + 34;
  dv.setUint16(tcp, 5000); dv.setUint16(tcp + 2, 7); dv.setUint32(tcp + 4, SEQ); dv.setUint32(tcp + 8, 1);
  dv.setUint8(tcp + 12, 5 << 4); dv.setUint8(tcp + 13, 0x80 | 0x10 | 0x08 | 0x01); // CWR ACK PSH FIN
  for (let i = 0; i < PAYLOAD; i++) mem[tcp + 20 + i] = i % 251;
  return { ring, pool, mem, u32 };
}

function arm(u32: Uint32Array): void {
  u32[BD.numPkts >>> 2] = 1;
  u32[BD.offsetToFirstPkt >>> 2] = PKT;
  u32[(PKT + H3.snaplen) >>> 2] = 54 + PAYLOAD;
  u32[(PKT + H3.len) >>> 2] = 54 + PAYLOAD;
  u32[(PKT + H3.status) >>> 2] = TP_STATUS_USER | TP_STATUS_CSUMNOTREADY;
  u32[(PKT + H3.mac) >>> 2] = MAC_AT; // tp_mac (u16) is the low half of this word; tp_net stays 0
  u32[BD.blockStatus >>> 2] = TP_STATUS_USER;
}

test('a TSO/GSO super-frame is cut into MTU-sized TCP segments, resumed across batches', () => {
  const { ring, pool, u32 } = setUp();
  arm(u32);
  const ids = new Uint32Array(4);
  const got: number[] = [];
  for (let k = 0; k < 10 && got.length < 14; k++) {
    const n = ring.receive(ids, ids.length);
    for (let i = 0; i < n; i++) got.push(ids[i]);
  }
  const seg = MTU - 40;
  assert.equal(got.length, Math.ceil(PAYLOAD / seg));
  assert.equal(u32[BD.blockStatus >>> 2], TP_STATUS_KERNEL, 'block handed back once the frame is cut');
  let at = 0;
  got.forEach((id, k) => {
    const b = pool.bytes;
    const o = pool.dataOffset(id);
    const take = Math.min(seg, PAYLOAD - at);
    const dv = new DataView(b.buffer, b.byteOffset + o);
    assert.equal(pool.len[id], 54 + take);
    assert.equal(pool.rxFlags[id], RxFlag.L4ChecksumGood);
    assert.equal(dv.getUint16(16), 40 + take, 'IP total length');
    assert.equal(dv.getUint16(18), (0x1234 + k) & 0xffff, 'IP ID');
    assert.equal(sum16(b, o + 14, 20, 0), 0xffff, 'IP header checksum');
    assert.equal(dv.getUint32(38), (SEQ + at) >>> 0, 'TCP sequence number');
    const last = k === got.length - 1;
    assert.equal(dv.getUint8(47), 0x10 | (k === 0 ? 0x80 : 0) | (last ? 0x09 : 0), `flags of segment ${k}`);
    for (let i = 0; i < take; i += 97) assert.equal(b[o + 54 + i], (at + i) % 251);
    at += take;
    pool.free(id);
  });
  assert.equal(ring.superFrames, 1);
});

test('cutting super-frames allocates nothing in steady state', () => {
  const { ring, pool, u32 } = setUp();
  const ids = new Uint32Array(64);
  assertNoAlloc('RxRingV3 cut', (n) => {
    let acc = 0;
    for (let r = 0; r < n; r++) {
      arm(u32);
      const k = ring.receive(ids, ids.length);
      pool.freeBatch(ids, 0, k);
      acc += k;
    }
    return acc;
  }, 20_000);
});
