import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Mempool } from '../../src/mem/mempool.js';
import { HeapDmaAllocator, type DmaAllocator, type DmaRegion } from '../../src/mem/dma.js';
import { IxyError } from '../../src/util/errors.js';

const heap = new HeapDmaAllocator();

/** An allocator whose bus addresses lie above 4 GiB (as on real machines and the simulated NIC), so physHi matters. */
class HighDmaAllocator implements DmaAllocator {
  readonly description = 'test memory above 4 GiB';
  readonly regions: DmaRegion[] = [];
  constructor(readonly base: number) {}
  allocate(size: number): DmaRegion {
    const buffer = new ArrayBuffer(Math.ceil(size / 4096) * 4096);
    const base = this.base;
    const r: DmaRegion = {
      buffer, byteOffset: 0, size: buffer.byteLength, contiguousBytes: buffer.byteLength,
      physAddr: (offset: number) => base + offset, free: () => {},
    };
    this.regions.push(r);
    return r;
  }
}

function expectIxyError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof IxyError && re.test(e.message), `expected IxyError matching ${re}`);
}

function checkAccounting(pool: Mempool, held: Set<number>): void {
  assert.equal(pool.available + pool.allocated, pool.count);
  assert.equal(pool.allocated, held.size, 'allocated differs from what the application holds');
  assert.equal(pool.available, pool.count - held.size);
  for (let id = 0; id < pool.count; id++) assert.equal(pool.isAllocated(id), held.has(id), `isAllocated(${id})`);
}

describe('Mempool construction', () => {
  test('defaults: 2048-byte entries, 128 bytes headroom, all buffers free', () => {
    const pool = new Mempool(heap, { count: 16 });
    assert.equal(pool.count, 16);
    assert.equal(pool.entrySize, 2048);
    assert.equal(pool.headroom, 128);
    assert.equal(pool.dataRoom, 2048 - 128);
    assert.equal(pool.available, 16);
    assert.equal(pool.allocated, 0);
    assert.ok(pool.bytes.byteLength >= 16 * 2048);
    assert.equal(pool.bytes.buffer, pool.region.buffer);
    assert.equal(pool.bytes.byteOffset, pool.region.byteOffset);
    assert.equal(pool.len.length, 16);
  });

  test('rejects a bad count', () => {
    for (const count of [0, -1, 1.5, NaN, (1 << 22) + 1, Infinity]) {
      expectIxyError(() => new Mempool(heap, { count }), /mempool size .* is invalid/);
    }
    assert.equal(new Mempool(heap, { count: 1 }).count, 1);
  });

  test('rejects a bad entry size', () => {
    for (const entrySize of [0, 512, 1000, 1536, 3072, 8192, -2048]) {
      expectIxyError(() => new Mempool(heap, { count: 4, entrySize }), /entry size .* is invalid/);
    }
    for (const entrySize of [1024, 2048, 4096]) assert.equal(new Mempool(heap, { count: 4, entrySize }).entrySize, entrySize);
  });

  test('rejects a bad headroom', () => {
    for (const [entrySize, headroom] of [[2048, -64], [2048, 100], [2048, 1], [2048, 2048], [2048, 1856], [1024, 832], [4096, 4096]]) {
      expectIxyError(() => new Mempool(heap, { count: 4, entrySize, headroom }), /headroom .* is invalid/);
    }
    for (const [entrySize, headroom] of [[2048, 0], [2048, 64], [2048, 256], [1024, 768], [4096, 3840]]) {
      const p = new Mempool(heap, { count: 4, entrySize, headroom });
      assert.equal(p.dataRoom, entrySize - headroom);
      assert.ok(p.dataRoom >= 256);
    }
  });

  test('physLo/physHi/dataOffset agree with region.physAddr; buffers do not overlap', () => {
    for (const [base, entrySize, headroom] of [[0x1_0000_0000, 2048, 128], [0x7_ffff_f000, 4096, 256], [0x1234_5678_9000, 1024, 0]]) {
      const alloc = new HighDmaAllocator(base);
      const pool = new Mempool(alloc, { count: 257, entrySize, headroom });
      assert.equal(alloc.regions.length, 1);
      assert.equal(pool.region, alloc.regions[0]);
      for (let id = 0; id < pool.count; id++) {
        const off = pool.dataOffset(id);
        assert.equal(off, id * entrySize + headroom);
        const phys = pool.region.physAddr(off);
        assert.equal(pool.physHi[id] * 0x1_0000_0000 + pool.physLo[id], phys, `buffer ${id}`);
        assert.equal(pool.physLo[id], phys % 0x1_0000_0000);
        assert.ok(off + pool.dataRoom <= (id + 1) * entrySize, 'data room runs into the next buffer');
        assert.ok(off + pool.dataRoom <= pool.bytes.byteLength);
      }
    }
  });

  test('the bytes of each buffer are distinct memory', () => {
    const pool = new Mempool(heap, { count: 8 });
    for (let id = 0; id < 8; id++) pool.bytes.fill(id + 1, pool.dataOffset(id), pool.dataOffset(id) + pool.dataRoom);
    for (let id = 0; id < 8; id++) {
      const d = pool.bytes.subarray(pool.dataOffset(id), pool.dataOffset(id) + pool.dataRoom);
      assert.ok(d.every((b) => b === id + 1), `buffer ${id} was overwritten`);
    }
  });
});

