/**
 * Drives the `ixy kv` app (apps/kv-server.ts) through its real `onEvents` with a fake native API: Recv events point
 * into a receive region as the stack's would, `sendv` keeps references to the app's bytes (not copies) and the
 * harness reads them only when it "transmits", after the app has returned — so a reply whose bytes the server
 * changed before they were acknowledged arrives changed, as it would on a wire — then acknowledges them with Sent
 * events. The send buffer is limited like the stack's (`sndBuf`), `recvDone` is checked against what was delivered.
 */
import { EventKind, EventQueue } from '../../src/api/events.js';
import { ApiError } from '../../src/api/codes.js';
import type { NetApi } from '../../src/api/native.js';
import { KvServer, type KvServerOptions } from '../../src/apps/kv-server.js';

interface Ref { data: Uint8Array; off: number; len: number }

export interface FakeConn {
  cookie: number;
  refs: Ref[];
  queued: number;
  /** Bytes delivered to the server and not yet released with recvDone. */
  held: number;
  /** What the client has received. */
  got: number[];
  appClosed: boolean;
  dead: boolean;
}

export class KvHarness {
  readonly ev: EventQueue;
  readonly rx = new Uint8Array(8 << 20);
  private rxTop = 0;
  private rxHeld = 0;
  readonly app: KvServer;
  readonly conns = new Map<number, FakeConn>();
  private nextHandle = 1;
  nowMs = 0;
  sndBuf = 256 * 1024;
  /** Events the server's calls cause for the next iteration (a Dead after close once all is acknowledged). */
  private readonly api: NetApi;
  recvDoneErrors = 0;

  constructor(o: Partial<KvServerOptions> = {}, unixTime = 1_800_000_000) {
    this.ev = new EventQueue(64, this.rx);
    // a fixed clock: the store starts at unixTime, the loop's nowMs moves it
    this.app = new KvServer({ port: 11211, memoryMiB: 8, itemSizeMax: 1 << 20, maxConns: 16, unixTime, ...o });
    const self = this;
    this.api = {
      get bytes() { return self.rx; },
      addresses: new Int32Array(1),
      get nowMs() { return self.nowMs; },
      listen: () => 0,
      unlisten: () => 0,
      connect: () => ApiError.Invalid,
      accept: (h: number, cookie: number) => { const c = self.conns.get(h); if (!c) return ApiError.BadHandle; c.cookie = cookie; return 0; },
      reject: () => 0,
      sendv: (h: number, data: Uint8Array, off: number, len: number) => {
        const c = self.conns.get(h);
        if (!c || c.dead) return ApiError.BadHandle;
        if (c.appClosed) return ApiError.Closed;
        if (off < 0 || len < 0 || off + len > data.length) return ApiError.Invalid;
        const room = self.sndBuf - c.queued;
        if (room <= 0) return ApiError.Again;
        const n = Math.min(room, len);
        c.refs.push({ data, off, len: n });
        c.queued += n;
        return n;
      },
      recvDone: (h: number, len: number) => {
        const c = self.conns.get(h);
        if (!c) return ApiError.BadHandle;
        if (len > c.held) { self.recvDoneErrors++; return ApiError.Overrun; }
        c.held -= len;
        self.rxHeld -= len;
        if (self.rxHeld === 0) self.rxTop = 0;
        return 0;
      },
      close: (h: number) => { const c = self.conns.get(h); if (!c) return ApiError.BadHandle; c.appClosed = true; return 0; },
      abort: () => 0,
      setKeepAlive: () => 0,
      setNoDelay: () => 0,
      udpBind: () => 0,
      udpUnbind: () => 0,
      sendTo: () => 0,
      udpRecvDone: () => 0,
    };
    this.app.start(this.api);
  }

  private run(): void {
    this.app.onEvents(this.ev, this.api);
    this.ev.clear();
  }

