/** A test L2 app: takes frames from its one device, counts and frees them; finished after `limit` (0: never). */
import { type Device, defineL2App } from 'ixy.ts';

class RxCount {
  received = 0;
  private readonly ids = new Uint32Array(64);
  constructor(private readonly dev: Device, private readonly limit: number) {}
  get finished(): boolean { return this.limit > 0 && this.received >= this.limit; }
  step(): number {
    const n = this.dev.rxBatch(0, this.ids, 64);
    if (n > 0) { this.dev.pool.freeBatch(this.ids, 0, n); this.received += n; }
    return n;
  }
}

export default defineL2App({
  devices: [1, 1],
  create: (ctx, o: { limit?: number }) => new RxCount(ctx.devices[0], o.limit ?? 0),
  figures: (a) => ({ received: a.received }),
  summary: (a) => ({ received: a.received }),
});

/** Not an app: for the test that a module must export a definition. */
export const notAnApp = { kind: 'l2' };
