import { EventKind, type EventQueue } from '../api/events.js';
import { deathReasonName } from '../api/codes.js';
import type { App, NetApi } from '../api/native.js';
import { defineStackApp } from '../dataplane/app.js';

export interface PingpongOptions {
  ip: number;
  port: number;
  /** Message sizes to measure, bytes. */
  sizes: number[];
  /** Least round trips per size, and least time per size (ms); both must be reached. */
  minRounds: number;
  minMs: number;
  /** Round trips of the first size before measuring starts (JIT warm-up, ARP, slow start). Default 2000. */
  warmupRounds?: number;
}

export interface PingpongPoint {
  size: number;
  rounds: number;
  /** One-way latency = round-trip time / 2 (NetPIPE's definition), µs: mean and minimum. */
  oneWayUs: number;
  minOneWayUs: number;
  /** Goodput in Mbit/s: size / one-way time (NetPIPE's throughput). */
  mbps: number;
}

/**
 * NetPIPE's ping-pong over one connection to an echo server: for each size, send a message, wait until all of it
 * has come back, repeat; report the one-way time (RTT/2) and the goodput.
 */
export class PingpongClient implements App {
  finished = false;
  failed: string | null = null;
  readonly results: PingpongPoint[] = [];
  get serverIp(): number { return this.o.ip; }
  private handle = -1;
  private sizeIdx = 0;
  private got = 0;
  private rounds = 0;
  private sumUs = 0;
  private minUs = Infinity;
  private t0 = 0;
  private sizeStart = 0;
  private readonly msg: Uint8Array;

  constructor(private readonly o: PingpongOptions) {
    this.warmupLeft = o.warmupRounds ?? 2000;
    this.msg = new Uint8Array(Math.max(...o.sizes));
    for (let i = 0; i < this.msg.length; i++) this.msg[i] = i & 0xff;
  }

  start(api: NetApi): void {
    this.handle = api.connect(this.o.ip, this.o.port, 1);
    if (this.handle < 0) { this.failed = `connect failed (${this.handle})`; this.finished = true; }
  }

  get work(): number { return this.results.length; }

  private send(api: NetApi): void {
    const size = this.o.sizes[this.sizeIdx];
    this.t0 = api.nowMs;
    let off = 0;
    while (off < size) {
      const n = api.sendv(this.handle, this.msg, off, size - off);
      if (n <= 0) break; // the rest goes after a `sent` event
      off += n;
    }
    this.pendingOff = off;
  }

  private pendingOff = 0;
  private warmupLeft = 0;

  onEvents(ev: EventQueue, api: NetApi): void {
    for (let i = 0; i < ev.count; i++) {
      switch (ev.kind[i]) {
        case EventKind.Connected:
          if (ev.a[i] !== 0) { this.failed = `connection failed (${deathReasonName(ev.a[i])})`; this.finished = true; return; }
          this.sizeStart = api.nowMs;
          this.send(api);
          break;
        case EventKind.Sent: {
          const size = this.o.sizes[this.sizeIdx];
          while (this.pendingOff < size) {
            const n = api.sendv(this.handle, this.msg, this.pendingOff, size - this.pendingOff);
            if (n <= 0) break;
            this.pendingOff += n;
          }
          break;
        }
        case EventKind.Recv: {
          const len = ev.b[i];
          if (len === 0) { this.failed = 'the server closed the connection'; this.finished = true; return; }
          api.recvDone(this.handle, len);
          this.got += len;
          const size = this.o.sizes[this.sizeIdx];
          if (this.got < size) break;
          this.got -= size;
          const us = (api.nowMs - this.t0) * 500; // RTT/2 in µs
          if (this.warmupLeft > 0) {
            if (--this.warmupLeft === 0) this.sizeStart = api.nowMs;
            this.send(api);
            break;
          }
          this.rounds++;
          this.sumUs += us;
          if (us < this.minUs) this.minUs = us;
          if (this.rounds >= this.o.minRounds && api.nowMs - this.sizeStart >= this.o.minMs) this.nextSize(api, size);
          if (!this.finished) this.send(api);
          break;
        }
        case EventKind.Dead:
          if (!this.finished) { this.failed = `connection died (${deathReasonName(ev.a[i])})`; this.finished = true; }
          break;
      }
    }
  }

  private nextSize(api: NetApi, size: number): void {
    const oneWay = this.sumUs / this.rounds;
    this.results.push({ size, rounds: this.rounds, oneWayUs: oneWay, minOneWayUs: this.minUs, mbps: (size * 8) / oneWay });
    this.rounds = 0; this.sumUs = 0; this.minUs = Infinity; this.got = 0;
    this.sizeIdx++;
    this.sizeStart = api.nowMs;
    if (this.sizeIdx >= this.o.sizes.length) { api.close(this.handle); this.finished = true; }
  }
}

/** `ixy pingpong client` (the server is `ixy echo server`). */
export default defineStackApp({
  create: (_ctx, o: PingpongOptions) => new PingpongClient(o),
  summary: (a) => ({ points: a.results, failed: a.failed }),
  unreachable: (a, ip) => ip === a.serverIp,
});
