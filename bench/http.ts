#!/usr/bin/env node
/**
 * bench/http — Node's `http` on ixy.ts's TCP/IP stack against Node's `http` on the kernel's, one server core:
 *
 *   ns cli: wrk (Linux TCP)  [xc] ─veth─ [xs]  ns srv: ixy http --access-log none (ixy.ts/net on AF_XDP, xdp:xs)   (a)
 *           CPU 0 (taskset)  [kc] ─veth─ [ks]  ns srv: bench/http-node-server.ts (node:http on Linux TCP)          (b)
 *                                              both servers on CPU 1 (taskset)
 *
 * The same hello-world handler (a fixed 12-byte body with content-length; src/apps/http-server.ts, copied line for
 * line into bench/http-node-server.ts, and the responses compared but for the Date header) under
 * `wrk -t1 --latency` at keep-alive with 64 and with 256 connections, and with `-H 'Connection: close'` (a connection
 * per request, 64 at a time). Each configuration runs --repeat times, the two servers interleaved A/B in the same run,
 * a fresh server process per run, after a warm-up wrk run; the median of the runs is reported.
 *
 * Measured per run: requests/s, latency p50/p99 and errors (wrk), and, over the measured window, the server
 * process's CPU (all threads) and its NAPI thread's, wrk's CPU, CPU 0's and CPU 1's busy share (/proc/stat),
 * kernel TCP and veth drop counters. What bounds a figure: wrk's CPU 0 saturated → the client; else the server's
 * CPU 1 (Node: its busy share says so; the ixy server polls, so its CPU is always busy: with wrk not saturated the
 * requests wait on CPU 1 — the server and, with --placement own, its NAPI thread).
 * Then once each: both servers under `node --trace-gc` (collections and pause per second over the window), and the
 * ixy server under `node --cpu-prof` (its self time by category over the window). See bench/README.md.
 *
 *   node dist/bench/http.js [--seconds 5] [--warmup 2] [--repeat 3] [--placement own|sender] [--only …] [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Netlab } from '../lab/netns.js';
import { type CpuProfile, type FrameSpec, type ProfileSummary, summariseProfile } from './cpu-profile.js';
import { Proc, which } from './fwd-linux-proc.js';
import { allThreads, cpuTimes, type CpuTimes, numberOption, procCpu, type ProcCpu, saveResults, sleep, type ThreadCpu, threadsCpuNs } from './fwd-linux-topo.js';
import { IXY_CLI, RESULTS_DIR } from './paths.js';
import { benchOptions, parseBenchArgs } from './options.js';
import { parsePlacement, placeKernelClient, placeKernelServer, placementAbout, type Placement, PLACEMENT_HELP, placeXdpServer } from './server-placement.js';
import {
  CPU_CLIENT, CPU_SERVER, createStackTopology, fmtK, fmtN, foreignPct, hostInfo, kernelTcpCounters, lossCounters, lossDelta, median, medianRun,
  onSignalCleanup, type Pair, type StackTopology, waitForXdp, waitQuiet,
} from './stack-bench-topo.js';
import { hbarChart } from './svg-bars.js';
import { gcEvent, type GcEvent } from './trace-gc-lines.js';
import { parseWrk, wrkArgs, type WrkResult } from './wrk.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const JSON_PATH = path.join(RESULTS_DIR, 'http.json');
const SVG_PATH = path.join(RESULTS_DIR, 'http.svg');
const NODE_SERVER = path.join(HERE, 'http-node-server.js');
const PORT = 80;

type ServerKind = 'node' | 'ixy';
const SERVERS: ServerKind[] = ['node', 'ixy'];
const SERVER_LABEL: Record<ServerKind, string> = { node: 'Node http (Linux TCP)', ixy: 'ixy http (ixy.ts/net)' };

interface Config { name: string; label: string; connections: number; close: boolean }
const CONFIGS: Config[] = [
  { name: 'ka64', label: 'keep-alive, 64 connections', connections: 64, close: false },
  { name: 'ka256', label: 'keep-alive, 256 connections', connections: 256, close: false },
  { name: 'close', label: 'Connection: close, 64 at a time', connections: 64, close: true },
];
/** The frames whose inclusive time the profile summary gives: where the ixy server's iterations go. */
const PROFILE_FRAMES: FrameSpec[] = [
  { label: "ElasticThread.slice: the stack's loop (a 1 ms slice per setImmediate), all it calls", fns: ['slice'], url: '/src/dataplane/elastic-thread.js' },
  { label: "NetStack.onEvents: an iteration's events to the sockets — http parsing, the handler, the response written to the stack", fns: ['onEvents'], url: '/src/net/net-stack.js' },
  { label: 'Stack.poll: the clock, timers, receive, IP/TCP input', fns: ['poll'], url: '/src/stack/stack.js' },
  { label: 'Stack.flush: TCP output, transmit (sendto)', fns: ['flush'], url: '/src/stack/stack.js' },
  { label: "Node's nextTick queue and promise jobs (processTicksAndRejections: 'finish', 'end', http's deferred work)", fns: ['processTicksAndRejections'], url: 'node:internal/' },
];
/** The configuration the --trace-gc and --cpu-prof runs use. */
const DIAG_CONFIG = CONFIGS[0];
const TARGET_RATIO = 1.5;

