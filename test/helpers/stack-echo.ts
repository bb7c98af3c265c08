/**
 * A warm TCP echo over the memory wire for allocation measurements: the client sends a 64-byte message, the server
 * echoes it, the client sends the next one when the whole echo is back. Handlers touch only typed arrays and small
 * integers, so whatever allocates is the stack's.
 */
import { EventKind, type EventQueue } from '../../src/api/events.js';
import type { NetApi } from '../../src/api/native.js';
import { type TimeSource, VirtualTime } from '../../src/stack/clock.js';
import { IP_B, stackPair } from './stack-pair.js';

export const MSG = 64;

export interface Echo {
  /** Runs `n` round trips; returns the loop iterations it took. */
  run(n: number): number;
  roundTrips(): number;
  /** The client's and the server's connection handles. */
  handles(): [number, number];
  pair: ReturnType<typeof stackPair>;
}

/** `keepaliveMs`: keepalive on both connections with that idle time; `nagle`: Nagle's algorithm on both. */
export function echoBench(opts: { virtualClock?: boolean; keepaliveMs?: number; nagle?: boolean } = {}): Echo {
  // A frozen virtual clock (no performance.now() per iteration) isolates the clock from the rest.
  const pair = stackPair({ tcp: { rcvBuf: 64 * 1024, sndBuf: 64 * 1024 }, time: opts.virtualClock ? new VirtualTime() : undefined });
  const { a, b } = pair;
  const msg = new Uint8Array(MSG);
  for (let i = 0; i < MSG; i++) msg[i] = i * 7;
  const ring = new Uint8Array(64 * 1024);
  const st = new Int32Array(9); // 0 client handle, 1 server handle, 2 bytes back in this round, 3 round trips, 4 ring offset, 5 connected, 6 errors, 7 send next, 8 accepted
  b.api.listen(7);
  b.app.handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      const k = ev.kind[i];
      if (k === EventKind.Knock) { st[1] = ev.handle[i]; st[8] = 1; api.accept(ev.handle[i], 1); } else if (k === EventKind.Recv) {
        const n = ev.b[i];
        if (n === 0) continue;
        let o = st[4];
        if (o + n > ring.length) o = 0;
        const src = ev.a[i];
        const bytes = ev.bytes;
        for (let j = 0; j < n; j++) ring[o + j] = bytes[src + j];
        if (api.sendv(ev.handle[i], ring, o, n) !== n) st[6]++;
        st[4] = o + n;
        api.recvDone(ev.handle[i], n);
      }
    }
  };
  a.app.handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      const k = ev.kind[i];
      if (k === EventKind.Connected) { st[5] = 1; } else if (k === EventKind.Recv) {
        const n = ev.b[i];
        if (n === 0) continue;
        const src = ev.a[i];
        const bytes = ev.bytes;
        for (let j = 0; j < n; j++) if (bytes[src + j] !== msg[(st[2] + j) % MSG]) st[6]++;
        st[2] += n;
        api.recvDone(ev.handle[i], n);
        if (st[2] === MSG) { st[2] = 0; st[3]++; st[7] = 1; }
      }
    }
  };
  st[0] = a.api.connect(IP_B, 7, 5);
  pair.pump(() => st[5] === 1 && st[1] !== 0 || st[5] === 1);
  if (opts.keepaliveMs !== undefined || opts.nagle) {
    pair.pump(() => st[8] === 1);
    for (const [api, h] of [[a.api, st[0]], [b.api, st[1]]] as const) {
      if (opts.keepaliveMs !== undefined && api.setKeepAlive(h, true, opts.keepaliveMs) !== 0) throw new Error('setKeepAlive');
      if (opts.nagle && api.setNoDelay(h, false) !== 0) throw new Error('setNoDelay');
    }
  }
  const run = (n: number): number => {
    const target = st[3] + n;
    let it = 0;
    st[7] = 1;
    while (st[3] < target) {
      if (st[7] === 1) { st[7] = 0; if (a.api.sendv(st[0], msg, 0, MSG) !== MSG) st[6]++; }
      a.loop.iterate();
      b.loop.iterate();
      it++;
      if (it > 100 * n + 1000) throw new Error(`echo stalled after ${st[3]} round trips`);
    }
    if (st[6] !== 0) throw new Error(`echo: ${st[6]} errors (bad data or refused sendv)`);
    return it;
  };
  return { run, roundTrips: () => st[3], handles: () => [st[0], st[1]], pair };
}

/**
 * A warm bulk transfer A → B: A keeps its send buffer full from one 1 MiB array (sendv after every `sent` event),
 * B releases what it receives at once. Full-sized segments, ACK every second one, cwnd growth, window updates.
 */
export function bulkBench(opts: { virtualClock?: boolean; roundedRealClock?: boolean; stepMs?: number; check?: boolean } = {}): { run(iterations: number): number } {
  const vt = new Float64Array(1);
  const step = opts.stepMs ?? 0.02;
  const check = opts.check ?? true;
  // Virtual time moving `stepMs` per iteration, without performance.now(): timers (delayed ACK) fire. Or the real
  // clock rounded to whole milliseconds (integer µs values: a bisection aid).
  const t0 = performance.now();
  const time: TimeSource | undefined = opts.roundedRealClock ? { read(c) { c[0] = Math.floor(performance.now() - t0) + 1000; } }
    : opts.virtualClock ? { read(c) { c[0] = vt[0]; } } : undefined;
  const pair = stackPair({ tcp: { rcvBuf: 256 * 1024, sndBuf: 256 * 1024 }, time });
  const { a, b } = pair;
  const data = new Uint8Array(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  const st = new Float64Array(6); // 0 client handle, 1 offset in data, 2 bytes received, 3 errors, 4 connected
  b.api.listen(9);
  b.app.handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      const k = ev.kind[i];
      if (k === EventKind.Knock) api.accept(ev.handle[i], 1);
      else if (k === EventKind.Recv && ev.b[i] > 0) {
        const src = ev.a[i], n = ev.b[i], bytes = ev.bytes;
        if (check) {
          let off = st[2] % (1 << 20);
          for (let j = 0; j < n; j++) { if (bytes[src + j] !== (off & 0xff)) st[3]++; off++; }
        }
        st[2] += n;
        api.recvDone(ev.handle[i], n);
      }
    }
  };
  const push = (api: NetApi): void => {
    for (;;) {
      const off = st[1];
      const r = api.sendv(st[0], data, off, data.length - off);
      if (r <= 0) break;
      st[1] = off + r === data.length ? 0 : off + r;
    }
  };
  a.app.handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      const k = ev.kind[i];
      if (k === EventKind.Connected) { st[4] = 1; push(api); } else if (k === EventKind.Sent) push(api);
    }
  };
  st[0] = a.api.connect(IP_B, 9, 5);
  pair.pump(() => st[4] === 1);
  return {
    run(iterations: number): number {
      const from = st[2];
      for (let i = 0; i < iterations; i++) {
        vt[0] += step;
        a.loop.iterate();
        b.loop.iterate();
      }
      if (st[3] !== 0) throw new Error(`bulk: ${st[3]} bad bytes`);
      return st[2] - from;
    },
  };
}
