/**
 * The ixy side of the AF_XDP tests, run inside the device's namespace: `node xdp-dev.js '<json>'` with
 *   cmd 'open'  open the devices, report what they are, close
 *   cmd 'rx'    receive `count` test frames on devices[0] (queues 0..rxQueues-1), report their hashes
 *   cmd 'tx'    send `count` test frames of `seed` to `dst` from devices[0], wait until all completed
 *   cmd 'fwd'   forward test frames from devices[0] to devices[1] (one mempool for both) until `count` crossed
 *   cmd 'hold'  open, then keep polling until stdin closes (or the process is killed)
 * Prints `READY {…}` when the devices are open and `RESULT {…}` (or `ERROR {name, message}`) at the end; RESULT
 * includes the mempool's free count after close. Does nothing unless IXY_NETNS_SCRIPT=1.
 */
import { openDevice, parseDeviceSpec, poolHeadroomFor, dmaAllocatorFor, emptyStats, formatMac, type Device } from '../../src/driver/index.js';
import type { XdpDevice } from '../../src/driver/xdp/xdp-device.js';
import { Mempool } from '../../src/mem/mempool.js';
import { frameHash, isTestFrame, parseMac, sleepMs, testFrame } from './xdp-frames.js';

interface DevCmd {
  cmd: 'open' | 'rx' | 'tx' | 'fwd' | 'hold';
  specs: string[];
  count?: number;
  seed?: number;
  dst?: string;
  timeoutMs?: number;
  ringSize?: number;
  rxQueues?: number;
  txQueues?: number;
  poolSize?: number;
  entrySize?: number;
  promisc?: boolean;
  /** rx: wait this long before polling (to overflow the rings on purpose). */
  delayMs?: number;
}

function out(kind: string, v: unknown): void {
  process.stdout.write(`${kind} ${JSON.stringify(v)}\n`);
}

function describe(d: Device): Record<string, unknown> {
  const x = d as XdpDevice;
  return {
    spec: d.spec, driverName: d.driverName, xdpMode: x.xdpMode, bindMode: x.bindMode, mac: formatMac(d.macAddress()),
    speed: d.linkSpeedMbps(), buffersInRings: d.buffersInRings(), rxQueues: d.rxQueues, txQueues: d.txQueues,
  };
}

function main(): void {
  const c = JSON.parse(process.argv[2]) as DevCmd;
  const specs = c.specs.map(parseDeviceSpec);
  const pool = new Mempool(dmaAllocatorFor(specs), { count: c.poolSize ?? 4096, entrySize: c.entrySize, headroom: poolHeadroomFor(specs) });
  const devs: Device[] = [];
  const result: Record<string, unknown> = {};
  try {
    for (const s of specs) {
      devs.push(openDevice(s, { pool, ringSize: c.ringSize, rxQueues: c.rxQueues, txQueues: c.txQueues }));
    }
    if (c.promisc !== undefined) for (const d of devs) d.setPromisc(c.promisc);
    result.devices = devs.map(describe);
    out('READY', result);
    const deadline = Date.now() + (c.timeoutMs ?? 10000);
    if (c.delayMs) sleepMs(c.delayMs);
    if (c.cmd === 'rx') Object.assign(result, receive(devs[0], pool, c.count!, deadline));
    else if (c.cmd === 'tx') Object.assign(result, transmit(devs[0], pool, c, deadline));
    else if (c.cmd === 'fwd') Object.assign(result, forward(devs[0], devs[1], pool, c.count!, deadline));
    else if (c.cmd === 'hold') { hold(devs, pool); return; }
    const stats = devs.map(() => emptyStats());
    devs.forEach((d, i) => d.readStats(stats[i]));
    result.stats = stats;
    result.kernelStats = devs.map((d) => (d as XdpDevice).kernelStatistics());
    result.inRingsBeforeClose = devs.map((d) => d.buffersInRings());
    result.allocatedBeforeClose = pool.allocated;
  } catch (e) {
    out('ERROR', { name: (e as Error).name, message: (e as Error).message, stack: (e as Error).stack });
    process.exitCode = 1;
  }
  finish(devs, pool, result);
}

