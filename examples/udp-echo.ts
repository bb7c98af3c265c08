/**
 * UDP echo on the stack: every datagram sent to --port goes back to its sender. The payload is read where it
 * arrived (zero-copy receive: the event points into its packet buffer), copied once into the reply by `sendTo`,
 * and the buffer goes back to the pool with `udpRecvDone`. Runs until SIGINT/SIGTERM or --seconds.
 *
 *   node dist/examples/udp-echo.js --dev xdp:veth0 --ip 10.0.0.2/24 [--port 7] [--seconds 10]
 *   then, from the peer:  echo hello | socat -t 1 - UDP:10.0.0.2:7
 */
import { parseArgs } from 'node:util';
import { type App, createPool, ElasticThread, EventKind, formatMac, openDevice, parseIpv4Cidr, Stack, MonotonicClock } from 'ixy.ts';

const { values: o } = parseArgs({
  options: { dev: { type: 'string' }, ip: { type: 'string' }, port: { type: 'string', default: '7' }, seconds: { type: 'string' } },
});
if (!o.dev || !o.ip) {
  console.error('usage: udp-echo --dev SPEC --ip A.B.C.D/N [--port 7] [--seconds S]');
  process.exit(2);
}
const port = Number(o.port);

const pool = createPool([o.dev]);
const device = openDevice(o.dev, { pool });
const stack = new Stack({ device, addresses: [parseIpv4Cidr(o.ip)], time: new MonotonicClock() });
let datagrams = 0;
let bytes = 0;
let failed = 0;

const app: App = {
  finished: false,
  start(api) {
    if (api.udpBind(port) < 0) throw new Error(`cannot bind UDP port ${port}`);
  },
  onEvents(ev, api) {
    for (let i = 0; i < ev.count; i++) {
      if (ev.kind[i] !== EventKind.UdpRecv) continue;
      const n = api.sendTo(port, ev.remoteIp(i), ev.remotePort(i), ev.bytes, ev.offset(i), ev.length(i));
      if (n < 0) failed++; // an ApiError: no buffer, no route …
      else { datagrams++; bytes += n; }
      api.udpRecvDone(ev.buf[i]); // the received datagram's buffer goes back to the pool
    }
  },
};

const loop = new ElasticThread(stack, app, { batch: 32 });
const stop = (): void => loop.stop();
process.once('SIGINT', stop).once('SIGTERM', stop);
const timer = o.seconds ? setTimeout(stop, Number(o.seconds) * 1000) : undefined;
const ticker = setInterval(() => console.log(`echoed ${datagrams} datagrams, ${bytes} bytes`), 1000);
console.log(`up: ${device.spec}, MAC ${formatMac(stack.iface.mac)}, ${o.ip}, UDP port ${port}`);
await loop.run();
clearTimeout(timer);
clearInterval(ticker);
stack.shutdown(); // frees every buffer the stack still holds
device.close();
console.log(`echoed ${datagrams} datagrams, ${bytes} bytes; ${failed} replies failed`);
console.log(`buffers not returned to the pool: ${pool.allocated}`);