  /** A new client connection (Knock); returns its handle. */
  connect(): number {
    const h = this.nextHandle++;
    this.conns.set(h, { cookie: -1, refs: [], queued: 0, held: 0, got: [], appClosed: false, dead: false });
    this.ev.push(EventKind.Knock, h, 0, 11211, 0, 0x0a000001, 40000 + h, -1);
    this.run();
    return h;
  }

  /** The client sends bytes, delivered as Recv pieces of the given sizes (default one piece), in one iteration. */
  send(h: number, data: string | Uint8Array, pieces?: number[]): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const c = this.conns.get(h)!;
    let off = 0;
    const sizes = pieces ?? [b.length];
    let k = 0;
    while (off < b.length) {
      const n = Math.min(sizes[Math.min(k, sizes.length - 1)] || b.length, b.length - off);
      k++;
      if (this.rxTop + n > this.rx.length) throw new Error('harness receive region full: acknowledge more');
      this.rx.set(b.subarray(off, off + n), this.rxTop);
      this.ev.push(EventKind.Recv, h, c.cookie, this.rxTop, n, 0, 0, -1);
      this.rxTop += n;
      this.rxHeld += n;
      c.held += n;
      off += n;
    }
    this.run();
  }

  /** The client's FIN. */
  fin(h: number): void {
    const c = this.conns.get(h)!;
    this.ev.push(EventKind.Recv, h, c.cookie, 0, 0, 0, 0, -1);
    this.run();
  }

  /** The connection dies (reset). */
  kill(h: number): void {
    const c = this.conns.get(h)!;
    c.dead = true;
    this.ev.push(EventKind.Dead, h, c.cookie, 1, 0, 0, 0, -1);
    this.run();
    this.rxHeld -= c.held;
    c.held = 0;
    if (this.rxHeld === 0) this.rxTop = 0;
  }

  /**
   * Transmits what the server queued (reading its bytes now) and acknowledges it, until nothing is left; with
   * `maxBytes`, acknowledges at most that much in all (a slow client). Returns the bytes acknowledged.
   */
  deliver(maxBytes = Infinity): number {
    let total = 0;
    for (let round = 0; round < 10_000; round++) {
      let any = false;
      for (const [h, c] of this.conns) {
        if (c.dead || c.refs.length === 0) continue;
        let n = 0;
        while (c.refs.length > 0 && total + n < maxBytes) {
          const r = c.refs[0];
          const take = Math.min(r.len, maxBytes - total - n);
          for (let i = 0; i < take; i++) c.got.push(r.data[r.off + i]);
          n += take;
          if (take === r.len) c.refs.shift(); else { r.off += take; r.len -= take; }
        }
        if (n === 0) continue;
        c.queued -= n;
        total += n;
        any = true;
        this.ev.push(EventKind.Sent, h, c.cookie, n, this.sndBuf - c.queued, 0, 0, -1);
      }
      if (this.ev.count > 0) this.run();
      // a connection the server closed, with everything acknowledged: its Dead event
      for (const [h, c] of this.conns) {
        if (c.appClosed && !c.dead && c.refs.length === 0) {
          c.dead = true;
          this.ev.push(EventKind.Dead, h, c.cookie, 0, 0, 0, 0, -1);
          this.run();
          this.rxHeld -= c.held;
          c.held = 0;
          if (this.rxHeld === 0) this.rxTop = 0;
        }
      }
      if (!any) break;
    }
    return total;
  }

  /** What the client received so far, as a latin1 string, and forgets it. */
  take(h: number): string {
    const c = this.conns.get(h)!;
    const s = Buffer.from(c.got).toString('latin1');
    c.got = [];
    return s;
  }

  /** Sends, delivers everything, returns the reply. */
  ask(h: number, data: string | Uint8Array, pieces?: number[]): string {
    this.send(h, data, pieces);
    this.deliver();
    return this.take(h);
  }

  closedByServer(h: number): boolean { return this.conns.get(h)!.appClosed; }
  held(h: number): number { return this.conns.get(h)!.held; }
}
