/**
 * The topology and shared plumbing of the TCP/IP stack benchmarks (bench/echo, bench/pingpong):
 *
 *   ns cli [xc] ───veth─── [xs] ns srv      both ends owned by ixy.ts stacks over AF_XDP (no kernel address)
 *   ns cli [kc] ───veth─── [ks] ns srv      server end (or both ends) with a kernel address: Linux's TCP/IP
 *   client on CPU 0 (taskset)   server on CPU 1 (taskset)
 *
 * Names are unique to the process (lab/netns.ts); the namespaces are deleted at the end, on failure, and
 * on SIGINT/SIGTERM (`onSignalCleanup`). Offloads are off on every veth end (`ethtool -K … tx off tso off gso off
 * gro off`): the stack does not do checksum offload, TSO or GRO, so every frame on the wire is a real, checksummed,
 * MTU-sized one — for the Linux peers too, so both sides of a comparison see the same frames. IPv6 is off (no
 * router solicitations or MLD reports on the wire).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Netlab } from '../lab/netns.js';
import { allThreads, CPU_FWD, CPU_GEN, nsExec, nsWrite, type Port, sleep, type ThreadCpu } from './fwd-linux-topo.js';
import type { Proc } from './fwd-linux-proc.js';

/** The client's CPU and the server's CPU (the VM has two). */
export const CPU_CLIENT = CPU_GEN;
export const CPU_SERVER = CPU_FWD;

export interface PairSpec {
  /** Short label (one or two letters): interface names are `ix<id><label>c` and `ix<id><label>s`. */
  label: string;
  /** First three octets of the pair's /24, e.g. '10.81.1': the client is .1, the server .2. */
  subnet: string;
  /** Give the client end a kernel address (a Linux TCP client such as NPtcp); otherwise a stack owns it. */
  clientKernel: boolean;
  serverKernel: boolean;
}

export interface Pair {
  client: Port;
  server: Port;
  /** The /24 prefix length, for `--ip A.B.C.D/24`. */
  prefix: number;
}

export interface StackTopology {
  lab: Netlab;
  cliNs: string;
  srvNs: string;
  pairs: Record<string, Pair>;
}

function macOf(lab: Netlab, ns: string, ifname: string): string {
  const j = JSON.parse(lab.ipIn(ns, ['-j', 'link', 'show', 'dev', ifname])) as { address: string }[];
  return j[0].address;
}

/** Turns off checksum offload, TSO, GSO and GRO on an interface. */
export function offloadsOff(ns: string, ifname: string): void {
  nsExec(ns, ['ethtool', '-K', ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
}

export function createStackTopology(specs: PairSpec[]): StackTopology {
  const lab = new Netlab();
  try {
    const cliNs = lab.ns('cli');
    const srvNs = lab.ns('srv');
    for (const ns of [cliNs, srvNs]) nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const pairs: Record<string, Pair> = {};
    for (const s of specs) {
      const cip = `${s.subnet}.1`;
      const sip = `${s.subnet}.2`;
      const v = lab.veth(
        { ns: cliNs, name: `${s.label}c`, addr: s.clientKernel ? `${cip}/24` : undefined },
        { ns: srvNs, name: `${s.label}s`, addr: s.serverKernel ? `${sip}/24` : undefined },
      );
      offloadsOff(cliNs, v.a);
      offloadsOff(srvNs, v.b);
      pairs[s.label] = {
        client: { ns: cliNs, ifname: v.a, mac: macOf(lab, cliNs, v.a), ip: cip },
        server: { ns: srvNs, ifname: v.b, mac: macOf(lab, srvNs, v.b), ip: sip },
        prefix: 24,
      };
    }
    return { lab, cliNs, srvNs, pairs };
  } catch (e) {
    lab.cleanupSync();
    throw e;
  }
}

/** Whether an XDP program is attached to the interface (`ip -d link` shows `prog/xdp id N`). */
export function hasXdp(port: Port): boolean {
  return /prog\/xdp/.test(nsExec(port.ns, ['ip', '-d', 'link', 'show', 'dev', port.ifname], { ignoreError: true }));
}

/** Waits until `proc` has attached its XDP program to `port` (it opened its xdp: device); throws if it exits. */
export async function waitForXdp(proc: Proc, port: Port, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!hasXdp(port)) {
    if (!proc.running) throw new Error(proc.failure());
    if (Date.now() > deadline) throw new Error(`${proc.label}: no XDP program on ${port.ifname} after ${timeoutMs / 1000} s: ${proc.failure()}`);
    await sleep(50);
  }
}

/**
 * Receive Packet Steering: the kernel's receive processing of frames arriving at `port` (the whole TCP/IP input
 * path for a veth without XDP, which otherwise runs on the sender's CPU) is queued to `cpu`'s backlog instead.
 */
export function setRps(port: Port, cpu: number | null): void {
  nsWrite(port.ns, `/sys/class/net/${port.ifname}/queues/rx-0/rps_cpus`, cpu === null ? '0' : (1 << cpu).toString(16));
}

/** Waits until a TCP socket listens on `port` in `ns` (`ss -ltn`). */
export async function waitListening(ns: string, tcpPort: number, proc: Proc, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = nsExec(ns, ['ss', '-Hltn', `sport = :${tcpPort}`], { ignoreError: true });
    if (out.trim() !== '') return;
    if (!proc.running) throw new Error(proc.failure());
    if (Date.now() > deadline) throw new Error(`${proc.label}: not listening on port ${tcpPort} after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
}

/** CPU used by user-space threads of processes other than `own` between two `allThreads()`, % of all CPUs. */
export function foreignPct(a: Map<number, ThreadCpu>, b: Map<number, ThreadCpu>, own: number[], ms: number): number {
  let ns = 0;
  for (const [tid, t] of b) if (!t.kernel && !own.includes(t.pid)) ns += t.ns - (a.get(tid)?.ns ?? 0);
  return Math.round((ns / (ms * 1e6 * os.cpus().length)) * 1000) / 10;
}

/**
 * Waits (up to `waitS`) until other processes use less than `maxPct` % of the CPUs, measured over 500 ms;
 * returns the last measured load.
 */
export async function waitQuiet(maxPct: number, waitS: number, say: (s: string) => void): Promise<number> {
  const deadline = Date.now() + waitS * 1000;
  let told = false;
  for (;;) {
    const a = allThreads();
    await sleep(500);
    const f = foreignPct(a, allThreads(), [process.pid], 500);
    if (f < maxPct) return f;
    if (Date.now() > deadline) { say(`    other processes still use ${f} % of the CPUs after ${waitS} s: measuring anyway`); return f; }
    if (!told) { say(`    waiting for other processes to calm down (${f} % of the CPUs)…`); told = true; }
  }
}

export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The run whose `key` is the median (the lower middle one of an even count), for reporting one whole run. */
export function medianRun<T>(runs: T[], key: (r: T) => number): T {
  const s = [...runs].sort((a, b) => key(a) - key(b));
  return s[Math.floor((s.length - 1) / 2)];
}

export function hostInfo(): { kernel: string; cpus: number; cpuModel: string; node: string; loadavg: number[] } {
  const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return { kernel: os.release(), cpus: os.cpus().length, cpuModel: m ? m[1].trim() : 'unknown', node: process.version, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) };
}

/**
 * SIGINT/SIGTERM: stop what runs, delete the namespaces (`current()`), run `extra`, exit 130. Netlab also deletes
 * its namespaces on a normal exit.
 */
export function onSignalCleanup(name: string, current: () => Netlab | null, extra: () => void = () => {}): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.error(`${name}: ${sig}, cleaning up`);
      const done = (): never => { try { extra(); } catch { /* best effort */ } process.exit(130); };
      const lab = current();
      if (!lab) done();
      Promise.race([lab!.cleanup(), sleep(8000)]).finally(done);
    });
  }
}

export const fmtK = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v / 1000).toFixed(digits)}k`);
export const fmtN = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));

