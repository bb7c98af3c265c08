/**
 * Linux ↔ TCP/IP stack interop: namespaces with a Linux peer and the stack (`ixy echo|nc` run through the CLI) on
 * an xdp:, packet: or tap: device, plus the file transfers and processes the tests share. No side effects on import.
 *
 *   direct (xdp, packet):  ns P: Linux 10.N.0.1/24 --veth-- ns S: ixy on xdp:/packet: 10.N.0.2/24
 *   direct (tap):          ns S: the tap the ixy process creates is Linux's side (10.N.0.1/24 put on it once it
 *                          appears); the stack is 10.N.0.2 on the file-descriptor side. Peer and stack share S.
 *   routed:                ns P: Linux 10.N.1.1/24 --veth-- ns R: Linux router 10.N.1.254, 10.N.0.1
 *                          --veth-- ns S: ixy 10.N.0.2/24, gateway 10.N.0.1
 *
 * Offloads (checksum, TSO/GSO, GRO) are off on every veth end: the stack sends and expects complete frames.
 *
 * On packet: the stack gets --ring-size 4096 (PACKET_RING), so a test's "0% loss" checks the stack, not how soon the
 * host schedules it: a TPACKET_V3 RX ring is 64 KiB blocks the kernel hands over one timer tick after it opened them
 * however few frames they hold, so at a ping per 10 ms each block holds one, and the default --ring-size 512
 * (16 blocks) covered 160 ms of stall (a stack stopped for 300 ms every 1.5 s lost 3 of 100). 128 blocks cover ≥ 1.28 s at that rate.
 * (xdp: rings hold 512 frames, 5 s of such pings; a tap's queue 1000.)
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netlab, type RunResult } from '../../lab/netns.js';

export const CLI = path.resolve('dist/src/cli/main.js');
export const PEER = fileURLToPath(new URL('../netns-scripts/stack-peer.js', import.meta.url));
export const SCRIPT_ENV: NodeJS.ProcessEnv = { ...process.env, IXY_NETNS_SCRIPT: '1' };
export const MIB = 1 << 20;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type DevKind = 'xdp' | 'packet' | 'tap';

/** Whether the tools these tests drive are installed (name → missing). */
export function missingTools(tools: string[]): string[] {
  return tools.filter((t) => {
    try { execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }); return false; } catch { return true; }
  });
}

export interface Topology {
  lab: Netlab;
  kind: DevKind;
  /** Namespace of the Linux peer (for tap: the stack's namespace too). */
  peer: string;
  /** Namespace the stack runs in. */
  stackNs: string;
  /** Router namespace (routed topology only). */
  router?: string;
  /** Linux peer's address, without prefix. */
  peerIp: string;
  stackIp: string;
  /** --ip for the stack. */
  stackCidr: string;
  gateway?: string;
  /** --dev for the stack (inner device; wrap it for impair:). */
  dev: string;
  /** For tap: the interface name the stack process creates (and destroys when it exits). */
  tap?: string;
  /** The Linux side of the link the stack is on (the veth end or the tap), in `peer` (or `router`). */
  linuxIf: string;
  /** Options for a stack on `dev` (or a device wrapping it, impair:…/dev): its ring size. */
  devOptions: string[];
}

/** A packet: stack's RX ring: 128 TPACKET_V3 blocks (see above). */
export const PACKET_RING = ['--ring-size', '4096'];

function offloadsOff(ns: string, ifname: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
}

