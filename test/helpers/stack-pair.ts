/** Two stacks on an in-memory wire, pumped by hand: the unit-test bench for stack/ and api/. */
import { createHash } from 'node:crypto';
import { NetApi, type App } from '../../src/api/native.js';
import type { EventQueue } from '../../src/api/events.js';
import { memoryWire, type MemoryEnd } from '../../src/driver/memory/memory-wire.js';
import { ElasticThread } from '../../src/dataplane/elastic-thread.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { parseIpv4 } from '../../src/stack/ip-interface.js';
import type { TimeSource } from '../../src/stack/clock.js';
import { MonotonicClock } from '../../src/sys/monotonic-clock.js';
import { Stack, type StackOptions } from '../../src/stack/stack.js';

export const IP_A = parseIpv4('10.9.0.1');
export const IP_B = parseIpv4('10.9.0.2');

/** An App whose event handler is a plain function (for tests). */
export class FnApp implements App {
  finished = false;
  constructor(public handler: (ev: EventQueue, api: NetApi) => void = () => {}) {}
  start(): void {}
  onEvents(ev: EventQueue, api: NetApi): void { this.handler(ev, api); }
}

export interface Side {
  stack: Stack;
  api: NetApi;
  app: FnApp;
  loop: ElasticThread;
  pool: Mempool;
  dev: MemoryEnd;
}

export function stackPair(opts: { poolSize?: number; tcp?: StackOptions['tcp']; batch?: number; time?: TimeSource } = {}): { a: Side; b: Side; pump: (until: () => boolean, maxIter?: number) => number } {
  const heap = new HeapDmaAllocator();
  const clock = new MonotonicClock(); // the loop's clock (allocation-free), unless the test brings its own
  const poolA = new Mempool(heap, { count: opts.poolSize ?? 4096 });
  const poolB = new Mempool(heap, { count: opts.poolSize ?? 4096 });
  const wire = memoryWire(poolA, poolB, 1024);
  const side = (dev: MemoryEnd, ip: number, pool: Mempool): Side => {
    const stack = new Stack({ device: dev, addresses: [{ ip, prefix: 24 }], tcp: opts.tcp, time: opts.time ?? clock });
    const api = stack.api;
    const app = new FnApp();
    return { stack, api, app, loop: new ElasticThread(stack, app, { batch: opts.batch ?? 64 }), pool, dev };
  };
  const a = side(wire.a, IP_A, poolA);
  const b = side(wire.b, IP_B, poolB);
  const pump = (until: () => boolean, maxIter = 200000): number => {
    for (let i = 0; i < maxIter; i++) {
      if (until()) return i;
      a.loop.iterate();
      b.loop.iterate();
    }
    throw new Error(`condition not reached after ${maxIter} iterations`);
  };
  return { a, b, pump };
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every buffer of the side's pool is free, or held by the stack/device (nothing leaked). */
export function poolBalanced(s: Side): { allocated: number; held: number } {
  return { allocated: s.pool.allocated, held: s.stack.buffersHeld + s.dev.buffersInRings() };
}