/**
 * Loss counters of a veth end: `ethtool -S` fields about drops and errors (rx_queue_0_drops counts frames the
 * XDP program redirected to an AF_XDP socket that had no room: RX ring full or fill ring empty) and the
 * interface's rx/tx dropped (a full peer ring).
 */
export function lossCounters(port: Port): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of nsExec(port.ns, ['ethtool', '-S', port.ifname], { ignoreError: true }).split('\n')) {
    const m = /^\s*(\S*(?:drop|error)\S*):\s*(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  try {
    const j = JSON.parse(nsExec(port.ns, ['ip', '-s', '-j', 'link', 'show', 'dev', port.ifname])) as { stats64: { rx: { dropped: number }; tx: { dropped: number } } }[];
    out.rx_dropped = j[0].stats64.rx.dropped;
    out.tx_dropped = j[0].stats64.tx.dropped;
  } catch { /* gone */ }
  return out;
}

/** The non-zero differences b − a, keys prefixed with `label.`. */
export function lossDelta(label: string, a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) if (b[k] - (a[k] ?? 0) !== 0) out[`${label}.${k}`] = b[k] - (a[k] ?? 0);
  return out;
}

const KERNEL_TCP_KEYS: Record<string, string[]> = {
  Tcp: ['RetransSegs', 'AttemptFails', 'EstabResets', 'InErrs', 'OutRsts'],
  TcpExt: ['ListenOverflows', 'ListenDrops', 'TCPTimeouts', 'TCPSynRetrans', 'TCPAbortOnData', 'TCPAbortOnTimeout'],
};

/**
 * The kernel TCP counters of a namespace that tell of trouble (retransmissions, failed or reset connections, a full
 * accept queue), from its /proc/net/snmp (`Tcp:`) and /proc/net/netstat (`TcpExt:`): a header line, then the values.
 */
export function kernelTcpCounters(ns: string): Record<string, number> {
  const lines = nsExec(ns, ['cat', '/proc/net/snmp', '/proc/net/netstat'], { ignoreError: true }).split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i].split(/\s+/);
    const vals = lines[i + 1].split(/\s+/);
    const group = head[0].replace(/:$/, '');
    if (!(group in KERNEL_TCP_KEYS) || vals[0] !== head[0] || /^\d/.test(head[1] ?? '')) continue;
    for (const k of KERNEL_TCP_KEYS[group]) {
      const j = head.indexOf(k);
      if (j > 0) out[k] = Number(vals[j]);
    }
  }
  return out;
}
