/**
 * The zero-copy TCP echo server as an app for the runtime: this module exports its definition, and the runtime builds
 * one copy per thread (each worker loads this file by its URL), each on its own device queue, shared-nothing (IX).
 * Prints every thread's counters once a second; stops on SIGINT/SIGTERM or after --seconds.
 *
 *   node dist/examples/echo-threads.js --dev xdp:veth0 --ip 10.0.0.2/24 [--threads 2] [--port 7] [--seconds 10]
 *   (--threads N on xdp: needs an interface with N queues: ip link add … numrxqueues N numtxqueues N)
 */
import { parseArgs } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { type App, defineStackApp, type EventQueue, EventKind, type NetApi, start } from 'ixy.ts';

class Echo implements App {
  readonly finished = false;
  accepted = 0;
  echoed = 0;
  constructor(private readonly port: number) {}
  start(api: NetApi): void {
    if (api.listen(this.port) < 0) throw new Error(`cannot listen on TCP port ${this.port}`);
  }
  onEvents(ev: EventQueue, api: NetApi): void {
    for (let i = 0; i < ev.count; i++) {
      const h = ev.handle[i];
      switch (ev.kind[i]) {
        case EventKind.Knock: api.accept(h, 0); this.accepted++; break;
        case EventKind.Recv: {
          const len = ev.length(i);
          if (len === 0) api.close(h); // the peer's FIN: ours follows the echo
          else if (api.sendv(h, ev.bytes, ev.offset(i), len) !== len) api.abort(h);
          break;
        }
        case EventKind.Sent: this.echoed += ev.acked(i); api.recvDone(h, ev.acked(i)); break;
      }
    }
  }
}

export default defineStackApp({
  create: (_ctx, o: { port: number }) => new Echo(o.port),
  figures: (a) => ({ accepted: a.accepted, echoed: a.echoed }),
});

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: { dev: { type: 'string' }, ip: { type: 'string' }, threads: { type: 'string', default: '1' }, port: { type: 'string', default: '7' }, seconds: { type: 'string' } },
  });
  if (!o.dev || !o.ip) {
    console.error('usage: echo-threads --dev SPEC --ip A.B.C.D/N [--threads N] [--port 7] [--seconds S]');
    process.exit(2);
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort()).once('SIGTERM', () => abort.abort());
  const rt = await start({ module: import.meta.url, options: { port: Number(o.port) } }, {
    devices: [o.dev], ip: o.ip, threads: Number(o.threads), seconds: o.seconds ? Number(o.seconds) : undefined, signal: abort.signal,
  });
  for (const d of rt.devices) console.log(`thread ${d.thread}: ${d.spec}, driver ${d.driver}, MAC ${d.mac}`);
  for await (const f of rt) console.log(f.threads.map((t) => `t${t.thread} ${t.app.accepted} accepted ${t.app.echoed} bytes`).join(' | '));
  const r = await rt.done;
  const sum = (k: string): number => r.threads.reduce((s, t) => s + t.app[k], 0);
  console.log(`stopped by ${r.stoppedBy}: ${sum('accepted')} connections, ${sum('echoed')} bytes echoed; buffers not returned: ${r.leakedBuffers}`);
}

// Each worker thread loads this module for the definition only. The main thread must not wait here at the top
// level: the runtime imports this same module, and that import resolves only once this module has finished loading.
if (isMainThread) main().catch((e: Error) => { console.error(`echo-threads: ${e.message}`); process.exitCode = 1; });
