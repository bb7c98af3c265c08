/**
 * The topology of `bench/fwd-linux`, the frame it carries, and what it measures (interface counters, CPU time).
 *
 *   forwarding:  ns gen [g0 10.0.0.1] ──veth── [f0 10.0.0.254] ns fwd [f1 10.0.1.254] ──veth── [s0 10.0.1.1] ns sink
 *   direct:      ns gen [g0 10.0.0.1] ──veth── [s0 10.0.1.1] ns sink           (the generator's own rate)
 *
 * Every run builds a fresh one with names unique to the process (lab/netns.ts) and deletes it
 * afterwards. The subnets are those of ixy's test frame (10.0.0.1 → 10.0.1.1, src/util/test-frame.ts), so the
 * same frame is forwarded by every forwarder, Linux's ip_forward included. IPv6 is off in all three namespaces
 * (no router solicitations or MLD reports in the counters); neighbours are static.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Netlab } from '../lab/netns.js';
import { buildTestFrame } from '../src/util/test-frame.js';
import { optionError } from './options.js';

/** CPU of the generator and CPU of the forwarder (the VM has two). */
export const CPU_GEN = 0;
export const CPU_FWD = 1;
/** USER_HZ: the unit of /proc/stat and /proc/<pid>/stat times. */
const USER_HZ = 100;

export interface Port {
  ns: string;
  ifname: string;
  mac: string;
  ip: string;
}

export interface Topology {
  lab: Netlab;
  kind: 'forwarding' | 'direct';
  gen: Port;
  /** The forwarder's ingress and egress (absent in the direct topology). */
  fwdIn?: Port;
  fwdOut?: Port;
  sink: Port;
  /** Where the generator's frames are addressed: f0's MAC (forwarding) or s0's (direct). */
  dstMac: string;
  /** The 60-byte frame every generator sends. */
  frame: Uint8Array;
}

export const ADDR = { gen: '10.0.0.1', fwdIn: '10.0.0.254', fwdOut: '10.0.1.254', sink: '10.0.1.1' } as const;

/** Runs a command in a namespace (synchronously); returns its stdout. */
export function nsExec(ns: string, cmd: string[], opts: { ignoreError?: boolean } = {}): string {
  try {
    return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.ignoreError) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd.join(' ')} in ${ns}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** Writes a sysfs/procfs file as seen from inside the namespace (sysfs is per network namespace). */
export function nsWrite(ns: string, file: string, value: string): void {
  nsExec(ns, ['sh', '-c', `echo ${value} > ${file}`]);
}