interface Options {
  seconds: number; warmup: number; repeat: number; placement: Placement; wrkThreads: number; only: string[] | null;
  json: boolean; save: boolean; quietWait: number; maxForeign: number; retries: number; profileFile: string | null;
}

const HELP = `usage: node dist/bench/http.js [options]   (root; builds its own network namespaces; needs wrk and curl)

  --seconds S        measured wrk run, whole seconds (default 5)
  --warmup W         a wrk run of W whole seconds before it, not measured: JIT, ARP, connections (default 2; 0: none)
  --repeat N         runs per configuration and server, interleaved; the median is reported (default 3)
${PLACEMENT_HELP}
  --wrk-threads T    wrk's threads, all on CPU ${CPU_CLIENT} (default 1)
  --only a,b         run only these: a configuration (ka64, ka256, close: both servers), one server's
                     (node-ka64, ixy-close, …), trace-gc, profile (default: all)
  --profile-file F   keep the ixy server's whole .cpuprofile as F (default: only its summary is kept)
  --quiet-wait S     before each run, wait up to S s until other processes use < --max-foreign % (default 30)
  --max-foreign P    % of all CPUs (default 10); a run disturbed by more than 1.5 × P is repeated
  --retries N        repeats of a disturbed run; the least disturbed one is kept (default 2)
  --no-save          do not write bench/results/http.{json,svg}
  --replot           redraw bench/results/http.svg from the JSON and exit
  --json             print the report as one JSON object on the last line`;

// ---- options ----------------------------------------------------------------------------------------------------

function wholeSeconds(k: string, v: string, min: number): number {
  const n = numberOption(k, v, min);
  if (!Number.isInteger(n)) throw new Error(`--${k} ${v}: wrk takes whole seconds`);
  return n;
}

function parseOptions(argv: string[]): Options & { replot: boolean } {
  const { values } = parseBenchArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' }, repeat: { type: 'string', default: '3' },
      placement: { type: 'string', default: 'own' }, 'wrk-threads': { type: 'string', default: '1' }, only: { type: 'string' },
      'profile-file': { type: 'string' }, json: { type: 'boolean', default: false }, 'no-save': { type: 'boolean', default: false },
      replot: { type: 'boolean', default: false }, 'quiet-wait': { type: 'string', default: '30' }, 'max-foreign': { type: 'string', default: '10' },
      retries: { type: 'string', default: '2' }, help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(HELP); process.exit(0); }
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : null;
  const known = ['trace-gc', 'profile', ...CONFIGS.flatMap((c) => [c.name, ...SERVERS.map((s) => `${s}-${c.name}`)])];
  const bad = only?.find((x) => !known.includes(x));
  if (bad !== undefined) throw new Error(`--only: '${bad}' is none of ${known.join(', ')}`);
  return {
    seconds: wholeSeconds('seconds', values.seconds!, 1), warmup: wholeSeconds('warmup', values.warmup!, 0),
    repeat: Math.floor(numberOption('repeat', values.repeat!, 1)), placement: parsePlacement(values.placement),
    wrkThreads: Math.floor(numberOption('wrk-threads', values['wrk-threads']!, 1)), only, json: values.json!, save: !values['no-save'],
    replot: values.replot!, quietWait: numberOption('quiet-wait', values['quiet-wait']!, 0), maxForeign: numberOption('max-foreign', values['max-foreign']!, 0),
    retries: Math.floor(numberOption('retries', values.retries!, 0)), profileFile: values['profile-file'] ?? null,
  };
}

const wanted = (o: Options, name: string): boolean => o.only === null || o.only.includes(name);
const runsOf = (o: Options, cfg: Config, kind: ServerKind): boolean => wanted(o, cfg.name) || wanted(o, `${kind}-${cfg.name}`);

// ---- a server ---------------------------------------------------------------------------------------------------

interface Server {
  kind: ServerKind;
  proc: Proc;
  pair: Pair;
  napiTids: number[];
  /** Its response to `curl -i`, without the Date header. */
  response: string;
  /** `--trace-gc` lines as they arrived (performance.now()). */
  gc: Array<{ t: number; e: GcEvent }>;
}

function serverCommand(kind: ServerKind, pair: Pair, nodeFlags: string[]): string[] {
  const script = kind === 'ixy'
    ? [IXY_CLI, 'http', '--dev', `xdp:${pair.server.ifname}`, '--ip', `${pair.server.ip}/${pair.prefix}`, '--port', String(PORT), '--access-log', 'none', '--json']
    : [NODE_SERVER, '--ip', pair.server.ip, '--port', String(PORT)];
  return [process.execPath, ...nodeFlags, ...script];
}

/** Keeps the `--trace-gc` lines of `proc`'s stdout with the time each arrived. */
function recordGc(proc: Proc, into: Server['gc']): void {
  let partial = '';
  proc.child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    const t = performance.now();
    for (const l of lines) { const e = gcEvent(l); if (e) into.push({ t, e }); }
  });
}