describe('Mempool alloc/free', () => {
  test('alloc hands out every buffer once, then -1; free makes a buffer available again (LIFO)', () => {
    const pool = new Mempool(heap, { count: 8 });
    const held = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const id = pool.alloc();
      assert.ok(id >= 0 && id < 8);
      assert.ok(!held.has(id), `id ${id} handed out twice`);
      held.add(id);
      checkAccounting(pool, held);
    }
    assert.equal(pool.alloc(), -1);
    assert.equal(pool.alloc(), -1);
    checkAccounting(pool, held);
    pool.free(5);
    held.delete(5);
    checkAccounting(pool, held);
    assert.equal(pool.alloc(), 5, 'the most recently freed buffer is reused first');
    held.add(5);
    checkAccounting(pool, held);
  });

  test('a fresh pool hands out ids in order 0, 1, 2, ...', () => {
    const pool = new Mempool(heap, { count: 5 });
    assert.deepEqual([0, 1, 2, 3, 4].map(() => pool.alloc()), [0, 1, 2, 3, 4]);
  });

  test('allocBatch fills out[start..start+n) and takes only what is there', () => {
    const pool = new Mempool(heap, { count: 10 });
    const out = new Uint32Array(16).fill(0xdead);
    assert.equal(pool.allocBatch(out, 2, 4), 4);
    assert.equal(out[0], 0xdead);
    assert.equal(out[1], 0xdead);
    assert.equal(out[6], 0xdead, 'wrote past start + n');
    const first = [...out.subarray(2, 6)];
    assert.equal(new Set(first).size, 4);
    assert.equal(pool.available, 6);
    // only 6 left: a batch of 8 takes 6
    const out2 = new Uint32Array(8).fill(0xdead);
    assert.equal(pool.allocBatch(out2, 0, 8), 6);
    assert.equal(out2[6], 0xdead);
    assert.equal(out2[7], 0xdead);
    const all = new Set([...first, ...out2.subarray(0, 6)]);
    assert.equal(all.size, 10, 'some id handed out twice');
    assert.equal(pool.available, 0);
    assert.equal(pool.allocBatch(out2, 0, 8), 0);
    assert.equal(pool.allocBatch(out2, 0, 0), 0);
    checkAccounting(pool, all);
  });

  test('freeBatch frees ids[start..start+n) only', () => {
    const pool = new Mempool(heap, { count: 6 });
    const ids = new Uint32Array(6);
    assert.equal(pool.allocBatch(ids, 0, 6), 6);
    pool.freeBatch(ids, 1, 3);
    const held = new Set([ids[0], ids[4], ids[5]]);
    checkAccounting(pool, held);
    pool.freeBatch(ids, 0, 0);
    checkAccounting(pool, held);
  });

  test('double free throws IxyError "freed twice" and changes nothing', () => {
    const pool = new Mempool(heap, { count: 4 });
    const a = pool.alloc();
    const b = pool.alloc();
    pool.free(a);
    expectIxyError(() => pool.free(a), /buffer 0 freed twice/);
    checkAccounting(pool, new Set([b]));
    // never allocated at all
    expectIxyError(() => pool.free(3), /buffer 3 freed twice/);
    checkAccounting(pool, new Set([b]));
    // the pool still hands out each buffer once
    const ids = new Uint32Array(4);
    assert.equal(pool.allocBatch(ids, 0, 4), 3);
    assert.equal(new Set([b, ...ids.subarray(0, 3)]).size, 4);
  });

  test('freeBatch with a double free throws; the frees before it count, the pool stays consistent', () => {
    const pool = new Mempool(heap, { count: 4 });
    const ids = new Uint32Array(4);
    pool.allocBatch(ids, 0, 3); // 0, 1, 2
    const batch = Uint32Array.of(ids[0], ids[1], ids[1], ids[2]);
    expectIxyError(() => pool.freeBatch(batch, 0, 4), /freed twice/);
    checkAccounting(pool, new Set([ids[2]]));
    const again = new Uint32Array(4);
    assert.equal(pool.allocBatch(again, 0, 4), 3);
    assert.equal(new Set([ids[2], ...again.subarray(0, 3)]).size, 4, 'a buffer is on the free stack twice');
  });

  test('freeing an id that is not of this pool throws IxyError and changes nothing', () => {
    const pool = new Mempool(heap, { count: 4 });
    const id = pool.alloc();
    for (const bad of [4, 100, -1, 1.5, NaN, 2 ** 32]) {
      expectIxyError(() => pool.free(bad), /does not belong to this mempool/);
    }
    expectIxyError(() => pool.freeBatch(Uint32Array.of(id, 7), 0, 2), /buffer id 7 does not belong/);
    // the valid id before the foreign one was freed; nothing else
    checkAccounting(pool, new Set());
  });
});