function macOf(lab: Netlab, ns: string, ifname: string): string {
  const j = JSON.parse(lab.ipIn(ns, ['-j', 'link', 'show', 'dev', ifname])) as { address: string }[];
  return j[0].address;
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/**
 * ixy's test frame (60 bytes, IPv4 header checksum filled in) from `src` to `dst`, with the UDP checksum filled
 * in too (RFC 768: one's complement sum over the pseudo header, the UDP header and the payload).
 */
export function benchFrame(src: string, dst: string): Uint8Array {
  const f = buildTestFrame({ src: macBytes(src), dst: macBytes(dst), stream: 0 });
  const udp = 34;
  const len = (f[udp + 4] << 8) | f[udp + 5];
  let sum = 17 + len; // protocol + UDP length of the pseudo header
  for (let i = 26; i < 34; i += 2) sum += (f[i] << 8) | f[i + 1]; // source and destination address
  for (let i = 0; i < len; i += 2) sum += (f[udp + i] << 8) | (i + 1 < len ? f[udp + i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = (~sum & 0xffff) || 0xffff;
  f[udp + 6] = c >> 8;
  f[udp + 7] = c & 0xff;
  return f;
}

function quietNamespace(lab: Netlab, label: string): string {
  const ns = lab.ns(label);
  nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  return ns;
}

function neigh(lab: Netlab, ns: string, ip: string, mac: string, dev: string): void {
  lab.ipIn(ns, ['neigh', 'replace', ip, 'lladdr', mac, 'dev', dev, 'nud', 'permanent']);
}

/** Builds the gen → fwd → sink topology (or gen → sink with `direct`). Call `lab.cleanup()` when done. */
export function createTopology(kind: 'forwarding' | 'direct'): Topology {
  const lab = new Netlab();
  try {
    const gns = quietNamespace(lab, 'gen');
    const sns = quietNamespace(lab, 'sink');
    if (kind === 'direct') {
      const v = lab.veth({ ns: gns, name: 'g0', addr: `${ADDR.gen}/24` }, { ns: sns, name: 's0', addr: `${ADDR.sink}/24` });
      lab.ipIn(gns, ['route', 'add', '10.0.1.0/24', 'dev', v.a]);
      lab.ipIn(sns, ['route', 'add', '10.0.0.0/24', 'dev', v.b]);
      const gen: Port = { ns: gns, ifname: v.a, mac: macOf(lab, gns, v.a), ip: ADDR.gen };
      const sink: Port = { ns: sns, ifname: v.b, mac: macOf(lab, sns, v.b), ip: ADDR.sink };
      neigh(lab, gns, ADDR.sink, sink.mac, gen.ifname);
      neigh(lab, sns, ADDR.gen, gen.mac, sink.ifname);
      return { lab, kind, gen, sink, dstMac: sink.mac, frame: benchFrame(gen.mac, sink.mac) };
    }
    const fns = quietNamespace(lab, 'fwd');
    const a = lab.veth({ ns: gns, name: 'g0', addr: `${ADDR.gen}/24` }, { ns: fns, name: 'f0', addr: `${ADDR.fwdIn}/24` });
    const b = lab.veth({ ns: fns, name: 'f1', addr: `${ADDR.fwdOut}/24` }, { ns: sns, name: 's0', addr: `${ADDR.sink}/24` });
    const gen: Port = { ns: gns, ifname: a.a, mac: macOf(lab, gns, a.a), ip: ADDR.gen };
    const fwdIn: Port = { ns: fns, ifname: a.b, mac: macOf(lab, fns, a.b), ip: ADDR.fwdIn };
    const fwdOut: Port = { ns: fns, ifname: b.a, mac: macOf(lab, fns, b.a), ip: ADDR.fwdOut };
    const sink: Port = { ns: sns, ifname: b.b, mac: macOf(lab, sns, b.b), ip: ADDR.sink };
    lab.ipIn(gns, ['route', 'add', '10.0.1.0/24', 'via', ADDR.fwdIn]);
    lab.ipIn(sns, ['route', 'add', '10.0.0.0/24', 'via', ADDR.fwdOut]);
    neigh(lab, gns, ADDR.fwdIn, fwdIn.mac, gen.ifname);
    neigh(lab, fns, ADDR.gen, gen.mac, fwdIn.ifname);
    neigh(lab, fns, ADDR.sink, sink.mac, fwdOut.ifname);
    neigh(lab, sns, ADDR.fwdOut, fwdOut.mac, sink.ifname);
    return { lab, kind, gen, fwdIn, fwdOut, sink, dstMac: fwdIn.mac, frame: benchFrame(gen.mac, fwdIn.mac) };
  } catch (e) {
    lab.cleanupSync();
    throw e;
  }
}

// ---- threaded NAPI ----

/**
 * Turns on threaded NAPI for `port` (its NAPI instances then run in kernel threads `napi/<ifname>-<id>`) and pins
 * those threads to `cpu`. A veth has NAPI only while it has an XDP program (or GRO) — call this after attaching.
 * Returns the thread ids, or an explanation when there is none.
 */
export function pinNapi(port: Port, cpu: number): { tids: number[]; problem?: string } {
  try {
    nsWrite(port.ns, `/sys/class/net/${port.ifname}/threaded`, '1');
  } catch (e) {
    return { tids: [], problem: `threaded NAPI on ${port.ifname}: ${(e as Error).message}` };
  }
  const tids = napiThreads(port.ifname);
  for (const t of tids) execFileSync('taskset', ['-pc', String(cpu), String(t)], { stdio: 'ignore' });
  return tids.length > 0 ? { tids } : { tids, problem: `no napi/${port.ifname}-* kernel thread appeared` };
}

/** Kernel threads named `napi/<ifname>-<id>` (the comm is cut at 15 characters; our names are short enough). */
export function napiThreads(ifname: string): number[] {
  const prefix = `napi/${ifname}-`.slice(0, 15);
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').startsWith(prefix)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// ---- counters ----

export interface IfCounters { rxPackets: number; rxDropped: number; txPackets: number; txDropped: number }

/** All interfaces of a namespace: `ip -s -j link` (64-bit counters). */
export function nsCounters(ns: string): Map<string, IfCounters> {
  const j = JSON.parse(execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show'], { encoding: 'utf8' })) as
    { ifname: string; stats64: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } } }[];
  const m = new Map<string, IfCounters>();
  for (const l of j) m.set(l.ifname, { rxPackets: l.stats64.rx.packets, rxDropped: l.stats64.rx.dropped, txPackets: l.stats64.tx.packets, txDropped: l.stats64.tx.dropped });
  return m;
}

export const CPU_FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

export interface CpuTimes {
  /** Everything but idle, iowait and steal, ns. */
  busyNs: number;
  /** All eight fields, ns. */
  totalNs: number;
  /** The fields of CPU_FIELDS, ns. */
  fields: number[];
}

/** Per-CPU times from /proc/stat (USER_HZ ticks, turned into ns). */
export function cpuTimes(): CpuTimes[] {
  const out: CpuTimes[] = [];
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].trim().split(/\s+/).slice(0, 8).map((x) => (Number(x) * 1e9) / USER_HZ);
    const total = v.reduce((s, x) => s + x, 0);
    out[Number(m[1])] = { busyNs: total - v[3] - v[4] - v[7], totalNs: total, fields: v };
  }
  return out;
}

export interface ThreadCpu { pid: number; comm: string; ns: number; kernel: boolean }

/** Every thread of the machine with its CPU time so far (schedstat), to see who else ran during a measurement. */
export function allThreads(): Map<number, ThreadCpu> {
  const m = new Map<number, ThreadCpu>();
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let tasks: string[];
    let kernel = false;
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kernel = p === '2' || ppid === 2;
    } catch { continue; }
    for (const t of tasks) {
      try {
        const ns = Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        const comm = fs.readFileSync(`/proc/${p}/task/${t}/comm`, 'utf8').trim();
        m.set(Number(t), { pid: Number(p), comm, ns, kernel });
      } catch { /* gone */ }
    }
  }
  return m;
}