/** `curl -i` until the server answers 200 (it may still be starting); its response without the Date header. */
async function probe(topo: StackTopology, pair: Pair, proc: Proc): Promise<string> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const r = await topo.lab.run(topo.cliNs, ['curl', '-s', '-i', '-m', '2', `http://${pair.server.ip}:${PORT}/`], { timeoutMs: 5000 });
    if (r.code === 0 && r.stdout.startsWith('HTTP/1.1 200')) return r.stdout.replace(/\r\n/g, '\n').split('\n').filter((l) => !/^date:/i.test(l)).join('\n');
    if (!proc.running) throw new Error(proc.failure());
    if (Date.now() > deadline) throw new Error(`${proc.label}: no 200 response to curl after 15 s (${r.stdout.split('\n')[0] || r.stderr.trim() || `curl exit ${r.code}`})`);
    await sleep(100);
  }
}

async function startServer(o: Options, topo: StackTopology, kind: ServerKind, nodeFlags: string[]): Promise<Server> {
  const pair = kind === 'ixy' ? topo.pairs.x : topo.pairs.k;
  const proc = new Proc(topo.lab, topo.srvNs, serverCommand(kind, pair, nodeFlags), CPU_SERVER, kind === 'ixy' ? 'ixy http' : 'node http server');
  const s: Server = { kind, proc, pair, napiTids: [], response: '', gc: [] };
  recordGc(proc, s.gc);
  try {
    await serverReady(o, topo, s);
    return s;
  } catch (e) {
    await proc.stop('SIGTERM', 10000); // its XDP program must go before the next run
    throw e;
  }
}

async function serverReady(o: Options, topo: StackTopology, s: Server): Promise<void> {
  if (s.kind === 'ixy') {
    await waitForXdp(s.proc, s.pair.server);
    s.napiTids = placeXdpServer(s.pair.server, o.placement);
  } else {
    await s.proc.waitFor(/"ready":true|"error"/, 15000);
    const err = s.proc.jsonLine<{ error: string }>('error');
    if (err) throw new Error(`node http server: ${err.error}`);
  }
  s.response = await probe(topo, s.pair, s.proc);
}

// ---- one run ----------------------------------------------------------------------------------------------------

interface Snap {
  t: number; hrUs: number; server: ProcCpu; napiNs: number; wrk: ProcCpu; cpu: CpuTimes[]; threads: Map<number, ThreadCpu>;
  /** Kernel TCP counters of the client's and the server's namespace; drop counters of the pair's client and server ends. */
  tcp: [Record<string, number>, Record<string, number>];
  loss: [Record<string, number>, Record<string, number>];
}

function snap(topo: StackTopology, s: Server, wrkPid: number): Snap {
  const cpu = {
    t: performance.now(), hrUs: Number(process.hrtime.bigint() / 1000n), server: procCpu(s.proc.pid), napiNs: threadsCpuNs(s.napiTids),
    wrk: procCpu(wrkPid), cpu: cpuTimes(), threads: allThreads(),
  };
  return { ...cpu, tcp: [kernelTcpCounters(topo.cliNs), kernelTcpCounters(topo.srvNs)], loss: [lossCounters(s.pair.client), lossCounters(s.pair.server)] };
}

export interface GcFigures {
  collections: number; perSec: number; pauseMs: number; pauseMsPerSec: number; byKind: Record<string, number>; isolates: number;
  /** Per 10,000 requests served in the window (requests/s × window). */
  per10kRequests: { collections: number; pauseMs: number };
}

export interface Run extends WrkResult {
  /** The CPU and GC window: the measured wrk run less 0.25 s at each end, s. */
  windowSeconds: number;
  windowUs: [number, number];
  server: {
    /** The server process, all threads, user + kernel / window. */
    procShare: number;
    /** Its AF_XDP veth's NAPI thread / window (ixy, placement own). */
    napiShare: number | null;
    /** ixy: loop iterations that received nothing, whole run (mostly under load). */
    emptyPollShare: number | null;
    /** Non-zero trouble counters of the ixy server's stack (whole run). */
    problems: Record<string, number>;
  };
  /** wrk's process / window. */
  wrkShare: number;
  cpuServerBusy: number;
  cpuServerSoftirq: number;
  cpuClientBusy: number;
  cpuClientSoftirq: number;
  /** Non-zero changes over the window of the kernel's TCP trouble counters in the client's (cli.) and the server's (srv.) namespace. */
  kernelTcp: Record<string, number>;
  /** Non-zero changes of the veth ends' drop counters over the window. */
  losses: Record<string, number>;
  foreignPct: number;
  /** The threads (any process, kernel threads too) that used the most CPU over the window, share of one CPU. */
  topThreads: Array<{ comm: string; pid: number; tid: number; share: number }>;
  bound: string;
  gc?: GcFigures;
}

function topThreads(a: Snap, b: Snap, dt: number): Run['topThreads'] {
  const rows = [...b.threads].map(([tid, t]) => ({ comm: t.comm, pid: t.pid, tid, share: Math.round(((t.ns - (a.threads.get(tid)?.ns ?? 0)) / (dt * 1e9)) * 1000) / 1000 }));
  return rows.sort((x, y) => y.share - x.share).slice(0, 6);
}

function wrkCommand(o: Options, s: Server, cfg: Config, seconds: number, latency: boolean): string[] {
  return wrkArgs({ url: `http://${s.pair.server.ip}:${PORT}/`, connections: cfg.connections, threads: o.wrkThreads, seconds, close: cfg.close, latency });
}

