import type { Device } from '../driver/device.js';
import { defineL2App } from '../dataplane/app.js';

/**
 * ixy's forwarder: receive a batch on one device, touch (read and write) one byte of each packet (so the data really crosses the
 * CPU's cache), send it on the other; packets the TX ring cannot take are dropped. Both directions share one pool.
 */
export class Forwarder {
  forwarded = 0;
  dropped = 0;
  readonly finished = false;
  private readonly ids: Uint32Array;

  constructor(private readonly a: Device, private readonly b: Device, private readonly batch: number) {
    this.ids = new Uint32Array(batch);
  }

  /** One pass in each direction; returns the packets received. */
  step(): number {
    return this.forward(this.a, this.b) + this.forward(this.b, this.a);
  }

  private forward(rx: Device, tx: Device): number {
    const ids = this.ids;
    const n = rx.rxBatch(0, ids, this.batch);
    if (n === 0) return 0;
    const pool = rx.pool;
    const bytes = pool.bytes;
    const entry = pool.entrySize;
    const head = pool.headroom + 1;
    // ixy increments this byte (dst MAC[1]); writing back what we read dirties the line the same way but keeps the
    // frame intact, so real traffic (ping, TCP) survives the forwarder
    for (let i = 0; i < n; i++) {
      const at = ids[i] * entry + head;
      bytes[at] = bytes[at] | 0;
    }
    const sent = tx.txBatch(0, ids, n);
    if (sent < n) {
      pool.freeBatch(ids, sent, n - sent);
      this.dropped += n - sent;
    }
    this.forwarded += sent;
    return n;
  }
}

/** `ixy fwd A B`. */
export default defineL2App({
  devices: [2, 2],
  create: (ctx) => new Forwarder(ctx.devices[0], ctx.devices[1], ctx.batch),
  figures: (a) => ({ forwarded: a.forwarded, dropped: a.dropped }),
});
