/**
 * How much of its CPU the host takes from a spinning thread: one thread per CPU, pinned, spins on the clock and
 * records every gap between two consecutive reads longer than MIN_GAP_US. Nothing else runs in the loop, so a gap
 * is time the thread did not run: an interrupt, a guest preemption, or the hypervisor running something else on
 * that physical core (which a guest does not see as steal on every hypervisor).
 *
 * From the gaps follows a latency floor for any busy-polling forwarder on that CPU. A frame that arrives t µs into
 * a gap of D µs waits D − t µs; with frames arriving at a constant rate, the fraction that waits more than x µs is
 * Σ max(0, D − x) ÷ T (T the probed time in µs), whatever the rate. The floor percentile q is the x at which that
 * fraction is 1 − q (lab/stall-floor.ts). A forwarder that took no time at all would still see this latency.
 *
 *   node dist/bench/host-stalls.js [--seconds 5] [--isolate] [--out FILE] [--json]     → bench/results/host-stalls.json
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { makeThisThreadRealtime, pinThisThread } from '../src/sys/cpu.js';
import { MonotonicClock } from '../src/sys/monotonic-clock.js';
import { GapLog } from '../src/util/gap-log.js';
import { shieldCpu, undoStaleShield } from '../lab/cpu-shield.js';
import * as path from 'node:path';
import { RESULTS_DIR } from './paths.js';
import { type CpuStalls, summarise } from '../lab/stall-floor.js';
import { optionError, parseBenchArgs } from './options.js';

const MIN_GAP_US = 5;
export const MAX_GAPS = 1 << 19;

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
      '  --isolate: as fwd-sim --isolate, shields the last CPU (lab/cpu-shield.ts) and runs its thread SCHED_FIFO (root)\n');
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
