/**
 * tap:<name>[,mq=N]: the device runs in this process; its interface is created here and then moved into a test
 * namespace (IPv6 off, static neighbour), where the kernel is the peer. The fds keep working across the move.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, type Device } from '../../src/driver/index.js';
import type { TapDevice } from '../../src/driver/tap/tap-device.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { linuxMemory } from '../../src/mem/mmap-dma.js';
import { IxyError } from '../../src/util/errors.js';
import { canUseNetns, linkCounters, Netlab } from '../../lab/netns.js';
import { parseIcmpEcho, udpFrame } from '../netns-scripts/packet-frames.js';

const AGENT = fileURLToPath(new URL('../netns-scripts/packet-agent.js', import.meta.url));
const PEER = fileURLToPath(new URL('../netns-scripts/packet-udp-peer.js', import.meta.url));
const SCRIPT_ENV = { ...process.env, IXY_NETNS_SCRIPT: '1' };
const skip = canUseNetns() ? false : 'needs root (network namespaces, TUN/TAP)';
const PEER_MAC = '02:00:00:00:00:01';
const GUARD = 0xa5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const exists = (ifname: string): boolean => fs.existsSync(`/sys/class/net/${ifname}`);
const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof IxyError && re.test(e.message) && !e.message.includes('\n');

/** Polls the given queues until `count` frames arrived (then `graceMs` more for extras) or the time is up. */
async function receive(dev: Device, queues: number[], count: number, timeoutMs = 8000, graceMs = 300): Promise<Uint8Array[]> {
  const ids = new Uint32Array(32);
  const out: Uint8Array[] = [];
  const deadline = Date.now() + timeoutMs;
  let end = Infinity;
  while (Date.now() < Math.min(deadline, end)) {
    let got = 0;
    for (const q of queues) {
      const n = dev.rxBatch(q, ids, ids.length);
      for (let i = 0; i < n; i++) {
        const off = dev.pool.dataOffset(ids[i]);
        out.push(dev.pool.bytes.slice(off, off + dev.pool.len[ids[i]]));
      }
      dev.pool.freeBatch(ids, 0, n);
      got += n;
    }
    if (out.length >= count && end === Infinity) end = Date.now() + graceMs;
    if (got === 0) await sleep(1);
  }
  return out;
}

function drain(dev: Device): void {
  const ids = new Uint32Array(64);
  for (let q = 0; q < dev.rxQueues; q++) {
    for (let n = dev.rxBatch(q, ids, 64); n > 0; n = dev.rxBatch(q, ids, 64)) dev.pool.freeBatch(ids, 0, n);
  }
}

/** Queues `frames` on `queue`, each in a fresh buffer; returns how many the device took. */
function transmit(dev: Device, queue: number, frames: Uint8Array[]): number {
  const ids = new Uint32Array(frames.length);
  const got = dev.pool.allocBatch(ids, 0, frames.length);
  assert.equal(got, frames.length);
  frames.forEach((f, i) => { dev.pool.bytes.set(f, dev.pool.dataOffset(ids[i])); dev.pool.len[ids[i]] = f.length; });
  const sent = dev.txBatch(queue, ids, got);
  dev.pool.freeBatch(ids, sent, got - sent);
  return sent;
}

