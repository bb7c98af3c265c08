/**
 * The item store of `ixy kv` (src/kv/store.ts) and its numbers (src/kv/numbers.ts), without a network:
 * - the decimal parsers and formatters against BigInt, for memcached's safe_strtol/strtoul/strtoull rules;
 * - fast-check: random set/add/replace/append/prepend/cas/delete/incr/decr/touch/get/gat/flush_all with time
 *   advancing, against a Map model of memcached's semantics (values, flags, expiry, CAS uniques, flush watermarks);
 * - the memory limit under random load (pages never exceed it, every structure consistent after each step, every
 *   value read back is the last one stored), LRU order of eviction per class, pins (a pinned item is not evicted,
 *   an overwrite keeps its bytes until the last pin goes, then the chunk is free), reclaiming expired items first.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AllocError, C, DeltaError, KvStore, StoreMode, StoreResult } from '../../src/kv/store.js';
import { num, parseI32, parseU32, parseU64, writeU64 } from '../../src/kv/numbers.js';

/** fc.assert, with the failing assertion's message in the report (fast-check keeps it in `cause`). */
function check<T>(p: fc.IProperty<T>, o?: fc.Parameters<T>): void {
  try { fc.assert(p, o); } catch (e) { const c = (e as Error).cause as Error | undefined; throw new Error(`${(e as Error).message}\n${c?.stack ?? c}`); }
}

const js = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
const B = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const U64 = (1n << 64n) - 1n;

/** C's strtoull/strtol over a token, as memcached's safe_* use them (the reference for the parsers). */
function refParse(s: string, kind: 'u64' | 'u32' | 'i32'): bigint | null {
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d+)([\t\n\v\f\r ].*)?$/s.exec(s);
  if (!m) return null;
  const mag = BigInt(m[2]);
  if (kind === 'i32') {
    const v = m[1] === '-' ? -mag : mag;
    if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return null;
    return BigInt.asIntN(32, v);
  }
  if (mag > U64) return null;
  const v = m[1] === '-' ? (mag === 0n ? 0n : (1n << 64n) - mag) : mag;
  if (v >= 1n << 63n && s.includes('-')) return null;
  return kind === 'u32' ? v & 0xffffffffn : v;
}

describe('numbers: memcached safe_strto* and 64-bit decimal', () => {
  const tokens = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 66n) }).map(String),
    fc.bigInt({ min: -(1n << 64n), max: 0n }).map(String),
    fc.constantFrom('', '+', '-', '-0', '+5', '\t7', '1\tx', '12a', 'abc', '0x10', '4294967297', '18446744073709551615', '18446744073709551616', '9223372036854775808', '-9223372036854775808', '-9223372036854775809'),
    fc.string({ unit: fc.constantFrom('0', '1', '9', '-', '+', '\t', 'a', ' ') , maxLength: 24 }).filter((s) => !s.includes(' ')),
  );

  test('parseU64 / parseU32 / parseI32 agree with the C rules', () => {
    check(fc.property(tokens, (s) => {
      const b = B(s);
      const u = refParse(s, 'u64');
      assert.equal(parseU64(b, 0, b.length), u !== null, `u64 ${JSON.stringify(s)}`);
      if (u !== null) assert.equal((BigInt(num[1]) << 32n) | BigInt(num[0]), u, `u64 ${JSON.stringify(s)}`);
      const u32 = refParse(s, 'u32');
      assert.equal(parseU32(b, 0, b.length), u32 !== null);
      if (u32 !== null) assert.equal(BigInt(num[0]), u32, `u32 ${JSON.stringify(s)}`);
      const i = refParse(s, 'i32');
      const got = parseI32(b, 0, b.length);
      if (i === null) assert.ok(Number.isNaN(got), `i32 ${JSON.stringify(s)} gave ${got}`);
      else assert.equal(BigInt(got), i, `i32 ${JSON.stringify(s)}`);
    }), { numRuns: 5000 });
  });

  test('writeU64 prints every 64-bit value', () => {
    const out = new Uint8Array(32);
    check(fc.property(fc.bigInt({ min: 0n, max: U64 }), (v) => {
      const n = writeU64(out, 3, Number(v >> 32n), Number(v & 0xffffffffn));
      assert.equal(Buffer.from(out.subarray(3, 3 + n)).toString(), v.toString());
    }), { numRuns: 5000 });
  });
});

