/** `ixy echo` and `ixy pingpong`: stack applications run on one device in this thread (apps/stack-runner.ts). */
import { EchoClient } from '../apps/echo-client.js';
import { EchoServer } from '../apps/echo-server.js';
import { Netcat } from '../apps/netcat.js';
import { readFileSync } from 'node:fs';
import { PingpongClient } from '../apps/pingpong.js';
import { runStackApp, type StackRunOptions, type StackRunResult } from '../apps/stack-runner.js';
import { runStackThreads, type ThreadFigures } from '../apps/stack-threads.js';
import type { EchoClientOptions } from '../apps/echo-client.js';
import { fmt, summaryJson } from '../apps/stats-format.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr, prefixMask } from '../stack/ip-interface.js';
import { fileError, IxyError, UsageError } from '../util/errors.js';
import { percentile } from '../util/histogram.js';

type Values = Record<string, string | number | boolean | undefined>;

function stackOptions(v: Values): StackRunOptions {
  if (typeof v.dev !== 'string') throw new UsageError('--dev is required: the device the stack runs on, e.g. --dev xdp:veth0 or --dev tap:ixy0');
  if (typeof v.ip !== 'string') throw new UsageError("--ip is required: the stack's address and prefix, e.g. --ip 10.0.0.2/24");
  checkHostAddress(v.ip, v.gateway as string | undefined);
  return {
    dev: v.dev, ip: v.ip, gateway: v.gateway as string | undefined, mac: v.mac as string | undefined,
    batch: v.batch as number, poolSize: v['pool-size'] as number, ringSize: v['ring-size'] as number,
    seconds: v.seconds as number | undefined, live: true, json: v.json === true, force: v.force === true,
  };
}

/** `--ip` must name one host of its network (not the network or broadcast address), and `--gateway` must be on it. */
function checkHostAddress(ip: string, gateway: string | undefined): void {
  const { ip: a, prefix } = parseIpv4Cidr(ip);
  const mask = prefixMask(prefix);
  const net = `${formatIpv4(a & mask)}/${prefix}`;
  const first = a >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw new UsageError(`--ip ${ip} is not a unicast host address (0/8, 127/8 loopback, 224/3 multicast or reserved): use one like 10.0.0.2/24`);
  }
  if (prefix <= 30 && (a & ~mask) === 0) throw new UsageError(`--ip ${ip} is the network address of ${net}: use a host address, e.g. ${formatIpv4((a & mask) + 2)}/${prefix}`);
  if (prefix <= 30 && (a | mask) === -1) throw new UsageError(`--ip ${ip} is the broadcast address of ${net}: use a host address, e.g. ${formatIpv4((a & mask) + 2)}/${prefix}`);
  if (gateway !== undefined && (parseIpv4(gateway, 'gateway') & mask) !== (a & mask)) {
    throw new UsageError(`--gateway ${gateway} is not on the stack's network ${net}: the next hop must be reachable without a router`);
  }
}

function mode(m: string, cmd: string): 'server' | 'client' {
  if (m !== 'server' && m !== 'client') throw new UsageError(`'${m}' is not a mode of ${cmd}: use 'ixy ${cmd} server' or 'ixy ${cmd} client'`);
  return m;
}

function target(v: Values, cmd: string): number {
  if (typeof v.connect !== 'string') throw new UsageError(`${cmd} client needs --connect A.B.C.D (the server's address)`);
  return parseIpv4(v.connect, 'server address');
}

function summary(r: StackRunResult): Record<string, unknown> {
  const s = r.stack;
  return {
    device: r.device, elapsedMs: r.elapsedMs, cpuNs: r.cpuNs, stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers,
    tcp: { ...s.tcp.counters }, ip: { ...s.counters }, iface: { ...s.iface.counters },
    loop: { iterations: r.loop.counters.iterations, rxPackets: r.loop.counters.rxPackets, parks: r.loop.counters.parks, yields: r.loop.counters.yields, batchSizes: Array.from(r.loop.counters.batchSizes) },
  };
}

