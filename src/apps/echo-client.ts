import { EventKind, type EventQueue } from '../api/events.js';
import type { App, NetApi } from '../api/native.js';
import { HISTOGRAM_BUCKETS, percentile, record } from '../util/histogram.js';
import { defineStackApp } from '../dataplane/app.js';

export interface EchoClientOptions {
  ip: number;
  port: number;
  /** Concurrent connections. */
  connections: number;
  /** Message size in bytes (64 in the IX/mTCP benchmark). */
  size: number;
  /** Round trips per connection before it is closed and a new one opened (IX's n); 0 = never close. */
  rounds: number;
  /** Stop after this many messages in all (0: until stopped). */
  messages?: number;
}

/**
 * The IX/mTCP echo benchmark's client: `connections` connections each send a message, wait for all of it to come
 * back, and repeat; after `rounds` round trips a connection is closed and replaced. Per-connection state is in
 * typed arrays indexed by the cookie; the message is one immutable buffer shared by every sendv (zero-copy).
 */
export class EchoClient implements App {
  finished = false;
  messages = 0;
  connectionsOpened = 0;
  failures = 0;
  stopping = false;
  /** Round-trip latency in µs (log-linear histogram, util/histogram.ts). */
  readonly rtt = new Uint32Array(HISTOGRAM_BUCKETS);
  private readonly handle: Int32Array;
  private readonly got: Int32Array;
  private readonly done: Int32Array;
  /** 1 once connection k's handshake completed. */
  private readonly connected: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly msg: Uint8Array;
  private live = 0;

  constructor(private readonly o: EchoClientOptions) {
    const n = o.connections;
    this.handle = new Int32Array(n).fill(-1);
    this.got = new Int32Array(n);
    this.done = new Int32Array(n);
    this.connected = new Uint8Array(n);
    this.sentAt = new Float64Array(n);
    this.msg = new Uint8Array(o.size);
    for (let i = 0; i < o.size; i++) this.msg[i] = 0x41 + (i % 26);
  }

  start(api: NetApi): void {
    for (let k = 0; k < this.o.connections; k++) this.open(api, k);
  }

  private open(api: NetApi, k: number): void {
    const h = api.connect(this.o.ip, this.o.port, k);
    if (h < 0) { this.failures++; this.handle[k] = -1; return; }
    this.handle[k] = h;
    this.connected[k] = 0;
    this.got[k] = 0;
    this.done[k] = 0;
    this.live++;
    this.connectionsOpened++;
  }

  private send(api: NetApi, k: number): void {
    this.sentAt[k] = api.nowMs;
    api.sendv(this.handle[k], this.msg, 0, this.msg.length);
  }

  /**
   * Stop opening connections and close the open ones; `finished` once all are gone. `graceful` (the message count
   * reached): a connection still in its handshake is closed once it is established, with a FIN, rather than
   * abandoned in SYN-SENT, which deletes it (RFC 9293 §3.10.4) and makes the peer's SYN-ACK draw a RST. Without it
   * (Ctrl-C) nothing waits for a handshake that may never finish.
   */
  stop(api: NetApi, graceful = false): void {
    this.stopping = true;
    for (let k = 0; k < this.handle.length; k++) {
      if (this.handle[k] >= 0 && (!graceful || this.connected[k] !== 0)) api.close(this.handle[k]);
    }
    if (this.live === 0) this.finished = true;
  }

  onEvents(ev: EventQueue, api: NetApi): void {
    const size = this.o.size;
    for (let i = 0; i < ev.count; i++) {
      const k = ev.cookie[i];
      switch (ev.kind[i]) {
        case EventKind.Connected:
          if (ev.a[i] !== 0) { this.failures++; this.gone(api, k); break; }
          this.connected[k] = 1;
          if (this.stopping) { api.close(this.handle[k]); break; }
          this.send(api, k);
          break;
        case EventKind.Recv: {
          const len = ev.b[i];
          const h = ev.handle[i];
          if (len === 0) { api.close(h); break; }
          api.recvDone(h, len);
          let got = this.got[k] + len;
          while (got >= size) {
            got -= size;
            this.messages++;
            record(this.rtt, Math.round((api.nowMs - this.sentAt[k]) * 1000));
            const d = ++this.done[k];
            if (this.stopping) { api.close(h); break; }
            if (this.o.messages && this.messages >= this.o.messages) { this.stop(api, true); break; }
            if (this.o.rounds > 0 && d >= this.o.rounds) api.close(h);
            else this.send(api, k);
          }
          this.got[k] = got;
          break;
        }
        case EventKind.Dead:
          if (ev.a[i] !== 0) this.failures++;
          this.gone(api, k);
          break;
      }
    }
  }

  private gone(api: NetApi, k: number): void {
    this.handle[k] = -1;
    this.live--;
    if (this.stopping) { if (this.live === 0) this.finished = true; return; }
    this.open(api, k);
  }

  get work(): number { return this.messages; }
  get serverIp(): number { return this.o.ip; }
}

/** This thread's part of `total` when `threads` share it. */
function share(total: number, thread: number, threads: number): number {
  return Math.floor(total / threads) + (thread < total % threads ? 1 : 0);
}

/** `ixy echo client`: with several threads, each opens its share of the connections and of the messages. */
export default defineStackApp({
  create: (ctx, o: EchoClientOptions) => new EchoClient({
    ...o, connections: share(o.connections, ctx.thread, ctx.threads), messages: o.messages ? share(o.messages, ctx.thread, ctx.threads) : 0,
  }),
  figures: (a) => ({
    messages: a.messages, failures: a.failures, connections: a.connectionsOpened, p50Us: percentile(a.rtt, 50), p99Us: percentile(a.rtt, 99),
  }),
  summary: (a) => ({ rtt: Array.from(a.rtt) }),
  stop: (a, api) => a.stop(api),
  unreachable: (a, ip) => ip === a.serverIp && a.messages === 0,
});
