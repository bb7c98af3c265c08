/**
 * Benchmark of the forwarder on the simulated 82599 (issue "ixy.ts core"):
 *
 *   tester(0) --line rate--> sim:0 --> fwd (worker thread, CPU 1) --> sim:1 --> tester(1) (sink)
 *                              \__________ NIC model thread (CPU 0) __________/
 *
 * For each batch size it reports the forwarded rate, and the forwarding thread's CPU cycles per packet: its CPU
 * time (CLOCK_THREAD_CPUTIME_ID) over the measured interval × the clock from /proc/cpuinfo ÷ packets forwarded.
 * Because the forwarder spins when its RX ring is empty, that total includes idle polls; the "busy" figure
 * subtracts the measured cost of an empty poll times the number of empty polls. GC in the forwarding thread is
 * counted with v8.GCProfiler inside it. See bench/README.md.
 *
 *   node dist/bench/fwd-sim.js                     sweep of batch sizes 1..256 → bench/results/fwd-sim.{json,svg}
 *   node dist/bench/fwd-sim.js --batch 32 --json   one batch size, JSON on the last line
 *   node dist/bench/fwd-sim.js --latency           1 Mpps latency test → bench/results/fwd-sim-latency.{json,svg}
 *   node dist/bench/fwd-sim.js --trace-gc-run      re-runs itself under --trace-gc (batch 32, 30 s) and counts
 *                                                  the forwarding thread's collections → fwd-sim-trace-gc.{json,log}
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SimNic } from '../src/driver/sim/sim-nic.js';
import { cpuMhz } from '../src/sys/cpu.js';
import {
  C_NONEMPTY, C_NS_PER_STEP, CAL_BASE, CAL_POST_PARKED, CAL_POST_SPIN, CAL_PRE_PARKED, CAL_PRE_SPIN, CAL_WORDS, CMD_CALIBRATE, CMD_RUN, CMD_STOP, CTL_WORDS,
  type FwdWorkerConfig, type FwdWorkerMessage, type PingPongConfig, G_COUNT, G_FORCED, G_PAUSE_MS, MARK_DRAINED, MARK_END, MARK_START, S_DRAINED, S_END, S_START,
  STATS_F64, W_CMD, W_CMD_ACK, W_CMD_ARG, W_CMD_SEQ, W_REQ, W_REQ_ACK, W_REQ_KIND, X_CPU_NS, X_DROPPED, X_EMPTY,
  X_FORWARDED, X_HEAP_USED, X_STEPS, X_WALL_MS, X_SB_MS, X_SB_PACKETS, X_SB_STEPS, X_SE_MS, X_SE_STEPS, CLOCK_READ_NS,
} from './fwd-sim-worker.js';
import { barChart, lineChart } from './svg.js';
import { shieldCpu, undoStaleShield } from '../lab/cpu-shield.js';
import { describe as describeStalls, MAX_GAPS, probeHostStalls } from './host-stalls.js';
import { type CpuStalls, summarise } from '../lab/stall-floor.js';
import { GapLog } from '../src/util/gap-log.js';
import { MonotonicClock } from '../src/sys/monotonic-clock.js';
import { RESULTS_DIR } from './paths.js';
import { benchOptions, parseBenchArgs } from './options.js';

const LINE_RATE_MPPS = 14.88; // 10 GbE, 64-byte frames
const BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const RESULTS = `${RESULTS_DIR}/`;
const USER_HZ = 100; // /proc tick rate (sysconf(_SC_CLK_TCK) on Linux)

/** ixy's published figures (Emmerich et al., "The Case for Writing Network Drivers in High-Level Programming Languages", ANCS 2019; github.com/ixy-languages). */
const PUBLISHED = {
  source: 'ixy-languages (Emmerich et al., ANCS 2019): single core of a Xeon E3-1230 v2 at 3.3 GHz, Intel 82599, batch 32 unless stated',
  mppsAt3300: { C: 27.4, Rust: 27.6, Go: 20.6, 'C#': 23.0, Java: 12.3, OCaml: 10.9, Haskell: 9.6, Swift: 4.8, JavaScript: 4.95, Python: 0.14 },
  javascriptByBatch: [[1, 2.11], [8, 4.22], [32, 4.95], [256, 4.86]] as Array<[number, number]>,
  cCyclesPerPacketB32: 94,
  latencyAt1MppsUs: {
    C: { p50: 3.8, p99: 4.0, p9999: 5.7, max: 23 },
    Go: { p50: 3.9, p99: 4.2, p9999: 6.5, max: 30 },
    JavaScript: { p50: 5, p99: 116, p9999: 262, max: 359 },
  },
};

const TARGETS = { cyclesPerPacketB32: 150, gcCount30s: 0, p999UsAt1Mpps: 20 };

// ---------------------------------------------------------------------------------------------------------------
// options

interface Options {
  batch: number | null;
  seconds: number;
  warmup: number;
  rate: number;
  ringSize: number;
  poolSize: number;
  pin: boolean;
  json: boolean;
  latency: boolean;
  traceGcRun: boolean;
  out: string | null;
  calibrateSteps: number;
  /** Before each run, wait up to this many seconds for other processes to go quiet (0: don't wait). */
  quietWait: number;
  /** Re-run a measurement disturbed by other processes (> maxOther % of a CPU) up to this many times. */
  retries: number;
  maxOther: number;
  /** Runs per batch size; the one with the median busy cycles/packet is reported, all are listed. */
  repeat: number;
  /** Diagnostic: sampling heap profiler in the forwarding thread over the measured interval. */
  allocProfile: boolean;
  /** Run the model and forwarding threads SCHED_FIFO (root): other processes no longer preempt them. */
  realtime: boolean;
  /** Measure only while the host keeps our two vCPUs on one L3 (or on two): see waitPlacement. */
  placement: 'any' | 'shared-L3' | 'split-L3';
  placementWait: number;
  /** Shield the forwarder's CPU (lab/cpu-shield.ts) and run the forwarder SCHED_FIFO, the model at nice -1 (root). */
  isolate: boolean;
  /** Redraw the SVGs from the JSON files in bench/results without running anything. */
  replot: boolean;
}

const HELP = `usage: node dist/bench/fwd-sim.js [options]   (or: npm run bench:fwd-sim -- [options])

  (no --batch)       sweep batch sizes ${BATCHES.join(', ')}; writes bench/results/fwd-sim.json and .svg
  --batch <n>        run only this batch size (prints JSON last with --json; writes a file only with --out)
  --seconds <s>      measured seconds per run (default 5; 10 with --latency; 30 with --trace-gc-run)
  --warmup <s>       seconds of traffic before measuring, not counted (default 1.5, at least 1)
  --rate <mpps>      offered load (default 14.88 = line rate; 1 with --latency)
  --ring-size <n>    descriptors per ring (default 512)
  --pool-size <n>    mempool buffers (default 8192)
  --no-pin           do not pin the NIC model to CPU 0 and the forwarder to CPU 1
  --latency          latency test at 1 Mpps, batch 32 (default); writes bench/results/fwd-sim-latency.{json,svg}
                     (with --isolate: fwd-sim-latency-isolate.{json,svg}); reports the gaps of the forwarding loop and
                     the latency a forwarder that took no time would have had with them (see bench/host-stalls.ts)
  --trace-gc-run     run "node --trace-gc dist/bench/fwd-sim.js --batch 32 --seconds 30 --json" and count the
                     forwarding thread's --trace-gc lines in the measured window; writes fwd-sim-trace-gc.{json,log}
  --quiet-wait <s>   before each run wait up to s seconds until other processes use < 10 % of a CPU (default 90; 0 = off)
  --retries <n>      re-run a measurement during which other processes used > --max-other % of a CPU (default 3)
  --max-other <pct>  interference threshold, % of one CPU (default 15)
  --repeat <n>       runs per batch size; reports the median (by busy cycles/packet) and lists all (default 1)
  --realtime         run the model and forwarding threads SCHED_FIFO (root): other processes cannot preempt them, but
                     RT throttling still stops them for 50 ms of every second (sched_rt_runtime_us)
  --placement <p>    any (default), shared-L3 or split-L3: before each run wait (up to --placement-wait s, default
                     600) until the host has our two vCPUs on one last-level cache (or on two), and re-run a run
                     during which that changed; the split case is the simulator's version of a NIC on a remote NUMA node
  --isolate          latency on an isolated core, made at run time and undone afterwards (root): every other thread,
                     IRQ and unbound workqueue moves to CPU 0, RT throttling is off; the forwarder runs SCHED_FIFO
                     on CPU 1, the NIC model on CPU 0 with everything else (see lab/cpu-shield.ts)
  --alloc-profile    diagnostic: sample the forwarding thread's allocations over the measured interval and list the sites
  --replot           only redraw fwd-sim.svg / fwd-sim-latency.svg from the JSON files in bench/results
  --out <file>       also write the single-batch / latency result to this JSON file
  --json             print the result as one JSON object on the last line
`;

