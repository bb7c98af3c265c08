import { EventKind, type EventQueue } from '../api/events.js';
import type { App, NetApi } from '../api/native.js';
import { defineStackApp } from '../dataplane/app.js';
import { C, KvStore } from '../kv/store.js';
import { KvProtocol, Op, R_TOO_MANY } from '../kv/text-protocol.js';

export interface KvServerOptions {
  port: number;
  /** Item memory in MiB (`-m`). */
  memoryMiB: number;
  /** Largest item in bytes (`-I`). */
  itemSizeMax: number;
  /** Most concurrent connections (`-c`); more are told "ERROR Too many open connections" and closed. */
  maxConns: number;
  /** Unacknowledged reply bytes after which a connection's requests wait (default 1 MiB). */
  outputBound?: number;
  /** Values shorter than this are copied into the reply instead of sent from the store (default 0). */
  copyBelow?: number;
  growthFactor?: number;
  /** The unix time the store's clock starts at (tests; default now). */
  unixTime?: number;
}

/**
 * `ixy kv`: a memcached-compatible server (text protocol) on the native API. Connections are slots of the protocol
 * (kv/text-protocol.ts): the cookie given at `accept` is the slot, so every event finds its state in typed arrays.
 * Each iteration queues the events' pieces and acknowledgements, then parses and replies for the slots that had
 * any. A connection over `maxConns` gets memcached's "ERROR Too many open connections" from a constant buffer and is
 * closed (its cookie is `maxConns`: no slot).
 */
export class KvServer implements App {
  readonly finished = false;
  readonly store: KvStore;
  readonly proto: KvProtocol;
  private startUnix = 0;

  constructor(private readonly o: KvServerOptions) {
    this.store = new KvStore({ memoryBytes: o.memoryMiB * 1024 * 1024, itemSizeMax: o.itemSizeMax, growthFactor: o.growthFactor, unixTime: o.unixTime });
    this.proto = new KvProtocol(this.store, { maxConns: o.maxConns, outputBound: o.outputBound, copyBelow: o.copyBelow, tcpPort: o.port });
  }

  start(api: NetApi): void {
    this.startUnix = this.store.unixTime() - Math.floor(api.nowMs / 1000);
    this.proto.attach(api);
    const r = api.listen(this.o.port, 1024);
    if (r < 0) throw new Error(`cannot listen on port ${this.o.port} (code ${r})`);
  }

  onEvents(ev: EventQueue, api: NetApi): void {
    const proto = this.proto;
    const over = this.o.maxConns;
    // the store's clock: whole seconds, from the loop's time (reading the wall clock would allocate)
    this.store.setUnixTime(this.startUnix + Math.floor(api.nowMs / 1000));
    for (let i = 0; i < ev.count; i++) {
      const h = ev.handle[i];
      const k = ev.cookie[i];
      switch (ev.kind[i]) {
        case EventKind.Knock: {
          const slot = proto.open(h, ev.c[i], ev.d[i]);
          if (slot < 0) {
            if (api.accept(h, over) === 0) { api.sendv(h, R_TOO_MANY, 0, R_TOO_MANY.length); api.close(h); }
            break;
          }
          if (api.accept(h, slot) < 0) proto.cancel(slot);
          break;
        }
        case EventKind.Recv:
          if (k === over) { if (ev.b[i] > 0) api.recvDone(h, ev.b[i]); break; }
          proto.received(k, ev.a[i], ev.b[i]);
          break;
        case EventKind.Sent:
          if (k !== over) proto.acked(k, ev.a[i]);
          break;
        case EventKind.Dead:
          if (k !== over) proto.dead(k);
          break;
      }
    }
    proto.run();
  }
}

/** `ixy kv`: figures are cumulative counters; the CLI turns them into rates. */
export default defineStackApp({
  create: (_ctx, o: KvServerOptions) => new KvServer(o),
  figures: (a) => {
    const s = a.store;
    const c = s.counters;
    const ops = a.proto.ops;
    return {
      get: ops[Op.get] + ops[Op.gets] + ops[Op.gat], set: ops[Op.set] + ops[Op.add] + ops[Op.replace] + ops[Op.append] + ops[Op.prepend] + ops[Op.cas],
      delete: ops[Op.delete], incr: ops[Op.incr] + ops[Op.decr], touch: ops[Op.touch], other: ops[Op.flush] + ops[Op.other], errors: ops[Op.errors],
      hits: c[C.getHits], misses: c[C.getMisses], items: s.items, bytes: s.bytesUsed, memory: s.pagesInUse * s.pageSize, limit: s.memoryBytes,
      evictions: c[C.evictions], reclaimed: c[C.reclaimed], connections: a.proto.conns, totalConnections: a.proto.totalConns,
      rejected: a.proto.rejectedConns, bytesRead: a.proto.bytesRead, bytesWritten: a.proto.bytesWritten, throttled: a.proto.throttled,
    };
  },
  summary: (a) => ({ stats: Object.fromEntries(a.proto.generalStats()) }),
});
