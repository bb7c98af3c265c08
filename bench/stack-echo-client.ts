#!/usr/bin/env node
/**
 * The echo client of `ixy echo client` (src/apps/echo-client.ts, the same EchoClient on the same Stack and
 * ElasticThread that src/dataplane/stack-host.ts builds) with what bench/echo needs and the CLI does not offer:
 *
 *  - a measured window: figures (messages, RTT histogram, loop and TCP counters, thread CPU) are the difference
 *    between a snapshot after --warmup seconds and one --seconds later, so the start (JIT warm-up, ARP, and the SYNs
 *    beyond the ARP cache's 16-frame queue that are dropped and retransmitted after the 1 s initial RTO) is left out;
 *  - --time-wait-ms: TIME-WAIT of the client's connections (TcpConfig.timeWaitMs; default 60 s as the CLI). At
 *    n = 1 the client closes a connection per message and holds its port for TIME-WAIT; with 60 s the 28232
 *    ephemeral ports last 28232 connections and then every connect() fails (ApiError.InUse);
 *  - the CPU cost of an empty loop iteration, timed in this thread after the run (warm JIT, same stack; the
 *    cheapest of 8 chunks of 25,000), to turn the count of empty polls into an estimate (a lower bound) of the time
 *    the client spent idle.
 *
 * Prints `{"window":"start"}` and `{"window":"end"}` when it takes the two snapshots (so the caller can measure
 * other processes over the same interval), then one JSON line with the figures.
 *
 *   node dist/bench/stack-echo-client.js --dev xdp:IF --ip A.B.C.D/N --connect A.B.C.D [--port 7]
 *        [--connections 64] [--size 64] [--rounds 0] [--batch 64] [--warmup 2] [--seconds 5] [--time-wait-ms 60000]
 */
import { MonotonicClock } from '../src/sys/monotonic-clock.js';
import { EchoClient } from '../src/apps/echo-client.js';
import { ElasticThread } from '../src/dataplane/elastic-thread.js';
import { dmaAllocatorFor, type Device, openDevice, parseDeviceSpec, poolHeadroomFor } from '../src/driver/index.js';
import { Mempool } from '../src/mem/mempool.js';
import { parseIpv4, parseIpv4Cidr } from '../src/stack/ip-interface.js';
import { Stack } from '../src/stack/stack.js';
import { threadCpuNs } from '../src/sys/cpu.js';
import { HISTOGRAM_BUCKETS, percentile } from '../src/util/histogram.js';
import { optionError, parseBenchArgs } from './options.js';

const { values } = parseBenchArgs({
  options: {
    dev: { type: 'string' }, ip: { type: 'string' }, connect: { type: 'string' }, port: { type: 'string', default: '7' },
    connections: { type: 'string', default: '64' }, size: { type: 'string', default: '64' }, rounds: { type: 'string', default: '0' },
    batch: { type: 'string', default: '64' }, 'pool-size': { type: 'string', default: '16384' }, 'ring-size': { type: 'string', default: '512' },
    warmup: { type: 'string', default: '2' }, seconds: { type: 'string', default: '5' }, 'time-wait-ms': { type: 'string', default: '60000' },
  },
  strict: true,
});
if (!values.dev || !values.ip || !values.connect) optionError('--dev, --ip and --connect are required');
const warmupMs = Number(values.warmup) * 1000;
const measureMs = Number(values.seconds) * 1000;

interface Snap {
  t: number; cpuNs: number; messages: number; opened: number; failures: number; rtt: Uint32Array;
  iterations: number; rxPackets: number; nonEmpty: number; parks: number; yields: number; batchSizes: number[];
  tcp: Record<string, number>;
}