async function warmUp(o: Options, topo: StackTopology, s: Server, cfg: Config): Promise<void> {
  if (o.warmup === 0) return;
  const r = await topo.lab.run(topo.cliNs, ['taskset', '-c', String(CPU_CLIENT), ...wrkCommand(o, s, cfg, o.warmup, false)], { timeoutMs: (o.warmup + 20) * 1000 });
  if (r.code !== 0) throw new Error(`warm-up wrk: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`);
}

/** The measured wrk run, with snapshots 0.25 s after it starts and 0.25 s before it ends. */
async function measure(o: Options, topo: StackTopology, s: Server, cfg: Config): Promise<{ wrk: WrkResult; a: Snap; b: Snap; wrkPid: number }> {
  const wrk = new Proc(topo.lab, topo.cliNs, wrkCommand(o, s, cfg, o.seconds, true), CPU_CLIENT, 'wrk');
  try {
    await sleep(250);
    const a = snap(topo, s, wrk.pid);
    await sleep(o.seconds * 1000 - 500);
    const b = snap(topo, s, wrk.pid);
    await wrk.waitFor(/Transfer\/sec/, 20000);
    return { wrk: parseWrk(wrk.stdout), a, b, wrkPid: wrk.pid };
  } finally {
    await wrk.stop('SIGTERM', 3000);
  }
}

function gcFigures(events: GcEvent[], seconds: number, requestsPerSec: number): GcFigures | undefined {
  if (events.length === 0) return undefined;
  const byKind: Record<string, number> = {};
  for (const e of events) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
  const pauseMs = events.reduce((a, e) => a + e.pauseMs, 0);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const per10k = 1e4 / (requestsPerSec * seconds);
  return {
    collections: events.length, perSec: r2(events.length / seconds), pauseMs: r2(pauseMs), pauseMsPerSec: r2(pauseMs / seconds), byKind,
    isolates: new Set(events.map((e) => e.isolate)).size, per10kRequests: { collections: r2(events.length * per10k), pauseMs: r2(pauseMs * per10k) },
  };
}

