/**
 * packet:<ifname> against a Linux peer: a veth pair between two namespaces, the device runs in one of them
 * (test/netns-scripts/packet-agent.ts), the peer's kernel sends and receives in the other. IPv6 is off in both
 * namespaces and the peer has a static neighbour entry, so the only frames on the wire are the test's own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDevice, parseDeviceSpec, dmaAllocatorFor } from '../../src/driver/index.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { linuxMemory } from '../../src/mem/mmap-dma.js';
import { IxyError } from '../../src/util/errors.js';
import { canUseNetns, linkCounters, Netlab } from '../../lab/netns.js';
import { fromHex, macText, parseIcmpEcho, toHex, udpFrame } from '../netns-scripts/packet-frames.js';

const AGENT = fileURLToPath(new URL('../netns-scripts/packet-agent.js', import.meta.url));
const PEER = fileURLToPath(new URL('../netns-scripts/packet-udp-peer.js', import.meta.url));
const SCRIPT_ENV = { ...process.env, IXY_NETNS_SCRIPT: '1' };
const skip = canUseNetns() ? false : 'needs root (network namespaces, AF_PACKET)';

interface Started { ready: Promise<void>; result: Promise<Record<string, unknown>> }

/** Starts a script in a namespace; `ready` resolves on its `ready` line, `result` with its last JSON line. */
function start(lab: Netlab, ns: string, cmd: string[]): Started {
  const child = lab.spawn(ns, cmd, SCRIPT_ENV);
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => { onReady = r; });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (/^ready$/m.test(out)) onReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('close', () => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        const j = JSON.parse(last) as Record<string, unknown>;
        if (typeof j.error === 'string') reject(new Error(`${cmd.join(' ').slice(0, 80)}: ${j.error}`));
        else resolve(j);
      } catch { reject(new Error(`${cmd.join(' ').slice(0, 80)} printed no result: ${out} ${err}`)); }
      onReady(); // never leave a waiter hanging
    });
  });
  return { ready, result };
}

const agent = (lab: Netlab, ns: string, args: Record<string, unknown>): Started => start(lab, ns, ['node', AGENT, JSON.stringify(args)]);