function parsePlacement(v: string | undefined): Options['placement'] {
  if (v === undefined || v === 'any' || v === 'shared-L3' || v === 'split-L3') return v ?? 'any';
  throw new Error(`--placement ${v} is invalid: any, shared-L3 or split-L3`);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseBenchArgs({
    args: argv,
    options: {
      batch: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, rate: { type: 'string' },
      'ring-size': { type: 'string' }, 'pool-size': { type: 'string' }, 'no-pin': { type: 'boolean' },
      json: { type: 'boolean' }, latency: { type: 'boolean' }, 'trace-gc-run': { type: 'boolean' }, out: { type: 'string' },
      'calibrate-steps': { type: 'string' }, 'quiet-wait': { type: 'string' }, retries: { type: 'string' }, 'max-other': { type: 'string' }, repeat: { type: 'string' }, 'alloc-profile': { type: 'boolean' }, realtime: { type: 'boolean' }, isolate: { type: 'boolean' }, placement: { type: 'string' }, 'placement-wait': { type: 'string' }, replot: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(HELP); process.exit(0); }
  const num = (name: string, v: string | undefined, dflt: number, ok: (n: number) => boolean): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n)) throw new Error(`--${name} ${v} is invalid`);
    return n;
  };
  const latency = values.latency === true;
  const traceGcRun = values['trace-gc-run'] === true;
  const o: Options = {
    batch: values.batch === undefined ? (latency || traceGcRun ? 32 : null) : num('batch', values.batch, 32, (n) => Number.isInteger(n) && n >= 1 && n <= 4096),
    seconds: num('seconds', values.seconds, latency ? 10 : traceGcRun ? 30 : 5, (n) => n > 0),
    warmup: num('warmup', values.warmup, 1.5, (n) => n >= 1),
    rate: num('rate', values.rate, latency ? 1 : LINE_RATE_MPPS, (n) => n > 0),
    ringSize: num('ring-size', values['ring-size'], 512, (n) => Number.isInteger(n) && n >= 64 && (n & (n - 1)) === 0),
    poolSize: num('pool-size', values['pool-size'], 8192, (n) => Number.isInteger(n) && n >= 1024),
    pin: values['no-pin'] !== true,
    json: values.json === true,
    latency,
    traceGcRun,
    out: values.out ?? null,
    calibrateSteps: num('calibrate-steps', values['calibrate-steps'], 5_000_000, (n) => Number.isInteger(n) && n >= 10_000),
    quietWait: num('quiet-wait', values['quiet-wait'], 90, (n) => n >= 0),
    retries: num('retries', values.retries, 3, (n) => Number.isInteger(n) && n >= 0),
    maxOther: num('max-other', values['max-other'], 15, (n) => n > 0),
    repeat: num('repeat', values.repeat, 1, (n) => Number.isInteger(n) && n >= 1),
    allocProfile: values['alloc-profile'] === true,
    realtime: values.realtime === true,
    isolate: values.isolate === true,
    placement: parsePlacement(values.placement),
    placementWait: num('placement-wait', values['placement-wait'], 600, (n) => n >= 0),
    replot: values.replot === true,
  };
  if (o.isolate && !o.pin) throw new Error('--isolate needs the threads pinned (drop --no-pin)');
  if (o.placement !== 'any' && !o.pin) throw new Error('--placement needs the threads pinned (drop --no-pin)');
  if (o.isolate && o.realtime) throw new Error('--isolate already runs the forwarder SCHED_FIFO; drop --realtime');
  if (o.batch !== null && o.batch > o.ringSize) throw new Error(`--batch ${o.batch} exceeds the ring size ${o.ringSize}`);
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// /proc sampling: CPU of the model thread, of this process, of everything else (interference)

interface ProcSample {
  wallMs: number;
  /** /proc/stat "cpu" line, jiffies. */
  busy: number;
  steal: number;
  /** This process, jiffies. */
  self: number;
  /** Threads of this process pinned to one CPU: "0" → model thread, "1" → forwarder (when pinned): CPU ticks. */
  threads: Map<string, number>;
  /** Same threads: involuntary context switches (times the kernel took the CPU away from them). */
  preempted: Map<string, number>;
  /** Same threads: ns spent runnable but waiting for the CPU (/proc/.../schedstat). */
  waiting: Map<string, number>;
  /** Other processes: pid → [jiffies, command]. */
  others: Map<number, [number, string]>;
}

function statTicks(text: string): number {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

/**
 * With --isolate every thread of this process shares CPU 0 with the model thread; the model is then the one at
 * nice -1 (MODEL_NICE), and the others are not counted as it. Only slightly favoured on purpose: at nice -20 it
 * starved V8's helper threads (scavenges and recompilation of the forwarder took 100–300 ms) and kernel work on CPU 0,
 * and the tail got worse (p99 17–25 µs against 5–6 µs at nice -1).
 */
const MODEL_NICE = -1;
let modelByNice = false;

function threadKey(aff: string, stat: string): string | null {
  if (!modelByNice) return /^\d+$/.test(aff) ? aff : null;
  if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === MODEL_NICE) return '0'; // field 19: nice
  return aff === '1' ? '1' : null;
}

function sampleProc(): ProcSample {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  const threads = new Map<string, number>();
  const preempted = new Map<string, number>();
  const waiting = new Map<string, number>();
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      const status = fs.readFileSync(`/proc/self/task/${t}/status`, 'utf8');
      const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const aff = threadKey(/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '', stat);
      if (aff !== null) {
        threads.set(aff, (threads.get(aff) ?? 0) + statTicks(stat));
        preempted.set(aff, (preempted.get(aff) ?? 0) + Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(status)?.[1] ?? NaN));
        // schedstat: ns on the CPU, ns waiting on a run queue (runnable but not running), timeslices
        const waitNs = Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[1]);
        waiting.set(aff, (waiting.get(aff) ?? 0) + waitNs);
      }
    } catch { /* thread exited */ }
  }
  const others = new Map<number, [number, string]>();
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      others.set(Number(p), [statTicks(st), cmd || st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))]);
    } catch { /* exited */ }
  }
  return {
    wallMs: performance.now(), busy: user + nice + system + irq + softirq, steal, preempted, waiting,
    self: statTicks(fs.readFileSync('/proc/self/stat', 'utf8')), threads, others,
  };
}

export interface Conditions {
  loadavg1: number;
  /** CPU used by other processes during the measured interval, in % of one CPU (100 = a whole core). */
  otherCpuPct: number;
  /** Hypervisor steal time during the interval, % of one CPU. */
  stealPct: number;
  /** Other processes that used more than 5 % of a CPU during the interval. */
  busyOthers: Array<{ pid: number; cpuPct: number; cmd: string }>;
}