async function run(lab: Netlab, ns: string, cmd: string[]): Promise<string> {
  const r = await lab.run(ns, cmd, { env: SCRIPT_ENV, timeoutMs: 20000 });
  assert.equal(r.code, 0, `${cmd.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Starts the UDP receiver in `ns`; resolves once it is bound, with `done`: a promise of its payloads. */
async function udpReceiver(lab: Netlab, ns: string, count: number): Promise<{ done: Promise<string[]> }> {
  const child = lab.spawn(ns, ['node', PEER, 'recv', '9999', String(count), '8000', '200'], SCRIPT_ENV);
  let out = '';
  let ready: () => void = () => {};
  const isReady = new Promise<void>((r) => { ready = r; });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.startsWith('ready\n')) ready(); });
  const done = new Promise<string[]>((resolve, reject) => child.on('close', () => {
    ready();
    try { resolve((JSON.parse(out.trim().split('\n').pop()!) as { payloads: string[] }).payloads); } catch { reject(new Error(`udp receiver: ${out}`)); }
  }));
  await isReady;
  return { done }; // wrapped: an async function returning `done` itself would wait for it
}

/** Moves the TAP into `ns`, brings it up with 10.1.0.2/24 and a static neighbour 10.1.0.1 → PEER_MAC. */
function moveInto(lab: Netlab, ns: string, ifname: string): void {
  execIp(['link', 'set', ifname, 'netns', ns]);
  lab.ipIn(ns, ['addr', 'add', '10.1.0.2/24', 'dev', ifname]);
  lab.ipIn(ns, ['link', 'set', ifname, 'up']); // a move takes the interface down
  lab.ipIn(ns, ['neigh', 'add', '10.1.0.1', 'lladdr', PEER_MAC, 'dev', ifname, 'nud', 'permanent']);
}

function execIp(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

function udpFrames(tapMac: string, n: number, tag: string): { frames: Uint8Array[]; payloads: string[] } {
  const payloads = Array.from({ length: n }, (_, i) => Buffer.from(`${tag}-${i}-${'y'.repeat(i * 11)}`));
  const frames = payloads.map((payload) => udpFrame({
    dstMac: tapMac, srcMac: PEER_MAC, srcIp: '10.1.0.1', dstIp: '10.1.0.2', sport: 9000, dport: 9999, payload,
  }));
  return { frames, payloads: payloads.map((p) => p.toString('hex')) };
}

describe('tap: an interface we create, moved into a namespace, traffic both ways', { skip }, () => {
  let lab: Netlab;
  const pool = new Mempool(linuxMemory, { count: 512 });
  const open: Device[] = [];
  let nsCount = 0;
  const newNs = async (): Promise<string> => {
    const ns = lab.ns(`t${nsCount++}`);
    await run(lab, ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    return ns;
  };
  const openTap = (spec: string, p: Mempool = pool): TapDevice => {
    const d = openDevice(spec, { pool: p }) as TapDevice;
    open.push(d);
    return d;
  };

  before(() => { lab = new Netlab(); });
  after(async () => {
    for (const d of open) d.close();
    await lab?.cleanup();
    pool.destroy();
  });

  test('created and up; MAC cached across the move; N frames each way, exactly; gone after close', async () => {
    const name = lab.ifname('t');
    const fd0 = fdCount();
    const dev = openTap(`tap:${name}`);
    assert.equal(dev.driverName, 'tap');
    assert.equal(dev.ifname, name);
    assert.equal(dev.rxQueues, 1);
    assert.ok(exists(name), 'interface created');
    const mac = fs.readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
    assert.equal(formatMac(dev.macAddress()), mac);
    assert.equal(parseInt(fs.readFileSync(`/sys/class/net/${name}/flags`, 'utf8'), 16) & 1, 1, 'IFF_UP');
    assert.equal(dev.linkSpeedMbps(), 10000);

    const ns = await newNs();
    moveInto(lab, ns, name);
    assert.ok(!exists(name), 'no longer visible in our namespace');
    assert.equal(formatMac(dev.macAddress()), mac, 'MAC cached at open');
    assert.equal(dev.linkSpeedMbps(), 10000);
    await sleep(50);
    drain(dev); // whatever the root namespace sent before the move (IPv6 there)

    // peer → device
    const N = 6;
    const c0 = linkCounters(lab, ns, name);
    const ping = lab.run(ns, ['ping', '-c', String(N), '-i', '0.05', '-W', '0.1', '-p', 'abcd', '10.1.0.1']);
    const got = await receive(dev, [0], N);
    await ping;
    const c1 = linkCounters(lab, ns, name);
    assert.equal(got.length, N, 'frames received');
    assert.equal(c1.txPackets - c0.txPackets, N);
    assert.equal(got.reduce((s, f) => s + f.length, 0), c1.txBytes - c0.txBytes);
    got.forEach((f, i) => {
      const e = parseIcmpEcho(f);
      assert.ok(e && e.type === 8 && e.seq === i + 1, `frame ${i} is echo request ${i + 1}`);
      assert.equal(e.dstMac, PEER_MAC);
      assert.equal(e.srcMac, mac);
      assert.ok(e.ipChecksumOk && e.icmpChecksumOk);
      assert.ok(e.payload.subarray(16).every((x, k) => x === [0xab, 0xcd][(k + 16) % 2]));
    });

    // device → peer
    const M = 40;
    const { frames, payloads } = udpFrames(mac, M, 'tap');
    const recv = await udpReceiver(lab, ns, M);
    assert.equal(transmit(dev, 0, frames), M);
    const heard = await recv.done;
    const c2 = linkCounters(lab, ns, name);
    assert.deepEqual(heard, payloads);
    assert.equal(c2.rxPackets - c1.rxPackets, M, 'interface counted exactly M frames');
    assert.equal(c2.rxBytes - c1.rxBytes, frames.reduce((s, f) => s + f.length, 0));
    assert.equal(pool.allocated, 0, 'every buffer back in the pool');

    const s = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 };
    dev.readStats(s);
    assert.ok(s.rxPackets >= N);
    assert.equal(s.txPackets, M);
    assert.equal(dev.buffersInRings(), 0);

    dev.close();
    dev.close();
    assert.equal(fdCount(), fd0, 'fd released');
    assert.throws(() => lab.ipIn(ns, ['link', 'show', name]), 'interface gone after close');
    assert.equal(dev.rxBatch(0, new Uint32Array(4), 4), 0);
  });

  test('mq=2: two queues, two fds, frames cross on both', async () => {
    const name = lab.ifname('q');
    const fd0 = fdCount();
    const dev = openTap(`tap:${name},mq=2`);
    assert.equal(dev.rxQueues, 2);
    assert.equal(dev.txQueues, 2);
    assert.equal(fdCount(), fd0 + 2);
    assert.equal(parseInt(fs.readFileSync(`/sys/class/net/${name}/tun_flags`, 'utf8'), 16) & 0x100, 0x100, 'IFF_MULTI_QUEUE');
    const mac = formatMac(dev.macAddress());
    const ns = await newNs();
    moveInto(lab, ns, name);
    await sleep(50);
    drain(dev);
    const q0 = udpFrames(mac, 10, 'q0');
    const q1 = udpFrames(mac, 10, 'q1');
    const recv = await udpReceiver(lab, ns, 20);
    assert.equal(transmit(dev, 0, q0.frames), 10);
    assert.equal(transmit(dev, 1, q1.frames), 10);
    assert.deepEqual(await recv.done, [...q0.payloads, ...q1.payloads]);
    const ping = lab.run(ns, ['ping', '-c', '4', '-i', '0.05', '-W', '0.1', '10.1.0.1']);
    const got = await receive(dev, [0, 1], 4);
    await ping;
    assert.equal(got.filter((f) => parseIcmpEcho(f)?.type === 8).length, 4, 'echo requests read from the two queues');
    dev.close();
    assert.equal(fdCount(), fd0);
    assert.throws(() => lab.ipIn(ns, ['link', 'show', name]));
  });

  test('a frame bigger than a buffer is dropped and counted, never written past its buffer', async () => {
    const small = new Mempool(linuxMemory, { count: 64, entrySize: 1024, headroom: 128 }); // 896-byte data room
    try {
      small.bytes.fill(GUARD);
      const name = lab.ifname('o');
      const dev = openTap(`tap:${name}`, small);
      const ns = await newNs();
      moveInto(lab, ns, name);
      await sleep(50);
      drain(dev);
      small.bytes.fill(GUARD);
      await lab.run(ns, ['ping', '-c', '3', '-i', '0.05', '-W', '0.1', '-s', '1000', '10.1.0.1']);
      await lab.run(ns, ['ping', '-c', '2', '-i', '0.05', '-W', '0.1', '-s', '800', '10.1.0.1']);
      const ids = new Uint32Array(16);
      const n = dev.rxBatch(0, ids, 16);
      assert.deepEqual([...ids.subarray(0, n)].map((id) => small.len[id]), [842, 842]);
      assert.equal(dev.rxOversize, 3);
      const s = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 };
      dev.readStats(s);
      assert.equal(s.rxDropped, 3);
      // Frames are read in place, so a dropped frame may fill a buffer's data room, but never more: a write past
      // buffer i would land in the headroom of buffer i + 1 (buffers are contiguous), which must still hold the guard.
      for (let id = 0; id < small.count; id++) {
        const from = id * small.entrySize;
        for (let i = from; i < from + small.headroom; i++) {
          if (small.bytes[i] !== GUARD) assert.fail(`byte ${i} (headroom of buffer ${id}) was written: a frame overflowed its buffer`);
        }
      }
      small.freeBatch(ids, 0, n);
      dev.close();
    } finally {
      small.destroy();
    }
  });

  test('an existing interface: a non-TAP, a TAP in use, a TAP of the other queue mode', () => {
    assert.throws(() => openTap('tap:lo'), oneLine(/^interface 'lo' exists and is not a TAP interface: pick another name/));
    const name = lab.ifname('e');
    const dev = openTap(`tap:${name}`);
    try {
      assert.throws(() => openTap(`tap:${name}`), oneLine(/^TAP interface '.*' is in use by another process: pick another name$/));
      assert.throws(() => openTap(`tap:${name},mq=2`), oneLine(/exists as a single-queue interface: drop ,mq=N|add ,mq=N/));
    } finally {
      dev.close();
    }
    assert.ok(!exists(name));
  });

  test('a persistent TAP made with ip tuntap is attached to and left in place; a name template gets a number', () => {
    const name = lab.ifname('p');
    execIp(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    try {
      const dev = openTap(`tap:${name}`);
      assert.equal(dev.removedOnClose, false);
      dev.close();
      assert.ok(exists(name), 'a persistent TAP outlives the device');
    } finally {
      execIp(['link', 'del', name]);
    }
    const dev = openTap(`tap:${lab.ifname('')}%d`);
    assert.match(dev.ifname, new RegExp(`^${lab.ifname('')}\\d+$`));
    assert.ok(exists(dev.ifname));
    assert.equal(dev.removedOnClose, true);
    dev.close();
    assert.ok(!exists(dev.ifname));
  });
});

describe('tap: errors say how to fix them', () => {
  const pool = new Mempool(linuxMemory, { count: 16 });
  after(() => pool.destroy());

  test('bad specs', () => {
    const spec = (s: string) => () => dmaAllocatorFor([parseDeviceSpec(s)]);
    assert.throws(spec('tap:abcdefghijklmnop'), oneLine(/longer than 15 characters; use tap:NAME\[,mq=N\]/));
    assert.throws(spec('tap:ixy0,mq=0'), oneLine(/mq=0 is not a queue count: use mq=1\.\.256/));
    assert.throws(spec('tap:ixy0,mq=two'), oneLine(/mq=two is not a queue count/));
    assert.throws(spec('tap:ixy0,mq=300'), oneLine(/mq=300 is not a queue count/));
    assert.throws(spec('tap:ixy0,queues=2'), oneLine(/unknown option 'queues=2': use tap:NAME\[,mq=N\]/));
    assert.throws(spec('tap:,mq=2'), oneLine(/the interface name is empty/));
    assert.equal(dmaAllocatorFor([parseDeviceSpec('tap:ixy%d,mq=4')]), linuxMemory);
    assert.throws(() => openDevice('tap:ixy0,mq=2', { pool, rxQueues: 4 }), oneLine(/has 2 queue\(s\) but 4 were asked for/));
  });

  test('a pool outside Linux-interface memory', () => {
    const heap = new Mempool(new HeapDmaAllocator(), { count: 16 });
    assert.throws(() => openDevice('tap:ixyheap0', { pool: heap }), oneLine(/Linux-interface memory/));
    assert.ok(!exists('ixyheap0'));
  });

  const agentOpen = (prefix: string[], spec: string): { error: string; name: string } => {
    const r = spawnSync(prefix[0], [...prefix.slice(1), 'node', AGENT, JSON.stringify({ mode: 'open', spec })], { env: SCRIPT_ENV, encoding: 'utf8' });
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { error: string; name: string };
  };

  test('no privileges: needs root or CAP_NET_ADMIN', { skip: process.getuid?.() === 0 ? false : 'needs root to drop capabilities' }, () => {
    const j = agentOpen(['setpriv', '--bounding-set=-net_admin', '--inh-caps=-all'], 'tap:ixynocap0');
    assert.equal(j.name, 'IxyError');
    assert.match(j.error, /^tap:ixynocap0 needs root or CAP_NET_ADMIN to create a TAP interface \(TUNSETIFF ixynocap0 failed: EPERM/);
    assert.ok(!exists('ixynocap0'));
  });

  test('/dev/net/tun missing', { skip: process.getuid?.() === 0 ? false : 'needs root for a mount namespace' }, () => {
    // a private mount namespace with an empty /dev/net: nothing changes outside it
    const j = agentOpen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$@"', 'sh'], 'tap:ixynotun0');
    assert.equal(j.name, 'IxyError');
    assert.match(j.error, /^\/dev\/net\/tun is missing: load the tun module \(modprobe tun\) or create it/);
    assert.ok(fs.existsSync('/dev/net/tun'), 'the real /dev/net/tun is untouched');
  });
});