async function run(lab: Netlab, ns: string, cmd: string[]): Promise<string> {
  const r = await lab.run(ns, cmd, { env: SCRIPT_ENV, timeoutMs: 20000 });
  assert.equal(r.code, 0, `${cmd.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function noIpv6(lab: Netlab, ns: string): Promise<string> {
  return run(lab, ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

describe('packet: frames cross between the device and a Linux peer', { skip }, () => {
  let lab: Netlab;
  let A = '';
  let B = '';
  let a = '';
  let b = '';
  let aMac = '';
  let bMac = '';

  before(async () => {
    lab = new Netlab();
    A = lab.ns('pa');
    B = lab.ns('pb');
    await noIpv6(lab, A);
    await noIpv6(lab, B);
    ({ a, b } = lab.veth({ ns: A, name: 'a' }, { ns: B, name: 'b', addr: '10.0.0.2/24' }));
    aMac = (await run(lab, A, ['cat', `/sys/class/net/${a}/address`])).trim();
    bMac = (await run(lab, B, ['cat', `/sys/class/net/${b}/address`])).trim();
    lab.ipIn(B, ['neigh', 'add', '10.0.0.1', 'lladdr', aMac, 'dev', b, 'nud', 'permanent']);
  });
  after(async () => { await lab?.cleanup(); });

  test('peer → device: exactly the N echo requests the peer sent, bytes and checksums intact', async () => {
    const N = 7;
    const before0 = linkCounters(lab, B, b);
    const dev = agent(lab, A, { mode: 'rx', spec: `packet:${a}`, count: N, timeoutMs: 8000, graceMs: 300 });
    await dev.ready;
    await lab.run(B, ['ping', '-c', String(N), '-i', '0.05', '-W', '0.1', '-p', 'c0ffee', '10.0.0.1']);
    const r = await dev.result;
    const sent = linkCounters(lab, B, b);
    const frames = (r.frames as string[]).map(fromHex);
    assert.equal(frames.length, N, 'frames received');
    assert.equal(sent.txPackets - before0.txPackets, N, 'peer sent exactly N frames');
    assert.equal(frames.reduce((s, f) => s + f.length, 0), sent.txBytes - before0.txBytes, 'bytes received = bytes the peer sent');
    frames.forEach((f, i) => {
      const e = parseIcmpEcho(f);
      assert.ok(e, `frame ${i} is an ICMP echo`);
      assert.equal(e.type, 8);
      assert.equal(e.seq, i + 1);
      assert.equal(e.dstMac, aMac);
      assert.equal(e.srcMac, bMac);
      assert.ok(e.ipChecksumOk && e.icmpChecksumOk, `frame ${i} checksums`);
      // ping fills its data with the pattern from byte 0, then writes a 16-byte timestamp over the start
      const pattern = [0xc0, 0xff, 0xee];
      assert.equal(e.payload.length, 56);
      assert.ok(e.payload.subarray(16).every((x, k) => x === pattern[(k + 16) % 3]), `frame ${i} payload pattern`);
    });
    assert.equal(r.rxPackets, N);
    assert.equal(r.rxBytes, sent.txBytes - before0.txBytes);
    assert.equal(r.rxDropped, 0);
    assert.equal(r.buffersInRings, 0);
    assert.equal(r.guardOk, true);
  });

  test('device → peer: N UDP frames (over 3 times the TX ring) reach the peer socket exactly, none echo back', async () => {
    const N = 53;
    const payloads = Array.from({ length: N }, (_, i) => Buffer.from(`ixy-${i}-${'x'.repeat(i * 7)}`));
    const frames = payloads.map((payload) => toHex(udpFrame({
      dstMac: bMac, srcMac: aMac, srcIp: '10.0.0.1', dstIp: '10.0.0.2', sport: 9000, dport: 9999, payload,
    })));
    const wireBytes = frames.reduce((s, f) => s + f.length / 2, 0);
    const peer = start(lab, B, ['node', PEER, 'recv', '9999', String(N), '8000', '200']);
    await peer.ready;
    const before0 = linkCounters(lab, B, b);
    const r = await agent(lab, A, { mode: 'tx', spec: `packet:${a}`, frames, batch: 8, ringSize: 16, listenMs: 300 }).result;
    const got = await peer.result;
    const after0 = linkCounters(lab, B, b);
    assert.equal(r.sent, N);
    assert.equal(r.txPackets, N);
    assert.equal(r.txBytes, wireBytes);
    assert.equal(r.txRejected, 0);
    assert.equal(r.poolAllocated, 0, 'txBatch freed every buffer it took');
    assert.equal(r.rxSeen, 0, 'PACKET_IGNORE_OUTGOING: the device does not receive its own frames');
    assert.equal(after0.rxPackets - before0.rxPackets, N, 'peer interface counted exactly N frames');
    assert.equal(after0.rxBytes - before0.rxBytes, wireBytes);
    assert.deepEqual(got.payloads, payloads.map((p) => p.toString('hex')));
    assert.ok((got.from as string[]).every((f) => f === '10.0.0.1:9000'));
  });

  test('VLAN tags the kernel moved into metadata are put back in the frame (802.1Q and 802.1ad)', async () => {
    const body = 'c0ffee'.repeat(20);
    const dot1q = `${aMac}${bMac}`.replaceAll(':', '') + '8100a007' + '0800' + body;
    const qinq = `${aMac}${bMac}`.replaceAll(':', '') + '88a80005' + '81000007' + '0800' + body;
    const dev = agent(lab, A, { mode: 'rx', spec: `packet:${a}`, count: 2, timeoutMs: 8000, graceMs: 200 });
    await dev.ready;
    await run(lab, B, ['node', PEER, 'raw', b, dot1q, qinq]);
    const r = await dev.result;
    assert.deepEqual(r.frames, [dot1q, qinq]);
  });

  test('a frame bigger than a buffer is dropped and counted, and nothing is written outside the buffers', async () => {
    // 1024-byte buffers with 128 bytes of headroom hold 896 bytes; the 1042-byte echo requests do not fit
    const dev = agent(lab, A, { mode: 'rx', spec: `packet:${a}`, count: 2, timeoutMs: 8000, graceMs: 300, entrySize: 1024, headroom: 128 });
    await dev.ready;
    await lab.run(B, ['ping', '-c', '3', '-i', '0.05', '-W', '0.1', '-s', '1000', '10.0.0.1']);
    await lab.run(B, ['ping', '-c', '2', '-i', '0.05', '-W', '0.1', '-s', '800', '10.0.0.1']);
    const r = await dev.result;
    const frames = (r.frames as string[]).map(fromHex);
    assert.deepEqual(frames.map((f) => f.length), [842, 842]);
    assert.equal(r.oversize, 3);
    assert.equal(r.rxDropped, 3);
    assert.equal(r.rxPackets, 2);
    assert.equal(r.guardOk, true, 'bytes outside the received frames untouched');
  });

  test('MAC, link speed, promiscuous mode through a membership that goes away with the socket', async () => {
    const r = await agent(lab, A, { mode: 'info', spec: `packet:${a}` }).result;
    const PROMISC = 0x100;
    assert.equal(r.mac, aMac);
    assert.equal(r.linkMbps, 10000); // veth reports 10 Gbit/s
    assert.equal((r.flagsBefore as number) & PROMISC, 0);
    assert.equal((r.flagsOn as number) & PROMISC, PROMISC);
    assert.equal((r.flagsOff as number) & PROMISC, 0);
    assert.equal((r.flagsClosed as number) & PROMISC, 0, 'closing the socket drops the promisc membership');
  });

  test('link speed is 0 while the interface is down', async () => {
    lab.ipIn(A, ['link', 'set', a, 'down']);
    try {
      const r = await agent(lab, A, { mode: 'info', spec: `packet:${a}` }).result;
      assert.equal(r.linkMbps, 0);
    } finally {
      lab.ipIn(A, ['link', 'set', a, 'up']);
    }
  });
});

describe('packet: errors say how to fix them', () => {
  const pool = new Mempool(linuxMemory, { count: 64 });
  after(() => pool.destroy());
  const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof IxyError && re.test(e.message) && !e.message.includes('\n');

  test('a missing interface', () => {
    assert.throws(() => openDevice('packet:ixnosuch0', { pool }), oneLine(/^no interface 'ixnosuch0' in this network namespace: see ip link$/));
  });

  test('a bad interface name in the spec', () => {
    assert.throws(() => dmaAllocatorFor([parseDeviceSpec('packet:abcdefghijklmnop')]), oneLine(/longer than 15 characters.*use packet:IFNAME/));
    assert.throws(() => openDevice('packet:a/b', { pool }), oneLine(/'\/', ':' or whitespace.*use packet:IFNAME/));
    assert.equal(dmaAllocatorFor([parseDeviceSpec('packet:lo')]), linuxMemory);
  });

  test('a pool outside Linux-interface memory, a bad ring size, more than one queue', () => {
    const heap = new Mempool(new HeapDmaAllocator(), { count: 16 });
    assert.throws(() => openDevice('packet:lo', { pool: heap }), oneLine(/Linux-interface memory/));
    assert.throws(() => openDevice('packet:lo', { pool, ringSize: 100 }), oneLine(/ring size 100 .*power of two/));
    assert.throws(() => openDevice('packet:lo', { pool, rxQueues: 2 }), oneLine(/one RX and one TX queue/));
  });

  test('no privileges: needs root or CAP_NET_RAW', { skip: process.getuid?.() === 0 ? false : 'needs root to drop capabilities' }, () => {
    const r = spawnSync('setpriv', ['--bounding-set=-net_raw,-net_admin', '--inh-caps=-all', 'node', AGENT, JSON.stringify({ mode: 'open', spec: 'packet:lo' })], { env: SCRIPT_ENV, encoding: 'utf8' });
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { error: string; name: string };
    assert.equal(j.name, 'IxyError');
    assert.match(j.error, /^packet:lo needs root or CAP_NET_RAW \(socket\(AF_PACKET\) failed: EPERM/);
  });

  test('close() is idempotent and gives back the socket and the ring mapping', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
    // Count our sockets by inode, not all fds: Node's own threads may open or close other fds meanwhile.
    const sockets = (): Set<string> => new Set(fs.readdirSync('/proc/self/fd').map((fd) => {
      try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; }
    }).filter((t) => t.startsWith('socket:')));
    // The ring's mapping shows in /proc/self/maps under the socket's name (not by line count: V8 maps memory too).
    const ringMaps = (name: string): number => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(name)).length;
    const before = sockets();
    const dev = openDevice('packet:lo', { pool });
    const opened = [...sockets()].filter((t) => !before.has(t));
    assert.equal(opened.length, 1, 'one socket while open');
    assert.ok(ringMaps(opened[0]) > 0, 'the ring is mapped while open');
    dev.close();
    dev.close();
    assert.ok(!sockets().has(opened[0]), 'the socket is closed');
    assert.equal(ringMaps(opened[0]), 0, 'the ring mapping is gone');
    assert.equal(dev.rxBatch(0, new Uint32Array(4), 4), 0, 'a closed device receives nothing (and does not touch unmapped rings)');
    assert.equal(macText(dev.macAddress()), '00:00:00:00:00:00');
  });
});
