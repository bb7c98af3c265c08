/**
 * The forwarding thread of bench/fwd-sim.ts: opens sim:0 and sim:1 of a simulated NIC started by the main thread,
 * and runs a tight loop of Forwarder.step(). The main thread drives it only through shared memory (it never
 * yields to its event loop while forwarding):
 *  - a command word (calibrate / run / stop) with a sequence number, acknowledged when done or started;
 *  - while running, "mark" requests that snapshot its CPU time and counters at the start and end of the
 *    measured interval (and once more after the rings drained), and start/stop a v8.GCProfiler around it.
 * The loop counts steps and empty steps (both rxBatch calls returned 0), so the main thread can subtract the
 * cost of idle polling. Nothing in the loop allocates: counters live in a Float64Array, not in variables that
 * could be boxed.
 *
 * This module is also imported by the main thread for its constants; it only runs when it is a worker started
 * with `workerData.kind === 'fwd-sim'`.
 */
import * as inspector from 'node:inspector';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Forwarder } from '../src/apps/forward.js';
import { type Device, dmaAllocatorFor, openDevice, parseDeviceSpec, SimNic, type SimHandles } from '../src/driver/index.js';
import { Mempool } from '../src/mem/mempool.js';
import { makeThisThreadRealtime, pinThisThread, threadCpuNs } from '../src/sys/cpu.js';
import { MonotonicClock } from '../src/sys/monotonic-clock.js';
import { GapLog } from '../src/util/gap-log.js';

// ---- control words (Int32Array over `ctl`) ----
export const W_CMD = 0; // main → worker: CMD_*
export const W_CMD_ARG = 1; // main → worker: argument of the command (calibration: result slot)
export const W_CMD_SEQ = 2; // main → worker: bumped with each command
export const W_CMD_ACK = 3; // worker → main: sequence number of the last command done (calibrate) or begun (run)
export const W_REQ = 4; // main → worker: bumped for each mark request (only while running)
export const W_REQ_KIND = 5; // main → worker: MARK_START | MARK_END
export const W_REQ_ACK = 6; // worker → main: the mark request handled
export const CTL_WORDS = 8;
export const CMD_WAIT = 0;
export const CMD_CALIBRATE = 1;
export const CMD_RUN = 2;
export const CMD_STOP = 3;
export const MARK_START = 1;
export const MARK_END = 2;
export const MARK_DRAINED = 3; // a plain snapshot after the generator stopped and the rings drained

// ---- results (Float64Array over `stats`) ----
/** A snapshot of the loop: at mark start (base S_START) and mark end (base S_END). */
export const X_CPU_NS = 0; // threadCpuNs()
export const X_WALL_MS = 1; // performance.now()
export const X_FORWARDED = 2; // Forwarder.forwarded
export const X_DROPPED = 3; // Forwarder.dropped (TX ring full)
export const X_STEPS = 4; // Forwarder.step() calls
export const X_EMPTY = 5; // of those, steps that received nothing on either port
export const X_HEAP_USED = 6; // v8 used_heap_size (bytes)
// The first step of every block is timed with CLOCK_MONOTONIC (a sample of 1 in BLOCK steps): the wall time of the
// sampled steps that forwarded something, the packets they forwarded, how many they were; the same for empty ones.
export const X_SB_MS = 7;
export const X_SB_PACKETS = 8;
export const X_SB_STEPS = 9;
export const X_SE_MS = 10;
export const X_SE_STEPS = 11;
export const SNAP_WORDS = 12;
export const S_START = 0;
export const S_END = S_START + SNAP_WORDS;
export const S_DRAINED = S_END + SNAP_WORDS;
/** Calibration results: slot k at CAL_BASE + k * CAL_WORDS. */
export const CAL_BASE = S_DRAINED + SNAP_WORDS;
export const C_NS_PER_STEP = 0; // CPU ns per empty step (both ports polled, nothing received)
export const C_STEPS = 1; // steps timed
export const C_NONEMPTY = 2; // steps that did receive something (should be 0: the devices must be idle)
export const CAL_WORDS = 4;
// Calibration slots: before any traffic / after the measured run with the rings drained (same JIT state as measured);
// with the NIC model thread parked (generator off) / spinning (generator on but with nothing left to send), as it
// spins during the measurement. The other CPU's activity changes what an empty poll costs (SMT siblings, caches).
export const CAL_PRE_PARKED = 0;
export const CAL_PRE_SPIN = 1;
export const CAL_POST_PARKED = 2;
export const CAL_POST_SPIN = 3;
export const CAL_SLOTS = 4;
export const G_COUNT = CAL_BASE + CAL_SLOTS * CAL_WORDS; // collections in this thread between mark start and end
export const G_PAUSE_MS = G_COUNT + 1; // their total duration
export const G_FORCED = G_COUNT + 2; // 1 if forced full GCs bracket the interval (trace-gc attribution)
export const CLOCK_READ_NS = G_COUNT + 3; // what one clock read adds to a timed step (median, measured at start)
export const STATS_F64 = G_COUNT + 4;
/** A timed step longer than this was interrupted (preempted, descheduled): not a sample of the step's cost. */
export const SAMPLE_MAX_MS = 0.05;

