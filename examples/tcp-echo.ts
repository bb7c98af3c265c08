/**
 * A zero-copy TCP echo server (IX's): each received piece goes back out with `sendv` straight from the packet
 * buffers it arrived in, and is released with `recvDone` only when a `sent` event says the peer acknowledged the
 * echo (send and receive are both in order, so the n bytes acknowledged are the first n bytes held). Nothing is
 * copied and the server keeps no state: the handle is the connection. Runs until SIGINT/SIGTERM or --seconds.
 *
 *   node dist/examples/tcp-echo.js --dev xdp:veth0 --ip 10.0.0.2/24 [--port 7] [--seconds 10]
 *   then, from the peer:  socat - TCP:10.0.0.2:7
 */
import { parseArgs } from 'node:util';
import { type App, createPool, ElasticThread, EventKind, formatMac, openDevice, parseIpv4Cidr, Stack, MonotonicClock } from 'ixy.ts';

const { values: o } = parseArgs({
  options: { dev: { type: 'string' }, ip: { type: 'string' }, port: { type: 'string', default: '7' }, seconds: { type: 'string' } },
});
if (!o.dev || !o.ip) {
  console.error('usage: tcp-echo --dev SPEC --ip A.B.C.D/N [--port 7] [--seconds S]');
  process.exit(2);
}
const port = Number(o.port);

const pool = createPool([o.dev]);
const device = openDevice(o.dev, { pool });
const stack = new Stack({ device, addresses: [parseIpv4Cidr(o.ip)], time: new MonotonicClock() });
let accepted = 0;
let closed = 0;
let echoed = 0;
let overruns = 0;

const app: App = {
  finished: false,
  start(api) {
    if (api.listen(port) < 0) throw new Error(`cannot listen on TCP port ${port}`);
  },
  onEvents(ev, api) {
    for (let i = 0; i < ev.count; i++) {
      const h = ev.handle[i];
      switch (ev.kind[i]) {
        case EventKind.Knock: api.accept(h, 0); accepted++; break;
        case EventKind.Recv: {
          const len = ev.length(i);
          if (len === 0) { api.close(h); break; } // the peer's FIN: ours follows the echo
          // The received bytes are the data to send: they stay in their buffers until acknowledged (below).
          // The send buffer is as large as the receive window, so it takes all of it, unless the peer sends in
          // pieces too small for the send queue's entries; then give up on that peer.
          if (api.sendv(h, ev.bytes, ev.offset(i), len) !== len) { overruns++; api.abort(h); }
          break;
        }
        case EventKind.Sent: echoed += ev.acked(i); api.recvDone(h, ev.acked(i)); break;
        case EventKind.Dead: closed++; break;
      }
    }
  },
};

const loop = new ElasticThread(stack, app, { batch: 32 });
const stop = (): void => loop.stop();
process.once('SIGINT', stop).once('SIGTERM', stop);
const timer = o.seconds ? setTimeout(stop, Number(o.seconds) * 1000) : undefined;
const ticker = setInterval(() => console.log(`connections ${accepted - closed} open, ${closed} closed; ${echoed} bytes echoed`), 1000);
console.log(`up: ${device.spec}, MAC ${formatMac(stack.iface.mac)}, ${o.ip}, TCP port ${port}`);
await loop.run();
clearTimeout(timer);
clearInterval(ticker);
stack.shutdown(); // resets what is still open, frees every buffer the stack holds
device.close();
console.log(`accepted ${accepted} connections, ${closed} closed, ${overruns} aborted; ${echoed} bytes echoed`);
console.log(`buffers not returned to the pool: ${pool.allocated}`);