// ---- a model of memcached's semantics ----

interface Entry { value: string; flags: number; exp: number; cas: bigint; time: number }

class Model {
  map = new Map<string, Entry>();
  cas = 0n;
  now = 2;
  oldestLive = 0;
  oldestCas = 0n;
  readonly started: number;
  constructor(unix: number) { this.started = unix - 2; }
  rel(e: number): number {
    if (e < 0) e = 2592001;
    if (e === 0) return 0;
    if (e > 2592000) return e <= this.started ? 1 : e - this.started;
    return e + this.now;
  }
  live(k: string): Entry | undefined {
    const e = this.map.get(k);
    if (!e) return undefined;
    const flushed = this.oldestLive !== 0 && this.oldestLive <= this.now &&
      (e.time <= this.oldestLive || (this.oldestCas !== 0n && e.cas !== 0n && e.cas < this.oldestCas));
    if (flushed || (e.exp !== 0 && e.exp <= this.now)) { this.map.delete(k); return undefined; }
    return e;
  }
  link(k: string, value: string, flags: number, exp: number): void {
    this.map.set(k, { value, flags, exp, cas: ++this.cas, time: this.now });
  }
  store(mode: number, k: string, value: string, flags: number, exptime: number, cas: bigint): number {
    const old = this.live(k);
    const exp = this.rel(exptime);
    if (old) {
      switch (mode) {
        case StoreMode.Add: old.time = this.now; return StoreResult.NotStored;
        case StoreMode.Cas:
          if (cas !== 0n && cas === old.cas) { this.link(k, value, flags, exp); return StoreResult.Stored; }
          return StoreResult.Exists;
        case StoreMode.Append: this.link(k, old.value + value, old.flags, old.exp); return StoreResult.Stored;
        case StoreMode.Prepend: this.link(k, value + old.value, old.flags, old.exp); return StoreResult.Stored;
        default: this.link(k, value, flags, exp); return StoreResult.Stored;
      }
    }
    if (mode === StoreMode.Set || mode === StoreMode.Add) { this.link(k, value, flags, exp); return StoreResult.Stored; }
    return mode === StoreMode.Cas ? StoreResult.NotFound : StoreResult.NotStored;
  }
  delta(k: string, incr: boolean, d: bigint): string | number {
    const e = this.live(k);
    if (!e) return DeltaError.NotFound;
    const m = /^(\d{1,20}) *$/.exec(e.value);
    if (!m || BigInt(m[1]) > U64) return DeltaError.NonNumeric;
    const v = BigInt(m[1]);
    const r = incr ? (v + d) & U64 : (d > v ? 0n : v - d);
    const s = r.toString();
    if (s.length <= e.value.length) { e.value = s.padEnd(e.value.length, ' '); e.cas = ++this.cas; e.time = this.now; }
    else this.link(k, s, e.flags, e.exp);
    return s;
  }
  flush(exptime: number): void {
    const newOldest = exptime > 0 ? this.rel(exptime) : this.now;
    this.oldestLive = newOldest - 1;
    if (this.oldestLive <= this.now) this.oldestCas = ++this.cas;
  }
}

const KEYS = ['a', 'b', 'c', 'counter', 'k'.repeat(250)];
const op = fc.oneof(
  fc.record({ t: fc.constant('store' as const), mode: fc.constantFrom(1, 2, 3, 4, 5, 6), k: fc.constantFrom(...KEYS),
    v: fc.oneof(fc.string({ maxLength: 40 }), fc.bigInt({ min: 0n, max: U64 }).map(String), fc.constantFrom('', '7', '18446744073709551615')),
    flags: fc.constantFrom(0, 1, 0xffffffff), exptime: fc.constantFrom(0, 0, 0, 1, 2, 5, -1, 2592000, 1_800_000_003), casPick: fc.nat(3) }),
  fc.record({ t: fc.constant('get' as const), k: fc.constantFrom(...KEYS), touch: fc.boolean(), exptime: fc.constantFrom(0, 3, -1) }),
  fc.record({ t: fc.constant('delete' as const), k: fc.constantFrom(...KEYS) }),
  fc.record({ t: fc.constant('delta' as const), k: fc.constantFrom(...KEYS), incr: fc.boolean(), d: fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, 1n, 10n)) }),
  fc.record({ t: fc.constant('touch' as const), k: fc.constantFrom(...KEYS), exptime: fc.constantFrom(0, 1, 3, -1) }),
  fc.record({ t: fc.constant('flush' as const), delay: fc.constantFrom(0, 0, 1, 2, -1) }),
  fc.record({ t: fc.constant('tick' as const), s: fc.integer({ min: 0, max: 3 }) }),
);

