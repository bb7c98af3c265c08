/**
 * How much of its CPU the host takes from a spinning thread: one thread per CPU, pinned, spins on the clock and
 * records every gap between two consecutive reads longer than MIN_GAP_US. Nothing else runs in the loop, so a gap
 * is time the thread did not run: an interrupt, a guest preemption, or the hypervisor running something else on
 * that physical core (which a guest does not see as steal on every hypervisor).
 *
 * From the gaps follows a latency floor for any busy-polling forwarder on that CPU. A frame that arrives t µs into
 * a gap of D µs waits D − t µs; with frames arriving at a constant rate, the fraction that waits more than x µs is
 * Σ max(0, D − x) ÷ T (T the probed time in µs), whatever the rate. The floor percentile q is the x at which that
 * fraction is 1 − q. A forwarder that took no time at all would still see this latency.
 *
 *   node dist/bench/host-stalls.js [--seconds 5] [--isolate] [--out FILE] [--json]     → bench/results/host-stalls.json
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { makeThisThreadRealtime, pinThisThread } from '../src/sys/cpu.js';
import { MonotonicClock } from '../src/sys/monotonic-clock.js';
import { GapLog, type GapList } from '../src/util/gap-log.js';
import { shieldCpu, undoStaleShield } from './cpu-shield.js';
import * as path from 'node:path';
import { RESULTS_DIR } from './paths.js';
import { optionError, parseBenchArgs } from './options.js';

const MIN_GAP_US = 5;
export const MAX_GAPS = 1 << 19;
const BUCKETS_US = [5, 10, 20, 50, 100, 200, 500, 1000, 5000];

export interface CpuStalls {
  cpu: number;
  seconds: number;
  /** Gaps per second, per bucket: `${lo}-${hi}` µs (the last is open). */
  perSecondByUs: Record<string, number>;
  /** Share of the time lost in gaps ≥ MIN_GAP_US. */
  lostFraction: number;
  maxUs: number;
  /** What the guest kernel saw of it: times it took the CPU from the thread, and ms the thread waited runnable. */
  guestPreemptions: number;
  guestWaitMs: number;
  /** A ring's worth of arrivals (µs): a longer gap drops the frames after its first windowUs (null: no limit). */
  windowUs: number | null;
  /** Latency floor of a zero-cost poller on this CPU (µs), frames arriving all the time: p99, p99.9, p99.99. */
  floorP99Us: number;
  floorP999Us: number;
  floorP9999Us: number;
  /**
   * The same with the frames made by a generator on `generatorCpu`, which makes none while its own CPU is taken
   * (as the simulated NIC's tester): only the parts of this CPU's gaps during which the other CPU ran count.
   */
  generatorCpu?: number;
  jointFloorP99Us?: number;
  jointFloorP999Us?: number;
  jointFloorP9999Us?: number;
}

interface ProbeConfig { kind: 'host-stalls'; cpu: number; seconds: number; gaps: SharedArrayBuffer; start: SharedArrayBuffer; realtime: boolean }

function probe(cfg: ProbeConfig): void {
  pinThisThread(cfg.cpu);
  if (cfg.realtime && !makeThisThreadRealtime(50)) throw new Error('SCHED_FIFO refused (root only)');
  const log = new GapLog(cfg.gaps, MIN_GAP_US);
  const start = new Int32Array(cfg.start);
  Atomics.add(start, 0, 1);
  while (Atomics.load(start, 0) < start[1]) { /* all probes spin together, as the forwarder and the model do */ }
  const sched0 = guestSched();
  const clock = new MonotonicClock(); // performance.now() allocates on Node 20: its scavenges would be gaps too
  const t = new Float64Array(2); // [now, previous pass]
  clock.readAbsolute(t);
  t[1] = t[0];
  const end = t[0] + cfg.seconds * 1000;
  for (;;) {
    clock.readAbsolute(t);
    if (t[0] > end) break;
    log.sample(t);
  }
  const sched1 = guestSched();
  parentPort!.postMessage({ preemptions: sched1.preemptions - sched0.preemptions, waitMs: (sched1.waitNs - sched0.waitNs) / 1e6 });
}

/** This thread's involuntary context switches and run-queue wait (/proc/thread-self/status, schedstat). */
function guestSched(): { preemptions: number; waitNs: number } {
  const status = fs.readFileSync('/proc/thread-self/status', 'utf8');
  return {
    preemptions: Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(status)?.[1] ?? NaN),
    waitNs: Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]),
  };
}

