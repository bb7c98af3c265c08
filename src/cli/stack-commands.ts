/** `ixy echo`, `ixy pingpong`, `ixy nc`: stack apps run by the runtime (dataplane/runtime.ts), on one thread or N. */
import type { EchoClientOptions } from '../apps/echo-client.js';
import type { NetcatAppOptions } from '../apps/netcat.js';
import type { PingpongOptions } from '../apps/pingpong.js';
import { fmt, summaryJson } from '../apps/stats-format.js';
import type { Figures, RunResult } from '../dataplane/figures.js';
import type { RuntimeOptions } from '../dataplane/runtime.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr, prefixMask } from '../stack/ip-interface.js';
import { statSync } from 'node:fs';
import type { HttpServerOptions } from '../apps/http-server.js';
import { fileError, IxyError, UsageError } from '../util/errors.js';
import { HISTOGRAM_BUCKETS, percentile } from '../util/histogram.js';
import { APPS, delta, type LiveView, runApp, total } from './run-app.js';

type Values = Record<string, string | number | boolean | undefined>;

export function stackOptions(v: Values): RuntimeOptions {
  if (typeof v.dev !== 'string') throw new UsageError('--dev is required: the device the stack runs on, e.g. --dev xdp:veth0 or --dev tap:ixy0');
  if (typeof v.ip !== 'string') throw new UsageError("--ip is required: the stack's address and prefix, e.g. --ip 10.0.0.2/24");
  checkHostAddress(v.ip, v.gateway as string | undefined);
  return {
    devices: [v.dev], ip: v.ip, gateway: v.gateway as string | undefined, mac: v.mac as string | undefined,
    batch: v.batch as number, poolSize: v['pool-size'] as number, ringSize: v['ring-size'] as number,
    seconds: v.seconds as number | undefined, force: v.force === true,
    threads: typeof v.threads === 'number' ? v.threads : 1, pin: v.pin === true,
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

/** What the stack and its loop counted, as `--json` summaries have always held them (one thread). */
function summary(r: RunResult): Record<string, unknown> {
  const t = r.threads[0];
  const d = r.devices[0];
  return {
    device: { spec: d.spec, driver: d.driver, mac: d.mac }, elapsedMs: r.elapsedMs, cpuNs: t.cpuNs, stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers,
    tcp: t.stack?.tcp, ip: t.stack?.ip, iface: t.stack?.iface, loop: t.stack?.loop,
  };
}

/** Each thread's figures flat, as `--threads` summaries have always held them. */
function perThread(r: RunResult, server: boolean): Record<string, unknown>[] {
  const secs = r.elapsedMs / 1000;
  return r.threads.map((t) => ({
    thread: t.thread, cpuNs: t.cpuNs, cpuSeconds: t.cpuNs / 1e9,
    accepted: t.stack?.tcp.passiveOpens ?? 0, activeOpens: t.stack?.tcp.activeOpens ?? 0,
    rxPackets: t.stack?.loop.rxPackets ?? 0, iterations: t.stack?.loop.iterations ?? 0, steering: t.stack?.steering,
    ...t.app, ...(server ? { connections: t.app.accepted } : { msgsPerSec: (t.app.messages ?? 0) / secs }),
  }));
}

/** `| dropped: …` when the device or the stack dropped frames in the last second (StackWatch says why, once). */
function droppedSuffix(now: Figures, prev: Figures | null): string {
  const sum = (f: Figures | null, k: 'bad' | 'over'): number => (f === null ? 0 : f.threads.reduce((a, t) => a + (k === 'bad' ? t.stack?.ip.badChecksum ?? 0 : t.stack?.rxOversize ?? 0), 0));
  const bad = sum(now, 'bad') - sum(prev, 'bad');
  const over = sum(now, 'over') - sum(prev, 'over');
  const parts = [...(bad > 0 ? [`${bad} bad checksum`] : []), ...(over > 0 ? [`${over} too long`] : [])];
  return parts.length ? ` | dropped: ${parts.join(', ')}` : '';
}

function dropCounters(now: Figures): { badChecksum: number; rxOversize: number } {
  return {
    badChecksum: now.threads.reduce((a, t) => a + (t.stack?.ip.badChecksum ?? 0), 0),
    rxOversize: now.threads.reduce((a, t) => a + (t.stack?.rxOversize ?? 0), 0),
  };
}

async function runStack(module: URL, options: unknown, o: RuntimeOptions, v: Values, view: LiveView, live = true): Promise<RunResult> {
  const threads = o.threads ?? 1;
  return runApp(module, options, o, view, {
    live, json: v.json === true,
    onReady: (rt) => {
      if (!live || v.json) return;
      const addr = parseIpv4Cidr(v.ip as string);
      for (const d of rt.devices) {
        const who = threads > 1 ? `[thread ${d.thread}] up: ${d.spec},` : `[${d.spec}] up:`;
        console.log(`${who} driver ${d.driver}, MAC ${d.mac}, IPv4 ${formatIpv4(addr.ip)}/${addr.prefix}, B=${o.batch}`);
      }
    },
  });
}

function rttOf(r: RunResult): Uint32Array {
  const h = new Uint32Array(HISTOGRAM_BUCKETS);
  for (const s of r.summaries as { rtt: number[] }[]) for (let b = 0; b < HISTOGRAM_BUCKETS; b++) h[b] += s.rtt[b];
  return h;
}

export async function runEcho(m: string, v: Values): Promise<number> {
  const o = stackOptions(v);
  const threads = o.threads ?? 1;
  const tag = threads > 1 ? `[echo ${mode(m, 'echo')} ×${threads}]` : `[echo ${mode(m, 'echo')}]`;
  const rate = (now: Figures, prev: Figures | null, key: string, i: number, scale: number): number => delta(now, prev, key, i) / (now.dt || 1) / scale;
  const perThreadLive = (now: Figures, prev: Figures | null, server: boolean): object[] => now.threads.map((t, i) => (server
    ? { thread: i, mbPerSec: rate(now, prev, 'bytesEchoed', i, 1e6), bytesEchoed: t.app.bytesEchoed, connections: t.app.accepted }
    : { thread: i, msgsPerSec: rate(now, prev, 'messages', i, 1), messages: t.app.messages, failures: t.app.failures }));
  if (mode(m, 'echo') === 'server') {
    const mb = (now: Figures, prev: Figures | null): number => now.threads.reduce((a, _t, i) => a + rate(now, prev, 'bytesEchoed', i, 1e6), 0);
    const r = await runStack(APPS.echoServer, { port: v.port as number }, o, v, {
      json: (now, prev) => (threads > 1
        ? { mbPerSec: mb(now, prev), bytesEchoed: total(now, 'bytesEchoed'), connections: total(now, 'accepted'), perThread: perThreadLive(now, prev, true), ...dropCounters(now) }
        : { mbPerSec: mb(now, prev), bytesEchoed: total(now, 'bytesEchoed'), accepted: total(now, 'accepted'), closed: total(now, 'closed'), ...dropCounters(now) }),
      lines: (now, prev) => [threads > 1
        ? `${tag} ${fmt(mb(now, prev))} MB/s echoed, connections ${total(now, 'accepted')} | ${now.threads.map((t, i) => `t${i} ${fmt(rate(now, prev, 'bytesEchoed', i, 1e6))} MB/s ${t.app.accepted} conns`).join(', ')}${droppedSuffix(now, prev)}`
        : `${tag} ${fmt(mb(now, prev))} MB/s echoed, connections accepted ${total(now, 'accepted')}, closed ${total(now, 'closed')}${droppedSuffix(now, prev)}`],
    });
    const accepted = total(r, 'accepted');
    const bytesEchoed = total(r, 'bytesEchoed');
    const out = threads > 1
      ? { mode: 'server', threads, elapsedMs: r.elapsedMs, stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers, devices: r.devices, perThread: perThread(r, true), accepted, bytesEchoed }
      : { mode: 'server', accepted, closed: total(r, 'closed'), bytesEchoed, ...summary(r) };
    if (v.json) console.log(summaryJson(out));
    else console.log(`echo server${threads > 1 ? ` (${threads} threads)` : ''}: ${accepted} connections, ${bytesEchoed} bytes echoed, buffers leaked ${r.leakedBuffers}`);
    return 0;
  }
  const client: EchoClientOptions = {
    ip: target(v, 'echo'), port: v.port as number, connections: v.connections as number, size: v.size as number,
    rounds: v.rounds as number, messages: v.messages as number,
  };
  if (client.connections < threads) throw new UsageError(`--connections ${client.connections} is fewer than --threads ${threads}: each thread needs at least one`);
  const msgs = (now: Figures, prev: Figures | null): number => now.threads.reduce((a, _t, i) => a + rate(now, prev, 'messages', i, 1), 0);
  const r = await runStack(APPS.echoClient, client, o, v, {
    json: (now, prev) => (threads > 1
      ? { msgsPerSec: msgs(now, prev), messages: total(now, 'messages'), failures: total(now, 'failures'), perThread: perThreadLive(now, prev, false), ...dropCounters(now) }
      : { msgsPerSec: msgs(now, prev), messages: total(now, 'messages'), p50Us: now.threads[0].app.p50Us, p99Us: now.threads[0].app.p99Us, failures: total(now, 'failures'), ...dropCounters(now) }),
    lines: (now, prev) => [threads > 1
      ? `${tag} ${fmt(msgs(now, prev))} msgs/s, failures ${total(now, 'failures')} | ${now.threads.map((_t, i) => `t${i} ${fmt(rate(now, prev, 'messages', i, 1))} msgs/s`).join(', ')}${droppedSuffix(now, prev)}`
      : `${tag} ${fmt(msgs(now, prev))} msgs/s, p50 ${fmt(now.threads[0].app.p50Us, 0)} µs, p99 ${fmt(now.threads[0].app.p99Us, 0)} µs, failures ${total(now, 'failures')}${droppedSuffix(now, prev)}`],
  });
  const secs = r.elapsedMs / 1000;
  const messages = total(r, 'messages');
  const failures = total(r, 'failures');
  const rtt = rttOf(r);
  const rttUs = { p50: percentile(rtt, 50), p99: percentile(rtt, 99), p999: percentile(rtt, 99.9) };
  const base = { mode: 'client', messages, msgsPerSec: messages / secs, connectionsOpened: total(r, 'connections'), failures, rttUs };
  const out = threads > 1
    ? { ...base, threads, elapsedMs: r.elapsedMs, stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers, devices: r.devices, perThread: perThread(r, false) }
    : { ...base, ...summary(r) };
  if (v.json) console.log(summaryJson(out));
  else {
    console.log(`echo client${threads > 1 ? ` (${threads} threads)` : ''}: ${messages} messages in ${fmt(secs, 1)} s (${fmt(messages / secs)} msgs/s), ` +
      `${base.connectionsOpened} connections, ${failures} failures, RTT p50 ${fmt(rttUs.p50, 0)} µs p99 ${fmt(rttUs.p99, 0)} µs`);
  }
  return (failures > 0 || r.stoppedBy === 'unreachable') && messages === 0 ? 1 : 0;
}

export async function runPingpong(m: string, v: Values): Promise<number> {
  if (mode(m, 'pingpong') === 'server') return runEcho('server', v);
  const o = stackOptions(v);
  const sizes = String(v.sizes).split(',').map((x) => Number(x));
  if (sizes.some((x) => !Number.isInteger(x) || x < 1 || x > 1 << 24)) throw new UsageError(`--sizes '${v.sizes}' must be integers 1..16777216 separated by commas, e.g. 1,64,1024`);
  const options: PingpongOptions = { ip: target(v, 'pingpong'), port: v.port as number, sizes, minRounds: v.rounds as number, minMs: v['min-ms'] as number, warmupRounds: v.warmup as number };
  const r = await runStack(APPS.pingpong, options, o, v, {});
  const s = r.summaries[0] as { points: { size: number; rounds: number; oneWayUs: number; minOneWayUs: number; mbps: number }[]; failed: string | null };
  if (s.failed) throw new IxyError(`pingpong: ${s.failed}`);
  if (r.stoppedBy === 'unreachable') throw new IxyError(`pingpong: the server ${v.connect} does not answer ARP`);
  if (v.json) console.log(summaryJson({ mode: 'client', points: s.points, ...summary(r) }));
  else {
    console.log('     size   rounds   one-way µs (mean / min)   Mbit/s');
    for (const p of s.points) {
      console.log(`${String(p.size).padStart(9)} ${String(p.rounds).padStart(8)}   ${fmt(p.oneWayUs, 2).padStart(10)} / ${fmt(p.minOneWayUs, 2).padEnd(10)}  ${fmt(p.mbps, 1)}`);
    }
  }
  return 0;
}

export async function runNetcat(v: Values): Promise<number> {
  const o = stackOptions(v);
  const listen = v.listen as number | undefined;
  if ((listen === undefined) === (v.connect === undefined)) throw new UsageError('nc needs exactly one of --listen PORT or --connect A.B.C.D (with --port P)');
  const options: NetcatAppOptions = {
    listen, connectIp: listen === undefined ? target(v, 'nc') : undefined, port: v.port as number,
    inFile: v.in as string | undefined, outFile: v.out as string | undefined,
  };
  const r = await runStack(APPS.netcat, options, o, v, {}, false);
  const s = r.summaries[0] as { sent: number; sentSha256: string; received: number; receivedSha256: string; failed: string | null };
  if (v.json) console.log(summaryJson({ ...s, ...summary(r) }));
  else console.log(`sent ${s.sent} bytes sha256 ${s.sentSha256}\nreceived ${s.received} bytes sha256 ${s.receivedSha256}`);
  if (s.failed) throw new IxyError(`nc: ${s.failed}`);
  return r.stoppedBy === 'finished' ? 0 : 1;
}



/** `ixy http`: Node's http server on ixy.ts/net, one copy per thread (apps/http-server.ts). */
export async function runHttp(v: Values): Promise<number> {
  const o = stackOptions(v);
  const log = v['access-log'];
  if (log !== 'stdout' && log !== 'none') throw new UsageError(`--access-log '${String(log)}' is not a destination: use stdout or none`);
  if (typeof v.dir === 'string') checkDirectory(v.dir);
  const options: HttpServerOptions = { port: v.port as number, dir: v.dir as string | undefined, log };
  const rps = (now: Figures, prev: Figures | null): number => now.threads.reduce((a, _t, i) => a + delta(now, prev, 'requests', i), 0) / (now.dt || 1);
  const r = await runStack(APPS.http, { serverModule: APPS.httpServer.href, serverOptions: options }, o, v, {
    json: (now, prev) => ({ requestsPerSec: rps(now, prev), requests: total(now, 'requests'), connections: total(now, 'sockets'), ...dropCounters(now) }),
    lines: (now, prev) => [`[http] ${fmt(rps(now, prev), 0)} requests/s, ${total(now, 'requests')} in all, ${total(now, 'sockets')} connections open${droppedSuffix(now, prev)}`],
  });
  // summary(r) holds thread 0's stack counters: with --threads, each thread's figures as echo server gives them
  const out = { requests: total(r, 'requests'), accepted: total(r, 'accepted'), ...summary(r), threads: r.threads.length, ...(r.threads.length > 1 ? { perThread: perThread(r, true) } : {}) };
  if (v.json) console.log(summaryJson(out));
  else console.log(`http: ${out.requests} requests on ${out.accepted} connections, buffers leaked ${r.leakedBuffers}`);
  return 0;
}

function checkDirectory(dir: string): void {
  let ok = false;
  try { ok = statSync(dir).isDirectory(); } catch (e) { throw fileError('serve', dir, e); }
  if (!ok) throw new UsageError(`--dir ${dir} is not a directory: name the directory whose files to serve`);
}
