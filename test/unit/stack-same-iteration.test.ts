/**
 * IX §4.2: the app's calls made while handling an iteration's events are built and transmitted in that iteration.
 * An echo server's reply must reach the device's txBatch in the loop iteration whose rxBatch delivered the request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind, type EventQueue } from '../../src/api/events.js';
import type { NetApi } from '../../src/api/native.js';
import { Bench, IP_B, parseFrame } from '../helpers/stack-harness.js';

test('an echo reply leaves in the iteration that received its request (0 iterations between rxBatch and txBatch)', () => {
  const bench = new Bench();
  const { a, b } = bench;
  const { ha } = bench.connect(7);
  const reply = new Uint8Array(64 * 1024);
  b.app.handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      if (ev.kind[i] !== EventKind.Recv || ev.b[i] === 0) continue;
      const len = ev.b[i];
      reply.set(api.bytes.subarray(ev.a[i], ev.a[i] + len));
      api.sendv(ev.handle[i], reply, 0, len);
      api.recvDone(ev.handle[i], len);
    }
  };
  // Iteration numbers at which B's device delivered a data segment and was handed one.
  const rxAt: number[] = [];
  const txAt: number[] = [];
  const iteration = (): number => b.loop.counters.iterations;
  const dev = b.dev;
  const rx = dev.rxBatch.bind(dev);
  dev.rxBatch = (q: number, ids: Uint32Array, max: number): number => {
    const n = rx(q, ids, max);
    for (let i = 0; i < n; i++) {
      const off = dev.pool.dataOffset(ids[i]);
      if ((parseFrame(dev.pool.bytes.subarray(off, off + dev.pool.len[ids[i]])).tcp?.payload.length ?? 0) > 0) rxAt.push(iteration());
    }
    return n;
  };
  dev.now = iteration; // B's log stamps each transmitted frame with the iteration that handed it to txBatch
  dev.log.length = 0;

  const msg = Uint8Array.from({ length: 100 }, (_, i) => i);
  for (let round = 0; round < 20; round++) {
    assert.equal(a.api.sendv(ha, msg, 0, msg.length), msg.length);
    const want = txAt.length + 1;
    bench.pump(() => {
      txAt.length = 0;
      for (const p of dev.log) if (p.ip?.src === IP_B && (p.tcp?.payload.length ?? 0) > 0) txAt.push(p.t);
      return txAt.length >= want;
    });
  }
  assert.equal(rxAt.length, 20, 'twenty requests received');
  assert.equal(txAt.length, 20, 'twenty replies sent');
  assert.deepEqual(txAt.map((t, i) => t - rxAt[i]), new Array(20).fill(0));
});