/** Length (µs) of [a, b] (ms) during which the generator was not in one of its gaps. */
function runningUs(gen: GapList, a: number, b: number): number {
  if (b <= a) return 0;
  let len = (b - a) * 1000;
  let lo = 0;
  let hi = gen.n;
  while (lo < hi) { // first gap that ends after a
    const mid = (lo + hi) >> 1;
    if (gen.endMs[mid] <= a) lo = mid + 1; else hi = mid;
  }
  for (let i = lo; i < gen.n; i++) {
    const s = gen.endMs[i] - gen.durUs[i] / 1000;
    if (s >= b) break;
    len -= (Math.min(b, gen.endMs[i]) - Math.max(a, s)) * 1000;
  }
  return Math.max(0, len);
}

/**
 * x such that the frames waiting more than x µs make up `share` of all: a frame that arrives t µs into a gap of
 * D µs waits D − t. With `gen`, frames arrive only while the generator's CPU runs. Only the first `windowUs` of a
 * gap's arrivals (a ring's worth at the offered rate) are kept to wait; the ring is full for the rest.
 */
function floorUs(g: GapList, totalUs: number, share: number, gen: GapList | null, windowUs: number): number {
  let genLostUs = 0;
  if (gen) for (let i = 0; i < gen.n; i++) genLostUs += gen.durUs[i];
  const excess = (x: number): number => {
    let s = 0;
    for (let i = 0; i < g.n; i++) {
      // arrivals in [start, end − x] wait longer than x; of those, only the first windowUs fit in the ring (later
      // ones are dropped, not late)
      const late = Math.min(g.durUs[i] - x, windowUs);
      if (late <= 0) continue;
      if (!gen) { s += late; continue; }
      const startMs = g.endMs[i] - g.durUs[i] / 1000;
      s += runningUs(gen, startMs, startMs + late / 1000);
    }
    return s;
  };
  const budget = share * (totalUs - genLostUs);
  if (excess(0) <= budget) return 0;
  let lo = 0;
  let hi = 1;
  while (excess(hi) > budget) hi *= 2;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (excess(mid) > budget) lo = mid; else hi = mid;
  }
  return hi;
}

export function summarise(
  cpu: number, seconds: number, g: GapList, guest: { preemptions: number; waitMs: number }, gen?: { cpu: number; gaps: GapList }, windowUs = Infinity,
): CpuStalls {
  const perSecondByUs: Record<string, number> = {};
  for (let b = 0; b < BUCKETS_US.length; b++) {
    const lo = BUCKETS_US[b];
    const hi = BUCKETS_US[b + 1];
    let c = 0;
    for (let i = 0; i < g.n; i++) if (g.durUs[i] >= lo && (hi === undefined || g.durUs[i] < hi)) c++;
    perSecondByUs[hi === undefined ? `${lo}+` : `${lo}-${hi}`] = Math.round((c / seconds) * 10) / 10;
  }
  let lost = 0;
  let max = 0;
  for (let i = 0; i < g.n; i++) {
    lost += g.durUs[i];
    if (g.durUs[i] > max) max = g.durUs[i];
  }
  const totalUs = seconds * 1e6;
  const out: CpuStalls = {
    cpu, seconds, perSecondByUs, lostFraction: lost / totalUs, maxUs: max, guestPreemptions: guest.preemptions, guestWaitMs: guest.waitMs,
    floorP99Us: floorUs(g, totalUs, 0.01, null, windowUs), floorP999Us: floorUs(g, totalUs, 0.001, null, windowUs),
    floorP9999Us: floorUs(g, totalUs, 0.0001, null, windowUs), windowUs: Number.isFinite(windowUs) ? windowUs : null,
  };
  if (gen) {
    out.generatorCpu = gen.cpu;
    out.jointFloorP99Us = floorUs(g, totalUs, 0.01, gen.gaps, windowUs);
    out.jointFloorP999Us = floorUs(g, totalUs, 0.001, gen.gaps, windowUs);
    out.jointFloorP9999Us = floorUs(g, totalUs, 0.0001, gen.gaps, windowUs);
  }
  return out;
}

/**
 * Spins one pinned thread on each of `cpus` at the same time for `seconds`; the gaps each saw, summarised. With two
 * CPUs, each one's joint floor takes the other as the generator's.
 */
