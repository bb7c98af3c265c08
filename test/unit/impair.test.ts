/**
 * The impair: device. Unit tests wrap an in-memory fake device (frames in, frames out, exact control over what each
 * call delivers); the last describe wraps a real one, the ixgbe driver on the simulated 82599 with a looped cable.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dmaAllocatorFor, openDevice, parseDeviceSpec, poolHeadroomFor, type Device, type DeviceStats,
} from '../../src/driver/index.js';
import { ImpairDevice, type ImpairStats } from '../../src/driver/impair/impair-device.js';
import { parseImpairSpec, type ImpairConfig } from '../../src/driver/impair/impair-spec.js';
import { Prng } from '../../src/driver/impair/prng.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { IxyError } from '../../src/util/errors.js';
import { readU32LE, writeU32LE } from '../../src/util/test-frame.js';
import { sleep, useSimNic } from '../helpers/sim.js';

/** A device over plain memory: rxBatch delivers `inbox` frames, txBatch copies frames into `sent` (with times). */
class FakeDevice implements Device {
  readonly spec = 'fake:0';
  readonly driverName = 'fake';
  readonly rxQueues = 1;
  readonly txQueues = 1;
  inbox: Uint8Array[] = [];
  next = 0;
  /** performance.now() when each inbox frame was handed out, by inbox index. */
  readonly deliveredAt: number[] = [];
  readonly sent: Uint8Array[] = [];
  readonly sentAt: number[] = [];
  closed = false;
  constructor(readonly pool: Mempool, readonly ringSize = 64) {}
  rxBatch(_q: number, ids: Uint32Array, max: number): number {
    let n = 0;
    while (n < max && this.next < this.inbox.length) {
      const id = this.pool.alloc();
      if (id < 0) break;
      const f = this.inbox[this.next];
      this.deliveredAt[this.next++] = performance.now();
      this.pool.bytes.set(f, this.pool.dataOffset(id));
      this.pool.len[id] = f.length;
      ids[n++] = id;
    }
    return n;
  }
  txBatch(_q: number, ids: Uint32Array, n: number): number {
    for (let i = 0; i < n; i++) {
      const off = this.pool.dataOffset(ids[i]);
      this.sent.push(this.pool.bytes.slice(off, off + this.pool.len[ids[i]]));
      this.sentAt.push(performance.now());
      this.pool.free(ids[i]);
    }
    return n;
  }
  readStats(_into: DeviceStats): void {}
  setPromisc(): void {}
  linkSpeedMbps(): number { return 10000; }
  macAddress(): Uint8Array { return new Uint8Array(6); }
  buffersInRings(): number { return 0; }
  close(): void { this.closed = true; }
}

/** A frame of `len` bytes whose content follows from seq, with seq (u32 LE) at offset 14. */
function frame(seq: number, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  for (let j = 0; j < len; j++) f[j] = (seq * 31 + j * 7) & 0xff;
  writeU32LE(f, 14, seq);
  return f;
}
const seqOf = (f: Uint8Array): number => readU32LE(f, 14);
const hex = (f: Uint8Array): string => Buffer.from(f).toString('hex');
const frames = (n: number, varied = false): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => frame(i, varied ? 60 + ((i * 37) % 1455) : 64));

function configOf(spec: string): ImpairConfig {
  return parseImpairSpec(parseDeviceSpec(spec)).config;
}

function newPool(count = 4096): Mempool {
  return new Mempool(new HeapDmaAllocator(), { count });
}

interface Run { out: Uint8Array[]; stats: ImpairStats }

/** Feeds `input` through the RX side and collects what comes out until nothing is held; checks no buffer leaked. */
function runRx(spec: string, input: Uint8Array[]): Run {
  const pool = newPool();
  const fake = new FakeDevice(pool);
  const dev = new ImpairDevice(spec, fake, configOf(spec));
  fake.inbox = input;
  const ids = new Uint32Array(64);
  const out: Uint8Array[] = [];
  const deadline = performance.now() + 10_000;
  while ((fake.next < input.length || dev.buffersInRings() > 0) && performance.now() < deadline) {
    const n = dev.rxBatch(0, ids, ids.length);
    for (let i = 0; i < n; i++) {
      const off = pool.dataOffset(ids[i]);
      out.push(pool.bytes.slice(off, off + pool.len[ids[i]]));
    }
    pool.freeBatch(ids, 0, n);
  }
  const stats = dev.impairStats();
  dev.close();
  assert.ok(fake.closed);
  assert.equal(pool.available, pool.count, 'buffers leaked');
  return { out, stats };
}

