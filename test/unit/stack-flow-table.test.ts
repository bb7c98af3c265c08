import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FlowTable } from '../../src/stack/flow-table.js';
import { assertNoAlloc } from '../helpers/no-alloc.js';

type Key = [lip: number, lport: number, rip: number, rport: number];
type Op =
  | { op: 'insert'; key: Key; value: number }
  | { op: 'remove'; key: Key }
  | { op: 'lookup'; key: Key }
  | { op: 'clear' };

// Small key domains (4 × 3 × 4 × 3 = 144 keys) in small tables: hits, duplicates, full tables and long shared probe
// runs are all common. Addresses include values ≥ 2^31 given signed, as wire/ reads them.
const LIPS = [0, 1, 0xc0a80001 | 0, -1];
const LPORTS = [0, 80, 65535];
const RIPS = [0x0a000001, 0x0a000002, 0x80000000 | 0, 0x7fffffff];
const RPORTS = [1, 40000, 0x8000];
const keyArb: fc.Arbitrary<Key> = fc.tuple(
  fc.constantFrom(...LIPS), fc.constantFrom(...LPORTS), fc.constantFrom(...RIPS), fc.constantFrom(...RPORTS));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('insert' as const), key: keyArb, value: fc.integer({ min: 0, max: 0x7fffffff }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('remove' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('lookup' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

function allKeys(): Key[] {
  const keys: Key[] = [];
  for (const a of LIPS) for (const b of LPORTS) for (const c of RIPS) for (const d of RPORTS) keys.push([a, b, c, d]);
  return keys;
}
const ALL = allKeys();

function runModel(capacity: number, key: Uint32Array, ops: Op[]): void {
  const t = new FlowTable(capacity, key);
  const model = new Map<string, number>();
  for (const [step, o] of ops.entries()) {
    const where = `step ${step} ${JSON.stringify(o)}`;
    if (o.op === 'clear') {
      t.clear();
      model.clear();
    } else {
      const k = o.key.join();
      if (o.op === 'insert') {
        const ok = !model.has(k) && model.size < capacity;
        if (ok) model.set(k, o.value);
        assert.equal(t.insert(...o.key, o.value), ok, where);
      } else if (o.op === 'remove') {
        assert.equal(t.remove(...o.key), model.delete(k), where);
      } else {
        assert.equal(t.lookup(...o.key), model.get(k) ?? -1, where);
      }
    }
    assert.equal(t.size, model.size, where);
    for (const q of ALL) assert.equal(t.lookup(...q), model.get(q.join()) ?? -1, `${where}: lookup ${q.join()}`);
  }
}


describe('FlowTable against a Map (fast-check)', () => {
  const ops = fc.array(opArb, { minLength: 1, maxLength: 80 });
  const key = fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })).map(([a, b]) => Uint32Array.of(a, b));
  for (const capacity of [1, 3, 4, 7, 16]) {
    test(`capacity ${capacity} (${new FlowTable(capacity).slots} slots)`, () => {
      fc.assert(fc.property(key, ops, (k, o) => runModel(capacity, k, o)), { numRuns: 150 });
    });
  }
  test('capacity 200: the whole domain fits, long op sequences', () => {
    fc.assert(fc.property(key, fc.array(opArb, { maxLength: 400 }), (k, o) => runModel(200, k, o)), { numRuns: 30 });
  });
});

