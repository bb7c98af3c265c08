import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bucketLow, bucketOf, bucketWidth, HISTOGRAM_BUCKETS, maxValue, percentile, record, total,
} from '../../src/util/histogram.js';

const U32_MAX = 0xffffffff;
const mid = (i: number): number => bucketLow(i) + (bucketWidth(i) - 1) / 2;
const newHist = (): Uint32Array => new Uint32Array(HISTOGRAM_BUCKETS);

describe('buckets', () => {
  test('values 0..63 have a bucket of their own', () => {
    for (let v = 0; v < 64; v++) {
      assert.equal(bucketOf(v), v);
      assert.equal(bucketLow(v), v);
      assert.equal(bucketWidth(v), 1);
    }
    assert.equal(bucketOf(64), 64);
    assert.equal(bucketLow(64), 64);
    assert.equal(bucketWidth(64), 2);
  });

  test('buckets tile 0..2^32-1 without gaps or overlaps, and the largest fits the array', () => {
    const last = bucketOf(U32_MAX);
    assert.ok(last < HISTOGRAM_BUCKETS, `bucket ${last} of 2^32-1 is outside the ${HISTOGRAM_BUCKETS} buckets`);
    assert.equal(bucketLow(0), 0);
    for (let i = 0; i < last; i++) {
      assert.equal(bucketLow(i) + bucketWidth(i), bucketLow(i + 1), `gap or overlap after bucket ${i}`);
      assert.equal(bucketOf(bucketLow(i)), i);
      assert.equal(bucketOf(bucketLow(i) + bucketWidth(i) - 1), i);
    }
    assert.equal(bucketLow(last) + bucketWidth(last) - 1, U32_MAX);
  });

  test('property: bucketLow(bucketOf(v)) <= v < bucketLow + bucketWidth, and the width is at most 3.2% of v', () => {
    const values = fc.oneof(fc.integer({ min: 0, max: U32_MAX }), fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 0, max: 31 }).map((e) => 2 ** e), fc.integer({ min: 1, max: 32 }).map((e) => 2 ** e - 1));
    fc.assert(
      fc.property(values, (v) => {
        const i = bucketOf(v);
        assert.ok(i >= 0 && i < HISTOGRAM_BUCKETS);
        const lo = bucketLow(i);
        const w = bucketWidth(i);
        assert.ok(lo <= v && v < lo + w, `v ${v} not in bucket ${i} [${lo}, ${lo + w})`);
        if (v >= 64) assert.ok(w / v <= 0.032, `bucket width ${w} is ${((100 * w) / v).toFixed(2)}% of ${v}`);
        // the value reported for it (the bucket's midpoint) is within 3.2% too
        assert.ok(Math.abs(mid(i) - v) <= Math.max(0.5, 0.032 * v));
      }),
      { numRuns: 5000 },
    );
  });

  test('bucketOf is monotonic', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: U32_MAX }), fc.integer({ min: 0, max: U32_MAX }), (a, b) => {
      const [x, y] = a <= b ? [a, b] : [b, a];
      assert.ok(bucketOf(x) <= bucketOf(y));
    }));
  });
});

describe('record / total / percentile / maxValue', () => {
  test('an empty histogram has no percentiles or maximum', () => {
    const h = newHist();
    assert.equal(total(h), 0);
    assert.ok(Number.isNaN(percentile(h, 50)));
    assert.ok(Number.isNaN(maxValue(h)));
  });

  test('record clamps values above 2^32-1 into the top bucket', () => {
    const h = newHist();
    record(h, 2 ** 40);
    record(h, U32_MAX);
    assert.equal(h[bucketOf(U32_MAX)], 2);
    assert.equal(total(h), 2);
    assert.equal(maxValue(h), U32_MAX);
  });

  test('1..100 once each: exact percentiles below 64, bucket midpoints above', () => {
    const h = newHist();
    for (let v = 1; v <= 100; v++) record(h, v);
    assert.equal(total(h), 100);
    assert.equal(percentile(h, 0), 1, 'p0 is the smallest value');
    assert.equal(percentile(h, 1), 1);
    assert.equal(percentile(h, 50), 50);
    assert.equal(percentile(h, 63), 63);
    assert.equal(percentile(h, 99), 98.5, '99 lies in bucket [98, 99]');
    assert.equal(percentile(h, 100), 100.5, '100 lies in bucket [100, 101]');
    assert.equal(maxValue(h), 101, 'upper end of the top bucket in use');
  });

  test('constant latency: every percentile is that value within 3.2%', () => {
    const h = newHist();
    for (let i = 0; i < 1000; i++) record(h, 123_456);
    for (const p of [0, 1, 50, 99, 99.9, 99.99, 100]) {
      const v = percentile(h, p);
      assert.ok(Math.abs(v - 123_456) / 123_456 <= 0.032, `p${p} = ${v}`);
    }
    assert.ok(maxValue(h) >= 123_456 && maxValue(h) <= 123_456 * 1.032);
  });

  test('bimodal: 99% fast, 1% slow', () => {
    const h = newHist();
    for (let i = 0; i < 9900; i++) record(h, 10);
    for (let i = 0; i < 100; i++) record(h, 1_000_000);
    assert.equal(percentile(h, 50), 10);
    assert.equal(percentile(h, 99), 10);
    const p999 = percentile(h, 99.9);
    assert.ok(Math.abs(p999 - 1e6) / 1e6 <= 0.032, `p99.9 = ${p999}`);
    assert.ok(Math.abs(percentile(h, 99.01) - 1e6) / 1e6 <= 0.032);
  });

  test('uniform 0..999999: percentiles within 3.2% of the exact ones', () => {
    const h = newHist();
    const n = 100_000;
    for (let i = 0; i < n; i++) record(h, Math.floor((i * 1_000_000) / n)); // 0, 10, 20, ...
    for (const p of [10, 25, 50, 90, 99, 99.9]) {
      const exact = Math.floor(((Math.ceil((p / 100) * n) - 1) * 1_000_000) / n);
      const got = percentile(h, p);
      assert.ok(Math.abs(got - exact) <= 0.032 * exact, `p${p}: ${got} vs ${exact}`);
    }
  });

  test('property: percentile(p) is the midpoint of the bucket holding the exact rank-ceil(p*n/100) value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: U32_MAX })), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (values, p) => {
          const h = newHist();
          for (const v of values) record(h, v);
          assert.equal(total(h), values.length);
          const sorted = [...values].sort((a, b) => a - b);
          const rank = Math.max(1, Math.ceil((p / 100) * values.length));
          const exact = sorted[rank - 1];
          assert.equal(percentile(h, p), mid(bucketOf(exact)));
          const max = sorted[sorted.length - 1];
          assert.equal(maxValue(h), bucketLow(bucketOf(max)) + bucketWidth(bucketOf(max)) - 1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