export async function runEcho(m: string, v: Values): Promise<number> {
  const o = stackOptions(v);
  if (typeof v.threads === 'number' && v.threads > 1) return runEchoThreads(mode(m, 'echo'), o, v);
  if (mode(m, 'echo') === 'server') {
    const app = new EchoServer(v.port as number);
    let prev = 0;
    const figures = (a: EchoServer, dt: number): { mbPerSec: number; bytesEchoed: number; accepted: number; closed: number } => {
      const d = a.bytesEchoed - prev; prev = a.bytesEchoed;
      return { mbPerSec: d / dt / 1e6, bytesEchoed: a.bytesEchoed, accepted: a.accepted, closed: a.closed };
    };
    const r = await runStackApp(o, app, {
      figures,
      line: (a, dt) => {
        const f = figures(a, dt);
        return `[echo server] ${fmt(f.mbPerSec)} MB/s echoed, connections accepted ${f.accepted}, closed ${f.closed}`;
      },
    });
    const out = { mode: 'server', accepted: app.accepted, closed: app.closed, bytesEchoed: app.bytesEchoed, ...summary(r) };
    if (v.json) console.log(summaryJson(out));
    else console.log(`echo server: ${app.accepted} connections, ${app.bytesEchoed} bytes echoed, buffers leaked ${r.leakedBuffers}`);
    return 0;
  }
  const server = target(v, 'echo');
  const app = new EchoClient({
    ip: server, port: v.port as number, connections: v.connections as number, size: v.size as number,
    rounds: v.rounds as number, messages: v.messages as number,
  });
  let prev = 0;
  const figures = (a: EchoClient, dt: number): { msgsPerSec: number; messages: number; p50Us: number; p99Us: number; failures: number } => {
    const d = a.messages - prev; prev = a.messages;
    return { msgsPerSec: d / dt, messages: a.messages, p50Us: percentile(a.rtt, 50), p99Us: percentile(a.rtt, 99), failures: a.failures };
  };
  const r = await runStackApp(o, app, {
    figures,
    line: (a, dt) => {
      const f = figures(a, dt);
      return `[echo client] ${fmt(f.msgsPerSec)} msgs/s, p50 ${fmt(f.p50Us, 0)} µs, p99 ${fmt(f.p99Us, 0)} µs, failures ${f.failures}`;
    },
    stop: (a, api) => a.stop(api),
    unreachable: (a, ip) => ip === server && a.messages === 0,
  });
  const secs = r.elapsedMs / 1000;
  const out = {
    mode: 'client', messages: app.messages, msgsPerSec: app.messages / secs, connectionsOpened: app.connectionsOpened,
    failures: app.failures, rttUs: { p50: percentile(app.rtt, 50), p99: percentile(app.rtt, 99), p999: percentile(app.rtt, 99.9) },
    ...summary(r),
  };
  if (v.json) console.log(summaryJson(out));
  else {
    console.log(`echo client: ${app.messages} messages in ${fmt(secs, 1)} s (${fmt(app.messages / secs)} msgs/s), ` +
      `${app.connectionsOpened} connections, ${app.failures} failures, RTT p50 ${fmt(out.rttUs.p50, 0)} µs p99 ${fmt(out.rttUs.p99, 0)} µs`);
  }
  return (app.failures > 0 || r.stoppedBy === 'unreachable') && app.messages === 0 ? 1 : 0;
}

export async function runPingpong(m: string, v: Values): Promise<number> {
  if (mode(m, 'pingpong') === 'server') return runEcho('server', v);
  const o = stackOptions(v);
  const sizes = String(v.sizes).split(',').map((x) => Number(x));
  if (sizes.some((x) => !Number.isInteger(x) || x < 1 || x > 1 << 24)) throw new UsageError(`--sizes '${v.sizes}' must be integers 1..16777216 separated by commas, e.g. 1,64,1024`);
  const app = new PingpongClient({ ip: target(v, 'pingpong'), port: v.port as number, sizes, minRounds: v.rounds as number, minMs: v['min-ms'] as number, warmupRounds: v.warmup as number });
  const r = await runStackApp(o, app, {});
  if (app.failed) throw new IxyError(`pingpong: ${app.failed}`);
  if (v.json) console.log(summaryJson({ mode: 'client', points: app.results, ...summary(r) }));
  else {
    console.log('     size   rounds   one-way µs (mean / min)   Mbit/s');
    for (const p of app.results) {
      console.log(`${String(p.size).padStart(9)} ${String(p.rounds).padStart(8)}   ${fmt(p.oneWayUs, 2).padStart(10)} / ${fmt(p.minOneWayUs, 2).padEnd(10)}  ${fmt(p.mbps, 1)}`);
    }
  }
  return 0;
}

export async function runNetcat(v: Values): Promise<number> {
  const o = stackOptions(v);
  const listen = v.listen as number | undefined;
  if ((listen === undefined) === (v.connect === undefined)) throw new UsageError('nc needs exactly one of --listen PORT or --connect A.B.C.D (with --port P)');
  let data: Uint8Array = new Uint8Array(0);
  if (typeof v.in === 'string') {
    try { data = readFileSync(v.in); } catch (e) { throw fileError('read --in', v.in, e); }
  }
  const app = new Netcat({ listen, connectIp: listen === undefined ? target(v, 'nc') : undefined, port: v.port as number, data, outFile: v.out as string | undefined });
  const r = await runStackApp({ ...o, live: false }, app, { unreachable: (_a, ip) => listen === undefined && ip === target(v, 'nc') });
  const out = { sent: app.bytesSent, sentSha256: app.sentSha256, received: app.bytesReceived, receivedSha256: app.receivedSha256, failed: app.failed, ...summary(r) };
  if (v.json) console.log(summaryJson(out));
  else console.log(`sent ${app.bytesSent} bytes sha256 ${out.sentSha256}\nreceived ${app.bytesReceived} bytes sha256 ${out.receivedSha256}`);
  if (app.failed) throw new IxyError(`nc: ${app.failed}`);
  return r.stoppedBy === 'finished' ? 0 : 1;
}