function conditionsBetween(a: ProcSample, b: ProcSample): { cond: Conditions; modelCpuFraction: number; fwdCpuFraction: number; fwdPreemptions: number; modelPreemptions: number; fwdWaitMs: number; modelWaitMs: number } {
  const sec = (b.wallMs - a.wallMs) / 1000;
  const pct = (ticks: number): number => (100 * ticks) / USER_HZ / sec;
  const busyOthers: Conditions['busyOthers'] = [];
  for (const [pid, [t1, cmd]] of b.others) {
    const t0 = a.others.get(pid)?.[0] ?? 0;
    const p = pct(t1 - t0);
    if (p > 5) busyOthers.push({ pid, cpuPct: Math.round(p), cmd: cmd.slice(0, 120) });
  }
  return {
    cond: {
      loadavg1: os.loadavg()[0],
      otherCpuPct: Math.max(0, pct(b.busy - a.busy - (b.self - a.self))),
      stealPct: pct(b.steal - a.steal),
      busyOthers,
    },
    modelCpuFraction: pct((b.threads.get('0') ?? NaN) - (a.threads.get('0') ?? NaN)) / 100,
    fwdCpuFraction: pct((b.threads.get('1') ?? NaN) - (a.threads.get('1') ?? NaN)) / 100,
    fwdPreemptions: (b.preempted.get('1') ?? NaN) - (a.preempted.get('1') ?? NaN),
    modelPreemptions: (b.preempted.get('0') ?? NaN) - (a.preempted.get('0') ?? NaN),
    fwdWaitMs: ((b.waiting.get('1') ?? NaN) - (a.waiting.get('1') ?? NaN)) / 1e6,
    modelWaitMs: ((b.waiting.get('0') ?? NaN) - (a.waiting.get('0') ?? NaN)) / 1e6,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// one run: a fresh simulated NIC and forwarding thread for one batch size

export interface RunResult {
  batch: number;
  /** Measured interval (s). */
  seconds: number;
  offeredMpps: number;
  /** What the tester of port 0 put on the wire in the measured stream (Mpps): < offered when the model thread is the limit. */
  generatedMpps: number;
  /** Measured stream's unique frames at the sink (tester 1) ÷ seconds. */
  mpps: number;
  /** Forwarder's own count over its snapshot interval (Mpps), for cross-checking. */
  mppsForwarder: number;
  packetsForwarded: number;
  cpuMhz: number;
  /** Forwarding thread CPU time × MHz ÷ packets forwarded: includes idle polling. */
  cyclesPerPacket: number;
  /** Same, with (empty polls × cost of an empty poll) taken out: the driver's cost per packet while it has work. */
  cyclesPerPacketBusy: number;
  /**
   * Measured, not derived: one step in every block is timed (CLOCK_MONOTONIC, less the cost of a clock read); the
   * time of the timed steps that forwarded packets ÷ those packets × clock. Wall time, so a sample that was
   * interrupted (> 50 µs) is dropped.
   */
  cyclesPerPacketSampled: number;
  /** What an empty poll cost during the traffic (sampled the same way), against the idle calibration (emptyPollNs). */
  emptyPollNsInTraffic: number;
  /** Samples behind the two figures above. */
  sampledBusySteps: number;
  sampledEmptySteps: number;
  /** The empty-poll calibration would explain all the CPU time: cyclesPerPacketBusy is then NaN (run not usable for it). */
  calibrationSuspect: boolean;
  nsPerPacket: number;
  nsPerPacketBusy: number;
  /** 3300 ÷ cycles per packet: the rate one 3.3 GHz core of the same cycle cost would reach (ixy's axis). */
  mppsAt3300Busy: number;
  mppsAt3300Total: number;
  steps: number;
  emptyPolls: number;
  /** CPU ns of one empty step (both ports polled, nothing received) used for the busy figure (emptyPollCal.postSpin). */
  emptyPollNs: number;
  /** Empty-step cost before traffic / after the run, with the NIC model thread parked / spinning. */
  emptyPollCal: { preParked: number; preSpin: number; postParked: number; postSpin: number };
  /** Share of the forwarder's CPU time spent in empty polls. */
  idleFraction: number;
  /** Packets per step that received something: the batch actually achieved (≤ batch; small when it polls faster than frames arrive). */
  packetsPerBusyStep: number;
  /** Frames of the measured stream the NIC dropped for want of an RX descriptor (forwarder behind). */
  missedByNic: number;
  missedFraction: number;
  /** Frames the forwarder dropped at a full TX ring during the interval. */
  droppedByForwarder: number;
  /** After the generator stopped and the rings drained: sent − received, and how much of it is unexplained. */
  lost: number;
  unexplainedLoss: number;
  reordered: number;
  duplicated: number;
  /** Collections in the forwarding thread during the interval (v8.GCProfiler in that thread). */
  gcCount: number;
  gcPauseMs: number;
  gcTypes: string[];
  /** Growth of the forwarding thread's used heap over the interval (bytes): ~0 when it allocates nothing. */
  heapDeltaBytes: number;
  /** With --repeat: the key figures of every run of this batch size (this result is the median one). */
  repeats?: RepeatSummary[];
  /** With --alloc-profile: sampled allocation sites of the forwarding thread during the interval. */
  allocSites?: Array<{ bytes: number; stack: string }>;
  /** CPU share of the NIC model thread over the interval (1 = a whole core), and its ns per forwarded frame. */
  modelCpuFraction: number;
  modelNsPerPacket: number;
  fwdCpuFraction: number;
  /** Involuntary context switches of the forwarding / model thread during the interval: each is a stall of the busy loop. */
  fwdPreemptions: number;
  modelPreemptions: number;
  /** Time the forwarding / model thread was runnable but kept off its CPU during the interval (ms, schedstat). */
  fwdWaitMs: number;
  modelWaitMs: number;
  bound: 'sim' | 'forwarder';
  boundReason: string;
  latency: { p50Us: number; p99Us: number; p999Us: number; p9999Us: number; maxUs: number; meanUs: number; count: number };
  conditions: Conditions;
  pinned: boolean;
  /** Which attempt this is (re-runs after interference), and how long it waited for a quiet machine first. */
  attempt: number;
  quietWaitSeconds: number;
  /** Round trip of a cache line between CPU 0 and CPU 1 just before the run (ns): how far apart the host put the vCPUs. */
  crossCoreRttNs: number;
  /** The same probe right after the run: the host may move vCPUs while we measure. */
  crossCoreRttNsAfter: number;
  placement: Placement;
  /** Seconds waited for the placement --placement asked for (0 with any). */
  placementWaitSeconds: number;
  leakedBuffers: number;
  /** Paced generator: times the model thread was held up > 10 µs in the interval, and frames not sent for it. */
  generatorStalls: number;
  generatorSkipped: number;
  /** Latency runs: gaps in the forwarding loop over the interval, and the latency floor they alone imply. */
  forwarderGaps: CpuStalls | null;
  fault: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FwdThread {
  readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  readonly f = new Float64Array(new SharedArrayBuffer(STATS_F64 * 8));
  /** Latency runs: the loop's gaps over the measured interval (see FwdWorkerConfig.gaps). */
  readonly gaps: SharedArrayBuffer | null;
  readonly worker: Worker;
  failure: Error | null = null;
  ready: Extract<FwdWorkerMessage, { type: 'ready' }> | null = null;
  done: Extract<FwdWorkerMessage, { type: 'done' }> | null = null;
  gcTypes: string[] = [];
  alloc: Extract<FwdWorkerMessage, { type: 'alloc' }> | null = null;

  constructor(nic: SimNic, batch: number, o: Options) {
    this.gaps = o.latency ? GapLog.create(MAX_GAPS).buffer : null;
    const cfg: FwdWorkerConfig = {
      kind: 'fwd-sim', sim: nic.handles, batch, ringSize: o.ringSize, poolSize: o.poolSize, cpu: o.pin ? 1 : -1,
      calibrateSteps: o.calibrateSteps, allocProfile: o.allocProfile, realtime: o.realtime || o.isolate, ctl: this.ctl.buffer as SharedArrayBuffer, stats: this.f.buffer as SharedArrayBuffer,
      gaps: this.gaps,
    };
    this.worker = new Worker(new URL('./fwd-sim-worker.js', import.meta.url), { workerData: cfg });
    this.worker.on('message', (m: FwdWorkerMessage) => {
      if (m.type === 'ready') this.ready = m;
      else if (m.type === 'done') this.done = m;
      else if (m.type === 'gc') this.gcTypes = m.statistics.map((s) => s.gcType);
      else if (m.type === 'alloc') this.alloc = m;
      else this.failure = new Error(`forwarding thread: ${m.message}\n${m.stack ?? ''}`);
    });
    this.worker.on('error', (e) => { this.failure = e; });
    this.worker.on('exit', () => { if (!this.done && !this.failure) this.failure = new Error('forwarding thread exited'); });
  }

  async until(cond: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (this.failure) throw this.failure;
      if (Date.now() > deadline) throw new Error(`timed out waiting for the forwarding thread: ${what}`);
      await sleep(1);
    }
  }

  async command(cmd: number, arg = 0, waitDone = true): Promise<void> {
    Atomics.store(this.ctl, W_CMD, cmd);
    Atomics.store(this.ctl, W_CMD_ARG, arg);
    const seq = Atomics.add(this.ctl, W_CMD_SEQ, 1) + 1;
    Atomics.notify(this.ctl, W_CMD_SEQ);
    if (waitDone) await this.until(() => Atomics.load(this.ctl, W_CMD_ACK) === seq, `command ${cmd}`);
  }

  async mark(kind: number): Promise<void> {
    Atomics.store(this.ctl, W_REQ_KIND, kind);
    const req = Atomics.add(this.ctl, W_REQ, 1) + 1;
    await this.until(() => Atomics.load(this.ctl, W_REQ_ACK) === req, `mark ${kind}`);
  }
}

/** Median round trip (ns) of a cache line between CPU 0 and CPU 1 (see PingPongConfig); NaN when not pinned. */
async function crossCoreRttNs(pin: boolean): Promise<number> {
  if (!pin || os.cpus().length < 2) return NaN;
  const sab = new SharedArrayBuffer(64);
  const url = new URL('./fwd-sim-worker.js', import.meta.url);
  const mk = (cpu: number, role: 0 | 1): Worker =>
    new Worker(url, { workerData: { kind: 'pingpong', cpu, role, sab, rounds: 50_000, trials: 5 } satisfies PingPongConfig });
  const a = mk(0, 0);
  const b = mk(1, 1);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('cross-core probe timed out')), 20000);
      a.once('message', (m: { ns: number }) => { clearTimeout(timer); resolve(m.ns); });
      a.once('error', reject);
      b.once('error', reject);
    });
  } catch {
    return NaN;
  } finally {
    await a.terminate();
    await b.terminate();
  }
}

/**
 * Where the host put our two vCPUs, judged by the cache-line round trip before and after a run: on this VM it is
 * bimodal (150–190 ns when they share a last-level cache, 375–400 ns when they don't), and every cross-core cache
 * line the simulated NIC makes the forwarder fetch costs twice as much in the second case.
 */
type Placement = 'shared-L3' | 'split-L3' | 'moved' | 'unknown';
const SHARED_L3_MAX_RTT_NS = 260;

function placementOf(before: number, after: number): Placement {
  if (!Number.isFinite(before) || !Number.isFinite(after)) return 'unknown';
  const a = before < SHARED_L3_MAX_RTT_NS;
  const b = after < SHARED_L3_MAX_RTT_NS;
  if (a !== b) return 'moved';
  return a ? 'shared-L3' : 'split-L3';
}

async function runOne(batch: number, o: Options, log: (l: string) => void): Promise<RunResult> {
  const r = await runProbed(batch, o, log);
  r.crossCoreRttNsAfter = await crossCoreRttNs(o.pin);
  r.placement = placementOf(r.crossCoreRttNs, r.crossCoreRttNsAfter);
  return r;
}

