/**
 * A TCP round-trip client: opens --conns connections to an echo server, sends a --size-byte message on each, waits
 * for all of it to come back, sends again; prints messages/s every second and, at the end, RTT p50/p99. One message
 * buffer serves every `sendv` (zero-copy: the stack reads it until acknowledged, so it never changes); echoes are only
 * counted, so they are released at once. Runs --seconds (default 5) or until SIGINT/SIGTERM, then closes with FIN.
 *
 *   node dist/examples/tcp-rtt-client.js --dev xdp:veth0 --ip 10.0.0.2/24 --connect 10.0.0.1 [--port 7] [--conns 8] [--size 64]
 *   with, on the peer:  socat TCP-LISTEN:7,fork,reuseaddr EXEC:cat
 */
import { parseArgs } from 'node:util';
import { type App, createPool, ElasticThread, EventKind, openDevice, parseIpv4, parseIpv4Cidr, Stack, MonotonicClock } from 'ixy.ts';

const { values: o } = parseArgs({ options: {
  dev: { type: 'string' }, ip: { type: 'string' }, connect: { type: 'string' }, port: { type: 'string', default: '7' },
  conns: { type: 'string', default: '8' }, size: { type: 'string', default: '64' }, seconds: { type: 'string', default: '5' },
} });
if (!o.dev || !o.ip || !o.connect) {
  console.error('usage: tcp-rtt-client --dev SPEC --ip A.B.C.D/N --connect A.B.C.D [--port 7] [--conns 8] [--size 64] [--seconds 5]');
  process.exit(2);
}
const [server, port, N, size] = [parseIpv4(o.connect), Number(o.port), Number(o.conns), Number(o.size)];
const msg = new Uint8Array(size).fill(0x78);
// Per connection k (its cookie): its handle, the bytes of the echo back so far, when the message left.
const [handle, got, sentAt] = [new Int32Array(N).fill(-1), new Int32Array(N), new Float64Array(N)];
const rtt = new Float64Array(1 << 20); // the last 1 Mi round-trip times, µs
let [messages, live, failures, stopping] = [0, 0, 0, false];

const pool = createPool([o.dev]);
const device = openDevice(o.dev, { pool });
const stack = new Stack({ device, addresses: [parseIpv4Cidr(o.ip)], time: new MonotonicClock() });
const app: App = {
  get finished() { return stopping && live === 0; },
  start(api) { for (let k = 0; k < N; k++) if ((handle[k] = api.connect(server, port, k)) >= 0) live++; else failures++; },
  onEvents(ev, api) {
    for (let i = 0; i < ev.count; i++) {
      const k = ev.cookie[i];
      switch (ev.kind[i]) {
        case EventKind.Connected:
          if (ev.reason(i) !== 0) { failures++; live--; handle[k] = -1; } // refused, timed out: no `dead` follows
          else if (stopping) api.close(handle[k]);
          else { sentAt[k] = api.nowMs; api.sendv(handle[k], msg, 0, size); }
          break;
        case EventKind.Recv: {
          const len = ev.length(i);
          api.recvDone(handle[k], len);
          if (len === 0) { api.close(handle[k]); break; } // the server closed
          if ((got[k] += len) < size) break;
          got[k] -= size;
          rtt[messages++ & (rtt.length - 1)] = (api.nowMs - sentAt[k]) * 1000;
          if (!stopping) { sentAt[k] = api.nowMs; api.sendv(handle[k], msg, 0, size); }
          break;
        }
        case EventKind.Dead: if (ev.reason(i) !== 0 && !stopping) failures++; live--; handle[k] = -1; break;
      }
    }
  },
};

const loop = new ElasticThread(stack, app, { batch: 32 });
const t0 = performance.now();
let elapsed = 0;
const stop = (): void => { // close every connection (FIN); the loop ends when all are gone, or after 2 s
  if (stopping) return;
  [stopping, elapsed] = [true, (performance.now() - t0) / 1000];
  for (let k = 0; k < N; k++) if (handle[k] >= 0) stack.api.close(handle[k]);
  setTimeout(() => loop.stop(), 2000).unref();
};
process.once('SIGINT', stop).once('SIGTERM', stop);
const timer = setTimeout(stop, Number(o.seconds) * 1000);
let last = 0;
const ticker = setInterval(() => { console.log(`${messages - last} msgs/s`); last = messages; }, 1000);
await loop.run();
clearTimeout(timer); clearInterval(ticker);
stack.shutdown();
device.close();
const s = rtt.slice(0, Math.min(messages, rtt.length)).sort();
const pct = (p: number): string => (s.length ? s[Math.floor(p * (s.length - 1))].toFixed(0) : 'n/a');
console.log(`${messages} round trips on ${N} connections in ${elapsed.toFixed(2)} s: ${(messages / elapsed).toFixed(0)} msgs/s, ` +
  `RTT p50 ${pct(0.5)} µs p99 ${pct(0.99)} µs; ${failures} failures`);
console.log(`buffers not returned to the pool: ${pool.allocated}`);
