/**
 * Network namespaces and veth pairs for tests and benchmarks (lab/ is shared by test/ and bench/, never published),
 * with names unique to this process and always removed:
 * by `cleanup()` (call it in `after`/`finally`), and as a last resort when the process exits.
 * Interface names stay within IFNAMSIZ - 1 = 15 characters. No side effects on import.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

const live = new Set<Netlab>();
let exitHookInstalled = false;
let labCounter = 0;

export interface RunResult { code: number; stdout: string; stderr: string }

export interface VethEnd {
  /** Namespace (a full name returned by `ns()`). */
  ns: string;
  /** Short label, turned into a unique interface name. */
  name: string;
  /** Address with prefix, e.g. 10.0.0.1/24. */
  addr?: string;
  mtu?: number;
  /** RX and TX queues of this end (veth default: 1). */
  queues?: number;
}

/** Whether this process may create namespaces (root or CAP_NET_ADMIN with `ip` available). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try { execFileSync('ip', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; }
}

export class Netlab {
  readonly id: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor() {
    this.id = (process.pid % 46656).toString(36) + (labCounter++).toString(36);
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => { for (const lab of live) lab.cleanupSync(); });
    }
  }

  /** Creates namespace `ixyt-<id>-<label>` with loopback up; returns its name. */
  ns(label: string): string {
    const name = `ixyt-${this.id}-${label}`;
    execFileSync('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    this.ipIn(name, ['link', 'set', 'lo', 'up']);
    return name;
  }

  /** Interface name for a label: `ix<id><label>`, at most 15 characters. */
  ifname(label: string): string {
    const n = `ix${this.id}${label}`;
    if (n.length > 15) throw new Error(`interface name '${n}' is longer than 15 characters: use a shorter label`);
    return n;
  }

  /** Creates a veth pair between two namespaces, brings both ends up; returns the interface names. */
  veth(a: VethEnd, b: VethEnd): { a: string; b: string } {
    const an = this.ifname(a.name);
    const bn = this.ifname(b.name);
    const q = (e: VethEnd): string[] => (e.queues ? ['numrxqueues', String(e.queues), 'numtxqueues', String(e.queues)] : []);
    execFileSync('ip', ['link', 'add', an, ...q(a), 'netns', a.ns, 'type', 'veth', 'peer', 'name', bn, ...q(b), 'netns', b.ns]);
    for (const [end, n] of [[a, an], [b, bn]] as const) {
      if (end.mtu) this.ipIn(end.ns, ['link', 'set', n, 'mtu', String(end.mtu)]);
      if (end.addr) this.ipIn(end.ns, ['addr', 'add', end.addr, 'dev', n]);
      this.ipIn(end.ns, ['link', 'set', n, 'up']);
    }
    return { a: an, b: bn };
  }

  /** Runs `ip <args>` inside a namespace, synchronously; throws with ip's message on failure. */
  ipIn(ns: string, args: string[]): string {
    return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  }

  /** Runs a command inside a namespace and collects its output. */
  run(ns: string, cmd: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    const child = this.spawn(ns, cmd, opts.env);
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin!.end();
    });
  }

  /** Starts a command inside a namespace; it is killed by `cleanup()` if still running. */
  spawn(ns: string, cmd: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills what is still running and deletes the namespaces (which deletes their interfaces). */
  async cleanup(): Promise<void> {
    const waits = [...this.children].map((c) => new Promise<void>((r) => {
      if (c.exitCode !== null || c.signalCode !== null) return r();
      c.once('exit', () => r());
      c.kill('SIGTERM');
      setTimeout(() => { c.kill('SIGKILL'); }, 3000).unref();
    }));
    await Promise.all(waits);
    this.cleanupSync();
  }

  cleanupSync(): void {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    while (this.namespaces.length > 0) {
      const name = this.namespaces.pop()!;
      try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
    live.delete(this);
  }
}

/** Interface counters (rx/tx packets and bytes) from the namespace's sysfs view. */
export function linkCounters(lab: Netlab, ns: string, ifname: string): { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number } {
  const j = JSON.parse(lab.ipIn(ns, ['-s', '-j', 'link', 'show', 'dev', ifname])) as { stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } } }[];
  const s = j[0].stats64;
  return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxBytes: s.rx.bytes, txBytes: s.tx.bytes };
}