/** IPv6 off: no router solicitations or MLD reports from Linux on the stack's link (noise in captures and counters). */
function noIpv6(ns: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

/**
 * Peer and stack on one link. `net` is the second octet: 10.<net>.0.0/24 (unique per test avoids confusion in captures).
 * `kernelOffloads`: leave the veths as `ip link add … type veth` makes them (TX checksum offload, TSO/GSO on).
 */
export function directTopology(lab: Netlab, kind: DevKind, net: number, queues?: number, kernelOffloads = false): Topology {
  const peerIp = `10.${net}.0.1`;
  const stackIp = `10.${net}.0.2`;
  if (kind === 'tap') {
    const S = lab.ns('s');
    noIpv6(S);
    const tap = lab.ifname('t');
    return { lab, kind, peer: S, stackNs: S, peerIp, stackIp, stackCidr: `${stackIp}/24`, dev: `tap:${tap}`, tap, linuxIf: tap, devOptions: [] };
  }
  const P = lab.ns('p');
  const S = lab.ns('s');
  noIpv6(P); noIpv6(S);
  const v = lab.veth({ ns: P, name: 'p', addr: `${peerIp}/24`, queues }, { ns: S, name: 's', queues });
  if (!kernelOffloads) { offloadsOff(P, v.a); offloadsOff(S, v.b); }
  return {
    lab, kind, peer: P, stackNs: S, peerIp, stackIp, stackCidr: `${stackIp}/24`, dev: `${kind}:${v.b}`, linuxIf: v.a,
    devOptions: kind === 'packet' ? PACKET_RING : [],
  };
}

/** Peer behind a Linux router (forwarding on, nothing else): where nftables can drop real wire packets both ways. */
export function routedTopology(lab: Netlab, net: number): Topology {
  const P = lab.ns('p');
  const R = lab.ns('r');
  const S = lab.ns('s');
  for (const ns of [P, R, S]) noIpv6(ns);
  const pr = lab.veth({ ns: P, name: 'p', addr: `10.${net}.1.1/24` }, { ns: R, name: 'r1', addr: `10.${net}.1.254/24` });
  const rs = lab.veth({ ns: R, name: 'r2', addr: `10.${net}.0.1/24` }, { ns: S, name: 's' });
  offloadsOff(P, pr.a); offloadsOff(R, pr.b); offloadsOff(R, rs.a); offloadsOff(S, rs.b);
  lab.ipIn(P, ['route', 'add', `10.${net}.0.0/24`, 'via', `10.${net}.1.254`]);
  execFileSync('ip', ['netns', 'exec', R, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  return {
    lab, kind: 'xdp', peer: P, stackNs: S, router: R, peerIp: `10.${net}.1.1`, stackIp: `10.${net}.0.2`,
    stackCidr: `10.${net}.0.2/24`, gateway: `10.${net}.0.1`, dev: `xdp:${rs.b}`, linuxIf: rs.a, devOptions: [],
  };
}

/** Loads an nftables ruleset (text for `nft -f -`) into a namespace. */
export function nft(ns: string, rules: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
}

/** A running `ixy …` process on the stack. */
export class StackProc {
  private outText = '';
  private errText = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess, readonly cmdline: string) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.outText += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.errText += d; });
    this.exited = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  }

  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  get stdout(): string { return this.outText; }
  get stderr(): string { return this.errText; }
  /** What to print when an assertion fails. */
  log(): string { return `$ ${this.cmdline}\n--- stdout (tail)\n${this.outText.slice(-3000)}\n--- stderr\n${this.errText.slice(-3000)}`; }

  /** The last stdout line as JSON (the CLI's --json summary). */
  json<T = Record<string, any>>(): T {
    const last = this.outText.trim().split('\n').pop() ?? '';
    try { return JSON.parse(last) as T; } catch { throw new Error(`no JSON summary on the last line\n${this.log()}`); }
  }

  /** SIGTERM, then waits for the exit (SIGKILL after killAfterMs); resolves with the exit code. */
  async stop(killAfterMs = 10_000): Promise<number | null> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
      const r = await this.exited;
      clearTimeout(t);
      return r.code;
    }
    return (await this.exited).code;
  }

  /** Waits for the exit; SIGKILLs after ms and throws. */
  async wait(ms: number): Promise<number | null> {
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; this.child.kill('SIGKILL'); }, ms);
    const r = await this.exited;
    clearTimeout(t);
    if (timedOut) throw new Error(`${this.cmdline.split(' ').slice(0, 4).join(' ')} … did not finish within ${ms} ms\n${this.log()}`);
    return r.code;
  }
}

/**
 * Starts `ixy <args> --dev … --ip … [--gateway …]` in the stack's namespace. For tap, waits for the interface the
 * process creates and gives Linux's side its address. Does not wait for the stack itself: see `waitReachable`.
 */