describe('KvStore against a Map model of memcached', () => {
  test('random operations with time advancing give the model\'s results, values, flags and CAS uniques', () => {
    check(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const unix = 1_800_000_000;
      const s = new KvStore({ memoryBytes: 4 << 20, unixTime: unix });
      const m = new Model(unix);
      const out = new Uint8Array(32);
      let t = unix;
      for (const o of ops) {
        switch (o.t) {
          case 'tick': t += o.s; s.setUnixTime(t); m.now = t - m.started; break;
          case 'store': {
            const kb = B(o.k);
            const cur = m.live(o.k);
            const cas = o.casPick === 0 && cur ? cur.cas : BigInt(o.casPick);
            const it = s.alloc(kb, 0, kb.length, o.flags, s.relExptime(o.exptime), o.v.length + 2);
            assert.ok(it >= 0, 'room for every item');
            s.bytes.set(B(`${o.v}\r\n`), s.dataOffset(it));
            const r = s.store(it, o.mode, Number(cas >> 32n), Number(cas & 0xffffffffn));
            assert.equal(r, m.store(o.mode, o.k, o.v, o.flags, o.exptime, cas), `store ${js(o)}`);
            break;
          }
          case 'get': {
            const kb = B(o.k);
            const it = o.touch ? s.getAndTouch(kb, 0, kb.length, s.relExptime(o.exptime)) : s.get(kb, 0, kb.length);
            const e = m.live(o.k);
            assert.equal(it >= 0, e !== undefined, `get ${o.k}`);
            if (e && it >= 0) {
              if (o.touch) e.exp = m.rel(o.exptime);
              e.time = m.now;
              const v = Buffer.from(s.bytes.subarray(s.dataOffset(it), s.dataOffset(it) + s.valueLength(it))).toString('latin1');
              assert.equal(v, e.value);
              assert.equal(s.flags(it), e.flags);
              assert.equal((BigInt(s.casHi(it)) << 32n) | BigInt(s.casLo(it)), e.cas);
            }
            break;
          }
          case 'delete': {
            const kb = B(o.k);
            const e = m.live(o.k);
            assert.equal(s.delete(kb, 0, kb.length), e !== undefined);
            m.map.delete(o.k);
            break;
          }
          case 'delta': {
            const kb = B(o.k);
            const r = s.delta(kb, 0, kb.length, o.incr, Number(o.d >> 32n), Number(o.d & 0xffffffffn), out, 0);
            const want = m.delta(o.k, o.incr, o.d);
            if (typeof want === 'number') assert.equal(r, want, `delta ${js(o)}`);
            else assert.equal(Buffer.from(out.subarray(0, r)).toString(), want);
            break;
          }
          case 'touch': {
            const kb = B(o.k);
            const e = m.live(o.k);
            assert.equal(s.touch(kb, 0, kb.length, s.relExptime(o.exptime)), e !== undefined);
            if (e) { e.exp = m.rel(o.exptime); e.time = m.now; }
            break;
          }
          case 'flush': s.flushAll(o.delay); m.flush(o.delay); break;
        }
        s.check();
      }
    }), { numRuns: 400 });
  });
});

