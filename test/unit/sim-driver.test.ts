/**
 * Integration tests: the ixgbe driver on the simulated 82599 (one SimNic per describe).
 *
 * Traffic from the simulated tester is flow-controlled by the test where loss must be exactly zero: the generator's
 * frame limit is raised only as the application consumes frames, so at most WINDOW frames are ever outstanding
 * (fewer than the RX ring holds). The assertions then hold however the OS schedules the two threads, and any lost,
 * reordered or duplicated frame is the driver's doing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { dmaAllocatorFor, openDevice, parseDeviceSpec, SimNic, type Device } from '../../src/driver/index.js';
import { Mempool } from '../../src/mem/mempool.js';
import { IxyError } from '../../src/util/errors.js';
import * as R from '../../src/driver/ixgbe/regs.js';
import type { IxgbeOptions } from '../../src/driver/ixgbe/ixgbe.js';
import {
  buildTestFrame, isTestFrame, OFF_SEQ, OFF_STREAM, readU32LE, TEST_FRAME_LEN, writeU32LE,
} from '../../src/util/test-frame.js';
import { simPortMac, sleep, statsOf, useSimNic, waitUntil, zeroStats } from '../helpers/sim.js';

const FOREIGN_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0xfe);

function poolFor(specs: string[], opts: { count: number; entrySize?: number; headroom?: number }): Mempool {
  return new Mempool(dmaAllocatorFor(specs.map(parseDeviceSpec)), opts);
}

function closeAll(...devs: (Device | null | undefined)[]): void {
  for (const d of devs) if (d) d.close();
}

/** Deterministic PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------------------------

describe('bring-up and statistics (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester', physMiB: 128 });

  test('sim:0 and sim:1 come up at 10 Gbit/s with the port MAC; close returns every buffer', () => {
    const pool = poolFor(['sim:0', 'sim:1'], { count: 2048 });
    let a: Device | null = null;
    let b: Device | null = null;
    try {
      a = openDevice('sim:0', { pool });
      b = openDevice(parseDeviceSpec('sim:1'), { pool });
      assert.equal(a.driverName, 'ixgbe');
      assert.equal(a.spec, 'sim:0');
      assert.equal(b.spec, 'sim:1');
      assert.equal(a.ringSize, 512);
      assert.equal(a.rxQueues, 1);
      assert.equal(a.txQueues, 1);
      assert.equal(a.linkSpeedMbps(), 10000);
      assert.equal(b.linkSpeedMbps(), 10000);
      assert.deepEqual([...a.macAddress()], [...simPortMac(0)]);
      assert.deepEqual([...b.macAddress()], [...simPortMac(1)]);
      // each RX ring holds ringSize buffers, TX rings nothing yet
      assert.equal(a.buffersInRings(), 512);
      assert.equal(b.buffersInRings(), 512);
      assert.equal(pool.available, 2048 - 1024);
      assert.equal(pool.available + a.buffersInRings() + b.buffersInRings(), pool.count);
      // statistics start at zero after bring-up
      assert.deepEqual(statsOf(a), zeroStats());
    } finally {
      closeAll(a, b);
    }
    assert.equal(pool.available, pool.count, 'buffers leaked by close');
    assert.equal(nic().fault(), null);
  });

  test('exactly N=100000 generated frames are received in order; readStats counts N packets and N*64 bytes', () => {
    const N = 100_000;
    const WINDOW = 2048;
    const pool = poolFor(['sim:0'], { count: 8192 });
    const a = openDevice('sim:0', { pool, ringSize: 4096 });
    const n0 = nic();
    const stream = n0.startEpoch(0, 1); // a fresh stream: sequence numbers from 0
    try {
      const ids = new Uint32Array(64);
      let received = 0;
      let badLen = 0;
      let outOfOrder = 0;
      let notTest = 0;
      let limit = Math.min(N, WINDOW);
      n0.setGenerator(0, 2, limit);
      const deadline = performance.now() + 10_000;
      while (received < N && performance.now() < deadline) {
        const n = a.rxBatch(0, ids, 64);
        for (let i = 0; i < n; i++) {
          const id = ids[i];
          const off = pool.dataOffset(id);
          if (pool.len[id] !== TEST_FRAME_LEN) badLen++;
          if (!isTestFrame(pool.bytes, off, pool.len[id])) notTest++;
          else if (readU32LE(pool.bytes, off + OFF_SEQ) !== received + i ||
            (pool.bytes[off + OFF_STREAM] | (pool.bytes[off + OFF_STREAM + 1] << 8)) !== stream) outOfOrder++;
        }
        if (n > 0) pool.freeBatch(ids, 0, n);
        received += n;
        if (limit < N && received + WINDOW - limit >= 256) {
          limit = Math.min(N, received + WINDOW);
          n0.setGenerator(0, 2, limit);
        }
      }
      n0.setGenerator(0, 0, N); // stop without lifting the limit: setGenerator(0, 0) would (see the generator test)
      const t = n0.tester(0);
      assert.equal(t.missed, 0, 'the NIC missed frames (no RX descriptor)');
      assert.equal(received, N, `received ${received} of ${N} (generated ${t.generated})`);
      assert.equal(t.generated, N);
      assert.equal(badLen, 0, 'frames with a length other than 60');
      assert.equal(notTest, 0, 'frames that are not test frames');
      assert.equal(outOfOrder, 0, 'frames out of sequence or of the wrong stream');
      // nothing more arrives
      assert.equal(a.rxBatch(0, ids, 64), 0);
      const st = statsOf(a);
      assert.equal(st.rxPackets, N);
      assert.equal(st.rxBytes, N * 64, 'rxBytes counts 60 bytes + 4 bytes FCS per frame');
      assert.equal(st.rxDropped, 0);
      assert.equal(st.txPackets, 0);
      // counters are clear-on-read: a second read adds nothing
      assert.deepEqual(statsOf(a), zeroStats());
      assert.equal(pool.available + a.buffersInRings(), pool.count);
    } finally {
      n0.setGenerator(0, 0);
      a.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('forwarding sim:0 -> sim:1 (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester', physMiB: 128 });

  test('3,000,000 frames forwarded: none lost, reordered or duplicated; buffer accounting holds; no leak', async () => {
    const N = 3_000_000;
    const RING = 4096;
    const WINDOW = 3072; // < RING - 1 - TX clean batch: neither the RX nor the TX ring can fill
    const n0 = nic();
    const pool = poolFor(['sim:0', 'sim:1'], { count: 4 * RING });
    const a = openDevice('sim:0', { pool, ringSize: RING });
    const b = openDevice('sim:1', { pool, ringSize: RING });
    try {
      const ids = new Uint32Array(64);
      let fwd = 0;
      let txRefused = 0;
      let accountingErrors = 0;
      let accountingChecks = 0;
      let firstAccountingError = '';
      const check = (held: number): void => {
        accountingChecks++;
        const sum = pool.available + a.buffersInRings() + b.buffersInRings() + held;
        if (sum !== pool.count && accountingErrors++ === 0) {
          firstAccountingError = `available ${pool.available} + a ${a.buffersInRings()} + b ${b.buffersInRings()} + held ${held} = ${sum} != ${pool.count}`;
        }
      };
      let limit = WINDOW;
      n0.setGenerator(0, 5, limit);
      const deadline = performance.now() + 30_000;
      let iter = 0;
      while (fwd + txRefused < N && performance.now() < deadline) {
        const n = a.rxBatch(0, ids, 64);
        if (n === 0) continue;
        if ((++iter & 1023) === 0) check(n);
        const s = b.txBatch(0, ids, n);
        fwd += s;
        if (s < n) { pool.freeBatch(ids, s, n - s); txRefused += n - s; }
        if ((iter & 1023) === 1) check(0);
        if (limit < N && fwd + txRefused + WINDOW - limit >= 512) {
          limit = Math.min(N, fwd + txRefused + WINDOW);
          n0.setGenerator(0, 5, limit);
        }
      }
      n0.setGenerator(0, 0, N);
      // drain: let the NIC put the last frames on the wire, reclaim what it sent
      const sinkHasAll = await waitUntil(() => { b.txBatch(0, ids, 0); return n0.tester(1).streams[0].unique >= fwd; }, 3000, 2);
      b.txBatch(0, ids, 0);
      check(0);
      const gen = n0.tester(0);
      const sink = n0.tester(1);
      const s0 = sink.streams[0];
      assert.equal(txRefused, 0, 'txBatch refused frames although the TX ring had room');
      assert.ok(sinkHasAll, `sink got ${s0.unique} of ${fwd} forwarded frames`);
      assert.equal(gen.generated, N);
      assert.equal(gen.missed, 0, 'the NIC had no RX descriptor for some frames');
      assert.equal(gen.streams[0].sent, N);
      assert.equal(s0.unique, N, `lost ${gen.generated - s0.unique}`);
      assert.equal(s0.reordered, 0);
      assert.equal(s0.duplicated, 0);
      assert.equal(s0.next, N);
      assert.equal(sink.foreign, 0);
      assert.equal(sink.rxFrames, N);
      assert.ok(accountingChecks > 100, `only ${accountingChecks} accounting checks ran`);
      assert.equal(accountingErrors, 0, firstAccountingError);
      const sa = statsOf(a);
      const sb = statsOf(b);
      assert.equal(sa.rxPackets, N);
      assert.equal(sa.rxDropped, 0);
      assert.equal(sb.txPackets, N);
      assert.equal(sb.txBytes, N * 64);
    } finally {
      n0.setGenerator(0, 0);
      a.close();
      b.close();
    }
    assert.equal(pool.available, pool.count, `${pool.count - pool.available} buffers leaked after close`);
    assert.equal(n0.fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('promiscuous mode (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester' });

  /** Receives for `ms` (or until `until` frames); checks each frame's destination MAC; frees everything. */
  function receive(a: Device, ms: number, until: number, dst: Uint8Array): { n: number; wrongDst: number } {
    const ids = new Uint32Array(64);
    const pool = a.pool;
    let n = 0;
    let wrongDst = 0;
    const deadline = performance.now() + ms;
    while (n < until && performance.now() < deadline) {
      const k = a.rxBatch(0, ids, 64);
      for (let i = 0; i < k; i++) {
        const off = pool.dataOffset(ids[i]);
        for (let j = 0; j < 6; j++) if (pool.bytes[off + j] !== dst[j]) { wrongDst++; break; }
      }
      if (k) pool.freeBatch(ids, 0, k);
      n += k;
    }
    return { n, wrongDst };
  }

  async function generate(n0: SimNic, total: number): Promise<void> {
    n0.setGenerator(0, 1, total);
    const ok = await waitUntil(() => n0.tester(0).generated >= total, 2000);
    n0.setGenerator(0, 0, total);
    assert.ok(ok, `generator reached only ${n0.tester(0).generated} of ${total}`);
  }

  test('promisc off drops frames for another MAC; setPromisc(true) lets the next 1000 in', async () => {
    const n0 = nic();
    const pool = poolFor(['sim:0'], { count: 4096 });
    const opts: IxgbeOptions = { pool, ringSize: 2048, promisc: false };
    const a = openDevice('sim:0', opts);
    try {
      // sanity: with promisc off, frames to the port's own MAC do arrive
      await generate(n0, 1000);
      const own = receive(a, 2000, 1000, simPortMac(0));
      assert.equal(own.n, 1000);
      assert.equal(own.wrongDst, 0);

      n0.setForeignDestination(0, true);
      await generate(n0, 2000);
      const off = receive(a, 50, 1, FOREIGN_MAC);
      assert.equal(off.n, 0, 'frames for a foreign MAC were received with promiscuous mode off');
      assert.equal(statsOf(a).rxPackets, 1000, 'only the 1000 frames to the port MAC count as received');

      a.setPromisc(true);
      a.linkSpeedMbps(); // a register read: the FCTRL write has been applied when it returns
      await generate(n0, 3000);
      const on = receive(a, 2000, 1000, FOREIGN_MAC);
      assert.equal(on.n, 1000, 'frames for a foreign MAC with promiscuous mode on');
      assert.equal(on.wrongDst, 0);
      assert.equal(receive(a, 20, 1, FOREIGN_MAC).n, 0, 'more frames than generated');
      const st = statsOf(a);
      assert.equal(st.rxPackets, 1000);
      assert.equal(st.rxDropped, 0);

      // and off again
      a.setPromisc(false);
      a.linkSpeedMbps();
      await generate(n0, 4000);
      assert.equal(receive(a, 50, 1, FOREIGN_MAC).n, 0, 'setPromisc(false) did not turn promiscuous mode off');
    } finally {
      n0.setForeignDestination(0, false);
      n0.setGenerator(0, 0);
      a.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });

  test('promisc defaults to on', async () => {
    const n0 = nic();
    const pool = poolFor(['sim:1'], { count: 2048 });
    const b = openDevice('sim:1', { pool, ringSize: 1024 });
    try {
      n0.setForeignDestination(1, true);
      n0.setGenerator(1, 1, 500);
      const got = receive(b, 2000, 500, FOREIGN_MAC);
      assert.equal(got.n, 500);
    } finally {
      n0.setForeignDestination(1, false);
      n0.setGenerator(1, 0);
      b.close();
    }
    assert.equal(n0.fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('link (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester' });
  let a: Device | null = null;
  let pool: Mempool | null = null;

  test('pulling the cable takes the link down within 100 ms', async () => {
    pool = poolFor(['sim:0'], { count: 1024 });
    a = openDevice('sim:0', { pool });
    const dev = a;
    assert.equal(dev.linkSpeedMbps(), 10000);
    const t0 = performance.now();
    nic().setCable(0, false);
    const down = await waitUntil(() => dev.linkSpeedMbps() === 0, 100);
    assert.ok(down, `link still ${dev.linkSpeedMbps()} Mbit/s ${(performance.now() - t0).toFixed(1)} ms after the cable was pulled`);
    // the tester's generator sends nothing over a dead link
    nic().setGenerator(0, 1, 100);
    await sleep(20);
    nic().setGenerator(0, 0);
    assert.equal(nic().tester(0).generated, 0);
  });

  test('plugging the cable back brings the link up at 10000 Mbit/s again after auto-negotiation', async () => {
    assert.ok(a, 'previous test did not open the device');
    const dev = a;
    nic().setCable(0, true);
    const up = await waitUntil(() => dev.linkSpeedMbps() === 10000, 1000, 2);
    try {
      assert.ok(up, `link is ${dev.linkSpeedMbps()} Mbit/s 1 s after the cable was plugged back in (auto-negotiation takes 20 ms in the model)`);
    } finally {
      dev.close();
      a = null;
    }
    assert.equal(pool!.available, pool!.count);
    assert.equal(nic().fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('looped cable sim:0 <-> sim:1', () => {
  const nic = useSimNic({ ports: 2, wire: 'loop', physMiB: 128 });

  /**
   * Sends frames (bytes as given) on `from` and receives on `to` until `expect` frames arrived (then listens 20 ms
   * more for extras); returns the sent and received frames' hashes in order.
   */
  function transfer(from: Device, to: Device, frames: Uint8Array[], expect = frames.length, timeoutMs = 10_000): { sent: string[]; got: string[]; lens: number[] } {
    const pool = from.pool;
    const ids = new Uint32Array(32);
    const rx = new Uint32Array(64);
    const sent: string[] = [];
    const got: string[] = [];
    const lens: number[] = [];
    let next = 0;
    let deadline = performance.now() + timeoutMs;
    let extra = false;
    while (performance.now() < deadline) {
      if (next >= frames.length && got.length >= expect && !extra) { extra = true; deadline = performance.now() + 20; }
      if (next < frames.length && sent.length - got.length < 256) {
        const k = Math.min(32, frames.length - next);
        assert.equal(pool.allocBatch(ids, 0, k), k);
        for (let i = 0; i < k; i++) {
          const f = frames[next + i];
          pool.bytes.set(f, pool.dataOffset(ids[i]));
          pool.len[ids[i]] = f.length;
        }
        let s = 0;
        while (s < k) {
          const t = from.txBatch(0, ids.subarray(s), k - s);
          s += t;
          if (performance.now() > deadline) break;
        }
        for (let i = 0; i < s; i++) sent.push(sha(frames[next + i]));
        next += k;
      }
      const n = to.rxBatch(0, rx, 64);
      for (let i = 0; i < n; i++) {
        const id = rx[i];
        const off = to.pool.dataOffset(id);
        got.push(sha(to.pool.bytes.subarray(off, off + to.pool.len[id])));
        lens.push(to.pool.len[id]);
      }
      if (n) to.pool.freeBatch(rx, 0, n);
    }
    from.txBatch(0, ids, 0);
    return { sent, got, lens };
  }

  function randomFrames(rand: () => number, count: number, dst: Uint8Array, src: Uint8Array, fixed: number[] = []): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const len = i < fixed.length ? fixed[i] : 60 + Math.floor(rand() * (1514 - 60 + 1));
      const f = new Uint8Array(len);
      for (let j = 0; j < len; j++) f[j] = (rand() * 256) | 0;
      f.set(dst, 0);
      f.set(src, 6);
      f[12] = 0x88; f[13] = 0xb5; // local experimental ethertype
      frames.push(f);
    }
    return frames;
  }

  test('frames of 60..1514 bytes sent on sim:0 arrive on sim:1 byte for byte (and back)', () => {
    const n0 = nic();
    // 4 KiB buffers: 3968 bytes of data room -> SRRCTL.BSIZEPACKET 3 KB, every standard frame fits one buffer
    const pool = poolFor(['sim:0', 'sim:1'], { count: 4096, entrySize: 4096 });
    const a = openDevice('sim:0', { pool });
    const b = openDevice('sim:1', { pool });
    try {
      assert.equal(a.linkSpeedMbps(), 10000);
      assert.equal(b.linkSpeedMbps(), 10000);
      const rand = prng(0x1d5);
      const fwdFrames = randomFrames(rand, 1500, b.macAddress(), a.macAddress(), [60, 1514, 1024, 1025, 61, 1513]);
      const ab = transfer(a, b, fwdFrames);
      assert.equal(ab.sent.length, fwdFrames.length, 'txBatch did not take every frame');
      assert.equal(ab.got.length, ab.sent.length, `received ${ab.got.length} of ${ab.sent.length}`);
      assert.deepEqual(ab.lens, fwdFrames.map((f) => f.length));
      assert.deepEqual(ab.got, ab.sent, 'received frames differ from the sent ones');

      const backFrames = randomFrames(rand, 300, a.macAddress(), b.macAddress());
      const ba = transfer(b, a, backFrames);
      assert.equal(ba.got.length, backFrames.length);
      assert.deepEqual(ba.got, ba.sent);

      const sa = statsOf(a);
      const sb = statsOf(b);
      const bytes = (fs: Uint8Array[]): number => fs.reduce((s, f) => s + f.length + 4, 0);
      assert.equal(sa.txPackets, fwdFrames.length);
      assert.equal(sa.txBytes, bytes(fwdFrames));
      assert.equal(sb.rxPackets, fwdFrames.length);
      assert.equal(sb.rxBytes, bytes(fwdFrames));
      assert.equal(sb.rxDropped, 0);
      assert.equal(sb.txPackets, backFrames.length);
      assert.equal(sa.rxPackets, backFrames.length);
      assert.equal(pool.available + a.buffersInRings() + b.buffersInRings(), pool.count);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });

  test('a pool with default options (as the dataplane worker makes) receives full-size 1514-byte frames', () => {
    const n0 = nic();
    const pool = poolFor(['sim:0', 'sim:1'], { count: 2048 }); // entrySize 2048, headroom 128 by default
    const a = openDevice('sim:0', { pool });
    const b = openDevice('sim:1', { pool });
    try {
      const frames = randomFrames(prng(99), 3, b.macAddress(), a.macAddress(), [1514, 1500, 1025]);
      const r = transfer(a, b, frames, frames.length, 500);
      const st = statsOf(b);
      assert.equal(st.rxDropped, 0, `dropped ${st.rxDropped} of 3 standard-size frames (data room ${pool.dataRoom}, ` +
        `so SRRCTL.BSIZEPACKET is ${Math.floor(pool.dataRoom / 1024)} KB)`);
      assert.deepEqual(r.got, r.sent);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });

  test('a frame larger than the RX buffer (BSIZEPACKET 1 KB) arrives split over 2 descriptors and is dropped, counted in rxDropped', () => {
    const n0 = nic();
    // 2048-byte entries with 640 bytes headroom: 1408 bytes of data room (< 1522) -> BSIZEPACKET 1 KB
    const pool = poolFor(['sim:0', 'sim:1'], { count: 2048, entrySize: 2048, headroom: 640 });
    const a = openDevice('sim:0', { pool });
    const b = openDevice('sim:1', { pool });
    try {
      const raw = n0.openBar(1);
      let srrctl: number;
      try { srrctl = raw.read32(R.SRRCTL(0)); } finally { raw.close(); }
      assert.equal(srrctl & R.SRRCTL_BSIZEPKT_MASK, 1, 'SRRCTL.BSIZEPACKET (KB)');
      assert.equal(srrctl & R.SRRCTL_DESCTYPE_MASK, R.SRRCTL_DESCTYPE_ADV_ONEBUF);
      assert.ok(srrctl & R.SRRCTL_DROP_EN);

      const rand = prng(7);
      // big (2 descriptors), marker, exact fit (1 descriptor), one byte too many (2 descriptors), marker
      const frames = randomFrames(rand, 5, b.macAddress(), a.macAddress(), [1400, 100, 1024, 1025, 200]);
      const r = transfer(a, b, frames.slice(0, 2), 1);
      assert.deepEqual(r.got, [sha(frames[1])], 'only the 100-byte frame after the 1400-byte one is delivered');
      let st = statsOf(b);
      assert.equal(st.rxDropped, 1);
      assert.equal(st.rxPackets, 2, 'the NIC received both frames');
      const r2 = transfer(a, b, frames.slice(2), 2);
      assert.deepEqual(r2.got, [sha(frames[2]), sha(frames[4])]);
      st = statsOf(b);
      assert.equal(st.rxDropped, 1);
      assert.equal(pool.available + a.buffersInRings() + b.buffersInRings(), pool.count, 'dropped segments leaked');
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('options (tester wiring)', () => {
  const nic = useSimNic({ ports: 4, wire: 'tester' });

  test('invalid ring sizes, queue counts and too-small buffers are rejected with IxyError', () => {
    const pool = poolFor(['sim:1'], { count: 1024 });
    const rejects = (opts: object, re: RegExp): void => {
      assert.throws(() => openDevice('sim:1', { pool, ...opts }), (e: unknown) => e instanceof IxyError && re.test(e.message),
        `options ${JSON.stringify(opts)}`);
    };
    rejects({ ringSize: 100 }, /ring size 100 is invalid/);
    rejects({ ringSize: 0 }, /ring size 0 is invalid/);
    rejects({ ringSize: 8192 }, /ring size 8192 is invalid/);
    rejects({ rxQueues: 0 }, /0 rx queues is invalid/);
    rejects({ txQueues: 17 }, /17 tx queues is invalid/);
    const small = poolFor(['sim:1'], { count: 1024, entrySize: 1024, headroom: 128 }); // 896 bytes of data room
    assert.throws(() => openDevice('sim:1', { pool: small }), (e: unknown) => e instanceof IxyError && /too small/.test(e.message));
    assert.equal(pool.available, pool.count);
    assert.equal(nic().fault(), null);
  });

  test('a mempool too small for the RX ring is rejected and nothing is leaked', () => {
    const pool = poolFor(['sim:2'], { count: 300 });
    assert.throws(() => openDevice('sim:2', { pool }), (e: unknown) => e instanceof IxyError && /too few free buffers/.test(e.message));
    assert.equal(nic().fault(), null);
    // the port is usable afterwards
    const big = poolFor(['sim:2'], { count: 1024 });
    const d = openDevice('sim:2', { pool: big });
    d.close();
    assert.equal(pool.available, pool.count, `${pool.count - pool.available} buffers leaked by the failed open`);
  });

  test('a mempool too small for the second RX queue is rejected and nothing is leaked', () => {
    const pool = poolFor(['sim:2'], { count: 600 });
    assert.throws(() => openDevice('sim:2', { pool, rxQueues: 2 }), (e: unknown) => e instanceof IxyError && /RX queue 1/.test(e.message));
    assert.equal(pool.available, pool.count, `${pool.count - pool.available} buffers leaked by the failed open`);
  });

  test('rejected options do not use up the port: a valid open works after 10 rejected ones', () => {
    const pool = poolFor(['sim:3'], { count: 1024 });
    for (let i = 0; i < 10; i++) {
      assert.throws(() => openDevice('sim:3', { pool, ringSize: 100 }), (e: unknown) => e instanceof IxyError && /ring size 100/.test(e.message),
        `rejected open #${i + 1} failed for another reason`);
    }
    const d = openDevice('sim:3', { pool });
    d.close();
    assert.equal(pool.available, pool.count);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('several TX queues (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester' });

  test('txQueues 4: frames sent on every queue arrive at the tester', async () => {
    const n0 = nic();
    const PER_QUEUE = 300;
    const Q = 4;
    const pool = poolFor(['sim:0'], { count: 2048 });
    const a = openDevice('sim:0', { pool, txQueues: Q, ringSize: 512 });
    try {
      assert.equal(a.txQueues, Q);
      const ids = new Uint32Array(PER_QUEUE);
      for (let q = 0; q < Q; q++) {
        const stream = 8 + q; // streams the tester itself does not send
        const tpl = buildTestFrame({ src: a.macAddress(), dst: Uint8Array.of(2, 0x74, 0x65, 0x73, 0x74, 0), stream });
        assert.equal(pool.allocBatch(ids, 0, PER_QUEUE), PER_QUEUE);
        for (let i = 0; i < PER_QUEUE; i++) {
          const off = pool.dataOffset(ids[i]);
          pool.bytes.set(tpl, off);
          writeU32LE(pool.bytes, off + OFF_SEQ, i);
          pool.len[ids[i]] = TEST_FRAME_LEN;
        }
        assert.equal(a.txBatch(q, ids, PER_QUEUE), PER_QUEUE, `queue ${q} took fewer frames than it has room for`);
      }
      const all = await waitUntil(() => n0.tester(0).rxFrames >= Q * PER_QUEUE, 2000);
      const t = n0.tester(0);
      assert.ok(all, `tester got ${t.rxFrames} of ${Q * PER_QUEUE}`);
      assert.equal(t.rxFrames, Q * PER_QUEUE);
      assert.equal(t.foreign, 0);
      for (let q = 0; q < Q; q++) {
        const s = t.streams[8 + q];
        assert.equal(s.unique, PER_QUEUE, `queue ${q}`);
        assert.equal(s.reordered, 0, `queue ${q}`);
        assert.equal(s.duplicated, 0, `queue ${q}`);
      }
      const st = statsOf(a);
      assert.equal(st.txPackets, Q * PER_QUEUE);
      assert.equal(st.txBytes, Q * PER_QUEUE * 64);
      // buffers still in the TX rings are accounted for, and returned on close
      assert.equal(pool.available + a.buffersInRings(), pool.count);
    } finally {
      a.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(n0.fault(), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('tester generator (tester wiring)', () => {
  const nic = useSimNic({ ports: 2, wire: 'tester' });

  test('stopping a generator that reached its limit sends no further frames', async () => {
    const n0 = nic();
    const LIMIT = 1000;
    const pool = poolFor(['sim:0'], { count: 4096 });
    const a = openDevice('sim:0', { pool, ringSize: 2048 });
    try {
      n0.setGenerator(0, 10, LIMIT);
      assert.ok(await waitUntil(() => n0.tester(0).generated >= LIMIT, 2000));
      // Stop and re-arm (same limit, already reached) many times: the tester must stay at LIMIT frames.
      // The model reads the rate, then the limit, without a lock. If setGenerator(port, 0) stores limit 0 ("no
      // limit") at all, the model can pair the rate it read just before (10) with that 0 and send a burst; so
      // stopping must leave the limit alone.
      const end = performance.now() + 300;
      while (performance.now() < end && n0.tester(0).generated === LIMIT) {
        for (let i = 0; i < 200; i++) {
          n0.setGenerator(0, 0);
          n0.setGenerator(0, 10, LIMIT);
        }
      }
      n0.setGenerator(0, 0, LIMIT);
      await sleep(5);
      assert.equal(n0.tester(0).generated, LIMIT, 'frames generated beyond the limit while the generator was being stopped');
    } finally {
      n0.setGenerator(0, 0, 1);
      a.close();
    }
  });
});