const pct = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(0)} %`);

/** What held the figure: wrk's CPU, or the server's (see the header); other processes, if they disturbed the run. */
function boundOf(kind: ServerKind, r: Omit<Run, 'bound'>, maxForeign: number): string {
  const v = verdict(kind, r);
  return r.foreignPct > maxForeign * 1.5 ? `disturbed: other processes used ${r.foreignPct} % of the CPUs; ${v}` : v;
}

function verdict(kind: ServerKind, r: Omit<Run, 'bound'>): string {
  const client = `CPU ${CPU_CLIENT} ${pct(r.cpuClientBusy)} busy (wrk ${pct(r.wrkShare)}, softirq ${pct(r.cpuClientSoftirq)})`;
  const server = kind === 'node'
    ? `CPU ${CPU_SERVER} ${pct(r.cpuServerBusy)} busy (node ${pct(r.server.procShare)}, softirq ${pct(r.cpuServerSoftirq)})`
    : `CPU ${CPU_SERVER} ${pct(r.cpuServerBusy)} busy (ixy http ${pct(r.server.procShare)}, polling: ${pct(r.server.emptyPollShare)} of its polls empty` +
      `${r.server.napiShare !== null ? `; NAPI ${pct(r.server.napiShare)}` : ''})`;
  const clientFull = r.cpuClientBusy >= 0.95;
  const serverFull = kind === 'ixy' ? !clientFull : r.cpuServerBusy >= 0.95;
  if (clientFull && serverFull) return `both CPUs saturated: ${client}; ${server}`;
  if (clientFull) return `client: ${client}; ${server}`;
  if (serverFull) return `server: ${server}; ${client}`;
  return `neither CPU saturated (latency): ${server}; ${client}`;
}

function serverFigures(s: Server, a: Snap, b: Snap, dt: number): Run['server'] {
  const sj = s.proc.jsonLine<{ tcp?: Record<string, number>; loop?: { iterations: number; batchSizes: number[] } }>(s.kind === 'ixy' ? 'accepted' : 'mode');
  const problems: Record<string, number> = {};
  for (const [k, v] of Object.entries(sj?.tcp ?? {})) if (v !== 0 && /retransmits|timeouts|resets|Drops|drop|noBuffer|bad|outOfWindow|ooo/i.test(k)) problems[`tcp.${k}`] = v;
  const loop = sj?.loop;
  return {
    procShare: (b.server.ns - a.server.ns) / (dt * 1e9),
    napiShare: s.napiTids.length ? (b.napiNs - a.napiNs) / (dt * 1e9) : null,
    emptyPollShare: loop ? 1 - loop.batchSizes.reduce((x, y) => x + y, 0) / loop.iterations : null,
    problems,
  };
}

function prefixed(prefix: string, a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) if (b[k] - (a[k] ?? 0) !== 0) out[`${prefix}.${k}`] = b[k] - (a[k] ?? 0);
  return out;
}

interface Trial { run: Run; server: Server }

/** One server, one configuration: start it, warm up, measure, stop it. `nodeFlags`: --trace-gc, --cpu-prof… */
async function trial(o: Options, topo: StackTopology, cfg: Config, kind: ServerKind, nodeFlags: string[] = []): Promise<Trial> {
  let s: Server | null = null;
  try {
    s = await startServer(o, topo, kind, nodeFlags);
    await warmUp(o, topo, s, cfg);
    const { wrk, a, b, wrkPid } = await measure(o, topo, s, cfg);
    if (!s.proc.running) throw new Error(s.proc.failure());
    await s.proc.stop('SIGTERM', 15000);
    const dt = (b.t - a.t) / 1000;
    const d = (c: number, f: (x: CpuTimes) => number): number => (f(b.cpu[c]) - f(a.cpu[c])) / (b.cpu[c].totalNs - a.cpu[c].totalNs);
    const partial: Omit<Run, 'bound'> = {
      ...wrk, windowSeconds: dt, windowUs: [a.hrUs, b.hrUs],
      server: serverFigures(s, a, b, dt),
      wrkShare: (b.wrk.ns - a.wrk.ns) / (dt * 1e9),
      cpuServerBusy: d(CPU_SERVER, (x) => x.busyNs), cpuServerSoftirq: d(CPU_SERVER, (x) => x.fields[6]),
      cpuClientBusy: d(CPU_CLIENT, (x) => x.busyNs), cpuClientSoftirq: d(CPU_CLIENT, (x) => x.fields[6]),
      kernelTcp: { ...prefixed('cli', a.tcp[0], b.tcp[0]), ...prefixed('srv', a.tcp[1], b.tcp[1]) },
      losses: { ...lossDelta('client-veth', a.loss[0], b.loss[0]), ...lossDelta('server-veth', a.loss[1], b.loss[1]) },
      foreignPct: foreignPct(a.threads, b.threads, [process.pid, s.proc.pid, wrkPid], dt * 1000),
      topThreads: topThreads(a, b, dt),
      gc: gcFigures(s.gc.filter((g) => g.t >= a.t && g.t <= b.t).map((g) => g.e), dt, wrk.requestsPerSec),
    };
    return { run: { ...partial, bound: boundOf(kind, partial, o.maxForeign) }, server: s };
  } finally {
    if (s) await s.proc.stop('SIGTERM', 10000).catch(() => {});
  }
}

// ---- the report -------------------------------------------------------------------------------------------------

interface Result {
  name: string; config: string; server: ServerKind; label: string; connections: number; close: boolean; error?: string; failedRuns?: string;
  /** Medians over the runs (errors: summed). */
  requestsPerSec?: number; p50Ms?: number; p99Ms?: number; errorsTotal?: number; errors?: WrkResult['errors'];
  serverProcShare?: number; napiShare?: number | null; cpuServerBusy?: number; wrkShare?: number; cpuClientBusy?: number;
  /** The median run (by requests/s), whole. */
  medianRun?: Run;
  runs?: Array<{ requestsPerSec: number; p50Ms: number; p99Ms: number; errorsTotal: number; cpuClientBusy: number; foreignPct: number; bound: string }>;
}

interface Comparison { config: string; label: string; ratio: number | null; ixyP99Ms: number | null; nodeP99Ms: number | null; targetMet: boolean | null }

interface Report {
  benchmark: 'http'; date: string; host: ReturnType<typeof hostInfo>;
  seconds: number; warmupSeconds: number; repeat: number; placement: string; wrkThreads: number; tookSeconds: number;
  target: string; commands: Record<string, string>;
  /** Each server's answer to `curl -i` without the Date header, and whether they are the same. */
  responses: { node: string | null; ixy: string | null; same: boolean | null };
  comparisons: Comparison[];
  results: Result[];
  /** `--trace-gc` runs (keep-alive, 64 connections), over the window. */
  gc: { config: string; node: (GcFigures & { requestsPerSec: number }) | null; ixy: (GcFigures & { requestsPerSec: number }) | null; errors: Record<string, string> };
  /** The ixy server under `--cpu-prof` (keep-alive, 64 connections): self time by category over the window. */
  profile: (ProfileSummary & { config: string; requestsPerSec: number }) | { error: string } | null;
}

function summarise(cfg: Config, kind: ServerKind, rs: Run[], error: string | undefined): Result {
  const base = { name: `${kind}-${cfg.name}`, config: cfg.name, server: kind, label: `${cfg.label}: ${SERVER_LABEL[kind]}`, connections: cfg.connections, close: cfg.close };
  if (rs.length === 0) return { ...base, error: error ?? 'not run' };
  const med = (f: (r: Run) => number): number => median(rs.map(f));
  const sum = (k: keyof WrkResult['errors']): number => rs.reduce((a, r) => a + r.errors[k], 0);
  return {
    ...base, requestsPerSec: med((r) => r.requestsPerSec), p50Ms: med((r) => r.latencyMs.p50), p99Ms: med((r) => r.latencyMs.p99),
    errorsTotal: rs.reduce((a, r) => a + r.errorsTotal, 0),
    errors: { connect: sum('connect'), read: sum('read'), write: sum('write'), timeout: sum('timeout'), non2xx3xx: sum('non2xx3xx') },
    serverProcShare: med((r) => r.server.procShare), napiShare: rs[0].server.napiShare === null ? null : med((r) => r.server.napiShare ?? NaN),
    cpuServerBusy: med((r) => r.cpuServerBusy), wrkShare: med((r) => r.wrkShare), cpuClientBusy: med((r) => r.cpuClientBusy),
    medianRun: medianRun(rs, (r) => r.requestsPerSec),
    runs: rs.map((r) => ({ requestsPerSec: r.requestsPerSec, p50Ms: r.latencyMs.p50, p99Ms: r.latencyMs.p99, errorsTotal: r.errorsTotal, cpuClientBusy: r.cpuClientBusy, foreignPct: r.foreignPct, bound: r.bound })),
    ...(error ? { failedRuns: error } : {}),
  };
}

function compare(results: Result[]): Comparison[] {
  return CONFIGS.map((cfg) => {
    const get = (k: ServerKind): Result | undefined => results.find((r) => r.name === `${k}-${cfg.name}` && !r.error);
    const [n, x] = [get('node'), get('ixy')];
    const ratio = n?.requestsPerSec && x?.requestsPerSec ? x.requestsPerSec / n.requestsPerSec : null;
    const met = ratio === null || x?.p99Ms === undefined || n?.p99Ms === undefined ? null : ratio >= TARGET_RATIO && x.p99Ms < n.p99Ms;
    return { config: cfg.name, label: cfg.label, ratio, ixyP99Ms: x?.p99Ms ?? null, nodeP99Ms: n?.p99Ms ?? null, targetMet: met };
  }).filter((c) => c.ratio !== null);
}

function table(r: Report): string {
  const rows = [['configuration', 'req/s', 'p50/p99 ms', 'errors', 'ixy/Node', 'server CPU (proc/NAPI)', `CPU ${CPU_SERVER}`, 'wrk CPU', `CPU ${CPU_CLIENT}`, 'bound']];
  for (const x of r.results) {
    if (x.error) { rows.push([x.label, `failed: ${x.error.slice(0, 90)}`]); continue; }
    const c = r.comparisons.find((k) => k.config === x.config);
    rows.push([x.label, fmtK(x.requestsPerSec), `${fmtN(x.p50Ms, 2)}/${fmtN(x.p99Ms, 2)}`, String(x.errorsTotal), x.server === 'ixy' && c ? `${fmtN(c.ratio, 2)}×` : '',
      `${pct(x.serverProcShare)}${x.napiShare !== null && x.napiShare !== undefined ? ` / ${pct(x.napiShare)}` : ''}`, pct(x.cpuServerBusy), pct(x.wrkShare), pct(x.cpuClientBusy),
      (x.medianRun?.bound ?? '').split(':')[0]]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd()).join('\n');
}

function svg(r: Report): string {
  const rows = r.results.map((x) => {
    const c = r.comparisons.find((k) => k.config === x.config);
    return {
      label: x.label,
      values: x.error ? [null, null, null, null] : [(x.requestsPerSec ?? NaN) / 1000, x.p50Ms ?? null, x.p99Ms ?? null, (x.cpuClientBusy ?? NaN) * 100],
      annotation: x.server === 'ixy' && c?.ratio ? `(${c.ratio.toFixed(2)}× Node)` : undefined,
      missing: x.error ? `failed: ${x.error}` : undefined,
      color: x.server === 'ixy' ? '#d62728' : '#2ca02c',
    };
  });
  return hbarChart({
    title: 'Node http, hello world: ixy.ts/net (AF_XDP) vs Linux TCP, one server core (bench/http)',
    subtitle: `${r.host.cpus}-vCPU VM, Linux ${r.host.kernel}, Node ${r.host.node}; wrk -t${r.wrkThreads} on CPU ${CPU_CLIENT}, server on CPU ${CPU_SERVER}; ` +
      `median of ${r.repeat} × ${r.seconds} s; ${r.date.slice(0, 10)}`,
    panels: [
      { title: 'thousand requests/s', color: '#888', digits: 1, headroom: 1.5 },
      { title: 'latency p50, ms', color: '#9467bd', digits: 2 },
      { title: 'latency p99, ms', color: '#9467bd', digits: 2 },
      { title: `CPU ${CPU_CLIENT} (wrk) busy, %`, color: '#17becf', digits: 0, headroom: 1 },
    ],
    rows,
    labelWidth: 400,
    width: 1400,
    notes: [
      `The same handler (12-byte body, content-length) on both; wrk ${r.seconds} s after a ${r.warmupSeconds} s warm-up; Connection: close = wrk -H 'Connection: close', a connection per request.`,
      `Placement: ${r.placement}.`,
      `CPU ${CPU_CLIENT} at ~100 % means wrk (the client) bounds the figure; the ixy server polls, so its CPU is always busy. Target: ${r.target}.`,
    ],
  });
}

// ---- diagnostics: --trace-gc and --cpu-prof ----------------------------------------------------------------------

async function gcRuns(o: Options, topo: StackTopology, say: (s: string) => void): Promise<Report['gc']> {
  const out: Report['gc'] = { config: DIAG_CONFIG.name, node: null, ixy: null, errors: {} };
  for (const kind of SERVERS) {
    try {
      await waitQuiet(o.maxForeign, o.quietWait, say);
      const { run } = await trial(o, topo, DIAG_CONFIG, kind, ['--trace-gc']);
      const g = run.gc ?? { collections: 0, perSec: 0, pauseMs: 0, pauseMsPerSec: 0, byKind: {}, isolates: 0, per10kRequests: { collections: 0, pauseMs: 0 } };
      out[kind] = { ...g, requestsPerSec: run.requestsPerSec };
      say(`  --trace-gc ${SERVER_LABEL[kind].padEnd(24)} ${fmtK(run.requestsPerSec)} req/s: ${g.perSec} collections/s, ${g.pauseMsPerSec} ms paused per s; ` +
        `per 10k requests ${g.per10kRequests.collections} collections, ${g.per10kRequests.pauseMs} ms ` +
        `(${Object.entries(g.byKind).map(([k, n]) => `${n} ${k}`).join(', ') || 'none'} in ${fmtN(run.windowSeconds, 1)} s)`);
    } catch (e) {
      out.errors[kind] = (e as Error).message;
      say(`  --trace-gc ${SERVER_LABEL[kind]}: failed: ${(e as Error).message}`);
    }
  }
  return out;
}

async function profileRun(o: Options, topo: StackTopology, say: (s: string) => void): Promise<NonNullable<Report['profile']>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-http-prof-'));
  try {
    await waitQuiet(o.maxForeign, o.quietWait, say);
    const { run } = await trial(o, topo, DIAG_CONFIG, 'ixy', ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', 'ixy-http.cpuprofile']);
    const file = path.join(dir, 'ixy-http.cpuprofile');
    if (!fs.existsSync(file)) throw new Error('the server wrote no .cpuprofile');
    if (o.profileFile) fs.copyFileSync(file, o.profileFile);
    const summary = summariseProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, run.windowUs[0], run.windowUs[1], PROFILE_FRAMES);
    say(`  --cpu-prof ixy http, ${DIAG_CONFIG.label}, ${fmtK(run.requestsPerSec)} req/s; self time over ${fmtN(summary.windowMs / 1000, 1)} s (${summary.samples} samples):`);
    for (const c of summary.categories) say(`    ${c.pct.toFixed(1).padStart(5)} %  ${c.category}`);
    for (const f of summary.inclusive) say(`    inclusive ${f.pct.toFixed(1).padStart(5)} %  ${f.label}`);
    say(`    top: ${summary.top.slice(0, 8).map((t) => `${t.fn} (${t.where}) ${t.pct} %`).join('; ')}`);
    return { config: DIAG_CONFIG.name, requestsPerSec: run.requestsPerSec, ...summary };
  } catch (e) {
    say(`  --cpu-prof ixy http: failed: ${(e as Error).message}`);
    return { error: (e as Error).message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main -------------------------------------------------------------------------------------------------------

/** A trial, repeated (up to --retries) while other processes disturb it; the least disturbed one. */
async function steadyTrial(o: Options, topo: StackTopology, cfg: Config, kind: ServerKind, say: (s: string) => void): Promise<Trial> {
  let best: Trial | null = null;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    await waitQuiet(o.maxForeign, o.quietWait, say);
    const t = await trial(o, topo, cfg, kind);
    if (!best || t.run.foreignPct < best.run.foreignPct) best = t;
    if (t.run.foreignPct <= o.maxForeign * 1.5) break;
    if (attempt < o.retries) say(`    disturbed: other processes used ${t.run.foreignPct} % of the CPUs during the run (${fmtK(t.run.requestsPerSec)} req/s); again`);
  }
  return best!;
}

function runLine(rep: number, o: Options, cfg: Config, kind: ServerKind, r: Run): string {
  return `  [${rep + 1}/${o.repeat}] ${`${cfg.name} ${SERVER_LABEL[kind]}`.padEnd(30)} ${fmtK(r.requestsPerSec).padStart(7)} req/s, p50 ${fmtN(r.latencyMs.p50, 2)} ms p99 ${fmtN(r.latencyMs.p99, 2)} ms, ` +
    `errors ${r.errorsTotal}; ${r.bound}; others ${r.foreignPct} %` +
    `${Object.keys(r.losses).length ? `; veth drops ${JSON.stringify(r.losses)}` : ''}${Object.keys(r.kernelTcp).length ? `; kernel TCP ${JSON.stringify(r.kernelTcp)}` : ''}` +
    `${Object.keys(r.server.problems).length ? `; ixy TCP ${JSON.stringify(r.server.problems)}` : ''}`;
}

interface Collected { runs: Map<string, Run[]>; errors: Map<string, string>; responses: Report['responses'] }

async function measureAll(o: Options, topo: StackTopology, say: (s: string) => void): Promise<Collected> {
  const c: Collected = { runs: new Map(), errors: new Map(), responses: { node: null, ixy: null, same: null } };
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const cfg of CONFIGS) {
      for (const kind of SERVERS) {
        const name = `${kind}-${cfg.name}`;
        if (!runsOf(o, cfg, kind) || (c.errors.has(name) && !c.runs.has(name))) continue;
        try {
          const t = await steadyTrial(o, topo, cfg, kind, say);
          c.runs.set(name, [...(c.runs.get(name) ?? []), t.run]);
          c.responses[kind] = t.server.response;
          say(runLine(rep, o, cfg, kind, t.run));
        } catch (e) {
          c.errors.set(name, (e as Error).message);
          say(`  [${rep + 1}/${o.repeat}] ${cfg.name} ${SERVER_LABEL[kind]}: failed: ${(e as Error).message}`);
        }
      }
    }
  }
  if (c.responses.node !== null && c.responses.ixy !== null) c.responses.same = c.responses.node === c.responses.ixy;
  return c;
}

function commands(o: Options): Record<string, string> {
  const wrk = `taskset -c ${CPU_CLIENT} wrk -t${o.wrkThreads} -c C -d ${o.seconds}s --latency [-H 'Connection: close'] http://10.82.{1,2}.2/   (after the same without --latency for ${o.warmup} s)`;
  return {
    ixyServer: `taskset -c ${CPU_SERVER} node dist/src/cli/main.js http --dev xdp:xs --ip 10.82.1.2/24 --port ${PORT} --access-log none --json`,
    nodeServer: `taskset -c ${CPU_SERVER} node dist/bench/http-node-server.js --ip 10.82.2.2 --port ${PORT}`,
    client: wrk,
    traceGc: 'node --trace-gc … (either server), keep-alive 64 connections',
    profile: 'node --cpu-prof --cpu-prof-dir D … (ixy server), keep-alive 64 connections',
  };
}