async function runProbed(batch: number, o: Options, log: (l: string) => void): Promise<RunResult> {
  const rttNs = await crossCoreRttNs(o.pin);
  const shield = o.isolate ? shieldCpu(1, [0]) : null;
  modelByNice = o.isolate;
  if (o.isolate) {
    // V8 scavenges with helper threads, which --isolate confines to the busy CPU 0: a scavenge of the forwarder
    // that waited for them took 100–300 ms. On the collecting thread alone it takes ~1 ms (and the forwarder should
    // not collect at all: gcCount shows it). (Turning off concurrent marking at run time crashes V8's cppgc.)
    v8.setFlagsFromString('--no-parallel-scavenge');
  }
  let nic: SimNic;
  try {
    nic = await SimNic.start({ ports: 2, wire: 'tester', cpu: o.pin ? 0 : -1, realtime: o.realtime, nice: o.isolate ? MODEL_NICE : undefined, gapLog: o.latency });
  } catch (e) {
    shield?.restore();
    throw e;
  }
  const fwd = new FwdThread(nic, batch, o);
  try {
    await fwd.until(() => fwd.ready !== null, 'device bring-up');
    // empty polls on idle devices, with the model thread parked and then spinning (as during the measurement)
    await sleep(50);
    await fwd.command(CMD_CALIBRATE, CAL_PRE_PARKED);
    nic.setGenerator(0, 0.001, 1); // active (the model spins) but limited to one frame, forwarded in the warm-up part
    await sleep(20);
    await fwd.command(CMD_CALIBRATE, CAL_PRE_SPIN);
    nic.setGenerator(0, 0);
    await fwd.command(CMD_RUN);
    nic.setGenerator(0, o.rate);
    // A rehearsal of the marks in the first half of the warm-up: the mark code (forced GC, GC profiler) runs once
    // inside the loop, and the deoptimisation and re-optimisation that its first run causes happen here, not in
    // the measured interval (where the interpreted loop would allocate until V8 has recompiled it).
    await sleep(o.warmup * 250);
    await fwd.mark(MARK_START);
    await sleep(20);
    await fwd.mark(MARK_END);
    await sleep(o.warmup * 750);

    await fwd.mark(MARK_START);
    const g0 = nic.tester(0);
    const p0 = sampleProc();
    const t0 = performance.now();
    const abs = new Float64Array(2);
    const clock = new MonotonicClock();
    clock.readAbsolute(abs);
    const stream = nic.startEpoch(0, 1);
    log(`# fwd-sim: measurement start (batch ${batch}, ${o.seconds} s, stream ${stream}) at ${new Date().toISOString()}`);
    await sleep(o.seconds * 1000);
    // The measured stream ends when the generator stops; then the forwarding thread's end snapshot (its CPU time
    // over the last ~1 ms covers only the frames still in flight), so that nothing the thread does after the
    // snapshot (GC profiler, forced GC) can delay a frame of the measured stream.
    nic.setGenerator(0, 0);
    const t1 = performance.now();
    clock.readAbsolute(abs.subarray(1));
    await fwd.mark(MARK_END);
    const p1 = sampleProc();
    const g1 = nic.tester(0);
    const sinkAtEnd = nic.tester(1).streams[stream];
    const genAtEnd = nic.tester(0).streams[stream];
    log(`# fwd-sim: measurement end (batch ${batch}) at ${new Date().toISOString()}`);

    await sleep(300); // let the rings drain through the forwarder
    await fwd.mark(MARK_DRAINED);
    const sink = nic.tester(1).streams[stream];
    const gen = nic.tester(0).streams[stream];
    await sleep(50); // the model thread parks once idle
    await fwd.command(CMD_CALIBRATE, CAL_POST_PARKED);
    nic.setGenerator(0, 0.001, nic.tester(0).generated); // the model spins, the limit is already reached: no frames
    await sleep(20);
    await fwd.command(CMD_CALIBRATE, CAL_POST_SPIN);
    nic.setGenerator(0, 0);
    await fwd.command(CMD_STOP, 0, false);
    await fwd.until(() => fwd.done !== null, 'stop');
    const fault = fwd.done!.fault ?? nic.fault();

    const f = fwd.f;
    const d = (x: number): number => f[S_END + x] - f[S_START + x];
    const seconds = (t1 - t0) / 1000;
    const mhz = cpuMhz();
    const packets = d(X_FORWARDED);
    const cpuNs = d(X_CPU_NS);
    const empty = d(X_EMPTY);
    const cal = (slot: number): number => f[CAL_BASE + slot * CAL_WORDS + C_NS_PER_STEP];
    const clean = (slot: number): boolean => f[CAL_BASE + slot * CAL_WORDS + C_NONEMPTY] === 0 && Number.isFinite(cal(slot));
    const emptyPollCal = { preParked: cal(CAL_PRE_PARKED), preSpin: cal(CAL_PRE_SPIN), postParked: cal(CAL_POST_PARKED), postSpin: cal(CAL_POST_SPIN) };
    // The model thread spins during the measurement: use the calibration with it spinning, in the measured JIT state.
    const emptyNs = clean(CAL_POST_SPIN) ? emptyPollCal.postSpin : clean(CAL_PRE_SPIN) ? emptyPollCal.preSpin : emptyPollCal.postParked;
    const idleNs = Math.min(cpuNs, empty * emptyNs);
    // If the empty polls alone would account for (nearly) all the CPU time while packets were forwarded, the
    // calibration does not describe this run (e.g. it was disturbed): no busy figure rather than a wrong one.
    const calibrationSuspect = packets > 0 && empty * emptyNs > 0.98 * cpuNs;
    const { cond, modelCpuFraction, fwdCpuFraction, fwdPreemptions, modelPreemptions, fwdWaitMs, modelWaitMs } = conditionsBetween(p0, p1);
    const missedFraction = genAtEnd.sent > 0 ? genAtEnd.missed / genAtEnd.sent : 0;
    const idleFraction = cpuNs > 0 ? idleNs / cpuNs : 0;
    const generatedMpps = genAtEnd.sent / seconds / 1e6;
    let bound: RunResult['bound'];
    let boundReason: string;
    const offered = Math.min(o.rate, LINE_RATE_MPPS);
    const pct = (x: number): string => (x * 100).toFixed(x < 0.1 ? 1 : 0);
    if (missedFraction > 0.05) {
      bound = 'forwarder';
      boundReason = `the NIC missed ${pct(missedFraction)} % of the generated frames for want of RX descriptors: the forwarder did not keep up ` +
        `(it still spent ${pct(idleFraction)} % of its CPU time in empty polls, so part of it is stalls, not capacity)`;
    } else if (idleFraction < 0.05) {
      bound = 'forwarder';
      boundReason = `the forwarder had almost no empty polls (${pct(idleFraction)} % of its CPU time)`;
    } else {
      bound = 'sim';
      boundReason = generatedMpps >= 0.98 * offered
        ? `the tester generated the offered ${offered} Mpps and the forwarder idled ${pct(idleFraction)} % of its CPU time`
        : `the NIC model thread generated only ${generatedMpps.toFixed(2)} of ${offered} Mpps offered ` +
          `(model thread CPU ${pct(modelCpuFraction)} %), while the forwarder idled ${pct(idleFraction)} % of its CPU time`;
      if (missedFraction > 0.001) boundReason += `; the NIC missed ${pct(missedFraction)} % of the frames during stalls of the forwarding thread`;
    }
    if (cond.otherCpuPct > o.maxOther || fwdCpuFraction < 0.9) {
      boundReason += `; DISTURBED: other processes used ${cond.otherCpuPct.toFixed(0)} % of a CPU and the forwarding thread ran ` +
        `${(fwdCpuFraction * 100).toFixed(0)} % of the interval`;
    }
    const cyc = (ns: number): number => (packets > 0 ? (ns * mhz) / 1000 / packets : NaN);
    const r: RunResult = {
      batch, seconds, offeredMpps: o.rate, generatedMpps,
      mpps: sinkAtEnd.unique / seconds / 1e6,
      mppsForwarder: packets / (d(X_WALL_MS) / 1000) / 1e6,
      packetsForwarded: packets,
      cpuMhz: mhz,
      cyclesPerPacket: cyc(cpuNs),
      cyclesPerPacketBusy: calibrationSuspect ? NaN : cyc(cpuNs - idleNs),
      cyclesPerPacketSampled: d(X_SB_PACKETS) > 0 ? (((d(X_SB_MS) * 1e6 - d(X_SB_STEPS) * f[CLOCK_READ_NS]) / d(X_SB_PACKETS)) * mhz) / 1000 : NaN,
      emptyPollNsInTraffic: d(X_SE_STEPS) > 0 ? (d(X_SE_MS) * 1e6 - d(X_SE_STEPS) * f[CLOCK_READ_NS]) / d(X_SE_STEPS) : NaN,
      sampledBusySteps: d(X_SB_STEPS),
      sampledEmptySteps: d(X_SE_STEPS),
      calibrationSuspect,
      nsPerPacket: packets > 0 ? cpuNs / packets : NaN,
      nsPerPacketBusy: packets > 0 && !calibrationSuspect ? (cpuNs - idleNs) / packets : NaN,
      mppsAt3300Busy: calibrationSuspect ? NaN : 3300 / cyc(cpuNs - idleNs),
      mppsAt3300Total: 3300 / cyc(cpuNs),
      packetsPerBusyStep: d(X_STEPS) - empty > 0 ? packets / (d(X_STEPS) - empty) : NaN,
      steps: d(X_STEPS), emptyPolls: empty, emptyPollNs: emptyNs, emptyPollCal, idleFraction,
      missedByNic: genAtEnd.missed, missedFraction,
      droppedByForwarder: f[S_DRAINED + X_DROPPED] - f[S_START + X_DROPPED],
      lost: gen.sent - sink.unique,
      unexplainedLoss: gen.sent - sink.unique - gen.missed - (f[S_DRAINED + X_DROPPED] - f[S_START + X_DROPPED]),
      reordered: sink.reordered, duplicated: sink.duplicated,
      gcCount: f[G_COUNT], gcPauseMs: f[G_PAUSE_MS], gcTypes: fwd.gcTypes,
      heapDeltaBytes: d(X_HEAP_USED),
      modelCpuFraction, modelNsPerPacket: sinkAtEnd.unique > 0 ? (modelCpuFraction * seconds * 1e9) / sinkAtEnd.unique : NaN,
      fwdCpuFraction, fwdPreemptions, modelPreemptions, fwdWaitMs, modelWaitMs,
      bound, boundReason,
      latency: { p50Us: sink.latency.p50Us, p99Us: sink.latency.p99Us, p999Us: sink.latency.p999Us, p9999Us: sink.latency.p9999Us, maxUs: sink.latency.maxUs, meanUs: sink.latency.meanUs, count: sink.latency.count },
      conditions: cond,
      pinned: fwd.ready?.pinned ?? false,
      attempt: 1,
      quietWaitSeconds: 0,
      crossCoreRttNs: rttNs,
      crossCoreRttNsAfter: NaN,
      placement: 'unknown',
      placementWaitSeconds: 0,
      leakedBuffers: fwd.done!.leaked,
      generatorStalls: g1.stalls - g0.stalls,
      generatorSkipped: g1.skipped - g0.skipped,
      forwarderGaps: null,
      fault,
    };
    if (fwd.gaps) {
      const modelGaps = nic.gapLog()?.read(abs[0], abs[1]);
      r.forwarderGaps = summarise(1, seconds, new GapLog(fwd.gaps).read(abs[0], abs[1]), { preemptions: fwdPreemptions, waitMs: fwdWaitMs },
        modelGaps ? { cpu: 0, gaps: modelGaps } : undefined, ringWindowUs(o));
    }
    if (o.allocProfile) {
      await fwd.until(() => fwd.alloc !== null || fwd.done !== null, 'allocation profile').catch(() => {});
      r.allocSites = fwd.alloc?.sites ?? [];
    }
    void f[G_FORCED];
    return r;
  } finally {
    await fwd.worker.terminate();
    await nic.stop();
    shield?.restore();
  }
}

