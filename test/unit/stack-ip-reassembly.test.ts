import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import fc from 'fast-check';
import { Ipv4Reassembler } from '../../src/stack/ip-reassembly.js';
import {
  emitEthernet, emitIpv4, ETH_HEADER_LEN, EtherType, IPV4_MF, ipv4FillChecksum, Ipv4View, IpProtocol, wr16, WireError,
} from '../../src/wire/index.js';
import { MAC_A, MAC_B } from '../helpers/wire-frames.js';

const IP = ETH_HEADER_LEN;

interface Dgram { src: number; dst: number; proto: number; ident: number; payload: Uint8Array }

function dgram(len: number, ident = 0x1234, seed = 1, proto: number = IpProtocol.Udp): Dgram {
  const payload = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; payload[i] = x; }
  return { src: 0xc0a80001 | 0, dst: 0xc0a800fe | 0, proto, ident, payload };
}

/**
 * An Ethernet frame carrying bytes [a, b) of `d` as a fragment: MF set unless b is the end, TTL 64 on the first
 * fragment and 7 on the others (the result must take the first's header), `options` (a multiple of 4 bytes) in the
 * first fragment only, `pad` bytes of junk after the datagram (Ethernet padding).
 */
function frag(d: Dgram, a: number, b: number, options?: Uint8Array, pad = 0, data?: Uint8Array): Uint8Array {
  const optLen = a === 0 && options !== undefined ? options.length : 0;
  const f = new Uint8Array(IP + 20 + optLen + (b - a) + pad).fill(0xee);
  emitEthernet(f, 0, MAC_B, 0, MAC_A, 0, EtherType.Ipv4);
  emitIpv4(f, IP, d.src, d.dst, d.proto, optLen + (b - a), d.ident, a === 0 ? 64 : 7, false);
  if (optLen > 0) {
    f[IP] = 0x40 | ((20 + optLen) >> 2);
    f.set(options!, IP + 20);
  }
  f[IP + 1] = 0x28; // a DSCP to carry over
  wr16(f, IP + 6, (b < d.payload.length ? IPV4_MF : 0) | (a >> 3));
  f.set((data ?? d.payload).subarray(a, b), IP + 20 + optLen);
  ipv4FillChecksum(f, IP);
  const v = new Ipv4View();
  assert.equal(v.wrap(f, IP, f.length - IP), WireError.Fragment, 'test frame is a valid fragment');
  return f;
}

/** Checks slot `s` holds `d` reassembled: a valid unfragmented IPv4 datagram with the first fragment's header fields. */
function checkResult(r: Ipv4Reassembler, s: number, d: Dgram): void {
  assert.ok(s >= 0, 'completed');
  const len = r.datagramLen(s);
  assert.equal(len, 20 + d.payload.length);
  const bytes = r.datagramBytes(s);
  const v = new Ipv4View();
  assert.equal(v.wrap(bytes, 0, len), WireError.Ok, 'checksum verifies, not a fragment');
  assert.equal(v.headerLen, 20, 'options removed');
  assert.equal(v.totalLen, len);
  assert.equal(v.fragOffset, 0);
  assert.equal(v.moreFragments, false);
  assert.equal(v.src, d.src);
  assert.equal(v.dst, d.dst);
  assert.equal(v.protocol, d.proto);
  assert.equal(v.ident, d.ident);
  assert.equal(v.ttl, 64, "the first fragment's header");
  assert.equal(v.tos, 0x28);
  assert.ok(Buffer.from(bytes.subarray(20, len)).equals(Buffer.from(d.payload)), 'data differs from the original');
}

/** xorshift32 shuffle, so fast-check only has to generate a seed. */
function shuffle<T>(xs: T[], seed: number): T[] {
  let x = seed | 1;
  for (let i = xs.length - 1; i > 0; i--) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

type Piece = [number, number];

/**
 * The fragments of a datagram of `len` bytes: cuts at multiples of 8 (from `cuts`, in 8-byte units), plus duplicates
 * and arbitrary overlapping pieces (8-aligned starts, ends 8-aligned or the datagram's end), shuffled.
 */
function pieces(len: number, cuts: number[], extras: Array<[number, number, boolean]>, seed: number): Piece[] {
  const units = Math.ceil(len / 8);
  const points = [...new Set(cuts.map((c) => c % units).filter((c) => c > 0))].map((c) => c * 8).sort((a, b) => a - b);
  if (points.length === 0) return []; // one piece would not be a fragment
  const base: Piece[] = [];
  let at = 0;
  for (const p of [...points, len]) { base.push([at, p]); at = p; }
  const more: Piece[] = [];
  for (const [u, w, toEnd] of extras) {
    const a = (u % units) * 8;
    const b = toEnd ? len : Math.min(len, a + 8 * (1 + (w % units)));
    if (a > 0 || b < len) more.push([a, b]);
  }
  return shuffle([...base, ...more], seed);
}

/** Index of the first piece after which [0, len) is covered. */
function completionIndex(len: number, ps: Piece[]): number {
  const have = new Uint8Array(len);
  let missing = len;
  for (let i = 0; i < ps.length; i++) {
    for (let k = ps[i]![0]; k < ps[i]![1]; k++) if (have[k] === 0) { have[k] = 1; missing--; }
    if (missing === 0) return i;
  }
  return -1;
}

const extrasArb = fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 6 });

