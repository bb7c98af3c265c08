import type { Device } from '../driver/device.js';

/**
 * ixy's forwarder: receive a batch on one device, touch one byte of each packet (so the data really crosses the
 * CPU's cache), send it on the other; packets the TX ring cannot take are dropped. Both directions share one pool.
 */
export class Forwarder {
  forwarded = 0;
  dropped = 0;
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
    for (let i = 0; i < n; i++) bytes[ids[i] * entry + head]++;
    const sent = tx.txBatch(0, ids, n);
    if (sent < n) {
      pool.freeBatch(ids, sent, n - sent);
      this.dropped += n - sent;
    }
    this.forwarded += sent;
    return n;
  }
}
