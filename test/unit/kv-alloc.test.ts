/**
 * `ixy kv` allocates nothing per request in steady state (docs/hot-path.md): the app's `onEvents` over a fixed
 * receive region holding a pipelined batch — a GET hit sent from the item memory, a multiget with a miss, a SET of a
 * 100-byte value (copied from the pieces into the item), an overwrite of a pinned item, incr, delete, touch — with
 * its replies acknowledged by Sent events; 10^5 batches with no garbage collection and < 1 MiB heap growth.
 */
import { test } from 'node:test';
import { EventKind, EventQueue } from '../../src/api/events.js';
import type { NetApi } from '../../src/api/native.js';
import { KvServer } from '../../src/apps/kv-server.js';
import { assertNoAlloc } from '../helpers/no-alloc.js';

test('a pipelined batch of get/set/incr/delete/touch per iteration: no allocation', () => {
  const rx = new Uint8Array(1 << 16);
  const value = 'v'.repeat(100);
  const batch = Buffer.from(`get k\r\nget k missing n\r\nset k 5 0 100\r\n${value}\r\nincr n 1\r\ndelete d\r\nset d 0 0 3\r\nddd\r\ntouch k 100\r\ngets k\r\n`, 'latin1');
  rx.set(batch, 0);
  let queued = 0;
  let held = 0;
  const api = {
    bytes: rx, addresses: new Int32Array(1), nowMs: 0,
    listen: () => 0, accept: () => 0,
    sendv: (_h: number, _d: Uint8Array, _o: number, len: number) => { queued += len; return len; },
    recvDone: (_h: number, len: number) => { held -= len; return 0; },
    close: () => 0,
  } as unknown as NetApi;
  const app = new KvServer({ port: 11211, memoryMiB: 8, itemSizeMax: 1 << 20, maxConns: 4 });
  app.start(api);
  const ev = new EventQueue(64, rx);
  ev.push(EventKind.Knock, 1, 0, 11211, 0, 0, 0, -1);
  app.onEvents(ev, api);
  ev.clear();
  const setup = Buffer.from(`set k 0 0 100\r\n${value}\r\nset n 0 0 1\r\n0\r\n`, 'latin1');
  rx.set(setup, 4096);
  ev.push(EventKind.Recv, 1, 0, 4096, setup.length, 0, 0, -1);
  held += setup.length;
  app.onEvents(ev, api);
  ev.clear();
  const round = (): void => {
    ev.push(EventKind.Recv, 1, 0, 0, batch.length, 0, 0, -1);
    held += batch.length;
    app.onEvents(ev, api);
    ev.clear();
    // the client acknowledges everything sent
    const acked = queued;
    queued = 0;
    ev.push(EventKind.Sent, 1, 0, acked, 1 << 18, 0, 0, -1);
    app.onEvents(ev, api);
    ev.clear();
  };
  assertNoAlloc('ixy kv onEvents', (n) => {
    for (let i = 0; i < n; i++) round();
    return held;
  }, 100_000);
});