/** Sends `input` through the TX side (32 per call), then flushes with empty txBatch calls until nothing is held. */
function runTx(spec: string, input: Uint8Array[]): Run {
  const pool = newPool();
  const fake = new FakeDevice(pool);
  const dev = new ImpairDevice(spec, fake, configOf(spec));
  const ids = new Uint32Array(32);
  for (let next = 0; next < input.length; next += 32) {
    const k = Math.min(32, input.length - next);
    assert.equal(pool.allocBatch(ids, 0, k), k);
    for (let i = 0; i < k; i++) {
      pool.bytes.set(input[next + i], pool.dataOffset(ids[i]));
      pool.len[ids[i]] = input[next + i].length;
    }
    assert.equal(dev.txBatch(0, ids, k), k);
  }
  const deadline = performance.now() + 10_000;
  while (dev.buffersInRings() > 0 && performance.now() < deadline) dev.txBatch(0, ids, 0);
  const stats = dev.impairStats();
  dev.close();
  assert.equal(pool.available, pool.count, 'buffers leaked');
  return { out: fake.sent, stats };
}

/** |x - n·p| within 5 standard deviations of a binomial(n, p). */
function assertBinomial(x: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(x - n * p) <= 5 * sd, `${what}: ${x} of ${n}, expected ${n * p} ± ${Math.round(5 * sd)}`);
}

const popcount = (x: number): number => { let c = 0; for (; x; x &= x - 1) c++; return c; };

// ---------------------------------------------------------------------------------------------------------------