function finish(devs: Device[], pool: Mempool, result: Record<string, unknown>): void {
  for (const d of devs) d.close();
  for (const d of devs) d.close(); // idempotent
  result.poolFreeAfterClose = pool.available;
  result.poolCount = pool.count;
  out('RESULT', result);
  pool.destroy();
}

/** Polls every rx queue; keeps the hashes of test frames, frees everything. */
function receive(d: Device, pool: Mempool, count: number, deadline: number): Record<string, unknown> {
  const ids = new Uint32Array(64);
  const hashes: string[] = [];
  const perQueue = new Array<number>(d.rxQueues).fill(0);
  let other = 0;
  let idle = 0;
  while (hashes.length < count && Date.now() < deadline) {
    let got = 0;
    for (let q = 0; q < d.rxQueues; q++) {
      const n = d.rxBatch(q, ids, ids.length);
      for (let i = 0; i < n; i++) {
        const off = pool.dataOffset(ids[i]);
        const len = pool.len[ids[i]];
        if (isTestFrame(pool.bytes, off, len)) { hashes.push(frameHash(pool.bytes.subarray(off, off + len))); perQueue[q]++; } else other++;
      }
      pool.freeBatch(ids, 0, n);
      got += n;
    }
    if (got === 0 && ++idle > 2000) { sleepMs(1); idle = 0; }
  }
  return { hashes, other, perQueue };
}

/** Sends frames 0..count-1 in batches of 32 with a pause after each (the peer's socket buffer is finite). */
function transmit(d: Device, pool: Mempool, c: DevCmd, deadline: number): Record<string, unknown> {
  const dst = parseMac(c.dst!);
  const src = d.macAddress();
  const ids = new Uint32Array(32);
  const base = d.buffersInRings();
  let i = 0;
  while (i < c.count! && Date.now() < deadline) {
    const want = Math.min(32, c.count! - i);
    const got = pool.allocBatch(ids, 0, want);
    for (let k = 0; k < got; k++) {
      const f = testFrame(c.seed!, i + k, dst, src);
      pool.bytes.set(f, pool.dataOffset(ids[k]));
      pool.len[ids[k]] = f.length;
    }
    const sent = d.txBatch(0, ids, got);
    pool.freeBatch(ids, sent, got - sent);
    i += sent;
    sleepMs(1);
  }
  // Wait until the kernel has handed every buffer back on COMPLETION (txBatch reclaims).
  while (d.buffersInRings() > base && Date.now() < deadline) { d.txBatch(0, ids, 0); sleepMs(1); }
  return { sent: i, pendingAfterWait: d.buffersInRings() - base };
}

/** a → b without copying: the ids received on a are the ids sent on b. */
function forward(a: Device, b: Device, pool: Mempool, count: number, deadline: number): Record<string, unknown> {
  const ids = new Uint32Array(64);
  let forwarded = 0;
  let other = 0;
  let idle = 0;
  while (forwarded < count && Date.now() < deadline) {
    const n = a.rxBatch(0, ids, ids.length);
    let keep = 0;
    for (let i = 0; i < n; i++) {
      if (isTestFrame(pool.bytes, pool.dataOffset(ids[i]), pool.len[ids[i]])) ids[keep++] = ids[i];
      else { pool.free(ids[i]); other++; }
    }
    let sent = 0;
    while (sent < keep && Date.now() < deadline) sent += b.txBatch(0, ids.subarray(sent), keep - sent);
    pool.freeBatch(ids, sent, keep - sent);
    forwarded += sent;
    if (n === 0) { b.txBatch(0, ids, 0); if (++idle > 2000) { sleepMs(1); idle = 0; } }
  }
  const end = Date.now() + 2000;
  while ((b.buffersInRings() > b.ringSize) && Date.now() < end) { b.txBatch(0, ids, 0); sleepMs(1); }
  return { forwarded, other };
}

/** Keeps the devices open (draining RX) until stdin ends, then closes them. */
function hold(devs: Device[], pool: Mempool): void {
  const ids = new Uint32Array(64);
  const timer = setInterval(() => {
    for (const d of devs) {
      const n = d.rxBatch(0, ids, ids.length);
      pool.freeBatch(ids, 0, n);
    }
  }, 10);
  process.stdin.resume();
  process.stdin.on('end', () => {
    clearInterval(timer);
    finish(devs, pool, {});
  });
}

if (process.env.IXY_NETNS_SCRIPT === '1') main();