/** How long the RX ring holds arrivals at the offered rate (µs): frames beyond it are missed, not delayed. */
function ringWindowUs(o: Options): number {
  return (o.ringSize - 1) / Math.min(o.rate, LINE_RATE_MPPS);
}

/** Waits until other processes use < 10 % of a CPU over a 2 s window, for at most `maxSeconds`; returns the seconds waited. */
async function waitQuiet(maxSeconds: number, log: (l: string) => void): Promise<number> {
  if (maxSeconds <= 0) return 0;
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const a = sampleProc();
    await sleep(2000);
    const other = conditionsBetween(a, sampleProc()).cond;
    if (other.otherCpuPct < 10) return (Date.now() - t0) / 1000;
    if (!said) {
      log(`# fwd-sim: waiting for other processes to go quiet (${other.otherCpuPct.toFixed(0)} % of a CPU: ` +
        `${other.busyOthers.map((b) => b.cmd.slice(0, 60)).join('; ') || 'kernel/short-lived'})`);
      said = true;
    }
    if (Date.now() - t0 > maxSeconds * 1000) {
      log(`# fwd-sim: still busy after ${maxSeconds} s; measuring anyway (see conditions in the result)`);
      return (Date.now() - t0) / 1000;
    }
  }
}

/** runOne, re-run while other processes disturbed it; returns the least disturbed attempt. */
/**
 * Waits until the cross-core probe says the vCPUs are placed as `o.placement` asks, for at most o.placementWait
 * seconds (the host moves them on its own schedule: minutes to hours); returns the seconds waited.
 */
async function waitPlacement(o: Options, log: (l: string) => void): Promise<number> {
  if (o.placement === 'any') return 0;
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const rtt = await crossCoreRttNs(true);
    const now = placementOf(rtt, rtt);
    if (now === o.placement) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > o.placementWait * 1000) {
      log(`# fwd-sim: the vCPUs are still ${now} (round trip ${fx(rtt, 0)} ns) after ${o.placementWait} s; measuring anyway`);
      return (Date.now() - t0) / 1000;
    }
    if (!said) log(`# fwd-sim: waiting for the host to place our vCPUs ${o.placement} (now ${now}, round trip ${fx(rtt, 0)} ns)`);
    said = true;
    await sleep(5000);
  }
}

async function runMeasured(batch: number, o: Options, log: (l: string) => void): Promise<RunResult> {
  let best: RunResult | null = null;
  const wrongPlace = (r: RunResult): boolean => o.placement !== 'any' && r.placement !== o.placement;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    const placementWait = await waitPlacement(o, log);
    const waited = await waitQuiet(o.quietWait, log);
    const r = await runOne(batch, o, log);
    r.attempt = attempt + 1;
    r.quietWaitSeconds = waited;
    r.placementWaitSeconds = placementWait;
    const better = !best || (wrongPlace(best) && !wrongPlace(r)) ||
      (wrongPlace(best) === wrongPlace(r) && r.conditions.otherCpuPct < best.conditions.otherCpuPct);
    if (better) best = r;
    if (r.conditions.otherCpuPct <= o.maxOther && !wrongPlace(r)) break;
    if (attempt < o.retries) {
      log(wrongPlace(r)
        ? `# fwd-sim: batch ${batch}: the vCPUs were ${r.placement} during the run, not ${o.placement}; re-running`
        : `# fwd-sim: batch ${batch} disturbed (other processes used ${r.conditions.otherCpuPct.toFixed(0)} % of a CPU); re-running`);
    }
  }
  return best!;
}

export interface RepeatSummary {
  mpps: number; cyclesPerPacketBusy: number; cyclesPerPacketSampled: number; cyclesPerPacket: number; generatedMpps: number; placement: Placement; missedFraction: number; packetsPerBusyStep: number;
  modelNsPerPacket: number; crossCoreRttNs: number; gcCount: number; otherCpuPct: number; stealPct: number;
}