describe('impair spec', () => {
  test('options, units and nesting parse', () => {
    const a = parseImpairSpec(parseDeviceSpec('impair:42,loss=5%,reorder=2%,dup=1%,corrupt=0.1%,delay=1ms/tap:t0'));
    assert.deepEqual(a.config, { seed: 42, lossPct: 5, reorderPct: 2, dupPct: 1, corruptPct: 0.1, delayMs: 1 });
    assert.equal(a.inner.text, 'tap:t0');
    assert.equal(configOf('impair:7,delay=250us/sim:0').delayMs, 0.25);
    assert.deepEqual(configOf('impair:4294967295/sim:0'), { seed: 4294967295, lossPct: 0, reorderPct: 0, dupPct: 0, corruptPct: 0, delayMs: 0 });
    assert.equal(configOf('impair:0,loss=100%,delay=0/sim:0').lossPct, 100);
    const nested = parseImpairSpec(parseDeviceSpec('impair:1,dup=1%/impair:2,loss=1%/sim:0'));
    assert.equal(nested.inner.text, 'impair:2,loss=1%/sim:0');
    assert.equal(parseImpairSpec(nested.inner).inner.text, 'sim:0');
  });

  const bad: [string, RegExp][] = [
    ['impair:42', /names no inner device after '\/'/],
    ['impair:42,loss=5%/', /names no inner device/],
    ['impair:/sim:0', /'' is not a seed: the first field is an integer 0\.\.4294967295/],
    ['impair:loss=5%/sim:0', /'loss=5%' is not a seed/],
    ['impair:-1/sim:0', /is not a seed/],
    ['impair:4294967296/sim:0', /is not a seed/],
    ['impair:1,loss=5/sim:0', /loss=5 is not a percentage: use 0\.\.100 with a % sign/],
    ['impair:1,dup=0.05/sim:0', /dup=0\.05 is not a percentage/],
    ['impair:1,corrupt=101%/sim:0', /corrupt=101% is not a percentage/],
    ['impair:1,reorder=x%/sim:0', /reorder=x% is not a percentage/],
    ['impair:1,loss/sim:0', /loss= is not a percentage/],
    ['impair:1,jitter=1ms/sim:0', /unknown option 'jitter=1ms': the options are loss, reorder, dup, corrupt \(=P%\) and delay/],
    ['impair:1,toString=1%/sim:0', /unknown option/],
    ['impair:1,/sim:0', /unknown option ''/],
    ['impair:1,loss=1%,loss=2%/sim:0', /sets loss twice/],
    ['impair:1,delay=5/sim:0', /delay=5 is not a delay: use a number with us or ms/],
    ['impair:1,delay=2s/sim:0', /delay=2s is not a delay/],
    ['impair:1,delay=1001ms/sim:0', /up to 1000ms/],
    ['impair:1/foo:0', /inner device: unknown device kind 'foo' in 'foo:0': use one of .*sim/],
    ['impair:1/sim', /inner device: 'sim' is not a device spec/],
    ['impair:1,loss=1%/impair:2/bogus:1', /^'impair:2\/bogus:1': inner device: unknown device kind 'bogus'/],
  ];
  for (const [spec, msg] of bad) {
    test(`'${spec}' is refused with one line that says what is valid`, () => {
      const pool = newPool(16);
      assert.throws(() => openDevice(spec, { pool }), (e: unknown) => {
        assert.ok(e instanceof IxyError, `not an IxyError: ${String(e)}`);
        assert.match(e.message, msg);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    });
  }
});

describe('impair PRNG', () => {
  test('same seed and stream repeat; other seeds and streams differ; values look uniform', () => {
    const draw = (seed: number, stream: number): number[] => { const r = new Prng(seed, stream); return Array.from({ length: 8 }, () => r.next()); };
    assert.deepEqual(draw(1, 0), draw(1, 0));
    assert.notDeepEqual(draw(1, 0), draw(2, 0));
    assert.notDeepEqual(draw(1, 0), draw(1, 1));
    const r = new Prng(123);
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 160_000; i++) buckets[r.next() >>> 28]++;
    for (const b of buckets) assert.ok(Math.abs(b - 10_000) < 500, `bucket ${b} of 10000 expected`);
    for (let i = 0; i < 1000; i++) { const v = r.below(60); assert.ok(Number.isInteger(v) && v >= 0 && v < 60); }
  });
});

describe('impair on a fake device', () => {
  const MIXED = ',loss=5%,dup=3%,corrupt=2%,reorder=5%/sim:0';

  test('determinism: the same seed and traffic give the same frames in both directions; another seed does not', () => {
    const input = frames(3000, true);
    for (const run of [runRx, runTx]) {
      const a = run(`impair:42${MIXED}`, input);
      const b = run(`impair:42${MIXED}`, input);
      const c = run(`impair:43${MIXED}`, input);
      assert.deepEqual(a.out.map(hex), b.out.map(hex), `${run.name}: same seed, different output`);
      assert.deepEqual(a.stats, b.stats);
      assert.notDeepEqual(a.out.map(hex), c.out.map(hex), `${run.name}: another seed, same output`);
      assert.ok(a.stats.rx.lost + a.stats.tx.lost > 0 && a.stats.rx.reordered + a.stats.tx.reordered > 0);
    }
    // the directions use different streams: the same traffic is impaired differently on the way in and out
    assert.notDeepEqual(runRx(`impair:42${MIXED}`, input).out.map(hex), runTx(`impair:42${MIXED}`, input).out.map(hex));
  });

  test('loss=5% over 20000 frames: a binomial count, the rest in order and intact (RX and TX)', () => {
    const N = 20_000;
    const input = frames(N);
    for (const [run, dir] of [[runRx, 'rx'], [runTx, 'tx']] as const) {
      const { out, stats } = run('impair:5,loss=5%/sim:0', input);
      const lost = stats[dir].lost;
      assertBinomial(lost, N, 0.05, `${dir} lost`);
      assert.equal(out.length, N - lost);
      for (let i = 0; i < out.length; i++) {
        assert.equal(hex(out[i]), hex(input[seqOf(out[i])]));
        if (i > 0) assert.ok(seqOf(out[i]) > seqOf(out[i - 1]), 'loss alone reordered frames');
      }
    }
    assert.equal(runRx('impair:5,loss=100%/sim:0', frames(100)).out.length, 0);
    assert.equal(runRx('impair:5,loss=0%/sim:0', frames(100)).out.length, 100);
  });

  test('dup=3%: each duplicate right behind its original, byte for byte', () => {
    const N = 20_000;
    const input = frames(N, true);
    const { out, stats } = runRx('impair:6,dup=3%/sim:0', input);
    assertBinomial(stats.rx.duplicated, N, 0.03, 'duplicated');
    assert.equal(stats.rx.dupNoBuffer, 0);
    assert.equal(out.length, N + stats.rx.duplicated);
    let expect = 0;
    let dups = 0;
    for (let i = 0; i < out.length; i++) {
      if (i > 0 && seqOf(out[i]) === seqOf(out[i - 1])) { dups++; assert.equal(hex(out[i]), hex(out[i - 1])); continue; }
      assert.equal(seqOf(out[i]), expect++);
      assert.equal(hex(out[i]), hex(input[seqOf(out[i])]));
    }
    assert.equal(dups, stats.rx.duplicated);
  });

  test('dup with an empty pool makes no copy and counts it', () => {
    const pool = newPool(8);
    const fake = new FakeDevice(pool);
    const dev = new ImpairDevice('impair:1,dup=100%/fake:0', fake, configOf('impair:1,dup=100%/sim:0'));
    const ids = new Uint32Array(8);
    assert.equal(pool.allocBatch(ids, 0, 8), 8);
    for (let i = 0; i < 8; i++) pool.len[ids[i]] = 60;
    assert.equal(dev.txBatch(0, ids, 8), 8);
    assert.deepEqual([dev.impairStats().tx.duplicated, dev.impairStats().tx.dupNoBuffer], [0, 8]);
    assert.equal(fake.sent.length, 8);
    dev.close();
    assert.equal(pool.available, pool.count);
  });

  test('corrupt=2%: corrupted frames differ from the original in exactly one bit', () => {
    const N = 20_000;
    const input = frames(N, true);
    const { out, stats } = runTx('impair:7,corrupt=2%/sim:0', input);
    assertBinomial(stats.tx.corrupted, N, 0.02, 'corrupted');
    assert.equal(out.length, N);
    let differ = 0;
    for (let i = 0; i < N; i++) {
      assert.equal(out[i].length, input[i].length);
      let bits = 0;
      for (let j = 0; j < out[i].length; j++) bits += popcount(out[i][j] ^ input[i][j]);
      if (bits > 0) { differ++; assert.equal(bits, 1, `frame ${i} differs in ${bits} bits`); }
    }
    assert.equal(differ, stats.tx.corrupted);
  });

  test('reorder=10%: frames change places with their successor, none lost or duplicated', () => {
    const N = 20_000;
    for (const [run, dir] of [[runRx, 'rx'], [runTx, 'tx']] as const) {
      const { out, stats } = run('impair:8,reorder=10%/sim:0', frames(N));
      const seqs = out.map(seqOf);
      assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i), `${dir}: not a permutation`);
      let descents = 0;
      for (let i = 0; i < N; i++) {
        assert.ok(Math.abs(seqs[i] - i) <= 1, `${dir}: frame ${seqs[i]} at position ${i}`);
        if (i > 0 && seqs[i] < seqs[i - 1]) descents++;
      }
      assert.equal(descents, stats[dir].reordered);
      // a frame is held with p = 10 % when the slot is free; a hold takes two frames: about N·p/(1+p) swaps
      assertBinomial(descents, N, 0.1 / 1.1, `${dir} reordered`);
    }
  });

  test('a reordered frame nothing follows is let out after ~1 ms (RX poll; TX on a later rxBatch)', async () => {
    const pool = newPool(64);
    const fake = new FakeDevice(pool);
    const dev = new ImpairDevice('impair:1,reorder=100%/fake:0', fake, configOf('impair:1,reorder=100%/sim:0'));
    const ids = new Uint32Array(8);
    fake.inbox = [frame(1)];
    const t0 = performance.now();
    assert.equal(dev.rxBatch(0, ids, 8), 0, 'the only frame is held');
    assert.equal(dev.buffersInRings(), 1);
    let n = 0;
    while (n === 0 && performance.now() - t0 < 1000) n = dev.rxBatch(0, ids, 8);
    assert.equal(n, 1);
    assert.ok(performance.now() - t0 >= 1, 'let out before 1 ms');
    assert.equal(seqOf(pool.bytes.subarray(pool.dataOffset(ids[0]))), 1);
    pool.free(ids[0]);

    ids[0] = pool.alloc();
    pool.len[ids[0]] = 60;
    assert.equal(dev.txBatch(0, ids, 1), 1);
    assert.equal(fake.sent.length, 0, 'the only TX frame is held');
    await sleep(2);
    assert.equal(dev.rxBatch(0, ids, 8), 0);
    assert.equal(fake.sent.length, 1, 'an rxBatch call did not let the held TX frame out');
    assert.deepEqual([dev.impairStats().rx.reordered, dev.impairStats().tx.reordered], [0, 0]);
    dev.close();
    assert.equal(pool.available, pool.count);
  });

  test('delay=2ms: RX frames come out no earlier than 2 ms after the inner device gave them', () => {
    const pool = newPool(1024);
    // ring 128 → a FIFO of 512: all 300 frames fit even if a stall lets them all in within 2 ms
    const fake = new FakeDevice(pool, 128);
    const dev = new ImpairDevice('impair:1,delay=2ms/fake:0', fake, configOf('impair:1,delay=2ms/sim:0'));
    const N = 300;
    const ids = new Uint32Array(64);
    const held: number[] = [];
    const pulledAt: number[] = []; // per frame: when the rxBatch call that took it from the fake began
    let got = 0;
    const t0 = performance.now();
    while (got < N && performance.now() - t0 < 5000) {
      if (fake.inbox.length < N && performance.now() - t0 >= fake.inbox.length * 0.1) fake.inbox.push(frame(fake.inbox.length));
      const before = fake.next;
      const callStart = performance.now();
      const n = dev.rxBatch(0, ids, 64);
      for (let i = before; i < fake.next; i++) pulledAt[i] = callStart;
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        const seq = seqOf(pool.bytes.subarray(pool.dataOffset(ids[i])));
        held.push(now - pulledAt[seq]);
        assert.equal(seq, got++, 'delay reordered frames');
      }
      pool.freeBatch(ids, 0, n);
    }
    assert.equal(dev.impairStats().rx.queueDrops, 0);
    assert.equal(got, N);
    assert.ok(Math.min(...held) >= 2, `a frame came out ${Math.min(...held).toFixed(3)} ms after it was received`);
    assert.ok(Math.max(...held) < 1000, `a frame was held ${Math.max(...held).toFixed(1)} ms`);
    assert.equal(dev.impairStats().rx.delayed, N);
    dev.close();
    assert.equal(pool.available, pool.count);
  });

  test('delay=2ms on TX: frames reach the inner device ≥ 2 ms later, flushed by rxBatch alone', () => {
    const pool = newPool(1024);
    const fake = new FakeDevice(pool);
    const dev = new ImpairDevice('impair:1,delay=2ms/fake:0', fake, configOf('impair:1,delay=2ms/sim:0'));
    const ids = new Uint32Array(16);
    const submitted: number[] = [];
    for (let b = 0; b < 10; b++) {
      assert.equal(pool.allocBatch(ids, 0, 16), 16);
      for (let i = 0; i < 16; i++) { pool.bytes.set(frame(b * 16 + i), pool.dataOffset(ids[i])); pool.len[ids[i]] = 64; }
      const t = performance.now();
      for (let i = 0; i < 16; i++) submitted.push(t);
      assert.equal(dev.txBatch(0, ids, 16), 16);
    }
    assert.equal(dev.buffersInRings(), 160 - fake.sent.length);
    const t0 = performance.now();
    while (fake.sent.length < 160 && performance.now() - t0 < 1000) dev.rxBatch(0, ids, 16); // a quiet app only polls
    assert.equal(fake.sent.length, 160);
    for (let i = 0; i < 160; i++) {
      assert.equal(seqOf(fake.sent[i]), i);
      assert.ok(fake.sentAt[i] - submitted[i] >= 2, `frame ${i} sent ${(fake.sentAt[i] - submitted[i]).toFixed(3)} ms after txBatch`);
    }
    assert.equal(dev.buffersInRings(), 0);
    dev.close();
    assert.equal(pool.available, pool.count);
  });

  test('the FIFO is bounded (4 × ring size): frames beyond it are dropped and counted, txBatch still takes them', () => {
    const pool = newPool(512);
    const fake = new FakeDevice(pool, 16); // ring 16 → FIFO of 64
    const dev = new ImpairDevice('impair:1,delay=1000ms/fake:0', fake, configOf('impair:1,delay=1000ms/sim:0'));
    const ids = new Uint32Array(200);
    assert.equal(pool.allocBatch(ids, 0, 200), 200);
    for (let i = 0; i < 200; i++) pool.len[ids[i]] = 60;
    assert.equal(dev.txBatch(0, ids, 200), 200);
    const st = dev.impairStats().tx;
    assert.deepEqual([st.delayed, st.queueDrops], [64, 136]);
    assert.equal(dev.buffersInRings(), 64);
    assert.equal(pool.available, 512 - 64);
    dev.close();
    assert.equal(pool.available, pool.count);
  });

  test('mempool accounting balances while frames are held, and close frees them all', () => {
    const pool = newPool(2048);
    const fake = new FakeDevice(pool);
    const spec = 'impair:3,loss=2%,dup=5%,reorder=20%,delay=50ms/fake:0';
    const dev = new ImpairDevice(spec, fake, configOf(spec.replace('fake:0', 'sim:0')));
    assert.equal(dev.driverName, 'impair(fake)');
    assert.equal(dev.spec, spec);
    assert.deepEqual([dev.rxQueues, dev.txQueues, dev.ringSize, dev.pool], [1, 1, 64, pool]);
    fake.inbox = frames(500);
    const rx = new Uint32Array(64);
    const tx = new Uint32Array(32);
    let appHeld = 0;
    for (let round = 0; round < 20; round++) {
      const n = dev.rxBatch(0, rx, 64);
      pool.freeBatch(rx, 0, n);
      const k = pool.allocBatch(tx, 0, 32);
      for (let i = 0; i < k; i++) pool.len[tx[i]] = 100;
      // keep the last 5 to hold in the "app"
      dev.txBatch(0, tx, k - 5);
      appHeld += 5;
      assert.equal(pool.available + appHeld + dev.buffersInRings(), pool.count, `round ${round}`);
    }
    assert.ok(dev.buffersInRings() > 200, 'the 50 ms delay should be holding frames');
    dev.close();
    assert.equal(dev.rxBatch(0, rx, 64), 0, 'rxBatch after close');
    assert.equal(dev.txBatch(0, tx, 1), 0, 'txBatch after close');
    assert.equal(pool.available + appHeld, pool.count, 'close left frames held');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('impair over the simulated 82599 (looped cable sim:0 <-> sim:1)', () => {
  const nic = useSimNic({ ports: 2, wire: 'loop', physMiB: 128 });

  test('impair:1,loss=10%/sim:0 → sim:1: exactly the frames not lost arrive, in order', () => {
    const specs = ['impair:1,loss=10%/sim:0', 'sim:1'].map(parseDeviceSpec);
    const pool = new Mempool(dmaAllocatorFor(specs), { count: 4096, headroom: poolHeadroomFor(specs) });
    const a = openDevice(specs[0], { pool }) as ImpairDevice;
    const b = openDevice(specs[1], { pool });
    const N = 5000;
    try {
      assert.equal(a.driverName, 'impair(ixgbe)');
      assert.equal(a.spec, 'impair:1,loss=10%/sim:0');
      assert.equal(a.linkSpeedMbps(), 10000);
      const dst = b.macAddress();
      const src = a.macAddress();
      const tx = new Uint32Array(32);
      const rx = new Uint32Array(64);
      const got: number[] = [];
      let sent = 0;
      const deadline = performance.now() + 20_000;
      while (performance.now() < deadline) {
        const lost = a.impairStats().tx.lost;
        if (sent >= N && got.length >= N - lost) break;
        if (sent < N && sent - lost - got.length < 256) {
          const k = Math.min(32, N - sent);
          assert.equal(pool.allocBatch(tx, 0, k), k);
          for (let i = 0; i < k; i++) {
            const f = frame(sent + i, 60);
            f.set(dst, 0);
            f.set(src, 6);
            f[12] = 0x88; f[13] = 0xb5; // local experimental ethertype
            pool.bytes.set(f, pool.dataOffset(tx[i]));
            pool.len[tx[i]] = 60;
          }
          assert.equal(a.txBatch(0, tx, k), k);
          sent += k;
        }
        const n = b.rxBatch(0, rx, 64);
        for (let i = 0; i < n; i++) got.push(seqOf(pool.bytes.subarray(pool.dataOffset(rx[i]))));
        pool.freeBatch(rx, 0, n);
        a.txBatch(0, tx, 0);
      }
      const lost = a.impairStats().tx.lost;
      assertBinomial(lost, N, 0.1, 'lost');
      assert.equal(got.length, N - lost, `received ${got.length}, sent ${N} of which ${lost} lost`);
      for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], 'frames out of order');
      assert.equal(a.impairStats().rx.lost, 0, 'nothing was received on sim:0');
      // nothing more arrives
      assert.equal(b.rxBatch(0, rx, 64), 0);
      assert.equal(pool.available + a.buffersInRings() + b.buffersInRings(), pool.count);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pool.available, pool.count);
    assert.equal(nic().fault(), null);
  });
});