describe('Ipv4Reassembler: property tests (fast-check)', () => {
  test('any cut, order, duplicates and identical overlaps reassemble to the exact original', () => {
    const r = new Ipv4Reassembler();
    let done = 0;
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 9000 }), fc.array(fc.nat(), { maxLength: 40 }), extrasArb, fc.integer(), fc.boolean(),
      fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 7 }),
      (len, cuts, extras, seed, withOptions, ident, pad) => {
        const d = dgram(len, ident, seed);
        const ps = pieces(len, cuts, extras, seed);
        if (ps.length === 0) return;
        const stop = completionIndex(len, ps);
        const options = withOptions ? Uint8Array.of(0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00) : undefined;
        for (let i = 0; i <= stop; i++) {
          const s = r.input(frag(d, ps[i]![0], ps[i]![1], options, pad), IP, 1000 + i);
          if (i < stop) assert.equal(s, -1, `piece ${i} [${ps[i]}] of ${JSON.stringify(ps)}`);
          else checkResult(r, s, d);
        }
        done++;
        assert.equal(r.reassembled, done);
        assert.equal(r.dropInconsistent + r.dropNoSlot + r.dropTimeout + r.dropTooBig, 0);
      },
    ), { numRuns: 500 });
    r.expire(1e9);
    assert.equal(r.active, 0);
  });

  test('interleaved datagrams (different idents, or the same ident with another protocol) reassemble independently', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 9, max: 4000 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.integer()),
        { minLength: 2, maxLength: 6 }),
      fc.integer(),
      (specs, seed) => {
        const r = new Ipv4Reassembler();
        const ds = specs.map(([len, , s], k) => dgram(len, 0x4000 + (k >> 1), s, k % 2 === 0 ? IpProtocol.Udp : IpProtocol.Tcp));
        const all: Array<{ k: number; p: Piece }> = [];
        specs.forEach(([len, cuts, s], k) => {
          const ps = pieces(len, [...cuts, 1], [], s); // cut 1 (8 bytes) guarantees ≥ 2 fragments
          for (const p of ps) all.push({ k, p });
        });
        shuffle(all, seed);
        const left = specs.map((_, k) => all.filter((x) => x.k === k).length);
        for (const [i, { k, p }] of all.entries()) {
          const s = r.input(frag(ds[k]!, p[0], p[1]), IP, i);
          if (--left[k]! === 0) checkResult(r, s, ds[k]!);
          else assert.equal(s, -1);
        }
        assert.equal(r.reassembled, specs.length);
      },
    ), { numRuns: 200 });
  });
});

