/**
 * IX's elastic thread: one loop that takes batches of packets from a device queue through the stack to the app and
 * back, run to completion (IX §3/§4.2). Each iteration is one `stack.poll` (time, timers, at most B packets from the
 * device through the stack, never waiting to fill a batch), the app on the iteration's events, and `stack.flush`:
 * the app's calls become segments and leave in the same iteration.
 * Batching is adaptive: under light load a batch is 1 packet (low latency), under heavy load it grows up to B.
 *
 * The loop shares its thread with Node's event loop: it runs in slices (default 1 ms) and yields between them, so
 * user timers and I/O in the same thread still work. Idle or not, it yields once per slice: every yield allocates
 * (an Immediate and its async context), so a loop that yielded after each empty poll would make garbage at the rate
 * it polls. After `parkAfterMs` of idleness it polls once per park, until the next timer (at most `parkMaxMs`).
 */
import type { App, NetApi } from '../api/native.js';
import { MAX_POLL_BATCH, type Stack } from '../stack/stack.js';
import { threadCpuNs, yieldCpu } from '../sys/cpu.js';
import type { Steering } from './steering.js';

export interface ElasticOptions {
  /** B: most packets taken from the device per iteration (IX: 64). */
  batch?: number;
  /** Busy slice before yielding to Node's event loop, µs. Default 1000. */
  sliceUs?: number;
  /** Idle this long → poll once per park (a timer) instead of spinning through slices. Default 20 ms. */
  parkAfterMs?: number;
  /** Longest park, ms. Default 1. */
  parkMaxMs?: number;
  /** With several threads: hands frames for other threads' flows over and takes theirs (dataplane/steering.ts). */
  steering?: Steering;
  /**
   * Empty polls in a row after which the loop offers its CPU to another runnable thread (sched_yield): the kernel
   * thread that fills an AF_XDP copy-mode queue (veth's NAPI) often shares the CPU. 0: never. Default 16.
   */
  yieldCpuAfter?: number;
}

export class LoopCounters {
  iterations = 0;
  rxPackets = 0;
  /** Histogram of batch sizes by power of two: [0] = 1, [1] = 2–3, … [7] = 128+. */
  readonly batchSizes = new Float64Array(8);
  parks = 0;
  yields = 0;
}

export class ElasticThread {
  readonly batch: number;
  readonly counters = new LoopCounters();
  private stopped = false;
  private running = false;
  private readonly sliceMs: number;
  private readonly parkAfterMs: number;
  private readonly parkMaxMs: number;
  private idleSince = 0;
  private cpu0 = 0;
  private resolveDone: (() => void) | null = null;
  private failure: unknown = null;
  private readonly boundSlice: () => void;
  private readonly steering: Steering | null;
  private readonly yieldCpuAfter: number;
  private emptyPolls = 0;

  readonly api: NetApi;

  constructor(readonly stack: Stack, readonly app: App, opts: ElasticOptions = {}) {
    this.api = stack.api;
    this.batch = opts.batch ?? 64;
    if (!Number.isInteger(this.batch) || this.batch < 1 || this.batch > MAX_POLL_BATCH) throw new RangeError(`batch ${this.batch}: use 1..${MAX_POLL_BATCH}`);
    this.sliceMs = (opts.sliceUs ?? 1000) / 1000;
    this.parkAfterMs = opts.parkAfterMs ?? 20;
    this.parkMaxMs = opts.parkMaxMs ?? 1;
    this.boundSlice = () => this.slice();
    this.steering = opts.steering ?? null;
    this.yieldCpuAfter = opts.yieldCpuAfter ?? 16;
  }

  /** One iteration of the loop; returns the packets received (0 = idle). */
  iterate(): number {
    const stack = this.stack;
    const n = stack.poll(this.batch, this.steering);
    const ev = stack.events;
    if (ev.count > 0) {
      this.app.onEvents(ev, this.api);
      ev.clear();
    }
    stack.flush();
    const c = this.counters;
    c.iterations++;
    if (n > 0) {
      c.rxPackets += n;
      c.batchSizes[n >= 128 ? 7 : 31 - Math.clz32(n)]++;
    }
    return n;
  }

  /** Runs until `stop()` or the app is finished; resolves then (rejects if the app or the stack threw). */
  run(): Promise<void> {
    if (this.running) throw new Error('the elastic thread is already running');
    this.running = true;
    this.cpu0 = threadCpuNs();
    this.app.start(this.api);
    this.stack.clock.update();
    this.idleSince = this.stack.clock.ms;
    return new Promise<void>((resolve) => {
      this.resolveDone = resolve;
      setImmediate(this.boundSlice);
    }).then(() => { if (this.failure !== null) throw this.failure; });
  }

  stop(): void {
    this.stopped = true;
  }

  /** CPU time this thread used since run() began, ns. */
  cpuNs(): number {
    return threadCpuNs() - this.cpu0;
  }

  private slice(): void {
    try {
      const clock = this.stack.clock;
      clock.update();
      const start = clock.ms;
      let now = start;
      for (;;) {
        if (this.stopped || this.app.finished) { this.finish(); return; }
        const n = this.iterate();
        now = clock.ms; // read by iterate()'s timer step
        if (n > 0 || this.stack.iface.txPending > 0) {
          this.idleSince = now;
          this.emptyPolls = 0;
        } else if (now - this.idleSince >= this.parkAfterMs) break; // long idle: one poll per park
        else if (++this.emptyPolls === this.yieldCpuAfter) {
          this.emptyPolls = 0;
          yieldCpu();
        }
        if (this.app.yieldNow === true) { this.app.yieldNow = false; break; }
        if (now - start >= this.sliceMs) break;
      }
      const idle = now - this.idleSince;
      const refed = this.app.refed !== false;
      if (idle >= this.parkAfterMs) {
        this.counters.parks++;
        const nextMs = this.stack.pollDelay();
        const wait = nextMs < this.parkMaxMs ? nextMs : this.parkMaxMs;
        const t = setTimeout(this.boundSlice, wait);
        if (!refed) t.unref();
      } else if (refed) {
        this.counters.yields++;
        setImmediate(this.boundSlice);
      } else {
        // An unref'd Immediate does not wake Node's poll phase (only ref'd ones keep it from blocking), an unref'd
        // timer does: without a ref'd handle the loop runs on 1 ms timers, and lets the process end.
        this.counters.yields++;
        setTimeout(this.boundSlice, 0).unref();
      }
    } catch (e) {
      this.failure = e;
      this.finish();
    }
  }

  private finish(): void {
    this.running = false;
    const r = this.resolveDone;
    this.resolveDone = null;
    r?.();
  }
}