export async function probeHostStalls(cpus: number[], seconds: number, realtimeCpu = -1, windowUs = Infinity): Promise<CpuStalls[]> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  start[1] = cpus.length;
  const runs = cpus.map((cpu) => {
    const gaps = GapLog.create(MAX_GAPS).buffer;
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { kind: 'host-stalls', cpu, seconds, gaps, start: start.buffer, realtime: cpu === realtimeCpu } satisfies ProbeConfig });
    let guest = { preemptions: NaN, waitMs: NaN };
    const done = new Promise<void>((resolve, reject) => {
      w.once('message', (m: typeof guest) => { guest = m; resolve(); });
      w.once('error', reject);
    }).finally(() => w.terminate());
    return { cpu, gaps, done, guest: () => guest };
  });
  await Promise.all(runs.map((r) => r.done));
  const lists = runs.map((r) => new GapLog(r.gaps).read());
  return runs.map((r, i) => {
    const other = cpus.length === 2 ? { cpu: cpus[1 - i], gaps: lists[1 - i] } : undefined;
    return summarise(r.cpu, seconds, lists[i], r.guest(), other, windowUs);
  });
}

export function describe(s: CpuStalls): string {
  const f = (x: number): string => x.toFixed(x < 10 ? 1 : 0);
  const buckets = Object.entries(s.perSecondByUs).filter(([, v]) => v > 0).map(([k, v]) => `${k} µs ${f(v)}/s`).join(', ');
  return `CPU ${s.cpu}: lost ${(s.lostFraction * 100).toFixed(2)} % in gaps ≥ ${MIN_GAP_US} µs (${buckets}; max ${f(s.maxUs)} µs); the guest kernel preempted it ${s.guestPreemptions} times (${f(s.guestWaitMs)} ms); ` +
    `floor of a zero-cost poller p99 ${f(s.floorP99Us)}, p99.9 ${f(s.floorP999Us)}, p99.99 ${f(s.floorP9999Us)} µs` +
    (s.generatorCpu === undefined ? '' : `; with the generator on CPU ${s.generatorCpu}: p99 ${f(s.jointFloorP99Us!)}, ` +
      `p99.9 ${f(s.jointFloorP999Us!)}, p99.99 ${f(s.jointFloorP9999Us!)} µs`);
}

async function main(): Promise<void> {
  const { values } = parseBenchArgs({
    options: { seconds: { type: 'string' }, json: { type: 'boolean' }, isolate: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/host-stalls.js [--seconds S] [--isolate] [--out FILE] [--json]\n' +
      '  spins one pinned thread per CPU for S seconds (default 5), records the gaps, writes bench/results/host-stalls.json (or FILE)\n' +
      '  --isolate: as fwd-sim --isolate, shields the last CPU (bench/cpu-shield.ts) and runs its thread SCHED_FIFO (root)\n');
    return;
  }
  if (process.getuid?.() === 0 && undoStaleShield()) console.error('# host-stalls: undid the CPU shield an earlier --isolate run left behind');
  const seconds = Number(values.seconds ?? 5);
  if (!(seconds > 0)) optionError(`--seconds ${values.seconds} is invalid: use a number of seconds > 0`);
  const cpus = os.cpus().map((_, i) => i);
  const shielded = values.isolate === true ? cpus[cpus.length - 1] : -1;
  const shield = shielded >= 0 ? shieldCpu(shielded, cpus.filter((c) => c !== shielded)) : null;
  let stalls: CpuStalls[];
  try {
    stalls = await probeHostStalls(cpus, seconds, shielded);
  } finally {
    shield?.restore();
  }
  for (const s of stalls) console.log(describe(s));
  const out = { benchmark: 'host-stalls', date: new Date().toISOString(), cpuModel: os.cpus()[0]?.model, minGapUs: MIN_GAP_US, isolated: shielded >= 0 ? shielded : null, stalls };
  const file = values.out ?? path.join(RESULTS_DIR, 'host-stalls.json');
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  if (values.json) console.log(JSON.stringify(out));
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`host-stalls: ${(e as Error).message}`);
    process.exit(1);
  });
} else if (!isMainThread && (workerData as { kind?: string } | null)?.kind === 'host-stalls') {
  probe(workerData as ProbeConfig);
}