let current: Netlab | null = null;

function checkTools(): void {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, AF_XDP)');
  for (const t of ['wrk', 'curl', 'taskset', 'ethtool']) if (!which(t)) throw new Error(`${t} is not installed (apt-get install ${t === 'taskset' ? 'util-linux' : t})`);
  for (const f of [IXY_CLI, NODE_SERVER]) if (!fs.existsSync(f)) throw new Error(`${f} missing: build first (npm run build)`);
}

async function main(): Promise<number> {
  const o = benchOptions(() => parseOptions(process.argv.slice(2)));
  if (o.replot) {
    fs.writeFileSync(SVG_PATH, svg(JSON.parse(fs.readFileSync(JSON_PATH, 'utf8')) as Report));
    console.log(`wrote ${SVG_PATH}`);
    return 0;
  }
  checkTools();
  const say = (s: string): void => { console.log(s); };
  const host = hostInfo();
  const t0 = Date.now();
  say(`http: wrk -t${o.wrkThreads} on CPU ${CPU_CLIENT}, server on CPU ${CPU_SERVER}; ${o.warmup} s warm-up + ${o.seconds} s measured per run, ${o.repeat} run(s) each, interleaved; ` +
    `placement ${o.placement}; load average ${host.loadavg.join(' ')}`);
  const topo = createStackTopology([
    { label: 'x', subnet: '10.82.1', clientKernel: true, serverKernel: false },
    { label: 'k', subnet: '10.82.2', clientKernel: true, serverKernel: true },
  ]);
  current = topo.lab;
  let c: Collected;
  let gc: Report['gc'] = { config: DIAG_CONFIG.name, node: null, ixy: null, errors: {} };
  let profile: Report['profile'] = null;
  try {
    placeKernelServer(topo.pairs.k.server, o.placement);
    for (const p of [topo.pairs.x, topo.pairs.k]) placeKernelClient(p.client, o.placement);
    c = await measureAll(o, topo, say);
    if (wanted(o, 'trace-gc')) gc = await gcRuns(o, topo, say);
    if (wanted(o, 'profile')) profile = await profileRun(o, topo, say);
  } finally {
    await topo.lab.cleanup();
    current = null;
  }
  const results = CONFIGS.flatMap((cfg) => SERVERS.filter((k) => runsOf(o, cfg, k)).map((k) => summarise(cfg, k, c.runs.get(`${k}-${cfg.name}`) ?? [], c.errors.get(`${k}-${cfg.name}`))));
  const report: Report = {
    benchmark: 'http', date: new Date().toISOString(), host, seconds: o.seconds, warmupSeconds: o.warmup, repeat: o.repeat,
    placement: placementAbout(o.placement, true), wrkThreads: o.wrkThreads, tookSeconds: Math.round((Date.now() - t0) / 1000),
    target: `ixy ≥ ${TARGET_RATIO}× Node's requests/s with a lower p99`, commands: commands(o), responses: c.responses,
    comparisons: compare(results), results, gc, profile,
  };
  printSummary(report, say);
  if (o.save) say(saveResults(JSON_PATH, SVG_PATH, report, svg(report)));
  if (o.json) console.log(JSON.stringify(report));
  return results.some((r) => !r.error) || profile !== null || gc.node !== null || gc.ixy !== null ? 0 : 1;
}

