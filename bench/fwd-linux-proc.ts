/**
 * A process of `bench/fwd-linux` (generator, forwarder, XDP helper) started inside a namespace, pinned with
 * taskset, with its output kept for parsing and for error messages.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Netlab } from '../lab/netns.js';
import { sleep } from './fwd-linux-topo.js';

const KEEP = 256 * 1024;

export class Proc {
  readonly child: ChildProcess;
  /** The command as run inside the namespace (for the report). */
  readonly command: string[];
  private out = '';
  private err = '';
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private readonly exited: Promise<void>;

  /**
   * Starts `cmd` in `ns`, under `taskset -c cpu` when `cpu` is given. `ip netns exec` and `taskset` exec the
   * command in place, so `pid` is the command's own process id.
   */
  constructor(lab: Netlab, readonly ns: string, cmd: string[], cpu?: number, readonly label = cmd[0]) {
    this.command = cpu === undefined ? cmd : ['taskset', '-c', String(cpu), ...cmd];
    this.child = lab.spawn(ns, this.command);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.out = (this.out + d).slice(-KEEP); });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.err = (this.err + d).slice(-KEEP); });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => { this.exitInfo = { code, signal }; r(); }));
    this.child.on('error', (e) => { this.err += `\n${e.message}`; });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** What went wrong, from its output: the last meaningful stderr (or stdout) lines. */
  failure(): string {
    const lines = (this.err.trim() || this.out.trim()).split('\n').map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim()).filter((l) => l !== '');
    const tail = lines.slice(-3).join(' | ');
    const how = this.exitInfo ? `exited (${this.exitInfo.signal ?? `code ${this.exitInfo.code}`})` : 'still running';
    return `${this.label} ${how}${tail ? `: ${tail}` : ''}`.slice(0, 600);
  }

  /** Waits until its stdout+stderr match `re`; throws if it exits first or `timeoutMs` passes. */
  async waitFor(re: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.out) && !re.test(this.err)) {
      if (!this.running) throw new Error(this.failure());
      if (Date.now() > deadline) throw new Error(`${this.label} not ready after ${timeoutMs / 1000} s: ${this.failure()}`);
      await sleep(25);
    }
  }

  /** The first stdout line that parses as a JSON object with `key`, from the end. */
  jsonLine<T>(key: string): T | null {
    const lines = this.out.split('\n').reverse();
    for (const l of lines) {
      const t = l.trim();
      if (!t.startsWith('{')) continue;
      try {
        const o = JSON.parse(t) as Record<string, unknown>;
        if (key in o) return o as T;
      } catch { /* not JSON */ }
    }
    return null;
  }

  /** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Where Debian's DPDK keeps a PMD (`-d` must name it: the PMDs are shared objects loaded on request). */
export function findPmd(lib: string): string | null {
  for (const base of ['/usr/lib/x86_64-linux-gnu/dpdk', '/usr/lib64/dpdk', '/usr/local/lib/x86_64-linux-gnu/dpdk']) {
    let dirs: string[];
    try { dirs = fs.readdirSync(base).filter((d) => d.startsWith('pmds-')).sort().reverse(); } catch { continue; }
    for (const d of dirs) {
      const p = path.join(base, d, `${lib}.so`);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
}

export function which(bin: string): string | null {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(d, bin);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/**
 * EAL arguments for one dpdk-testpmd (DPDK 22.11, doc.dpdk.org/guides-22.11/linux_gsg/linux_eal_parameters.html):
 * `--lcores 0@C,1@C` puts the main lcore (0: stats printing, mostly asleep) and the forwarding lcore (1) on CPU C;
 * `--no-huge -m 256` takes memory from malloc (this VM has no hugepages; --no-huge implies legacy memory, so
 * `--in-memory` is refused and `--file-prefix` keeps runs apart instead); `--no-pci` skips the PCI scan;
 * `-d` loads each PMD shared object (Debian builds them as plugins); `--vdev` creates the ports.
 */
export function ealArgs(cpu: number, prefix: string, pmds: string[], vdevs: string[]): string[] {
  const a = ['--lcores', `0@${cpu},1@${cpu}`, '--no-pci', '--no-huge', '-m', '256', '--file-prefix', prefix, '--no-telemetry', '--log-level', 'pmd.net.af_xdp:notice'];
  for (const p of pmds) a.push('-d', p);
  for (const v of vdevs) a.push('--vdev', v);
  return a;
}

/** The runtime directory a testpmd with `--file-prefix prefix` leaves behind. */
export function removeDpdkRuntime(prefix: string): void {
  fs.rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
}
