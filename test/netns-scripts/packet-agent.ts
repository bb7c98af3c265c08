/**
 * Runs a device inside a network namespace for test/linux/packet.test.ts (spawned through `ip netns exec`).
 * Does nothing unless IXY_NETNS_SCRIPT=1, because `node --test dist/test/` would load every file under dist/test.
 *
 *   node packet-agent.js '<json>'   with json.mode one of
 *   rx   { spec, count, timeoutMs, graceMs, entrySize?, headroom?, ringSize? }  prints `ready`, then one JSON line
 *   tx   { spec, frames: hex[], batch, listenMs, ringSize? }                      prints one JSON line
 *   open { spec }                                                               prints { ok } or { error }
 *   info { spec }   mac, link speed, and the interface flags with promisc on / off / after close
 */
import * as fs from 'node:fs';
import { emptyStats, formatMac, openDevice, type Device } from '../../src/driver/index.js';
import { Mempool } from '../../src/mem/mempool.js';
import { linuxMemory } from '../../src/mem/mmap-dma.js';
import { fromHex, toHex } from './packet-frames.js';

interface Args {
  mode: 'rx' | 'tx' | 'open' | 'info';
  spec: string;
  count?: number;
  timeoutMs?: number;
  graceMs?: number;
  entrySize?: number;
  headroom?: number;
  ringSize?: number;
  frames?: string[];
  batch?: number;
  listenMs?: number;
}

const GUARD = 0xa5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (line: string): Promise<void> => new Promise((r) => process.stdout.write(`${line}\n`, () => r()));

async function rx(a: Args): Promise<unknown> {
  const pool = new Mempool(linuxMemory, { count: 256, entrySize: a.entrySize ?? 2048, headroom: a.headroom ?? 128 });
  pool.bytes.fill(GUARD);
  const dev = openDevice(a.spec, { pool, ringSize: a.ringSize });
  try {
    await say('ready');
    const ids = new Uint32Array(32);
    const frames: string[] = [];
    const held: number[] = [];
    const deadline = Date.now() + (a.timeoutMs ?? 5000);
    let graceEnd = Infinity;
    while (Date.now() < Math.min(deadline, graceEnd)) {
      const n = dev.rxBatch(0, ids, ids.length);
      for (let i = 0; i < n; i++) {
        const id = ids[i];
        frames.push(toHex(pool.bytes.subarray(pool.dataOffset(id), pool.dataOffset(id) + pool.len[id])));
        held.push(id);
      }
      if (frames.length >= (a.count ?? 0) && graceEnd === Infinity) graceEnd = Date.now() + (a.graceMs ?? 300);
      if (n === 0) await sleep(1);
    }
    // Nothing outside the received frames was written: every other byte of the pool still holds the guard.
    const lenOf = new Map(held.map((id) => [id, pool.len[id]]));
    let guardOk = true;
    for (let id = 0; id < pool.count && guardOk; id++) {
      const from = id * pool.entrySize;
      const used = lenOf.get(id);
      const skipFrom = pool.dataOffset(id);
      const skipTo = used === undefined ? skipFrom : skipFrom + used;
      for (let i = from; i < from + pool.entrySize; i++) {
        if (i >= skipFrom && i < skipTo) continue;
        if (pool.bytes[i] !== GUARD) { guardOk = false; break; }
      }
    }
    for (const id of held) pool.free(id);
    return { frames, guardOk, ...statsOf(dev), oversize: (dev as unknown as { rxOversize: number }).rxOversize, buffersInRings: dev.buffersInRings() };
  } finally {
    dev.close();
    pool.destroy();
  }
}

function statsOf(dev: Device): Record<string, number> {
  const s = emptyStats();
  dev.readStats(s);
  return { ...s };
}

async function tx(a: Args): Promise<unknown> {
  const pool = new Mempool(linuxMemory, { count: 512 });
  const dev = openDevice(a.spec, { pool, ringSize: a.ringSize });
  try {
    const frames = (a.frames ?? []).map(fromHex);
    const batch = a.batch ?? 32;
    const ids = new Uint32Array(batch);
    let next = 0;
    let fullWaits = 0;
    const deadline = Date.now() + 10000;
    while (next < frames.length && Date.now() < deadline) {
      const want = Math.min(batch, frames.length - next);
      const got = pool.allocBatch(ids, 0, want);
      for (let i = 0; i < got; i++) {
        const f = frames[next + i];
        pool.bytes.set(f, pool.dataOffset(ids[i]));
        pool.len[ids[i]] = f.length;
      }
      const sent = dev.txBatch(0, ids, got);
      pool.freeBatch(ids, sent, got - sent);
      next += sent;
      if (sent < got) { fullWaits++; await sleep(1); }
    }
    // Anything the device hears now would be its own transmissions (PACKET_IGNORE_OUTGOING keeps them out).
    let rxSeen = 0;
    const until = Date.now() + (a.listenMs ?? 300);
    while (Date.now() < until) {
      const n = dev.rxBatch(0, ids, ids.length);
      rxSeen += n;
      pool.freeBatch(ids, 0, n);
      await sleep(5);
    }
    return {
      sent: next, fullWaits, rxSeen, ...statsOf(dev), poolAllocated: pool.allocated,
      txRejected: (dev as unknown as { txRejected: number }).txRejected,
    };
  } finally {
    dev.close();
    pool.destroy();
  }
}

function open(a: Args): unknown {
  const pool = new Mempool(linuxMemory, { count: 64 });
  try {
    openDevice(a.spec, { pool }).close();
    return { ok: true };
  } catch (e) {
    return { error: (e as Error).message, name: (e as Error).name };
  } finally {
    pool.destroy();
  }
}

function info(a: Args): unknown {
  const pool = new Mempool(linuxMemory, { count: 64 });
  const ifname = a.spec.slice(a.spec.indexOf(':') + 1);
  const flags = (): number => Number(fs.readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8'));
  try {
    const dev = openDevice(a.spec, { pool });
    const out = { mac: formatMac(dev.macAddress()), linkMbps: dev.linkSpeedMbps(), flagsBefore: flags(), flagsOn: 0, flagsOff: 0, flagsClosed: 0 };
    dev.setPromisc(true);
    dev.setPromisc(true);
    out.flagsOn = flags();
    dev.setPromisc(false);
    out.flagsOff = flags();
    dev.setPromisc(true);
    dev.close();
    dev.close();
    out.flagsClosed = flags();
    return out;
  } finally {
    pool.destroy();
  }
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]) as Args;
  const out = a.mode === 'rx' ? await rx(a) : a.mode === 'tx' ? await tx(a) : a.mode === 'info' ? info(a) : open(a);
  await say(JSON.stringify(out));
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  main().catch(async (e: Error) => {
    await say(JSON.stringify({ error: e.message, name: e.name }));
    process.exitCode = 1;
  });
}