describe('KvStore memory', () => {
  test('the memory limit holds under random load: pages ≤ limit, structures consistent, reads give the last value stored', () => {
    check(fc.property(fc.array(fc.tuple(fc.nat(399), fc.nat(20_000), fc.boolean()), { minLength: 200, maxLength: 1500 }), fc.integer({ min: 1, max: 4 }), (ops, mib) => {
      const s = new KvStore({ memoryBytes: mib * 65536, itemSizeMax: 32768, pageSize: 32768 });
      const last = new Map<string, number>();
      for (const [k, size, read] of ops) {
        const key = B(`key:${k}`);
        if (read) {
          const it = s.get(key, 0, key.length);
          if (it >= 0) {
            const n = s.valueLength(it);
            assert.equal(n, last.get(`key:${k}`), 'a value read back is the last one stored under its key');
            if (n > 0) assert.equal(s.bytes[s.dataOffset(it)], n & 0xff);
          }
          continue;
        }
        const len = size % 30_000;
        const it = s.alloc(key, 0, key.length, 0, 0, len + 2);
        if (it === AllocError.TooLarge) { assert.ok(KvStore.memcachedSize(key.length, 0, len + 2) > 32768); continue; }
        assert.ok(it >= 0, `out of memory storing ${len} bytes with ${s.items} items`);
        s.bytes.fill(len & 0xff, s.dataOffset(it), s.dataOffset(it) + len);
        s.bytes[s.dataOffset(it) + len] = 13;
        s.bytes[s.dataOffset(it) + len + 1] = 10;
        assert.equal(s.store(it, StoreMode.Set, 0, 0), StoreResult.Stored);
        last.set(`key:${k}`, len);
        assert.ok(s.pagesInUse * s.pageSize <= s.memoryBytes, 'pages within the limit');
        s.check();
      }
    }), { numRuns: 60 });
  });

  test('a million small items: one ArrayBuffer, limit held, hash table grown, all found', () => {
    const s = new KvStore({ memoryBytes: 192 << 20 });
    const key = new Uint8Array(16);
    const put = (i: number): void => {
      const n = writeU64(key, 0, 0, i);
      const it = s.alloc(key, 0, n, 0, 0, 10);
      assert.ok(it >= 0);
      s.bytes.fill(120, s.dataOffset(it), s.dataOffset(it) + 8);
      s.bytes[s.dataOffset(it) + 8] = 13;
      s.bytes[s.dataOffset(it) + 9] = 10;
      s.store(it, StoreMode.Set, 0, 0);
    };
    for (let i = 0; i < 1_000_000; i++) put(i);
    assert.equal(s.items, 1_000_000);
    assert.equal(s.counters[C.evictions], 0);
    assert.ok(s.hashSize >= 1 << 19, `hash table ${s.hashSize}`);
    for (let i = 0; i < 1_000_000; i += 997) {
      const n = writeU64(key, 0, 0, i);
      assert.ok(s.get(key, 0, n) >= 0, `item ${i}`);
    }
    assert.ok(s.pagesInUse * s.pageSize <= 192 << 20);
  });

  test('eviction is LRU within a class: the least recently used items go first, a hit protects an item', () => {
    const s = new KvStore({ memoryBytes: 2 * 65536, itemSizeMax: 65536, pageSize: 65536 });
    const set = (k: string): number => {
      const kb = B(k);
      const it = s.alloc(kb, 0, kb.length, 0, 0, 52);
      assert.ok(it >= 0);
      s.bytes.fill(46, s.dataOffset(it), s.dataOffset(it) + 50);
      s.bytes.set([13, 10], s.dataOffset(it) + 50);
      assert.equal(s.store(it, StoreMode.Set, 0, 0), StoreResult.Stored);
      return it;
    };
    const c = s.classFor(5, 52);
    // two pages of this class' chunks: fill both pages, then every new item evicts the LRU tail
    const cap = 2 * s.perPage[c];
    for (let i = 0; i < cap; i++) set(`k${String(i).padStart(4, '0')}`);
    assert.equal(s.counters[C.evictions], 0);
    const hit = ['k0000', 'k0001', 'k0005'];
    for (const k of hit) assert.ok(s.get(B(k), 0, k.length) >= 0);
    for (let i = 0; i < 10; i++) set(`n${String(i).padStart(4, '0')}`);
    assert.equal(s.counters[C.evictions], 10);
    const gone = ['k0002', 'k0003', 'k0004', 'k0006', 'k0007', 'k0008', 'k0009', 'k0010', 'k0011', 'k0012'];
    for (const k of gone) assert.equal(s.find(B(k), 0, k.length), -1, `${k} was least recently used`);
    for (const k of [...hit, 'k0013', 'n0009']) assert.ok(s.find(B(k), 0, k.length) >= 0, `${k} stays`);
    assert.deepEqual(s.lruOrder(c).slice(0, 2).map((it) => s.keyString(it)), ['n0009', 'n0008']);
    s.check();
  });

  test('expired items are reclaimed before live ones are evicted', () => {
    const s = new KvStore({ memoryBytes: 65536, itemSizeMax: 65536, pageSize: 65536, unixTime: 1_800_000_000 });
    const put = (k: string, exp: number): void => {
      const kb = B(k);
      const it = s.alloc(kb, 0, kb.length, 0, s.relExptime(exp), 2);
      assert.ok(it >= 0);
      s.bytes.set([13, 10], s.dataOffset(it));
      s.store(it, StoreMode.Set, 0, 0);
    };
    const c = s.classFor(4, 2);
    const per = s.perPage[c];
    put('old0', 0);
    for (let i = 1; i < per; i++) put(`e${String(i).padStart(3, '0')}`, 2);
    s.setUnixTime(1_800_000_010);
    put('new0', 0);
    assert.equal(s.counters[C.evictions], 0);
    assert.equal(s.counters[C.reclaimed], 1);
    assert.ok(s.find(B('old0'), 0, 4) >= 0, 'the live LRU tail stays while an expired item can be reclaimed');
  });

  test('pins: a pinned item is not evicted; overwritten, its bytes stay until the last pin goes, then its chunk is free', () => {
    const s = new KvStore({ memoryBytes: 65536, itemSizeMax: 65536, pageSize: 65536 });
    const put = (k: string, v: string): number => {
      const kb = B(k);
      const it = s.alloc(kb, 0, kb.length, 0, 0, v.length + 2);
      assert.ok(it >= 0, `alloc ${k}`);
      s.bytes.set(B(`${v}\r\n`), s.dataOffset(it));
      s.store(it, StoreMode.Set, 0, 0);
      return it;
    };
    const a = put('a', 'first');
    s.pin(a);
    const before = Buffer.from(s.bytes.subarray(s.dataOffset(a), s.dataOffset(a) + 7)).toString();
    put('a', 'second');
    assert.equal(Buffer.from(s.bytes.subarray(s.dataOffset(a), s.dataOffset(a) + 7)).toString(), before, 'old bytes unchanged while pinned');
    const c = s.classFor(1, 7);
    const used = s.usedChunks(c);
    // fill the class: the pinned old 'a' is never chosen
    for (let i = 0; i < 3 * s.perPage[c]; i++) put(`x${i}`, 'vvvvv');
    assert.equal(Buffer.from(s.bytes.subarray(s.dataOffset(a), s.dataOffset(a) + 7)).toString(), before);
    assert.ok(s.usedChunks(c) >= 1);
    s.unpin(a);
    s.check();
    assert.ok(s.usedChunks(c) <= s.perPage[c] * s.classPages[c]);
    void used;
    // incr on a pinned item makes a new item: the pinned bytes keep their value
    const n = put('n', '99');
    s.pin(n);
    const out = new Uint8Array(24);
    assert.equal(s.delta(B('n'), 0, 1, true, 0, 1, out, 0), 3);
    assert.equal(Buffer.from(s.bytes.subarray(s.dataOffset(n), s.dataOffset(n) + 4)).toString(), '99\r\n');
    s.unpin(n);
    const n2 = s.find(B('n'), 0, 1);
    assert.equal(Buffer.from(s.bytes.subarray(s.dataOffset(n2), s.dataOffset(n2) + 5)).toString(), '100\r\n');
    // unpinned, a shorter result is written in place, padded with spaces (memcached)
    assert.equal(s.delta(B('n'), 0, 1, false, 0, 91, out, 0), 1);
    assert.equal(Buffer.from(s.bytes.subarray(s.dataOffset(n2), s.dataOffset(n2) + 5)).toString(), '9  \r\n');
    s.check();
  });

  test('a class with no page of its own takes one from another class', () => {
    const s = new KvStore({ memoryBytes: 2 * 65536, itemSizeMax: 65536, pageSize: 65536 });
    const put = (k: string, n: number): number => {
      const kb = B(k);
      const it = s.alloc(kb, 0, kb.length, 0, 0, n + 2);
      if (it < 0) return it;
      s.bytes.fill(97, s.dataOffset(it), s.dataOffset(it) + n);
      s.bytes.set([13, 10], s.dataOffset(it) + n);
      s.store(it, StoreMode.Set, 0, 0);
      return it;
    };
    for (let i = 0; i < 2000; i++) put(`small${i}`, 10);
    assert.equal(s.pagesInUse, 2);
    assert.ok(put('big', 40_000) >= 0, 'a big item finds a page');
    assert.ok(s.counters[C.pagesMoved] >= 1);
    assert.ok(s.find(B('big'), 0, 3) >= 0);
    s.check();
  });
});
