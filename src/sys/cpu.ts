/** CPU time, clock rate and affinity of the calling thread, for benchmarks and the dataplane loop. */
import * as fs from 'node:fs';
import { libc } from './libc.js';

// include/uapi/linux/time.h
const CLOCK_PROCESS_CPUTIME_ID = 2;
const CLOCK_THREAD_CPUTIME_ID = 3;
/** glibc's cpu_set_t: CPU_SETSIZE 1024 bits (sched_setaffinity(2)). */
const CPU_SET_BYTES = 128;

const ts = Buffer.alloc(16); // struct timespec { time_t tv_sec; long tv_nsec; } on x86_64

function clockNs(clk: number): number {
  if (libc().clock_gettime(clk, ts) !== 0) return NaN;
  return (ts.readUInt32LE(0) + ts.readUInt32LE(4) * 0x1_0000_0000) * 1e9 + ts.readUInt32LE(8);
}

/** CPU time consumed by the calling thread, in ns (no time passes while it sleeps). */
export const threadCpuNs = (): number => clockNs(CLOCK_THREAD_CPUTIME_ID);
/** CPU time consumed by all threads of the process, in ns. */
export const processCpuNs = (): number => clockNs(CLOCK_PROCESS_CPUTIME_ID);

/** Current clock of the first CPU from /proc/cpuinfo, else its cpufreq maximum, else 0. */
export function cpuMhz(): number {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m && Number(m[1]) > 0) return Number(m[1]);
  } catch { /* fall through */ }
  try {
    const khz = Number(fs.readFileSync('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq', 'utf8').trim());
    if (khz > 0) return khz / 1000;
  } catch { /* fall through */ }
  return 0;
}

/** Pins the calling thread (pid 0) to one CPU. False if the CPU does not exist or is not allowed. */
export function pinThisThread(cpu: number): boolean {
  return setThreadAffinity(0, [cpu]);
}

/**
 * Lets thread `tid` (0: the caller) run only on `cpus` (sched_setaffinity(2)). False if a CPU number is out of range,
 * the thread is gone, or it may not be moved (per-CPU kernel threads).
 */
export function setThreadAffinity(tid: number, cpus: readonly number[]): boolean {
  const mask = Buffer.alloc(CPU_SET_BYTES);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= CPU_SET_BYTES * 8) return false;
    mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  return libc().sched_setaffinity(tid, CPU_SET_BYTES, mask) === 0;
}

// include/uapi/linux/sched.h
const SCHED_FIFO = 1;

/**
 * Makes the calling thread real-time (SCHED_FIFO at `priority`, 1..99; root or CAP_SYS_NICE): ordinary processes
 * no longer preempt it. RT throttling (sched_rt_runtime_us, 950000 of every 1000000 µs by default) still takes the
 * CPU from it for the rest of each second while it spins, and the fair server lets starved ordinary tasks run.
 * False on failure.
 */
export function makeThisThreadRealtime(priority: number): boolean {
  const param = Buffer.alloc(4); // struct sched_param { int sched_priority; }
  param.writeInt32LE(priority, 0);
  return libc().sched_setscheduler(0, SCHED_FIFO, param) === 0;
}

// arch/x86/entry/syscalls/syscall_64.tbl: setpriority is 141; include/uapi/linux/resource.h: PRIO_PROCESS 0
const SYS_SETPRIORITY = 141;
const PRIO_PROCESS = 0;

/**
 * Sets the calling thread's nice value (-20..19; below 0 needs root). On Linux nice is per thread and
 * setpriority(PRIO_PROCESS, 0, n) applies to the caller only (setpriority(2), NOTES). False on failure.
 */
export function setThisThreadNice(nice: number): boolean {
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) return false;
  return libc().syscall6(SYS_SETPRIORITY, PRIO_PROCESS, 0, nice, 0, 0, 0) === 0;
}

/**
 * Gives the CPU to another runnable thread of this CPU, if there is one (sched_yield(2)); returns at once otherwise.
 * A busy-polling loop that shares its CPU with the kernel thread that feeds its queue (threaded NAPI of a veth, for
 * AF_XDP in copy mode) calls it when its polls come back empty, so that thread is not starved.
 */
export function yieldCpu(): void {
  sched().sched_yield();
}

let schedFns: { sched_yield(): number } | null = null;
function sched(): { sched_yield(): number } {
  return (schedFns ??= libc());
}