describe('FlowTable', () => {
  test('full and duplicate inserts return false and change nothing', () => {
    const t = new FlowTable(3);
    assert.equal(t.slots, 8);
    assert.equal(t.insert(1, 2, 3, 4, 10), true);
    assert.equal(t.insert(1, 2, 3, 4, 11), false, 'duplicate');
    assert.equal(t.lookup(1, 2, 3, 4), 10);
    assert.equal(t.insert(1, 2, 3, 5, 0), true);
    assert.equal(t.insert(0xffffffff, 65535, 0x80000000, 0, 0x7fffffff), true);
    assert.equal(t.size, 3);
    assert.equal(t.insert(9, 9, 9, 9, 1), false, 'full');
    assert.equal(t.insert(1, 2, 3, 4, 12), false, 'full and duplicate');
    assert.equal(t.lookup(9, 9, 9, 9), -1);
    assert.equal(t.remove(9, 9, 9, 9), false);
    assert.equal(t.remove(1, 2, 3, 5), true);
    assert.equal(t.remove(1, 2, 3, 5), false);
    assert.equal(t.insert(9, 9, 9, 9, 1), true);
    assert.equal(t.lookup(-1, 65535, 0x80000000 | 0, 0), 0x7fffffff, 'signed and unsigned addresses are the same key');
    assert.equal(t.lookup(1, 2 + 65536, 3, 4), 10, 'ports are taken modulo 2^16');
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(t.lookup(1, 2, 3, 4), -1);
    assert.equal(t.insert(1, 2, 3, 4, 5), true);
  });

  test('key fields are not interchangeable', () => {
    const t = new FlowTable(8, Uint32Array.of(1, 2));
    t.insert(1, 2, 3, 4, 1);
    assert.equal(t.lookup(3, 4, 1, 2), -1);
    assert.equal(t.lookup(1, 4, 3, 2), -1);
    assert.equal(t.lookup(3, 2, 1, 4), -1);
    assert.equal(t.lookup(1, 2, 3, 4), 1);
  });

  test('filled to capacity (load 1/2), half removed, refilled: every entry found', () => {
    const n = 1 << 14;
    const t = new FlowTable(n);
    assert.equal(t.slots, 2 * n);
    const lip = 0xc0a80001 | 0;
    for (let i = 0; i < n; i++) assert.ok(t.insert(lip, 80, 0x0a000000 + (i >>> 4), 1024 + (i & 15), i));
    assert.equal(t.insert(lip, 80, 1, 1, 0), false);
    for (let i = 0; i < n; i += 2) assert.ok(t.remove(lip, 80, 0x0a000000 + (i >>> 4), 1024 + (i & 15)));
    for (let i = 0; i < n; i++) assert.equal(t.lookup(lip, 80, 0x0a000000 + (i >>> 4), 1024 + (i & 15)), i & 1 ? i : -1);
    for (let i = 0; i < n; i += 2) assert.ok(t.insert(lip, 81, 0x0a000000 + (i >>> 4), 1024 + (i & 15), i));
    assert.equal(t.size, n);
    for (let i = 0; i < n; i += 2) assert.equal(t.lookup(lip, 81, 0x0a000000 + (i >>> 4), 1024 + (i & 15)), i);
  });

  test('argument checks', () => {
    assert.throws(() => new FlowTable(0), RangeError);
    assert.throws(() => new FlowTable(1.5), RangeError);
    assert.throws(() => new FlowTable(4, new Uint32Array(1)), RangeError);
    const t = new FlowTable(4);
    for (const bad of [-1, 2 ** 31, 0.5, Number.NaN]) assert.throws(() => t.insert(1, 1, 1, 1, bad), RangeError);
    assert.equal(t.size, 0);
    assert.equal(new FlowTable(1).slots, 2);
    assert.equal(new FlowTable(5).slots, 16);
  });

  test('tables with different random keys place the same keys differently', () => {
    // Not a property of the API, a sanity check that the key is used: compare the slot order through collisions.
    const a = new FlowTable(64, Uint32Array.of(1, 2));
    const b = new FlowTable(64, Uint32Array.of(1, 3));
    const aSlots = a as unknown as { hashes: Int32Array };
    const bSlots = b as unknown as { hashes: Int32Array };
    for (let i = 0; i < 64; i++) { a.insert(i, 1, 2, 3, i); b.insert(i, 1, 2, 3, i); }
    assert.notDeepEqual(aSlots.hashes, bSlots.hashes);
  });
  test('steady-state insert / lookup / remove allocate nothing (1e6 rounds, no GC)', () => {
    const t = new FlowTable(4096);
    const lip = 0xc0a80001 | 0;
    const rip = (j: number): number => (0x80000000 + (j >>> 8)) | 0; // addresses ≥ 2^31, as int32
    const rport = (j: number): number => 1024 + (j & 255);
    const W = 2048; // entries in the table: half of capacity, a quarter of the slots
    for (let j = 0; j < W; j++) t.insert(lip, 443, rip(j), rport(j), j);
    let base = 0;
    assertNoAlloc('FlowTable', (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++, base++) {
        acc += t.lookup(lip, 443, rip(base + 1000), rport(base + 1000)); // hit
        acc += t.lookup(lip, 443, rip(base + W + 5), rport(base + W + 5)); // miss
        acc += t.remove(lip, 443, rip(base), rport(base)) ? 1 : 0;
        acc += t.insert(lip, 443, rip(base + W), rport(base + W), (base + W) & 0x7fffffff) ? 1 : 0;
        acc |= 0;
      }
      return acc;
    });
    assert.equal(t.size, W);
    assert.equal(t.lookup(lip, 443, rip(base + 7), rport(base + 7)), base + 7);
  });
});