describe('Ipv4Reassembler', () => {
  test('a 65515-byte datagram (total length 65535) reassembles; one byte more is too big', () => {
    const r = new Ipv4Reassembler();
    const d = dgram(65515);
    let s = -1;
    for (let a = 0; a < 65515; a += 1480) s = r.input(frag(d, a, Math.min(a + 1480, 65515)), IP, 0);
    checkResult(r, s, d);
    assert.equal(r.datagramLen(s), 65535);

    const big = dgram(65516, 7);
    assert.equal(r.input(frag(big, 0, 1480), IP, 0), -1);
    assert.equal(r.active, 1);
    assert.equal(r.input(frag(big, 65512, 65516), IP, 0), -1);
    assert.equal(r.dropTooBig, 1);
    assert.equal(r.active, 0, 'the whole datagram is discarded');
    // The largest offset the field holds with a full fragment: data would end at 65528 + 16.
    assert.equal(r.input(frag(dgram(65544, 8), 65528, 65544), IP, 0), -1);
    assert.equal(r.dropTooBig, 2);
  });

  test('maxSize limits the data end', () => {
    const r = new Ipv4Reassembler({ maxSize: 9000 });
    const ok = dgram(9000);
    assert.equal(r.input(frag(ok, 0, 8000), IP, 0), -1);
    checkResult(r, r.input(frag(ok, 8000, 9000), IP, 0), ok);
    const big = dgram(9001, 9);
    assert.equal(r.input(frag(big, 0, 8000), IP, 0), -1);
    assert.equal(r.input(frag(big, 8000, 9001), IP, 0), -1);
    assert.equal(r.dropTooBig, 1);
    assert.equal(r.active, 0);
  });

  test('timeout: expire frees datagrams timeoutMs after their first fragment; input reclaims them too', () => {
    const r = new Ipv4Reassembler({ timeoutMs: 30_000 });
    const d = dgram(3000);
    assert.equal(r.input(frag(d, 0, 1480), IP, 0), -1);
    assert.equal(r.input(frag(d, 1480, 2960), IP, 20_000), -1, 'later fragments do not restart the timer');
    assert.equal(r.expire(29_999), 0);
    assert.equal(r.active, 1);
    assert.equal(r.expire(30_000), 1);
    assert.equal(r.dropTimeout, 1);
    assert.equal(r.active, 0);
    assert.equal(r.input(frag(d, 2960, 3000), IP, 30_001), -1, 'the rest starts a new datagram that cannot complete');

    const e = dgram(2000, 99);
    assert.equal(r.input(frag(e, 0, 1480), IP, 40_000), -1);
    assert.equal(r.input(frag(e, 1480, 2000), IP, 70_000), -1, 'timed out before the last piece came');
    assert.equal(r.dropTimeout, 3, 'both the first datagram’s remnant and this one');
    assert.equal(r.active, 1);
    assert.equal(r.expire(1e12), 1);
  });

  test('all slots busy: the oldest datagram is discarded', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 2 });
    const [a, b, c] = [dgram(100, 1), dgram(100, 2), dgram(100, 3)];
    assert.equal(r.input(frag(a, 0, 64), IP, 0), -1);
    assert.equal(r.input(frag(b, 0, 64), IP, 1), -1);
    assert.equal(r.input(frag(c, 0, 64), IP, 2), -1);
    assert.equal(r.dropNoSlot, 1);
    checkResult(r, r.input(frag(b, 64, 100), IP, 3), b);
    checkResult(r, r.input(frag(c, 64, 100), IP, 4), c);
    assert.equal(r.input(frag(a, 64, 100), IP, 5), -1, 'a was discarded');
    assert.equal(r.reassembled, 2);
  });

  test('the completed slot stays readable until the next input or expire, then is freed', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 1 });
    const d = dgram(200);
    r.input(frag(d, 0, 128), IP, 0);
    const s = r.input(frag(d, 128, 200), IP, 0);
    checkResult(r, s, d);
    assert.equal(r.active, 1);
    r.expire(0);
    assert.equal(r.active, 0);
    assert.equal(r.dropTimeout, 0);
    const e = dgram(200, 5);
    assert.equal(r.input(frag(e, 0, 128), IP, 0), -1);
    assert.equal(r.dropNoSlot, 0, 'the freed slot is reused without evicting');
  });

  test('inconsistent fragments discard the datagram', () => {
    const d = dgram(1000);
    const cases: Array<[string, Uint8Array[]]> = [
      ['a second last fragment with another end', [frag(d, 512, 1000), frag(dgram(1008), 512, 1008)]],
      ['data past the known end', [frag(d, 512, 1000), frag(dgram(2000), 0, 1008)]],
      ['a last fragment ending before received data', [frag(d, 0, 512), frag(dgram(2000), 800, 1600), frag(d, 512, 1000)]],
    ];
    for (const [name, frames] of cases) {
      const r = new Ipv4Reassembler();
      for (const f of frames) assert.equal(r.input(f, IP, 0), -1, name);
      assert.equal(r.dropInconsistent, 1, name);
      assert.equal(r.active, 0, name);
      assert.equal(r.reassembled, 0, name);
    }
    const r = new Ipv4Reassembler();
    // A non-last fragment whose length is not a multiple of 8.
    const odd = frag(dgram(1000), 0, 512);
    odd.copyWithin(IP + 20, IP + 21); // shift data; shorten by one byte
    wr16(odd, IP + 2, 20 + 511);
    ipv4FillChecksum(odd, IP);
    assert.equal(r.input(odd, IP, 0), -1);
    assert.equal(r.dropInconsistent, 1);
    // Not a fragment at all.
    const whole = new Uint8Array(IP + 28);
    emitIpv4(whole, IP, 1, 2, IpProtocol.Udp, 8, 1, 64, false);
    assert.equal(r.input(whole, IP, 0), -1);
    assert.equal(r.dropInconsistent, 2);
    assert.equal(r.active, 0);
  });

  test('overlapping fragments with different data: the newer bytes win', () => {
    const r = new Ipv4Reassembler();
    const d = dgram(48);
    const other = new Uint8Array(48).fill(0x5a);
    assert.equal(r.input(frag(d, 0, 32), IP, 0), -1);
    const s = r.input(frag(d, 16, 48, undefined, 0, other), IP, 0);
    assert.ok(s >= 0);
    const want = Uint8Array.from(d.payload);
    want.fill(0x5a, 16, 48);
    assert.deepEqual(r.datagramBytes(s).subarray(20, 68), want);
    // A repeated first fragment brings the header too.
    const again = frag(d, 0, 32);
    again[IP + 8] = 99; // TTL
    ipv4FillChecksum(again, IP);
    assert.equal(r.input(frag(d, 0, 32), IP, 1), -1);
    assert.equal(r.input(again, IP, 1), -1);
    const t = r.input(frag(d, 32, 48), IP, 1);
    assert.ok(t >= 0);
    assert.equal(r.datagramBytes(t)[8], 99, "the newer first fragment's header");
    assert.deepEqual(r.datagramBytes(t).subarray(20, 68), d.payload);
  });

  test('a fragment at a non-zero offset inside a mempool-like buffer, with Ethernet padding', () => {
    const r = new Ipv4Reassembler();
    const d = dgram(100);
    const big = new Uint8Array(8192);
    const f1 = frag(d, 0, 64, undefined, 6), f2 = frag(d, 64, 100, undefined, 10);
    big.set(f1, 2048 + 128);
    big.set(f2, 4096 + 128);
    assert.equal(r.input(big, 2048 + 128 + IP, 0), -1);
    checkResult(r, r.input(big, 4096 + 128 + IP, 0), d);
  });

  test('rejects bad options', () => {
    for (const o of [{ maxDatagrams: 0 }, { maxDatagrams: 1.5 }, { timeoutMs: 0 }, { maxSize: 7 }, { maxSize: 65536 }]) {
      assert.throws(() => new Ipv4Reassembler(o), RangeError, JSON.stringify(o));
    }
  });
});

