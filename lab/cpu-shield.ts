/**
 * Shields one CPU for a latency measurement, as an isolated core would be (`isolcpus`, tuned's cpu-partitioning
 * profile, `cset shield`), but at run time and undone afterwards: every thread that may run elsewhere, every IRQ
 * that can be steered, and the unbound workqueues move to the housekeeping CPUs, and RT throttling is switched off
 * (sched_rt_runtime_us = -1; Documentation/scheduler/sched-rt-group.rst) so that a SCHED_FIFO thread on the shielded
 * CPU is not stopped for 50 ms every second. Per-CPU kernel threads stay; the kernel's fair server still lets them run.
 *
 * What was changed is written to STATE_FILE first, so a run that dies half-way is undone by the next one.
 */
import * as fs from 'node:fs';
import { setThreadAffinity } from '../src/sys/cpu.js';

const STATE_FILE = '/run/ixy-cpu-shield.json';
const RT_RUNTIME = '/proc/sys/kernel/sched_rt_runtime_us';
const WQ_CPUMASK = '/sys/devices/virtual/workqueue/cpumask';

interface ShieldState {
  rtRuntime: string;
  wqCpumask: string | null;
  irqs: Array<[string, string]>; // smp_affinity_list path, old value
  threads: Array<[number, string]>; // tid, old Cpus_allowed_list
}

export interface Shield {
  /** Threads moved, IRQs moved. */
  readonly threads: number;
  readonly irqs: number;
  restore(): void;
}

function cpuList(cpus: number[]): string {
  return cpus.join(',');
}

function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

function allowedCpus(tid: string): string | null {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync(`/proc/${tid}/status`, 'utf8'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function writeQuietly(path: string, value: string): boolean {
  try {
    fs.writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

function undo(s: ShieldState): void {
  for (const [tid, cpus] of s.threads) setThreadAffinity(tid, parseCpuList(cpus)); // gone threads fail quietly
  // Threads that processes started meanwhile inherited the housekeeping mask: give them their process's old one.
  const saved = new Map(s.threads);
  for (const [pid, cpus] of s.threads) {
    let tids: string[];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) if (!saved.has(Number(tid))) setThreadAffinity(Number(tid), parseCpuList(cpus));
  }
  for (const [path, v] of s.irqs) writeQuietly(path, v);
  if (s.wqCpumask !== null) writeQuietly(WQ_CPUMASK, s.wqCpumask);
  writeQuietly(RT_RUNTIME, s.rtRuntime);
}

/** Undoes a shield left behind by a run that did not finish (no-op when there is none). */
export function undoStaleShield(): boolean {
  if (!fs.existsSync(STATE_FILE)) return false;
  undo(JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as ShieldState);
  fs.rmSync(STATE_FILE, { force: true });
  return true;
}

/**
 * Moves everything that can move off `cpu` onto `housekeeping`. Root only. Threads started later inherit their
 * parent's mask (so this process's new workers start on the housekeeping CPUs and pin themselves).
 */
export function shieldCpu(cpu: number, housekeeping: number[]): Shield {
  if (process.getuid?.() !== 0) throw new Error('--isolate needs root: it moves other threads and IRQs off the measured CPU');
  undoStaleShield();
  const state: ShieldState = { rtRuntime: fs.readFileSync(RT_RUNTIME, 'utf8').trim(), wqCpumask: null, irqs: [], threads: [] };
  try { state.wqCpumask = fs.readFileSync(WQ_CPUMASK, 'utf8').trim(); } catch { /* no such knob */ }
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let tids: string[];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      const cpus = allowedCpus(tid);
      if (cpus === null) continue;
      const list = parseCpuList(cpus);
      if (!list.includes(cpu) || list.length === 1) continue; // already off it, or bound to it (per-CPU kthread)
      state.threads.push([Number(tid), cpus]);
    }
  }
  for (const irq of fs.readdirSync('/proc/irq')) {
    const path = `/proc/irq/${irq}/smp_affinity_list`;
    try { state.irqs.push([path, fs.readFileSync(path, 'utf8').trim()]); } catch { /* not an IRQ directory */ }
  }
  fs.writeFileSync(STATE_FILE, JSON.stringify(state));

  const moved = state.threads.filter(([tid]) => setThreadAffinity(tid, housekeeping)).length; // PF_NO_SETAFFINITY ones refuse
  const irqs = state.irqs.filter(([path]) => writeQuietly(path, cpuList(housekeeping))).length;
  if (state.wqCpumask !== null) writeQuietly(WQ_CPUMASK, housekeeping.reduce((m, c) => m | (1 << c), 0).toString(16));
  if (!writeQuietly(RT_RUNTIME, '-1')) {
    undo(state);
    fs.rmSync(STATE_FILE, { force: true });
    throw new Error(`cannot write ${RT_RUNTIME}: RT throttling would stop the forwarder 50 ms every second`);
  }
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    undo(state);
    fs.rmSync(STATE_FILE, { force: true });
    process.off('exit', restore);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    restore();
    process.kill(process.pid, sig); // the default action, now that our handler is gone
  };
  process.on('exit', restore);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { threads: moved, irqs, restore };
}