type Op =
  | { kind: 'alloc' }
  | { kind: 'allocBatch'; n: number; start: number }
  | { kind: 'free'; pick: number }
  | { kind: 'freeBatch'; n: number; start: number; pick: number }
  | { kind: 'doubleFree'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'alloc' }),
  fc.record({ kind: fc.constant('allocBatch' as const), n: fc.nat(40), start: fc.nat(8) }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('freeBatch' as const), n: fc.nat(40), start: fc.nat(8), pick: fc.nat() }),
  fc.record({ kind: fc.constant('doubleFree' as const), pick: fc.nat() }),
);

test('property: random alloc/allocBatch/free/freeBatch never lose or duplicate a buffer', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 48 }), fc.array(opArb, { maxLength: 120 }), (count, ops) => {
      const pool = new Mempool(heap, { count });
      const held = new Set<number>();
      const heldList = (): number[] => [...held];
      for (const op of ops) {
        switch (op.kind) {
          case 'alloc': {
            const id = pool.alloc();
            if (held.size === count) assert.equal(id, -1);
            else {
              assert.ok(Number.isInteger(id) && id >= 0 && id < count, `bad id ${id}`);
              assert.ok(!held.has(id), `id ${id} handed out while held`);
              held.add(id);
            }
            break;
          }
          case 'allocBatch': {
            const out = new Uint32Array(op.start + op.n + 2).fill(0xffffffff);
            const got = pool.allocBatch(out, op.start, op.n);
            assert.equal(got, Math.min(op.n, count - held.size));
            for (let i = 0; i < out.length; i++) {
              if (i >= op.start && i < op.start + got) continue;
              assert.equal(out[i], 0xffffffff, `allocBatch wrote outside its range at ${i}`);
            }
            for (let i = op.start; i < op.start + got; i++) {
              const id = out[i];
              assert.ok(id < count, `bad id ${id}`);
              assert.ok(!held.has(id), `id ${id} handed out while held`);
              held.add(id);
            }
            break;
          }
          case 'free': {
            if (held.size === 0) break;
            const list = heldList();
            const id = list[op.pick % list.length];
            pool.free(id);
            held.delete(id);
            break;
          }
          case 'freeBatch': {
            const list = heldList();
            const n = Math.min(op.n, list.length);
            const ids = new Uint32Array(op.start + n + 1);
            for (let i = 0; i < n; i++) ids[op.start + i] = list[(op.pick + i) % list.length];
            ids[op.start + n] = 0xffffffff; // must not be touched (it would be a foreign id)
            pool.freeBatch(ids, op.start, n);
            for (let i = 0; i < n; i++) held.delete(ids[op.start + i]);
            break;
          }
          case 'doubleFree': {
            if (held.size === count) break;
            const free: number[] = [];
            for (let id = 0; id < count; id++) if (!held.has(id)) free.push(id);
            const id = free[op.pick % free.length];
            assert.throws(() => pool.free(id), (e: unknown) => e instanceof IxyError && /freed twice/.test(e.message));
            break;
          }
        }
        checkAccounting(pool, held);
      }
      // everything comes back: free all held, then the pool holds count distinct ids again
      const rest = Uint32Array.from(held);
      pool.freeBatch(rest, 0, rest.length);
      const all = new Uint32Array(count);
      assert.equal(pool.allocBatch(all, 0, count + 5), count);
      assert.equal(new Set(all).size, count);
      assert.equal(pool.alloc(), -1);
    }),
    { numRuns: 300 },
  );
});