export async function startStack(t: Topology, args: string[], dev = t.dev): Promise<StackProc> {
  const devOptions = dev === t.dev || dev.endsWith(`/${t.dev}`) ? t.devOptions : [];
  const full = ['node', CLI, ...args, '--dev', dev, ...devOptions, '--ip', t.stackCidr, ...(t.gateway ? ['--gateway', t.gateway] : [])];
  const p = new StackProc(t.lab.spawn(t.stackNs, full), full.join(' '));
  if (t.tap) {
    const deadline = Date.now() + 20_000;
    while (!t.lab.ipIn(t.stackNs, ['-o', 'link']).includes(`${t.tap}:`)) {
      if (!p.running || Date.now() > deadline) throw new Error(`the tap ${t.tap} did not appear\n${p.log()}`);
      await sleep(20);
    }
    t.lab.ipIn(t.stackNs, ['addr', 'add', `${t.peerIp}/24`, 'dev', t.tap]);
    t.lab.ipIn(t.stackNs, ['link', 'set', t.tap, 'up']);
  }
  return p;
}

/** Pings the stack from the peer until it answers (the device is open and the loop runs). */
export async function waitReachable(t: Topology, p: StackProc, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await t.lab.run(t.peer, ['ping', '-c', '1', '-W', '1', '-q', t.stackIp], { timeoutMs: 5000 });
    if (r.code === 0) return;
    if (!p.running || Date.now() > deadline) throw new Error(`the stack at ${t.stackIp} does not answer pings\n${p.log()}`);
    await sleep(100);
  }
}

/** Waits until a TCP port listens in a namespace. */
export async function waitListening(lab: Netlab, ns: string, port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!execFileSync('ip', ['netns', 'exec', ns, 'ss', '-ltnH', `sport = :${port}`], { encoding: 'utf8' }).includes(`:${port}`)) {
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} in ${ns}`);
    await sleep(50);
  }
}

/** TCP socket states in a namespace (ss -tan), counted, for sockets whose local or remote port is `port`. */
export function tcpStates(lab: Netlab, ns: string, port: number): Record<string, number> {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-tanH', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  const counts: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const st = line.trim().split(/\s+/)[0];
    if (st) counts[st] = (counts[st] ?? 0) + 1;
  }
  return counts;
}

/** Runs the peer script (stack-peer.js) in a namespace; resolves with its JSON line. */
export async function peerScript<T = Record<string, any>>(lab: Netlab, ns: string, args: string[], timeoutMs: number): Promise<T & { raw: RunResult }> {
  const r = await lab.run(ns, ['node', PEER, ...args], { env: SCRIPT_ENV, timeoutMs });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let v: T;
  try { v = JSON.parse(last) as T; } catch { throw new Error(`stack-peer ${args[0]}: no JSON (exit ${r.code})\n${r.stdout}\n${r.stderr}`); }
  return { ...v, raw: r };
}

/** A file of random bytes in a fresh temporary directory, with its sha256. */
export interface DataFile { path: string; size: number; sha256: string }

export function makeDataFile(dir: string, size: number): DataFile {
  const p = path.join(dir, `data-${size}.bin`);
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'w');
  try {
    for (let off = 0; off < size; off += 4 * MIB) {
      const b = randomBytes(Math.min(4 * MIB, size - off));
      h.update(b);
      fs.writeSync(fd, b);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path: p, size, sha256: h.digest('hex') };
}

/** A prefix of a data file (its first `size` bytes) as its own file. */
export function prefixFile(dir: string, src: DataFile, size: number): DataFile {
  if (size === src.size) return src;
  const p = path.join(dir, `prefix-${size}.bin`);
  const b = Buffer.alloc(size);
  const fd = fs.openSync(src.path, 'r');
  try { fs.readSync(fd, b, 0, size, 0); } finally { fs.closeSync(fd); }
  fs.writeFileSync(p, b);
  return { path: p, size, sha256: createHash('sha256').update(b).digest('hex') };
}

export function sha256File(p: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const b = Buffer.alloc(4 * MIB);
  try {
    for (let n = fs.readSync(fd, b); n > 0; n = fs.readSync(fd, b)) h.update(b.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ixy-${tag}-`));
}

export interface TransferResult {
  ms: number;
  /** The stack's --json summary. */
  stack: Record<string, any>;
}

