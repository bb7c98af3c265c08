/**
 * The stack's side of the keepalive interop test (test/linux/stack-keepalive.test.ts), run in the stack's namespace:
 * a stack on `dev` connects to `peer:port`, turns keepalive on and then only waits. It prints one JSON line when
 * connected and one when the connection ends (or at the timeout), then exits. Does nothing unless IXY_NETNS_SCRIPT=1
 * (`node --test dist/test/` would load every file under dist/test).
 *
 *   node stack-keepalive.js <dev> <ip/prefix> <peer> <port> <idleMs> <intervalMs> <probes> <timeoutMs>
 *     {"event":"connected","lport":…,"ms":…}   then   {"event":"dead","reason":…,"reasonName":…,"ms":…,"tcp":{…}}
 *     ms: since the stack started (its `nowMs`); tcp: the stack's TCP counters
 */
import {
  type App, createPool, DeathReason, deathReasonName, ElasticThread, EventKind, MonotonicClock, type NetApi, openDevice, parseIpv4,
  parseIpv4Cidr, Stack,
} from '../../src/index.js';

function say(v: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

async function main(a: string[]): Promise<void> {
  const [dev, cidr, peer, port, idleMs, intervalMs, probes, timeoutMs] = [a[0], a[1], a[2], ...a.slice(3).map(Number)];
  const pool = createPool([dev]);
  const device = openDevice(dev, { pool });
  const stack = new Stack({
    device, addresses: [parseIpv4Cidr(cidr)], time: new MonotonicClock(),
    tcp: { keepaliveIntervalMs: intervalMs, keepaliveProbes: probes },
  });
  let handle = -1;
  let done = false;
  const tcp = (): Record<string, number> => ({ ...stack.tcp.counters });
  const app: App = {
    get finished() { return done; },
    start(api: NetApi) {
      handle = api.connect(parseIpv4(peer), port, 1);
      if (handle < 0) { say({ event: 'error', code: handle }); done = true; }
    },
    onEvents(ev, api) {
      for (let i = 0; i < ev.count; i++) {
        if (ev.kind[i] === EventKind.Connected) {
          const reason = ev.reason(i);
          if (reason !== 0) { say({ event: 'dead', reason, reasonName: deathReasonName(reason), ms: api.nowMs, tcp: tcp() }); done = true; continue; }
          say({ event: 'connected', lport: ev.localPort(i), keepalive: api.setKeepAlive(handle, true, idleMs), ms: api.nowMs });
        } else if (ev.kind[i] === EventKind.Dead) {
          const reason = ev.reason(i);
          say({ event: 'dead', reason, reasonName: deathReasonName(reason), timedOut: reason === DeathReason.TimedOut, ms: api.nowMs, tcp: tcp() });
          done = true;
        } else if (ev.kind[i] === EventKind.Recv) {
          api.recvDone(handle, ev.length(i));
        }
      }
    },
  };
  const loop = new ElasticThread(stack, app);
  const timer = setTimeout(() => { say({ event: 'timeout', ms: stack.api.nowMs, tcp: tcp() }); loop.stop(); }, timeoutMs);
  process.once('SIGTERM', () => loop.stop());
  await loop.run();
  clearTimeout(timer);
  stack.shutdown();
  device.close();
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  main(process.argv.slice(2)).catch((e: Error) => { say({ event: 'error', message: e.message }); process.exitCode = 1; });
}