export interface FwdWorkerConfig {
  kind: 'fwd-sim';
  sim: SimHandles;
  batch: number;
  ringSize: number;
  poolSize: number;
  /** Pin this thread to this CPU (-1: don't). */
  cpu: number;
  /** Empty steps to time per calibration. */
  calibrateSteps: number;
  /** Diagnostic: sample this thread's allocations (V8 sampling heap profiler) over the measured interval. */
  allocProfile: boolean;
  /** SCHED_FIFO for this thread. */
  realtime: boolean;
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /**
   * Latency runs: a GapLog of every gap > GAP_MIN_US between two blocks of the loop (the thread did not run, or a
   * block took that long); null: not recorded.
   */
  gaps: SharedArrayBuffer | null;
}

export const GAP_MIN_US = 5;

export type FwdWorkerMessage =
  | { type: 'ready'; pinned: boolean; gcForcible: boolean }
  | { type: 'gc'; statistics: Array<{ gcType: string; cost: number }> }
  | { type: 'alloc'; sites: AllocSite[]; sampledBytes: number }
  | { type: 'done'; leaked: number; fault: string | null }
  | { type: 'error'; message: string; stack?: string };

export interface AllocSite { bytes: number; stack: string }

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children?: ProfileNode[] }

/** Sampled allocation sites, largest first, each with its innermost frames. */
function allocSites(root: ProfileNode): { sites: AllocSite[]; total: number } {
  const sites = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode, path: string[]): void => {
    const f = n.callFrame;
    const here = [...path, `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}`];
    if (n.selfSize > 0) {
      const key = here.slice(-4).reverse().join(' < ');
      sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children ?? []) walk(c, here);
  };
  walk(root, []);
  return { sites: [...sites].map(([stack, bytes]) => ({ stack, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 12), total };
}

/** Steps between two looks at the control words. */
const BLOCK = 16;

function main(cfg: FwdWorkerConfig): void {
  const post = (m: FwdWorkerMessage): void => parentPort!.postMessage(m);
  const pinned = cfg.cpu >= 0 ? pinThisThread(cfg.cpu) : false;
  if (cfg.realtime && !makeThisThreadRealtime(50)) throw new Error('SCHED_FIFO refused: --realtime needs root (CAP_SYS_NICE)');
  const nic = SimNic.attach(cfg.sim);
  SimNic.setCurrent(nic);
  const specs = ['sim:0', 'sim:1'].map(parseDeviceSpec);
  const pool = new Mempool(dmaAllocatorFor(specs), { count: cfg.poolSize });
  const devices: Device[] = [];
  for (const s of specs) devices.push(openDevice(s, { pool, ringSize: cfg.ringSize }));
  for (const d of devices) d.setPromisc(true);
  const fwd = new Forwarder(devices[0], devices[1], cfg.batch);

  // A full GC on demand, to bracket the measured interval in --trace-gc output ("testing" lines of this isolate).
  let forceGc: (() => void) | null = null;
  try {
    v8.setFlagsFromString('--expose-gc');
    const g: unknown = vm.runInNewContext('gc');
    if (typeof g === 'function') forceGc = g as () => void;
  } catch { /* not available: attribution then relies on the GCProfiler count */ }

  const ctl = new Int32Array(cfg.ctl);
  const f = new Float64Array(cfg.stats);
  const cnt = new Float64Array(7); // [steps, empty, then the step samples: busy ms, packets, steps, empty ms, steps]
  const CNT_STEPS = 0;
  const CNT_EMPTY = 1;
  const CNT_SB_MS = 2;
  const CNT_SB_PACKETS = 3;
  const CNT_SB_STEPS = 4;
  const CNT_SE_MS = 5;
  const CNT_SE_STEPS = 6;
  const stepClock = new MonotonicClock();
  const ta = new Float64Array(1);
  const tb = new Float64Array(1);
  { // the cost of a clock read, as it lands in a timed step: median of back-to-back pairs
    const pairs: number[] = [];
    for (let k = 0; k < 9; k++) {
      stepClock.read(ta);
      for (let i = 0; i < 20000; i++) stepClock.read(tb);
      stepClock.read(tb);
      pairs.push(((tb[0] - ta[0]) * 1e6) / 20001);
    }
    f[CLOCK_READ_NS] = pairs.sort((a, b) => a - b)[4];
  }

  // The hot loop: BLOCK steps, counting the empty ones, the first one timed. Locals stay unboxed in optimised code.
  const block = (): void => {
    const before = fwd.forwarded;
    stepClock.read(ta);
    const n0 = fwd.step();
    stepClock.read(tb);
    const ms = tb[0] - ta[0];
    if (ms < SAMPLE_MAX_MS) {
      if (n0 === 0) {
        cnt[CNT_SE_MS] += ms;
        cnt[CNT_SE_STEPS]++;
      } else {
        cnt[CNT_SB_MS] += ms;
        cnt[CNT_SB_PACKETS] += fwd.forwarded - before;
        cnt[CNT_SB_STEPS]++;
      }
    }
    let empty = n0 === 0 ? 1 : 0;
    for (let i = 1; i < BLOCK; i++) if (fwd.step() === 0) empty++;
    cnt[CNT_STEPS] += BLOCK;
    cnt[CNT_EMPTY] += empty;
  };

  const snapshot = (base: number): void => {
    f[base + X_CPU_NS] = threadCpuNs();
    f[base + X_WALL_MS] = performance.now();
    f[base + X_FORWARDED] = fwd.forwarded;
    f[base + X_DROPPED] = fwd.dropped;
    f[base + X_STEPS] = cnt[CNT_STEPS];
    f[base + X_EMPTY] = cnt[CNT_EMPTY];
    f[base + X_SB_MS] = cnt[CNT_SB_MS];
    f[base + X_SB_PACKETS] = cnt[CNT_SB_PACKETS];
    f[base + X_SB_STEPS] = cnt[CNT_SB_STEPS];
    f[base + X_SE_MS] = cnt[CNT_SE_MS];
    f[base + X_SE_STEPS] = cnt[CNT_SE_STEPS];
  };

  let profiler: v8.GCProfiler | null = null;
  const session = cfg.allocProfile ? new inspector.Session() : null;
  session?.connect();
  const ack = (req: number): void => {
    Atomics.store(ctl, W_REQ_ACK, req);
    Atomics.notify(ctl, W_REQ_ACK);
  };
  /** Handles a mark request and acknowledges it as soon as the snapshot is taken (the rest would stall forwarding). */
  const mark = (kind: number, req: number): void => {
    if (kind === MARK_START) {
      if (forceGc) forceGc();
      session?.post('HeapProfiler.startSampling', { samplingInterval: 64 }); // same-thread session: synchronous
      f[G_FORCED] = forceGc ? 1 : 0;
      profiler = new v8.GCProfiler();
      profiler.start();
      f[S_START + X_HEAP_USED] = v8.getHeapStatistics().used_heap_size;
      snapshot(S_START);
      ack(req);
    } else if (kind === MARK_DRAINED) {
      snapshot(S_DRAINED);
      ack(req);
    } else {
      snapshot(S_END);
      ack(req);
      f[S_END + X_HEAP_USED] = v8.getHeapStatistics().used_heap_size;
      const r = profiler ? profiler.stop() : undefined;
      profiler = null;
      const stats = r?.statistics ?? [];
      f[G_COUNT] = stats.length;
      f[G_PAUSE_MS] = stats.reduce((s: number, x: { cost: number }) => s + x.cost, 0) / 1000; // cost is in µs
      post({ type: 'gc', statistics: stats.map((x: { gcType: string; cost: number }) => ({ gcType: x.gcType, cost: x.cost })) });
      session?.post('HeapProfiler.stopSampling', (err, res) => {
        if (err || !res) return;
        const { sites, total } = allocSites((res as unknown as { profile: { head: ProfileNode } }).profile.head);
        post({ type: 'alloc', sites, sampledBytes: total });
      });
      if (forceGc) forceGc();
    }
  };

  post({ type: 'ready', pinned, gcForcible: forceGc !== null });

  let seq = 0;
  let lastReq = Atomics.load(ctl, W_REQ);
  // Gaps are timed from the first run on, so that the code that times them is optimised before the measurement
  // (a branch first taken later would deoptimise the loop, and the interpreter allocates). The main thread picks
  // the measured interval out of the log by time. [last, now] in ms: not captured `let`s (a double stored in one
  // is boxed on every write), and not performance.now(), which allocates on Node 20.
  const gapLog = cfg.gaps ? new GapLog(cfg.gaps, GAP_MIN_US) : null;
  const clock = new MonotonicClock();
  const ms = new Float64Array(2);
  clock.readAbsolute(ms);
  ms[1] = ms[0];
  /**
   * The loop, used both for the measurement and the calibration so that both time the same code: blocks of steps,
   * a look at the command word and the mark request after each. Returns the blocks run (stops early on a new command).
   */
  const loop = (maxBlocks: number): number => {
    let b = 0;
    while (b < maxBlocks && Atomics.load(ctl, W_CMD_SEQ) === seq) {
      block();
      b++;
      if (gapLog !== null) {
        clock.readAbsolute(ms);
        gapLog.sample(ms);
      }
      const req = Atomics.load(ctl, W_REQ);
      if (req !== lastReq) {
        lastReq = req;
        mark(Atomics.load(ctl, W_REQ_KIND), req);
        if (gapLog !== null) { // the mark's own time is not a gap of the loop
          clock.readAbsolute(ms);
          ms[1] = ms[0];
        }
      }
    }
    return b;
  };

  /** CPU ns per empty step: the median of CAL_CHUNKS timed chunks (robust against a short disturbance). */
  const CAL_CHUNKS = 7;
  const chunkNs = new Float64Array(CAL_CHUNKS);
  const calibrate = (slot: number): void => {
    const b = CAL_BASE + slot * CAL_WORDS;
    loop(Math.ceil(Math.min(cfg.calibrateSteps, 500_000) / BLOCK)); // warm
    const steps0 = cnt[CNT_STEPS];
    const empty0 = cnt[CNT_EMPTY];
    const blocks = Math.max(1, Math.ceil(cfg.calibrateSteps / CAL_CHUNKS / BLOCK));
    for (let c = 0; c < CAL_CHUNKS; c++) {
      const t0 = threadCpuNs();
      const n = loop(blocks);
      chunkNs[c] = (threadCpuNs() - t0) / (n * BLOCK);
    }
    chunkNs.sort();
    const steps = cnt[CNT_STEPS] - steps0;
    f[b + C_NS_PER_STEP] = chunkNs[CAL_CHUNKS >> 1];
    f[b + C_STEPS] = steps;
    f[b + C_NONEMPTY] = steps - (cnt[CNT_EMPTY] - empty0);
  };

  for (;;) {
    Atomics.wait(ctl, W_CMD_SEQ, seq); // returns at once if a command is already pending
    seq = Atomics.load(ctl, W_CMD_SEQ);
    const cmd = Atomics.load(ctl, W_CMD);
    if (cmd === CMD_STOP) break;
    if (cmd === CMD_CALIBRATE) {
      calibrate(Atomics.load(ctl, W_CMD_ARG));
      Atomics.store(ctl, W_CMD_ACK, seq);
      Atomics.notify(ctl, W_CMD_ACK);
    } else if (cmd === CMD_RUN) {
      Atomics.store(ctl, W_CMD_ACK, seq);
      Atomics.notify(ctl, W_CMD_ACK);
      while (loop(1 << 30) > 0) { /* until the next command */ }
    }
  }
  for (const d of devices) d.close();
  post({ type: 'done', leaked: pool.count - pool.available, fault: nic.fault() });
}

/**
 * A probe of how far apart the two CPUs are: two threads pinned to different CPUs bounce one shared word
 * (a cache line) back and forth; the round trip is two cache-line transfers between the cores. On a VM this
 * depends on where the host runs the vCPUs (same core complex or not), which changes what every shared
 * descriptor and packet costs the forwarder and the NIC model.
 */
export interface PingPongConfig { kind: 'pingpong'; cpu: number; role: 0 | 1; sab: SharedArrayBuffer; rounds: number; trials: number }

function pingPong(cfg: PingPongConfig): void {
  pinThisThread(cfg.cpu);
  const x = new Int32Array(cfg.sab);
  Atomics.add(x, 1, 1);
  while (Atomics.load(x, 1) < 2) { /* both threads running */ }
  const total = cfg.rounds * cfg.trials;
  if (cfg.role === 1) {
    for (let i = 0; i < total; i++) {
      while (Atomics.load(x, 0) !== 2 * i + 1) { /* wait for the ball */ }
      Atomics.store(x, 0, 2 * i + 2);
    }
    return;
  }
  const ns: number[] = [];
  let i = 0;
  for (let t = 0; t < cfg.trials; t++) {
    const t0 = performance.now();
    for (let k = 0; k < cfg.rounds; k++, i++) {
      Atomics.store(x, 0, 2 * i + 1);
      while (Atomics.load(x, 0) !== 2 * i + 2) { /* wait for it to come back */ }
    }
    ns.push(((performance.now() - t0) * 1e6) / cfg.rounds);
  }
  ns.sort((a, b) => a - b);
  parentPort!.postMessage({ type: 'rtt', ns: ns[ns.length >> 1], all: ns });
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === 'pingpong') pingPong(workerData as PingPongConfig);

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === 'fwd-sim') {
  try {
    main(workerData as FwdWorkerConfig);
  } catch (e) {
    const err = e as Error;
    parentPort!.postMessage({ type: 'error', message: err.message, stack: err.stack } satisfies FwdWorkerMessage);
  }
}