async function main(): Promise<void> {
  const spec = parseDeviceSpec(values.dev!);
  const addr = parseIpv4Cidr(values.ip!);
  const pool = new Mempool(dmaAllocatorFor([spec]), { count: Number(values['pool-size']), headroom: poolHeadroomFor([spec]) });
  let device: Device | null = openDevice(spec, { pool, ringSize: Number(values['ring-size']) });
  try {
    const stack = new Stack({ device, addresses: [addr], gateway: 0, tcp: { timeWaitMs: Number(values['time-wait-ms']) }, time: new MonotonicClock() });
    const api = stack.api;
    const app = new EchoClient({
      ip: parseIpv4(values.connect!, 'server address'), port: Number(values.port), connections: Number(values.connections),
      size: Number(values.size), rounds: Number(values.rounds), messages: 0,
    });
    const loop = new ElasticThread(stack, app, { batch: Number(values.batch) });
    const snap = (): Snap => {
      const c = loop.counters;
      const bs = Array.from(c.batchSizes);
      return {
        t: performance.now(), cpuNs: threadCpuNs(), messages: app.messages, opened: app.connectionsOpened, failures: app.failures,
        rtt: Uint32Array.from(app.rtt), iterations: c.iterations, rxPackets: c.rxPackets, nonEmpty: bs.reduce((s, x) => s + x, 0),
        parks: c.parks, yields: c.yields, batchSizes: bs, tcp: { ...stack.tcp.counters } as unknown as Record<string, number>,
      };
    };
    let a: Snap | null = null;
    let b: Snap | null = null;
    const t1 = setTimeout(() => { a = snap(); console.log('{"window":"start"}'); }, warmupMs);
    const t2 = setTimeout(() => {
      b = snap();
      console.log('{"window":"end"}');
      app.stop(api);
      setTimeout(() => loop.stop(), 2000).unref();
    }, warmupMs + measureMs);
    const stopEarly = (): void => { app.stop(api); setTimeout(() => loop.stop(), 2000).unref(); };
    process.on('SIGINT', stopEarly);
    process.on('SIGTERM', stopEarly);
    await loop.run();
    clearTimeout(t1);
    clearTimeout(t2);

    // The cost of an empty iteration, now that the JIT has compiled the loop: time idle iterations in this thread
    // (the server has stopped sending; iterations that received something are left out).
    // The cheapest of 8 chunks: a lower bound on an empty poll's cost, so the idle share below is a lower bound too.
    let emptyIterNs: number | null = null;
    for (let chunk = 0; chunk < 8; chunk++) {
      const c0 = threadCpuNs();
      const rx0 = loop.counters.rxPackets;
      for (let i = 0; i < 25_000; i++) loop.iterate();
      const ns = (threadCpuNs() - c0) / 25_000;
      if (loop.counters.rxPackets === rx0 && (emptyIterNs === null || ns < emptyIterNs)) emptyIterNs = ns;
    }

    if (!a || !b) throw new Error('stopped before the end of the measured window');
    const A: Snap = a;
    const B: Snap = b;
    const dt = (B.t - A.t) / 1000;
    const rtt = new Uint32Array(HISTOGRAM_BUCKETS);
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) rtt[i] = B.rtt[i] - A.rtt[i];
    const iterations = B.iterations - A.iterations;
    const nonEmpty = B.nonEmpty - A.nonEmpty;
    const empty = iterations - nonEmpty;
    const cpuNs = B.cpuNs - A.cpuNs;
    const tcp: Record<string, number> = {};
    for (const k of Object.keys(B.tcp)) tcp[k] = B.tcp[k] - A.tcp[k];
    const messages = B.messages - A.messages;
    const out = {
      mode: 'client', window: { warmupMs, seconds: dt },
      messages, msgsPerSec: messages / dt, connectionsOpened: B.opened - A.opened, failures: B.failures - A.failures,
      failuresTotal: app.failures,
      rttUs: { p50: percentile(rtt, 50), p90: percentile(rtt, 90), p99: percentile(rtt, 99), p999: percentile(rtt, 99.9) },
      cpuNs, cpuShare: cpuNs / (dt * 1e9),
      loop: {
        iterations, rxPackets: B.rxPackets - A.rxPackets, nonEmpty, empty, emptyShare: iterations > 0 ? empty / iterations : null,
        parks: B.parks - A.parks, yields: B.yields - A.yields, batchSizes: B.batchSizes.map((x, i) => x - A.batchSizes[i]),
        emptyIterNs, idleTimeShareEst: emptyIterNs !== null && cpuNs > 0 ? Math.min(1, (empty * emptyIterNs) / cpuNs) : null,
      },
      tcp, tcpTotal: { ...stack.tcp.counters },
      device: { spec: device.spec, driver: device.driverName },
    };
    stack.shutdown();
    device.close();
    device = null;
    console.log(JSON.stringify({ ...out, leakedBuffers: pool.allocated }));
  } finally {
    if (device) { try { device.close(); } catch { /* first error wins */ } }
  }
}

main().then(() => process.exit(0), (e: Error) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
