/**
 * The parse and emit paths allocate nothing per packet.
 *
 * How this is measured without --expose-gc (node --test does not pass it): after warm-up (so every function runs
 * optimised code), 1e6 frames go through the whole receive chain and 1e6 TCP segments with options are emitted, while
 * v8.GCProfiler records collections. With no collection in the window, the growth of the used heap is exactly what
 * the loop allocated. One allocation per packet would be at least 16 B × 1e6 = 16 MB: either the heap grows by that
 * much or the young generation (a few MiB) fills and a scavenge shows up. So the test asks for no collection and less
 * than 1 MiB of growth (code installed by a late optimisation is the only other source). Such a stray event is
 * possible but rare, so it tries up to three times; a real per-packet allocation fails all three.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import {
  emitEthernet, emitIpv4, emitTcp, emitTcpOptions, EtherType, ipv4AddrSum, IpProtocol, TcpFlag, TcpOptions,
  WireError,
} from '../../src/wire/index.js';
import {
  buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame, MAC_A, MAC_B, newViews,
} from '../helpers/wire-frames.js';

// Frames laid out in one buffer like a mempool: offsets and lengths in typed arrays. Addresses, sequence numbers and
// timestamps above 2^31 so that unsigned values outside V8's small-integer range are on the path too.
const SRC = 0xc0a80001 | 0; // int32, as wire/ reads them (src/wire/bytes.ts)
const DST = 0xc0a80002 | 0;
const l3 = { src: SRC, dst: DST, ident: 7, ttl: 64, df: true };
const opts = Object.assign(new TcpOptions(), {
  hasMss: true, mss: 1460, sackPermitted: true, hasTimestamps: true, tsVal: 0xf0000001, tsEcr: 0x80000002,
  hasWindowScale: true, windowScale: 7, sackBlocks: 2,
});
opts.sackLeft.set([0x90000000, 0xa0000000]);
opts.sackRight.set([0x90001000, 0xa0001000]);
const frames = [
  buildTcpFrame({ ...l3, sport: 40000, dport: 80, seq: 0xfedcba98, ack: 0x87654321, flags: TcpFlag.Ack, window: 501, opts, payload: new Uint8Array(64) }),
  buildUdpFrame(l3, 5353, 53, new Uint8Array(100)),
  buildIcmpEchoFrame(l3, 8, 1, 2, new Uint8Array(56)),
  buildArpFrame(1, l3.src, l3.dst),
];
const bad = frames[0].slice();
bad[60] ^= 0xff; // a corrupted segment: BadChecksum
frames.push(bad, frames[1].subarray(0, 30)); // and a truncated one
const STRIDE = 2048;
const pool = new Uint8Array(STRIDE * (frames.length + 1));
const offs = new Int32Array(frames.length);
const lens = new Int32Array(frames.length);
frames.forEach((f, i) => { offs[i] = i * STRIDE + 128; lens[i] = f.length; pool.set(f, offs[i]); });
const txOff = frames.length * STRIDE + 128;

const { eth, ip, arp, icmp, udp, tcp } = newViews();
const txOpts = new TcpOptions();
Object.assign(txOpts, { hasTimestamps: true, tsVal: 0xf1234567 | 0, tsEcr: 0x89abcdef | 0 });

function receive(b: Uint8Array, off: number, len: number): number {
  if (eth.wrap(b, off, len) !== WireError.Ok) return 1;
  const type = eth.etherType;
  if (type === EtherType.Arp) return arp.wrap(b, eth.payloadOff, eth.payloadLen) === WireError.Ok ? arp.senderIp & 0xff : 2;
  if (type !== EtherType.Ipv4 || ip.wrap(b, eth.payloadOff, eth.payloadLen) !== WireError.Ok) return 3;
  const po = ip.payloadOff, pl = ip.payloadLen;
  const p = ip.protocol;
  if (p === IpProtocol.Tcp) {
    if (tcp.wrap(b, po, pl, ip.addrSum) !== WireError.Ok) return 4;
    const o = tcp.options;
    return ((tcp.seq ^ tcp.ack ^ o.tsVal ^ o.tsEcr ^ o.sackLeft[1]) & 0xff) + tcp.payloadLen + tcp.flags + o.mss;
  }
  if (p === IpProtocol.Udp) return udp.wrap(b, po, pl, ip.addrSum) === WireError.Ok ? udp.dstPort + udp.payloadLen : 5;
  if (p === IpProtocol.Icmp) return icmp.wrap(b, po, pl) === WireError.Ok ? icmp.type + icmp.seq : 6;
  return 7;
}

/** The stack's transmit path for a data segment with timestamps: options, TCP, IPv4, Ethernet. */
function transmit(b: Uint8Array, off: number, seq: number): number {
  txOpts.tsVal = (txOpts.tsVal + 1) | 0;
  const tcpOff = off + 34;
  const optLen = emitTcpOptions(b, tcpOff + 20, txOpts);
  emitTcp(b, tcpOff, 40000, 80, seq, 0x87654321 | 0, TcpFlag.Ack | TcpFlag.Psh, 501, optLen, 64, ipv4AddrSum(b, off + 14));
  emitIpv4(b, off + 14, SRC, DST, IpProtocol.Tcp, 20 + optLen + 64, seq & 0xffff, 64, true);
  return emitEthernet(b, off, MAC_B, 0, MAC_A, 0, EtherType.Ipv4) + optLen;
}

function run(n: number): number {
  let acc = 0;
  const k = offs.length;
  for (let i = 0; i < n; i++) {
    const j = i % k;
    acc = (acc + receive(pool, offs[j], lens[j]) + transmit(pool, txOff, (0x80000000 + i) | 0)) | 0;
  }
  return acc;
}

test('parsing and emitting 1e6 frames allocates nothing (no GC, heap growth < 1 MiB)', () => {
  for (let w = 0; w < 5; w++) run(200_000); // warm-up: optimise receive, transmit, run and the views they inline
  const outcomes: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const profiler = new v8.GCProfiler();
    const before = v8.getHeapStatistics().used_heap_size;
    profiler.start();
    const acc = run(1_000_000);
    const after = v8.getHeapStatistics().used_heap_size;
    const gcs = profiler.stop().statistics.length;
    const grew = after - before;
    outcomes.push(`${gcs} collections, heap ${grew >= 0 ? '+' : ''}${grew} B (acc ${acc})`);
    if (gcs === 0 && grew < 1 << 20) return;
  }
  assert.fail(`the wire paths allocate per packet: ${outcomes.join('; ')}`);
});

test('the loop above really went through every layer', () => {
  const seen = new Set<number>();
  for (let j = 0; j < offs.length; j++) seen.add(receive(pool, offs[j], lens[j]));
  assert.ok(seen.has(4) && seen.has(3), 'the bad checksum and the truncated frame are rejected');
  assert.equal(seen.size, offs.length, 'each frame reaches a different outcome');
  const n = transmit(pool, txOff, 1);
  assert.equal(n, 14 + 12);
  assert.equal(receive(pool, txOff, 14 + 20 + 32 + 64) > 7, true, 'the emitted segment parses');
});
