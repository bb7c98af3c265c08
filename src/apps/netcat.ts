import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { EventKind, type EventQueue } from '../api/events.js';
import { deathReasonName } from '../api/codes.js';
import type { App, NetApi } from '../api/native.js';
import { defineStackApp } from '../dataplane/app.js';
import { fileError } from '../util/errors.js';

export interface NetcatOptions {
  /** Listen on this port (server) … */
  listen?: number;
  /** … or connect to ip:port (client). */
  connectIp?: number;
  port: number;
  /** Bytes to send once connected (then the write side is closed). */
  data: Uint8Array;
  /** File to write received bytes to (optional). */
  outFile?: string;
}

/**
 * netcat on the stack, for one connection: sends `data` (zero-copy from the caller's buffer), writes what arrives
 * to a file, hashes both directions (sha256), closes its side when its data is acknowledged, and finishes when the
 * connection is over. What the interop tests use to move files between Linux and the stack.
 */
export class Netcat implements App {
  finished = false;
  failed: string | null = null;
  bytesSent = 0;
  bytesReceived = 0;
  private handle = -1;
  private queued = 0;
  private readonly rxHash: Hash = createHash('sha256');
  private readonly fd: number;

  constructor(private readonly o: NetcatOptions) {
    this.fd = o.outFile ? openOut(o.outFile) : -1;
  }

  get receivedSha256(): string { return this.rxHash.copy().digest('hex'); }
  get sentSha256(): string { return createHash('sha256').update(this.o.data).digest('hex'); }
  get work(): number { return this.bytesReceived + this.bytesSent; }
  /** The address it connects to, or undefined when it listens. */
  get connectIp(): number | undefined { return this.o.connectIp; }

  start(api: NetApi): void {
    if (this.o.listen !== undefined) {
      const r = api.listen(this.o.listen, 16);
      if (r < 0) throw new Error(`cannot listen on port ${this.o.listen} (code ${r})`);
    } else {
      this.handle = api.connect(this.o.connectIp!, this.o.port, 1);
      if (this.handle < 0) this.fail(`connect failed (code ${this.handle})`);
    }
  }

  private pump(api: NetApi): void {
    const d = this.o.data;
    while (this.queued < d.length) {
      const n = api.sendv(this.handle, d, this.queued, d.length - this.queued);
      if (n <= 0) return;
      this.queued += n;
    }
    if (this.bytesSent === d.length) api.close(this.handle);
  }

  onEvents(ev: EventQueue, api: NetApi): void {
    for (let i = 0; i < ev.count; i++) {
      const h = ev.handle[i];
      switch (ev.kind[i]) {
        case EventKind.Knock:
          if (this.handle >= 0) { api.reject(h); break; }
          this.handle = h;
          api.accept(h, 1);
          if (this.o.listen !== undefined) api.unlisten(this.o.listen);
          this.pump(api);
          break;
        case EventKind.Connected:
          if (ev.a[i] !== 0) { this.fail(`connection failed (${deathReasonName(ev.a[i])})`); return; }
          this.pump(api);
          break;
        case EventKind.Recv: {
          const len = ev.b[i];
          if (len === 0) break;
          const view = ev.bytes.subarray(ev.a[i], ev.a[i] + len);
          this.rxHash.update(view);
          if (this.fd >= 0) writeSync(this.fd, view);
          this.bytesReceived += len;
          api.recvDone(h, len);
          break;
        }
        case EventKind.Sent:
          this.bytesSent += ev.a[i];
          this.pump(api);
          break;
        case EventKind.Dead:
          if (ev.a[i] !== 0) this.fail(`connection died (${deathReasonName(ev.a[i])})`);
          else this.done();
          break;
      }
    }
  }

  private fail(why: string): void {
    this.failed = why;
    this.done();
  }

  private done(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.finished = true;
  }
}

function openOut(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw fileError('write --out', path, e);
  }
}

export interface NetcatAppOptions extends Omit<NetcatOptions, 'data'> {
  /** File to send once connected (default: nothing). */
  inFile?: string;
}

/** `ixy nc`. */
export default defineStackApp({
  create: (_ctx, o: NetcatAppOptions) => new Netcat({ ...o, data: o.inFile === undefined ? new Uint8Array(0) : readIn(o.inFile) }),
  summary: (a) => ({ sent: a.bytesSent, sentSha256: a.sentSha256, received: a.bytesReceived, receivedSha256: a.receivedSha256, failed: a.failed }),
  unreachable: (a, ip) => ip === a.connectIp,
});

function readIn(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw fileError('read --in', path, e);
  }
}