/**
 * Linux → stack: `ixy nc --listen` in S, `nc -N` from the peer with the file on stdin. Checks the stack exits 0,
 * the sha256 it computed and of the file it wrote, and no leaked buffers; returns the time and the stack's summary.
 */
export async function linuxToStack(t: Topology, data: DataFile, outDir: string, timeoutMs: number, dev = t.dev): Promise<TransferResult> {
  const out = path.join(outDir, `rx-${Date.now()}.bin`);
  const port = 9000;
  const p = await startStack(t, ['nc', '--listen', String(port), '--out', out, '--json'], dev);
  try {
    await waitReachable(t, p);
    const t0 = performance.now();
    const send = await t.lab.run(t.peer, ['sh', '-c', `nc -N ${t.stackIp} ${port} < ${data.path}`], { timeoutMs });
    const code = await p.wait(Math.max(5000, timeoutMs - (performance.now() - t0)));
    const ms = performance.now() - t0;
    if (send.code !== 0) throw new Error(`Linux nc failed (${send.code}): ${send.stderr}\n${p.log()}`);
    const s = p.json();
    check(code === 0, `ixy nc exit ${code}`, p);
    check(s.failed === null, `ixy nc failed: ${s.failed}`, p);
    check(s.received === data.size, `received ${s.received} of ${data.size} bytes`, p);
    check(s.receivedSha256 === data.sha256, 'sha256 of the received stream differs', p);
    check(sha256File(out) === data.sha256, 'sha256 of the --out file differs', p);
    check(s.leakedBuffers === 0, `leaked ${s.leakedBuffers} buffers`, p);
    return { ms, stack: s };
  } finally {
    await p.stop();
    fs.rmSync(out, { force: true });
  }
}

/**
 * Stack → Linux: `nc -l -d | sha256sum` in the peer, `ixy nc --connect … --in FILE` in S. Checks both ends'
 * sha256, the stack's exit and leaks; returns the time and the stack's summary.
 */
export async function stackToLinux(t: Topology, data: DataFile, timeoutMs: number, dev = t.dev): Promise<TransferResult> {
  const port = 9001;
  const sink = t.lab.run(t.peer, ['sh', '-c', `nc -l -d ${port} | sha256sum`], { timeoutMs });
  await waitListening(t.lab, t.peer, port);
  const t0 = performance.now();
  const p = await startStack(t, ['nc', '--connect', t.peerIp, '--port', String(port), '--in', data.path, '--json'], dev);
  try {
    const code = await p.wait(timeoutMs);
    const got = await sink;
    const ms = performance.now() - t0;
    const s = p.json();
    check(code === 0, `ixy nc exit ${code}`, p);
    check(s.failed === null, `ixy nc failed: ${s.failed}`, p);
    check(s.sent === data.size, `sent ${s.sent} of ${data.size} bytes`, p);
    check(s.sentSha256 === data.sha256, 'sha256 of what the stack sent differs from the file', p);
    check(got.stdout.split(' ')[0] === data.sha256, `sha256 of what Linux received differs (${got.stdout.trim()} ${got.stderr})`, p);
    check(s.leakedBuffers === 0, `leaked ${s.leakedBuffers} buffers`, p);
    return { ms, stack: s };
  } finally {
    await p.stop();
  }
}

function check(ok: boolean, what: string, p: StackProc): void {
  if (!ok) throw new Error(`${what}\n${p.log()}`);
}

/** One line for the test log: time, size, rate and the TCP recovery counters. */
export function transferNote(what: string, size: number, r: TransferResult): string {
  const c = r.stack.tcp as Record<string, number>;
  return `${what}: ${(size / MIB).toFixed(0)} MiB in ${(r.ms / 1000).toFixed(1)} s (${(size / MIB / (r.ms / 1000)).toFixed(1)} MiB/s); ` +
    `stack tcp: segmentsIn ${c.segmentsIn} out ${c.segmentsOut} retransmits ${c.retransmits} fastRetransmits ${c.fastRetransmits} ` +
    `oooSegments ${c.oooSegments} oooDropped ${c.oooDropped} outOfWindow ${c.outOfWindow}`;
}
