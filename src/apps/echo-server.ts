import { EventKind, type EventQueue } from '../api/events.js';
import type { App, NetApi } from '../api/native.js';
import { defineStackApp } from '../dataplane/app.js';

/**
 * The IX/mTCP echo server, zero-copy: each received piece is handed straight back to `sendv` from the packet
 * buffer it arrived in, and released with `recvDone` only when the `sent` event says the peer acknowledged the
 * echo (send and receive are both in order, so the n bytes acknowledged are the first n bytes held). It keeps no
 * state of its own: the handle is the whole connection.
 */
export class EchoServer implements App {
  readonly finished = false;
  accepted = 0;
  closed = 0;
  bytesEchoed = 0;
  /** Connections aborted because their send queue was full (cannot happen while sndBuf ≥ rcvBuf). */
  overruns = 0;

  constructor(private readonly port: number, private readonly backlog = 1024) {}

  start(api: NetApi): void {
    const r = api.listen(this.port, this.backlog);
    if (r < 0) throw new Error(`cannot listen on port ${this.port} (code ${r})`);
  }

  onEvents(ev: EventQueue, api: NetApi): void {
    const bytes = ev.bytes;
    for (let i = 0; i < ev.count; i++) {
      const h = ev.handle[i];
      switch (ev.kind[i]) {
        case EventKind.Knock:
          api.accept(h, 0);
          this.accepted++;
          break;
        case EventKind.Recv: {
          const len = ev.b[i];
          if (len === 0) { api.close(h); break; }
          const n = api.sendv(h, bytes, ev.a[i], len);
          if (n !== len) { this.overruns++; api.abort(h); }
          break;
        }
        case EventKind.Sent:
          this.bytesEchoed += ev.a[i];
          api.recvDone(h, ev.a[i]);
          break;
        case EventKind.Dead:
          this.closed++;
          break;
      }
    }
  }

  /** Work counter for the stats line. */
  get work(): number { return this.bytesEchoed; }
}

/** `ixy echo server`. */
export default defineStackApp({
  create: (_ctx, o: { port: number }) => new EchoServer(o.port),
  figures: (a) => ({ bytesEchoed: a.bytesEchoed, accepted: a.accepted, closed: a.closed }),
});