/** `ixy echo server|client --threads N`: N shared-nothing elastic threads (apps/stack-threads.ts). */
async function runEchoThreads(m: 'server' | 'client', o: StackRunOptions, v: Values): Promise<number> {
  const threads = v.threads as number;
  const sum = (fs: ThreadFigures[], k: 'bytesEchoed' | 'messages' | 'connections' | 'failures'): number => fs.reduce((a, f) => a + (f[k] ?? 0), 0);
  let client: EchoClientOptions | null = null;
  if (m === 'client') {
    const conns = v.connections as number;
    if (conns < threads) throw new UsageError(`--connections ${conns} is fewer than --threads ${threads}: each thread needs at least one`);
    client = { ip: target(v, 'echo'), port: v.port as number, connections: conns, size: v.size as number, rounds: v.rounds as number, messages: v.messages as number };
  }
  const share = (total: number, i: number): number => Math.floor(total / threads) + (i < total % threads ? 1 : 0);
  const r = await runStackThreads({
    ...o, threads, pin: v.pin === true,
    figures: (now, prev, dt) => {
      const rate = (f: ThreadFigures, p: ThreadFigures): number => (m === 'server'
        ? ((f.bytesEchoed ?? 0) - (p.bytesEchoed ?? 0)) / dt / 1e6 : ((f.messages ?? 0) - (p.messages ?? 0)) / dt);
      const perThread = now.map((f, i) => (m === 'server'
        ? { thread: i, mbPerSec: rate(f, prev[i]), bytesEchoed: f.bytesEchoed ?? 0, connections: f.connections ?? 0 }
        : { thread: i, msgsPerSec: rate(f, prev[i]), messages: f.messages ?? 0, failures: f.failures ?? 0 }));
      const total = now.reduce((s, f, i) => s + rate(f, prev[i]), 0);
      return m === 'server'
        ? { mbPerSec: total, bytesEchoed: sum(now, 'bytesEchoed'), connections: sum(now, 'connections'), perThread }
        : { msgsPerSec: total, messages: sum(now, 'messages'), failures: sum(now, 'failures'), perThread };
    },
    line: (now, prev, dt) => {
      const per = now.map((f, i) => m === 'server'
        ? `t${i} ${fmt(((f.bytesEchoed ?? 0) - (prev[i].bytesEchoed ?? 0)) / dt / 1e6)} MB/s ${f.connections} conns`
        : `t${i} ${fmt(((f.messages ?? 0) - (prev[i].messages ?? 0)) / dt)} msgs/s`);
      const total = m === 'server'
        ? `${fmt((sum(now, 'bytesEchoed') - sum(prev, 'bytesEchoed')) / dt / 1e6)} MB/s echoed, connections ${sum(now, 'connections')}`
        : `${fmt((sum(now, 'messages') - sum(prev, 'messages')) / dt)} msgs/s, failures ${sum(now, 'failures')}`;
      return `[echo ${m} ×${threads}] ${total} | ${per.join(', ')}`;
    },
  }, (i) => (client === null ? { kind: 'echo-server', port: v.port as number }
    : { kind: 'echo-client', client: { ...client, connections: share(client.connections, i), messages: client.messages ? share(client.messages, i) : 0 } }));
  const secs = r.elapsedMs / 1000;
  const perThread = r.perThread.map(({ rtt: _rtt, ...f }) => ({
    ...f, cpuSeconds: f.cpuNs / 1e9, ...(m === 'client' ? { msgsPerSec: (f.messages ?? 0) / secs } : {}),
  }));
  const base = { mode: m, threads, elapsedMs: r.elapsedMs, stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers, devices: r.devices, perThread };
  if (m === 'server') {
    const out = { ...base, accepted: sum(r.perThread, 'connections'), bytesEchoed: sum(r.perThread, 'bytesEchoed') };
    if (v.json) console.log(summaryJson(out));
    else console.log(`echo server (${threads} threads): ${out.accepted} connections, ${out.bytesEchoed} bytes echoed, buffers leaked ${r.leakedBuffers}`);
    return 0;
  }
  const messages = sum(r.perThread, 'messages');
  const failures = sum(r.perThread, 'failures');
  const out = {
    ...base, messages, msgsPerSec: messages / secs, connectionsOpened: sum(r.perThread, 'connections'), failures,
    rttUs: { p50: percentile(r.rtt, 50), p99: percentile(r.rtt, 99), p999: percentile(r.rtt, 99.9) },
  };
  if (v.json) console.log(summaryJson(out));
  else {
    console.log(`echo client (${threads} threads): ${messages} messages in ${fmt(secs, 1)} s (${fmt(messages / secs)} msgs/s), ` +
      `${out.connectionsOpened} connections, ${failures} failures, RTT p50 ${out.rttUs.p50} µs p99 ${out.rttUs.p99} µs`);
  }
  return failures > 0 && messages === 0 ? 1 : 0;
}