export interface ProcCpu { ns: number; userTicks: number; sysTicks: number }

/**
 * CPU time of a process, all its threads: the sum of /proc/<pid>/task/<tid>/schedstat (ns on CPU, exact), and
 * utime/stime of /proc/<pid>/stat (USER_HZ ticks) for the user/kernel split. Zero when it is gone.
 */
export function procCpu(pid: number): ProcCpu {
  let ns = 0;
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread ended */ }
    }
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on
    return { ns, userTicks: Number(f[11]), sysTicks: Number(f[12]) };
  } catch {
    return { ns, userTicks: 0, sysTicks: 0 };
  }
}

/** CPU ns of threads (e.g. NAPI kernel threads) from their schedstat. */
export function threadsCpuNs(tids: number[]): number {
  let ns = 0;
  for (const t of tids) {
    try { ns += Number(fs.readFileSync(`/proc/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
  }
  return ns;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes a benchmark's report (JSON) and chart (SVG), creating their folder; returns the line to print. */
export function saveResults(jsonPath: string, svgPath: string, report: unknown, svgText: string): string {
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(svgPath, svgText);
  return `wrote ${path.relative(process.cwd(), jsonPath)} and ${path.relative(process.cwd(), svgPath)}`;
}

/** A numeric command-line value of the benchmarks: `--k v`, a finite number ≥ min, or an error saying so. */
export function numberOption(k: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) optionError(`--${k} must be a number ≥ ${min}, not '${v}'`);
  return n;
}