/** `o.repeat` runs of one batch size; returns the one with the median busy cycles/packet, with all of them listed. */
async function runRepeated(batch: number, o: Options, log: (l: string) => void): Promise<RunResult> {
  const runs: RunResult[] = [];
  for (let i = 0; i < o.repeat; i++) {
    const r = await runMeasured(batch, o, log);
    runs.push(r);
    if (o.repeat > 1) {
      log(`#   run ${i + 1}/${o.repeat}: ${fx(r.mpps, 2)} Mpps, ${fx(r.cyclesPerPacketBusy)} cycles/packet busy, ` +
        `${fx(r.cyclesPerPacket)} total, cross-core round trip ${fx(r.crossCoreRttNs, 0)} ns`);
    }
  }
  const usable = runs.filter((r) => Number.isFinite(r.cyclesPerPacketBusy));
  const sorted = (usable.length > 0 ? usable : runs).sort((a, b) => (a.cyclesPerPacketBusy || 0) - (b.cyclesPerPacketBusy || 0));
  const median = sorted[(sorted.length - 1) >> 1];
  return {
    ...median,
    repeats: runs.map((r) => ({
      mpps: r.mpps, cyclesPerPacketBusy: r.cyclesPerPacketBusy, cyclesPerPacketSampled: r.cyclesPerPacketSampled, cyclesPerPacket: r.cyclesPerPacket,
      generatedMpps: r.generatedMpps, placement: r.placement,
      missedFraction: r.missedFraction, packetsPerBusyStep: r.packetsPerBusyStep, modelNsPerPacket: r.modelNsPerPacket, crossCoreRttNs: r.crossCoreRttNs, gcCount: r.gcCount,
      otherCpuPct: r.conditions.otherCpuPct, stealPct: r.conditions.stealPct,
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// output

const fx = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '-');

function machine(): Record<string, unknown> {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpuMhz: cpuMhz(),
    cpus: os.cpus().length,
    node: process.version,
    v8: process.versions.v8,
    kernel: os.release(),
    date: new Date().toISOString(),
  };
}

const METHOD = [
  'Simulated 82599 (src/driver/sim): the NIC model runs in its own worker thread (pinned to CPU 0); its tester on port 0 ' +
    'writes 60-byte test frames into the RX ring of sim:0 at the offered rate (credit-based, at most 64 frames per model loop), ' +
    'its tester on port 1 checks every frame sim:1 transmits (sequence, latency).',
  'The forwarder (src/apps/forward.ts, ixy\'s fwd) runs in a worker thread pinned to CPU 1: a tight loop of Forwarder.step() ' +
    '(rxBatch on one port, touch one byte per packet, txBatch on the other; both directions), controlled through a SharedArrayBuffer; ' +
    'the loop allocates nothing.',
  'Each batch size runs on a fresh NIC and thread: calibration of empty polls on idle devices, warm-up traffic (not measured), then ' +
    'startEpoch() begins a fresh stream; at its start and end the forwarding thread snapshots its CPU time (clock_gettime ' +
    'CLOCK_THREAD_CPUTIME_ID), packets forwarded, steps and empty steps, and starts/stops a v8.GCProfiler.',
  'cyclesPerPacket = forwarding-thread CPU time over the interval × "cpu MHz" of /proc/cpuinfo ÷ packets it forwarded in the ' +
    'interval (includes idle polling). cyclesPerPacketBusy subtracts empty steps × CPU ns of one empty step, the latter timed ' +
    '(median of 7 chunks, 5 M steps in all) with the same loop code on idle devices after the run (same JIT state), with the ' +
    'model thread spinning as it does during the measurement. An empty poll during traffic can cost more than on idle devices ' +
    '(the RX descriptor line is being written by the model core), so the busy figure leans high. The sweep ends with an idle ' +
    'check: a run at 100 packets/s whose CPU time should be all empty polls. A run whose empty polls × calibrated cost explain ' +
    '≥ 98 % of its CPU time gets no busy figure (calibrationSuspect).',
  'Each run also records a cross-core round trip (two threads pinned to CPU 0 and 1 bouncing one cache line), other processes\' ' +
    'CPU use and hypervisor steal time during the interval, and re-runs a measurement disturbed by other processes.',
  'The measured stream ends when the generator is stopped; the forwarding thread\'s end snapshot follows within ~1 ms, ' +
    'and nothing it does afterwards (GC profiler, forced GC) can delay a frame of the measured stream.',
  'mpps = unique frames of the measured stream received by the sink ÷ measured seconds. bound = "forwarder" when the NIC ' +
    'missed > 5 % of the generated frames for want of RX descriptors or the forwarder idled < 5 % of its CPU time, else "sim" ' +
    '(the model thread generates less than offered and the forwarder waits for it).',
  'The MHz is the nominal clock the VM reports; turbo/boost of the host is unknown, so cycles may be understated if the core ran faster.',
];

function chartSweep(results: RunResult[], m: Record<string, unknown>): string {
  const Y_MAX = 35; // a run whose idle-poll subtraction went wrong can claim absurd rates: those are left off the scale
  const runPoints = results.flatMap((r) => (r.repeats ?? []).map((x) => ({ x: r.batch, y: 3300 / x.cyclesPerPacketBusy })))
    .filter((p) => Number.isFinite(p.y));
  const offScale = runPoints.filter((p) => p.y > Y_MAX).length;
  return lineChart({
    title: 'ixy.ts forwarder: Mpps-equivalent at 3.3 GHz vs batch size',
    subtitle: `ixy.ts = 3300 ÷ cycles per packet of the forwarding thread (simulated 82599, ${String(m.cpuModel)} @ ${fx(Number(m.cpuMhz), 0)} MHz nominal, ${String(m.node)})`,
    xLabel: 'batch size (packets per rxBatch/txBatch, log2 scale)',
    yLabel: 'Mpps at 3.3 GHz (one core)',
    xScale: 'log2',
    xTicks: BATCHES,
    yMin: 0,
    yMax: Y_MAX,
    series: [
      ...(runPoints.length > results.length
        ? [{ name: 'ixy.ts, busy cycles, each run', color: '#f2a0a0', marker: 'circle' as const, line: false, points: runPoints.filter((p) => p.y <= Y_MAX) }]
        : []),
      { name: 'ixy.ts, busy cycles (idle polls subtracted), median run', color: '#d62728', marker: 'circle', points: results.map((r) => ({ x: r.batch, y: r.mppsAt3300Busy, label: r.batch === 32 ? fx(r.mppsAt3300Busy) : undefined })) },
      { name: 'ixy.ts, total thread CPU (incl. idle polls)', color: '#ff9896', dash: '6 4', marker: 'square', points: results.map((r) => ({ x: r.batch, y: r.mppsAt3300Total })) },
      { name: 'ixy JavaScript, published (b1, b8, b32, b256)', color: '#1f77b4', marker: 'diamond', points: PUBLISHED.javascriptByBatch.map(([x, y]) => ({ x, y, label: String(y) })) },
      { name: 'ixy C, published (b32): 27.4', color: '#2ca02c', marker: 'triangle', line: false, points: [{ x: 32, y: PUBLISHED.mppsAt3300.C }] },
      { name: 'ixy Go, published (b32): 20.6', color: '#9467bd', marker: 'triangle', line: false, points: [{ x: 32, y: PUBLISHED.mppsAt3300.Go }] },
    ],
    refLines: [
      { y: PUBLISHED.mppsAt3300.C, label: 'ixy C, batch 32 (27.4 Mpps)', color: '#2ca02c' },
      { y: PUBLISHED.mppsAt3300.Go, label: 'ixy Go, batch 32 (20.6 Mpps)', color: '#9467bd' },
      { y: 3300 / TARGETS.cyclesPerPacketB32, label: `target ≤ ${TARGETS.cyclesPerPacketB32} cycles/packet = ${fx(3300 / TARGETS.cyclesPerPacketB32)} Mpps`, color: '#7f7f7f', align: 'right' },
    ],
    notes: [
      'Published: Emmerich et al., "The Case for Writing Network Drivers in High-Level Programming Languages" (ANCS 2019), github.com/ixy-languages:',
      'single core of a Xeon E3-1230 v2 at 3.3 GHz with a real 82599; JavaScript line drawn through the four published points only.',
      'ixy.ts: cycles measured on this VM (thread CPU time × nominal MHz) against the simulated NIC; the real Mpps through the simulator is in fwd-sim.json.',
      ...(offScale > 0 ? [`${offScale} run(s) off the scale (idle-poll subtraction implausible, > ${Y_MAX} Mpps-equivalent); all runs are in fwd-sim.json.`] : []),
    ],
  });
}

function printTable(results: RunResult[], print: (l: string) => void): void {
  print('');
  print('batch   Mpps  gen Mpps  cyc/pkt busy  sampled  cyc/pkt total  pkts/busy step  idle %  missed %  gc  heap Δ B  model ns/pkt  core RTT ns  placement  bound      3.3 GHz Mpps (busy)');
  for (const r of results) {
    print(
      `${String(r.batch).padStart(5)}  ${fx(r.mpps, 2).padStart(5)}  ${fx(r.generatedMpps, 2).padStart(8)}  ${fx(r.cyclesPerPacketBusy).padStart(12)}  ${fx(r.cyclesPerPacketSampled).padStart(7)}  ` +
        `${fx(r.cyclesPerPacket).padStart(13)}  ${fx(r.packetsPerBusyStep, 1).padStart(14)}  ${fx(r.idleFraction * 100, 0).padStart(6)}  ${fx(r.missedFraction * 100, 2).padStart(8)}  ` +
        `${String(r.gcCount).padStart(2)}  ${String(Math.round(r.heapDeltaBytes)).padStart(8)}  ${fx(r.modelNsPerPacket, 0).padStart(12)}  ${fx(r.crossCoreRttNs, 0).padStart(11)}  ${r.placement.padEnd(9)}  ` +
        `${r.bound.padEnd(9)}  ${fx(r.mppsAt3300Busy, 2).padStart(8)}`,
    );
  }
}

function writeResult(file: string, obj: unknown): void {
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');
}

function summaryLine(r: RunResult): Record<string, unknown> {
  return {
    batch: r.batch, mpps: r.mpps, cyclesPerPacket: r.cyclesPerPacket, cyclesPerPacketBusy: r.cyclesPerPacketBusy,
    cyclesPerPacketSampled: r.cyclesPerPacketSampled, emptyPollNsInTraffic: r.emptyPollNsInTraffic, gcCount: r.gcCount,
    bound: r.bound, cpuMhz: r.cpuMhz, seconds: r.seconds, generatedMpps: r.generatedMpps, idleFraction: r.idleFraction,
    missedFraction: r.missedFraction, heapDeltaBytes: r.heapDeltaBytes, emptyPollNs: r.emptyPollNs, modelCpuFraction: r.modelCpuFraction,
    otherCpuPct: r.conditions.otherCpuPct, loadavg1: r.conditions.loadavg1,
    crossCoreRttNs: r.crossCoreRttNs, crossCoreRttNsAfter: r.crossCoreRttNsAfter, placement: r.placement,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// modes

async function sweep(o: Options): Promise<void> {
  const print = o.json ? (_: string) => {} : (l: string) => console.log(l);
  const m = machine();
  print(`fwd-sim: tester → sim:0 → fwd → sim:1 → tester, ${o.rate} Mpps offered, ${o.seconds} s per batch size after ${o.warmup} s warm-up; ` +
    `${String(m.cpuModel)}, ${fx(Number(m.cpuMhz), 0)} MHz, ${String(m.cpus)} CPUs, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const results: RunResult[] = [];
  for (const b of BATCHES) {
    const r = await runRepeated(b, o, print);
    results.push(r);
    print(`  batch ${b}: ${fx(r.mpps, 2)} Mpps, ${fx(r.cyclesPerPacketBusy)} cycles/packet busy, ${fx(r.cyclesPerPacket)} total, gc ${r.gcCount}, ` +
      `bound ${r.bound}; other load ${fx(r.conditions.otherCpuPct, 0)} % of a CPU`);
  }
  printTable(results, print);
  // Check of the idle-poll subtraction: with (almost) no traffic, thread CPU time should be all empty polls.
  const idle = await runMeasured(32, { ...o, rate: 0.0001, seconds: Math.min(o.seconds, 3) }, print);
  const idleCheck = {
    what: 'batch 32 at 100 packets/s: CPU time not explained by empty steps × calibrated empty-step cost',
    steps: idle.steps, emptyPolls: idle.emptyPolls, emptyPollNs: idle.emptyPollNs, emptyPollCal: idle.emptyPollCal,
    cpuNsPerStep: idle.steps > 0 ? (idle.nsPerPacket * idle.packetsForwarded) / idle.steps : NaN,
    residualFraction: 1 - idle.idleFraction,
    otherCpuPct: idle.conditions.otherCpuPct,
  };
  print(`idle check: ${fx(idleCheck.cpuNsPerStep, 2)} ns per step while idle in a run vs ${fx(idle.emptyPollNs, 2)} ns calibrated ` +
    `(${fx(idleCheck.residualFraction * 100, 1)} % of the CPU time unexplained)`);
  const b32 = results.find((r) => r.batch === 32);
  const doc = {
    benchmark: 'fwd-sim',
    machine: m,
    method: METHOD,
    config: { offeredMpps: o.rate, seconds: o.seconds, warmupSeconds: o.warmup, ringSize: o.ringSize, poolSize: o.poolSize, pinned: o.pin, batches: BATCHES, repeat: o.repeat, placement: o.placement },
    targets: {
      cyclesPerPacketB32: { target: TARGETS.cyclesPerPacketB32, busy: b32?.cyclesPerPacketBusy, total: b32?.cyclesPerPacket, metBusy: (b32?.cyclesPerPacketBusy ?? Infinity) <= TARGETS.cyclesPerPacketB32, metTotal: (b32?.cyclesPerPacket ?? Infinity) <= TARGETS.cyclesPerPacketB32 },
    },
    published: PUBLISHED,
    idleCheck,
    results,
  };
  writeResult(RESULTS + 'fwd-sim.json', doc);
  fs.writeFileSync(RESULTS + 'fwd-sim.svg', chartSweep(results, m));
  print(`\nwrote ${RESULTS}fwd-sim.json and fwd-sim.svg`);
  if (o.json) console.log(JSON.stringify({ results: results.map(summaryLine) }));
}

async function single(o: Options): Promise<void> {
  const print = (l: string): void => console.log(l);
  const r = await runRepeated(o.batch!, o, print);
  if (!o.json) printTable([r], print);
  if (o.out) writeResult(o.out, { benchmark: 'fwd-sim', machine: machine(), method: METHOD, result: r });
  if (!o.json) print(`  bound: ${r.bound} — ${r.boundReason}`);
  if (!o.json && r.allocSites) {
    print(`  forwarding thread allocations during the interval (sampled), heap Δ ${r.heapDeltaBytes} B:`);
    for (const a of r.allocSites) print(`    ${String(a.bytes).padStart(9)} B  ${a.stack}`);
  }
  if (o.json) console.log(JSON.stringify({ ...summaryLine(r), droppedByForwarder: r.droppedByForwarder, lost: r.lost, gcPauseMs: r.gcPauseMs }));
}

interface LatencyDoc {
  offeredMpps: number; mpps: number; p50Us: number; p99Us: number; p999Us: number; p9999Us: number; maxUs: number;
  config: { batch: number | null; seconds: number; isolate?: boolean };
  forwarderGaps?: CpuStalls | null;
}

function chartLatency(doc: LatencyDoc): string {
  const o = { rate: doc.offeredMpps, batch: doc.config.batch, seconds: doc.config.seconds };
  const lat = doc;
  const P = PUBLISHED.latencyAt1MppsUs;
  return barChart({
    title: `Forwarder latency at ${o.rate} Mpps, batch ${o.batch}`,
    subtitle: `ixy.ts on the simulated 82599 (this VM, ${o.seconds} s${doc.config.isolate ? ', CPU 1 shielded' : ''}) vs ixy on a real 82599 (published); log scale`,
    yLabel: 'one-way latency (µs, log scale)',
    yScale: 'log10',
    categories: ['p50', 'p99', 'p99.9', 'p99.99', 'max'],
    series: [
      { name: 'ixy.ts (sim)', color: '#d62728', values: [lat.p50Us, lat.p99Us, lat.p999Us, lat.p9999Us, lat.maxUs] },
      ...(doc.forwarderGaps ? [{
        name: 'a zero-cost forwarder with the same stalls', color: '#ff7f0e',
        values: [null, doc.forwarderGaps.jointFloorP99Us ?? doc.forwarderGaps.floorP99Us, doc.forwarderGaps.jointFloorP999Us ?? doc.forwarderGaps.floorP999Us,
          doc.forwarderGaps.jointFloorP9999Us ?? doc.forwarderGaps.floorP9999Us, null],
      }] : []),
      { name: 'ixy C (published)', color: '#2ca02c', values: [P.C.p50, P.C.p99, null, P.C.p9999, P.C.max] },
      { name: 'ixy Go (published)', color: '#9467bd', values: [P.Go.p50, P.Go.p99, null, P.Go.p9999, P.Go.max] },
      { name: 'ixy JavaScript (published)', color: '#1f77b4', values: [P.JavaScript.p50, P.JavaScript.p99, null, P.JavaScript.p9999, P.JavaScript.max] },
    ],
    refLines: [{ y: TARGETS.p999UsAt1Mpps, label: `target p99.9 ≤ ${TARGETS.p999UsAt1Mpps} µs`, color: '#555', align: 'left' }],
    notes: [
      'Published: Emmerich et al., ANCS 2019 (ixy-languages), Xeon E3-1230 v2, real 82599, 1 Mpps; no p99.9 published.',
      'ixy.ts: tester timestamps on the NIC model thread; percentiles are histogram bucket midpoints (≤ 3.1 % error).',
    ],
  });
}

async function latency(o: Options): Promise<void> {
  const print = (l: string): void => console.log(l);
  // The host's own stalls of a spinning thread on each CPU, just before the run, under the same scheduling.
  const shield = o.isolate ? shieldCpu(1, [0]) : null;
  let hostStalls: CpuStalls[];
  try {
    hostStalls = o.pin ? await probeHostStalls([0, 1], 3, o.isolate || o.realtime ? 1 : -1, ringWindowUs(o)) : [];
  } finally {
    shield?.restore();
  }
  const r = await runRepeated(o.batch!, o, print);
  const lat = r.latency;
  const floor = r.forwarderGaps;
  const out = {
    benchmark: 'fwd-sim-latency',
    machine: machine(),
    method: [
      ...METHOD,
      `Latency: offered ${o.rate} Mpps; one-way tester→sink latency of every frame of the measured stream (timestamp written by the ` +
        'tester at generation, read by the sink when sim:1 transmits it, both on the model thread clock), recorded in a log-linear ' +
        'histogram (≤ 3.1 % bucket error); percentiles are bucket midpoints, max is exact.',
    ],
    config: { offeredMpps: o.rate, batch: o.batch, seconds: o.seconds, warmupSeconds: o.warmup, ringSize: o.ringSize, poolSize: o.poolSize, pinned: o.pin, realtime: o.realtime, isolate: o.isolate, placement: o.placement },
    batch: r.batch,
    offeredMpps: o.rate,
    mpps: r.mpps,
    p50Us: lat.p50Us, p99Us: lat.p99Us, p999Us: lat.p999Us, p9999Us: lat.p9999Us, maxUs: lat.maxUs, meanUs: lat.meanUs, samples: lat.count,
    missedByNic: r.missedByNic, lost: r.lost, droppedByForwarder: r.droppedByForwarder, unexplainedLoss: r.unexplainedLoss,
    reordered: r.reordered, duplicated: r.duplicated,
    fwdPreemptions: r.fwdPreemptions, modelPreemptions: r.modelPreemptions, fwdWaitMs: r.fwdWaitMs, modelWaitMs: r.modelWaitMs, stealPct: r.conditions.stealPct,
    generatorStalls: r.generatorStalls, generatorSkipped: r.generatorSkipped, scheduling: o.isolate ? 'isolate' : o.realtime ? 'realtime' : 'default',
    gcCount: r.gcCount, cyclesPerPacket: r.cyclesPerPacket, cyclesPerPacketBusy: r.cyclesPerPacketBusy, cpuMhz: r.cpuMhz, bound: r.bound,
    target: { p999Us: TARGETS.p999UsAt1Mpps, met: lat.p999Us <= TARGETS.p999UsAt1Mpps, floorP999Us: floor?.jointFloorP999Us ?? floor?.floorP999Us ?? null },
    forwarderGaps: floor,
    hostStalls,
    published: { source: PUBLISHED.source, latencyAt1MppsUs: PUBLISHED.latencyAt1MppsUs },
    conditions: r.conditions,
    run: r,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  const base = o.isolate ? 'fwd-sim-latency-isolate' : 'fwd-sim-latency';
  const file = o.out ?? `${RESULTS}${base}.json`;
  writeResult(file, out);
  if (!o.out) {
    fs.writeFileSync(`${RESULTS}${base}.svg`, chartLatency(out));
  }
  if (!o.json) {
    print(`latency at ${o.rate} Mpps, batch ${o.batch}, ${fx(r.seconds, 1)} s: p50 ${fx(lat.p50Us, 2)} µs, p99 ${fx(lat.p99Us, 2)} µs, ` +
      `p99.9 ${fx(lat.p999Us, 2)} µs, p99.99 ${fx(lat.p9999Us, 2)} µs, max ${fx(lat.maxUs, 2)} µs (${lat.count} frames)`);
    print(`  missed by the NIC ${r.missedByNic}, lost ${r.lost}, dropped by the forwarder ${r.droppedByForwarder}, gc ${r.gcCount}; ` +
      `target p99.9 ≤ ${TARGETS.p999UsAt1Mpps} µs: ${out.target.met ? 'met' : 'NOT met'}; other load ${fx(r.conditions.otherCpuPct, 0)} % of a CPU`);
    print(`  during the interval the kernel preempted the forwarding thread ${r.fwdPreemptions} times (${fx(r.fwdWaitMs, 1)} ms off its CPU) ` +
      `and the NIC model thread ${r.modelPreemptions} times (${fx(r.modelWaitMs, 1)} ms); hypervisor steal ${fx(r.conditions.stealPct, 1)} % of a CPU`);
    print(`  the generator was held up > 10 µs ${r.generatorStalls} times and skipped ${r.generatorSkipped} frames instead of bursting` +
      `${o.isolate ? '; CPU 1 shielded (--isolate)' : o.realtime ? '; both threads SCHED_FIFO (--realtime)' : ''}`);
    if (floor) {
      print(`  gaps in the forwarding loop: ${describeStalls(floor).replace(/^CPU 1: /, '')}`);
      const f = floor.jointFloorP999Us ?? floor.floorP999Us;
      print(`  → a forwarder that took no time, stalled as this one was${floor.jointFloorP999Us !== undefined ? ' (and fed by a generator stalled as this run\'s was)' : ''}, ` +
        `would have had p99.9 ${fx(f, 1)} µs; this one had ${fx(lat.p999Us, 1)} µs`);
    }
    for (const h of hostStalls) print(`  host probe before the run (spin loop, no forwarding), ${describeStalls(h)}`);
    print(`wrote ${file}`);
  }
  if (o.json) console.log(JSON.stringify({
    batch: r.batch, offeredMpps: o.rate, mpps: r.mpps, p50Us: lat.p50Us, p99Us: lat.p99Us, p999Us: lat.p999Us, p9999Us: lat.p9999Us,
    maxUs: lat.maxUs, missedByNic: r.missedByNic, lost: r.lost, gcCount: r.gcCount, cyclesPerPacket: r.cyclesPerPacket,
    cyclesPerPacketBusy: r.cyclesPerPacketBusy, bound: r.bound, cpuMhz: r.cpuMhz, fwdPreemptions: r.fwdPreemptions,
    floorP999Us: floor?.jointFloorP999Us ?? floor?.floorP999Us ?? null, hostFloorP999Us: hostStalls.find((h) => h.cpu === 1)?.jointFloorP999Us ?? null,
    scheduling: o.isolate ? 'isolate' : o.realtime ? 'realtime' : 'default',
  }));
}

/** Re-runs a single batch under `node --trace-gc` and attributes the trace lines to isolates. */
async function traceGcRun(o: Options): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const args = ['--trace-gc', script, '--batch', String(o.batch), '--seconds', String(o.seconds), '--warmup', String(o.warmup), '--json', '--retries', '0', '--quiet-wait', '0'];
  if (!o.pin) args.push('--no-pin');
  const logFile = RESULTS + 'fwd-sim-trace-gc.log';
  fs.mkdirSync(RESULTS, { recursive: true });
  const fd = fs.openSync(logFile, 'w');
  await waitQuiet(o.quietWait, (l) => console.log(l));
  console.log(`running: node ${args.join(' ').replace(script, 'dist/bench/fwd-sim.js')}  (output → ${logFile})`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', fd, 'inherit'] });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  fs.closeSync(fd);
  const lines = fs.readFileSync(logFile, 'utf8').split('\n');
  const re = /^\[(\d+):(0x[0-9a-f]+)\]\s+([\d.]+) ms: (\S+)/;
  const perIsolate = new Map<string, Array<{ ms: number; kind: string; pauseMs: number; testing: boolean; line: string }>>();
  for (const l of lines) {
    const m = re.exec(l);
    if (!m) continue;
    const arr = perIsolate.get(m[2]) ?? [];
    arr.push({ ms: Number(m[3]), kind: m[4], pauseMs: Number(/MB, ([\d.]+) \//.exec(l)?.[1] ?? NaN), testing: / testing[;,]/.test(l), line: l });
    perIsolate.set(m[2], arr);
  }
  // The forwarding thread forces a full GC ("testing") right before and right after the measured interval; the
  // main thread forces one at start-up. The NIC model thread is then the isolate with the most other lines.
  let fwdIso: string | null = null;
  let mainIso: string | null = null;
  for (const [iso, arr] of perIsolate) {
    const t = arr.filter((x) => x.testing).length;
    if (t >= 2) fwdIso = iso; else if (t === 1) mainIso = iso;
  }
  let simIso: string | null = null;
  for (const [iso, arr] of perIsolate) {
    if (iso !== fwdIso && iso !== mainIso && (simIso === null || arr.length > perIsolate.get(simIso)!.length)) simIso = iso;
  }
  const roleOf = (iso: string): string => iso === fwdIso ? 'forwarding thread' : iso === mainIso ? 'main thread' : iso === simIso ? 'NIC model thread' : 'other worker';
  let inWindow: string[] = [];
  if (fwdIso) {
    const arr = perIsolate.get(fwdIso)!;
    const a = arr.findIndex((x) => x.testing);
    const b = arr.findIndex((x, i) => i > a && x.testing);
    inWindow = arr.slice(a + 1, b).map((x) => x.line);
  }
  const jsonLine = [...lines].reverse().find((l) => l.startsWith('{"batch"'));
  const child = jsonLine ? JSON.parse(jsonLine) as Record<string, unknown> : null;
  const summary = {
    benchmark: 'fwd-sim-trace-gc',
    machine: machine(),
    command: `node ${args.join(' ').replace(script, 'dist/bench/fwd-sim.js')}`,
    exitCode: code,
    method: 'The forwarding thread forces a full GC (reason "testing") right before the measured interval starts and right after ' +
      'it ends; its isolate is the one with those lines, and its trace-gc lines between them are collections during the interval. ' +
      'The main thread forces one at start-up. Lines of the other isolates (main thread, NIC model thread) are summarised per ' +
      'isolate for the whole run (forced collections excluded).',
    forwardingIsolate: fwdIso,
    fwdGcLinesInWindow: inWindow.length,
    fwdGcLines: inWindow,
    gcProfilerCount: child?.gcCount ?? null,
    isolates: [...perIsolate].map(([iso, arr]) => {
      const own = arr.filter((x) => !x.testing);
      return {
        isolate: iso, role: roleOf(iso), lines: arr.length, forced: arr.length - own.length,
        kinds: own.reduce<Record<string, number>>((acc, x) => { acc[x.kind] = (acc[x.kind] ?? 0) + 1; return acc; }, {}),
        pauseMsTotal: own.reduce((t, x) => t + (Number.isFinite(x.pauseMs) ? x.pauseMs : 0), 0),
        pauseMsMax: own.reduce((t, x) => Math.max(t, Number.isFinite(x.pauseMs) ? x.pauseMs : 0), 0),
        lastMs: arr[arr.length - 1].ms,
      };
    }),
    markers: lines.filter((l) => l.startsWith('# fwd-sim:')),
    result: child,
  };
  writeResult(RESULTS + 'fwd-sim-trace-gc.json', summary);
  console.log(`forwarding thread isolate ${fwdIso ?? '(not found)'}: ${inWindow.length} trace-gc lines between the measurement markers; ` +
    `GCProfiler count ${String(child?.gcCount)}; exit ${code}`);
  for (const i of summary.isolates) {
    console.log(`  isolate ${i.isolate} (${i.role}): ${i.lines} lines (${i.forced} forced), ${JSON.stringify(i.kinds)}, ` +
      `pauses ${i.pauseMsTotal.toFixed(1)} ms in all, longest ${i.pauseMsMax.toFixed(1)} ms`);
  }
  console.log(`wrote ${RESULTS}fwd-sim-trace-gc.json`);
  if (o.json) console.log(JSON.stringify({ batch: o.batch, seconds: o.seconds, fwdGcLinesInWindow: inWindow.length, gcCount: child?.gcCount ?? null, forwardingIsolate: fwdIso }));
}

function replot(): void {
  const sweepFile = RESULTS + 'fwd-sim.json';
  if (fs.existsSync(sweepFile)) {
    const d = JSON.parse(fs.readFileSync(sweepFile, 'utf8')) as { machine: Record<string, unknown>; results: RunResult[] };
    fs.writeFileSync(RESULTS + 'fwd-sim.svg', chartSweep(d.results, d.machine));
    console.log(`redrew ${RESULTS}fwd-sim.svg`);
  }
  for (const base of ['fwd-sim-latency', 'fwd-sim-latency-isolate']) {
    const latFile = `${RESULTS}${base}.json`;
    if (!fs.existsSync(latFile)) continue;
    fs.writeFileSync(`${RESULTS}${base}.svg`, chartLatency(JSON.parse(fs.readFileSync(latFile, 'utf8')) as LatencyDoc));
    console.log(`redrew ${RESULTS}${base}.svg`);
  }
}

async function main(): Promise<void> {
  const o = benchOptions(() => parseOptions(process.argv.slice(2)));
  if (o.replot) { replot(); return; }
  if (process.getuid?.() === 0 && undoStaleShield()) console.error('# fwd-sim: undid the CPU shield an earlier --isolate run left behind');
  if (process.execArgv.includes('--trace-gc')) {
    // One forced GC ("testing") marks this (main) thread's isolate in the trace; the forwarding thread forces two.
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  }
  if (os.cpus().length < 2 && o.pin) console.error('warning: fewer than 2 CPUs: the model thread and the forwarder share a core');
  if (o.traceGcRun) await traceGcRun(o);
  else if (o.latency) await latency(o);
  else if (o.batch !== null) await single(o);
  else await sweep(o);
}

main().catch((e: unknown) => {
  console.error(`fwd-sim: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exitCode = 1;
});