describe('Ipv4Reassembler allocation', () => {
  test('reassembling 2e5 datagrams (with drops and timeouts) allocates nothing (no GC, heap growth < 1 MiB)', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 4, timeoutMs: 50 });
    // Six datagrams of 3 fragments each, in one mempool-like buffer; #5 never gets its middle (times out or is evicted).
    const STRIDE = 2048;
    const buf = new Uint8Array(STRIDE * 18);
    const offs = new Int32Array(18);
    let n = 0;
    for (let k = 0; k < 6; k++) {
      const d = dgram(3000, 100 + k, k + 1);
      for (const [a, b] of [[0, 1480], [1480, 2960], [2960, 3000]] as const) {
        const f = frag(d, a, b);
        offs[n] = n * STRIDE + 128;
        buf.set(f, offs[n]!);
        n++;
      }
    }
    let now = 0;
    const run = (rounds: number): number => {
      let acc = 0;
      for (let i = 0; i < rounds; i++) {
        now++;
        for (let j = 0; j < 18; j++) {
          const frame = (j * 7) % 18;
          if (frame === 16) continue; // datagram 5's middle
          const s = r.input(buf, offs[frame]! + IP, now);
          if (s >= 0) acc += r.datagramLen(s) + r.datagramBytes(s)[100]!;
        }
        if ((i & 63) === 0) acc += r.expire(now);
      }
      return acc;
    };
    for (let w = 0; w < 5; w++) run(10_000);
    assert.ok(r.reassembled > 0 && r.dropTimeout + r.dropNoSlot > 0, 'every path ran');
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const profiler = new v8.GCProfiler();
      const before = v8.getHeapStatistics().used_heap_size;
      const done0 = r.reassembled;
      profiler.start();
      const acc = run(40_000);
      const after = v8.getHeapStatistics().used_heap_size;
      const gcs = profiler.stop().statistics.length;
      const grew = after - before;
      outcomes.push(`${gcs} collections, heap ${grew >= 0 ? '+' : ''}${grew} B (acc ${acc})`);
      if (gcs === 0 && grew < 1 << 20) {
        assert.ok(r.reassembled - done0 >= 40_000, `${r.reassembled - done0} datagrams reassembled`);
        return;
      }
    }
    assert.fail(`reassembly allocates: ${outcomes.join('; ')}`);
  });
});