function printSummary(r: Report, say: (s: string) => void): void {
  say('');
  if (r.results.length) say(table(r));
  for (const c of r.comparisons) {
    say(`${c.label}: ixy/Node ${fmtN(c.ratio, 2)}×, p99 ${fmtN(c.ixyP99Ms, 2)} vs ${fmtN(c.nodeP99Ms, 2)} ms → target (${r.target}) ${c.targetMet ? 'met' : 'not met'}`);
  }
  if (r.responses.same === false) say(`the two servers' responses differ (without Date):\n${r.responses.node}\n---\n${r.responses.ixy}`);
  const g = (k: ServerKind): string => {
    const x = r.gc[k];
    return x ? `${x.perSec} collections/s, ${x.pauseMsPerSec} ms/s paused at ${fmtK(x.requestsPerSec)} req/s (per 10k requests: ${x.per10kRequests.collections}, ${x.per10kRequests.pauseMs} ms)` : 'n/a';
  };
  if (r.gc.node || r.gc.ixy) say(`GC (${r.gc.config}): Node http ${g('node')}; ixy http ${g('ixy')}`);
  say(`took ${r.tookSeconds} s`);
}

onSignalCleanup('http', () => current);

main().then(
  (code) => { process.exitCode = code; },
  (e: Error) => { console.error(`http: ${e.message}`); process.exitCode = 1; },
);
