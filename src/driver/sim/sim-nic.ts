import { GapLog } from '../../util/gap-log.js';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { IxyError } from '../../util/errors.js';
import { HISTOGRAM_BUCKETS, percentile } from '../../util/histogram.js';
import { MAX_STREAMS } from '../../util/test-frame.js';
import { ctlBytes, G_FAULT, G_PORTS, G_READY, G_STOP, G_WAKE, P_CABLE, portWord } from './layout.js';
import { SimDmaAllocator } from './phys-memory.js';
import { readFaultMessage, SimBar } from './sim-bar.js';
import {
  histogramOffset, S_DUPLICATED, S_LAT_COUNT, S_LAT_MAX_NS, S_LAT_SUM_NS, S_MISSED, S_NEXT, S_REORDERED, S_SENT, S_UNIQUE, STREAM_WORDS, T_CTL_VERSION, T_DST_FOREIGN, T_EPOCH, T_FOREIGN, T_GEN_LIMIT, T_GEN_SKIPPED, T_GEN_STALLS, T_GEN_MISSED, T_GENERATED,
  T_RATE_MPPS, T_RX_BYTES, T_RX_FRAMES, T_STREAM_BASE, TESTER_BYTES, TESTER_F64,
} from './tester.js';

/** How the simulated ports are cabled: each to its own tester, or port 0 to port 1 (and 2 to 3 ...). */
export type SimWiring = 'tester' | 'loop' | 'linux';

export interface SimNicOptions {
  ports?: number;
  wire?: SimWiring;
  /** Size of the simulated physical memory in MiB. */
  physMiB?: number;
  /** Pin the model thread to this CPU (-1: don't). */
  cpu?: number;
  /** With wire 'linux': the interface each port's wire is on (one per port, in this network namespace). */
  linuxInterfaces?: string[];
  /** Run the model thread SCHED_FIFO (root): benchmarks only. */
  realtime?: boolean;
  /** Nice value of the model thread (below 0 needs root): benchmarks only. */
  nice?: number;
  /** Log the model loop's gaps (> 5 µs between two passes: see GapLog), for latency attribution; benchmarks only. */
  gapLog?: boolean;
}

/** Everything another thread needs to use the same simulated NIC (structured-clonable). */
export interface SimHandles {
  phys: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  ports: number;
  wire: SimWiring;
  cpu?: number;
  linuxInterfaces?: string[];
  realtime?: boolean;
  nice?: number;
  gapLog?: SharedArrayBuffer;
}

export interface Latency { count: number; meanUs: number; p50Us: number; p99Us: number; p999Us: number; p9999Us: number; maxUs: number }

export interface StreamCounts {
  /** Frames a simulated tester generated as this stream (0 for streams sent by the host, e.g. pktgen). */
  sent: number;
  /** Of `sent`: frames the receiving NIC dropped for want of a free descriptor (the driver fell behind). */
  missed: number;
  unique: number;
  reordered: number;
  duplicated: number;
  /** Highest sequence number seen + 1. */
  next: number;
  /** One-way latency of the stream's timestamped frames, as seen by this sink. */
  latency: Latency;
}

export interface TesterSnapshot {
  generated: number;
  /** Frames the NIC had no buffer for (counted in `generated`). */
  missed: number;
  rxFrames: number;
  rxBytes: number;
  foreign: number;
  /** Paced generator only: times its thread was held up > 10 µs, and the frames it skipped instead of bursting. */
  stalls: number;
  skipped: number;
  /** What this tester's sink received, per stream id (a tester sends stream `port + 2 * epoch`). */
  streams: StreamCounts[];
}

const MODEL_GAP_LOG_SIZE = 1 << 19;

let current: SimNic | null = null;

/**
 * A simulated dual-port (by default) 82599 NIC. `start()` creates its shared memory and the model's worker thread;
 * `attach()` gives another thread a handle on the same NIC. Devices `sim:N` open port N of the thread's NIC.
 */
export class SimNic {
  readonly dma: SimDmaAllocator;
  private readonly g: Int32Array;
  private worker: Worker | null = null;
  private workerError: Error | null = null;

  private constructor(readonly handles: SimHandles) {
    this.dma = new SimDmaAllocator(handles.phys);
    this.g = new Int32Array(handles.ctl);
  }

  static async start(opts: SimNicOptions = {}): Promise<SimNic> {
    const ports = opts.ports ?? 2;
    const physMiB = opts.physMiB ?? 128;
    if (!Number.isInteger(ports) || ports < 1 || ports > 8) throw new IxyError(`a simulated NIC has 1..8 ports, not ${ports}`);
    if ((opts.wire ?? 'tester') === 'loop' && ports % 2 !== 0) throw new IxyError('looped cabling needs an even number of ports');
    if (opts.wire === 'linux' && opts.linuxInterfaces?.length !== ports) {
      throw new IxyError(`a simulated NIC with ${ports} port(s) on Linux wires needs ${ports} interface name(s), got ${opts.linuxInterfaces?.length ?? 0}`);
    }
    if (!Number.isInteger(physMiB) || physMiB < 4 || physMiB > 4096) throw new IxyError(`--sim-mem must be 4..4096 MiB, not ${physMiB}`);
    const handles: SimHandles = {
      phys: new SharedArrayBuffer(physMiB << 20),
      ctl: new SharedArrayBuffer(ctlBytes(ports)),
      stats: new SharedArrayBuffer(ports * TESTER_BYTES),
      ports,
      wire: opts.wire ?? 'tester',
      cpu: opts.cpu ?? -1,
      linuxInterfaces: opts.linuxInterfaces,
      realtime: opts.realtime === true,
      nice: opts.nice,
      gapLog: opts.gapLog ? GapLog.create(MODEL_GAP_LOG_SIZE).buffer : undefined,
    };
    SimDmaAllocator.init(handles.phys);
    const g = new Int32Array(handles.ctl);
    g[G_PORTS] = ports;
    for (let p = 0; p < ports; p++) g[portWord(p, P_CABLE)] = 1;
    const nic = new SimNic(handles);
    // Every clock read in Node 20 allocates a HeapNumber (the model reads one per loop). A young generation that
    // starts large makes its scavenges rare; the flag applies to isolates created from now on.
    setFlagsFromString('--min-semi-space-size=64');
    const worker = new Worker(new URL('./sim-worker.js', import.meta.url), { workerData: handles, resourceLimits: { maxYoungGenerationSizeMb: 256 } });
    nic.worker = worker;
    worker.on('error', (e) => { nic.workerError = e; });
    worker.unref();
    const deadline = Date.now() + 10000;
    while (Atomics.load(g, G_READY) === 0) {
      if (nic.workerError) {
        const m = nic.workerError.message;
        throw new IxyError(m.startsWith('no interface') || m.includes('run as root') ? m : `simulated NIC failed to start: ${m}`);
      }
      if (Date.now() > deadline) throw new IxyError('simulated NIC did not start within 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
    current ??= nic;
    return nic;
  }

  /** The model loop's gap log (SimNicOptions.gapLog), or null. */
  gapLog(): GapLog | null {
    return this.handles.gapLog ? new GapLog(this.handles.gapLog) : null;
  }

  /** A handle on a NIC started by another thread. */
  static attach(handles: SimHandles): SimNic {
    const nic = new SimNic(handles);
    current ??= nic;
    return nic;
  }

  /** The NIC that `sim:N` specs refer to in this thread. */
  static current(): SimNic | null {
    return current;
  }

  static setCurrent(nic: SimNic | null): void {
    current = nic;
  }

  get ports(): number {
    return this.handles.ports;
  }

  openBar(port: number): SimBar {
    if (!Number.isInteger(port) || port < 0 || port >= this.ports) {
      throw new IxyError(`sim:${port} does not exist: the simulated NIC has ports 0..${this.ports - 1}`);
    }
    this.checkAlive();
    return new SimBar(this.handles.ctl, port);
  }

  /** Plugs or pulls the cable of a port: its link goes down within one model tick. */
  setCable(port: number, plugged: boolean): void {
    Atomics.store(this.g, portWord(port, P_CABLE), plugged ? 1 : 0);
    this.wake();
  }

  /**
   * Starts (rate > 0, Mpps, capped at line rate) or stops (0) the tester on `port`. With `limit` > 0 it stops once it
   * has generated that many frames in total since the NIC started (0 = no limit).
   */
  setGenerator(port: number, rateMpps: number, limit = 0): void {
    const f = this.testerF64(port);
    // a seqlock: the model adopts rate and limit only as a pair written between two even versions
    const version = new Int32Array(this.handles.stats, port * TESTER_BYTES + T_CTL_VERSION * 8, 1);
    Atomics.add(version, 0, 1);
    f[T_GEN_LIMIT] = limit;
    f[T_RATE_MPPS] = Math.max(0, rateMpps);
    Atomics.add(version, 0, 1);
    this.wake();
  }

  /** Makes the tester on `port` address frames to a MAC that is not the port's (promiscuous-mode tests). */
  setForeignDestination(port: number, foreign: boolean): void {
    this.testerF64(port)[T_DST_FOREIGN] = foreign ? 1 : 0;
  }

  tester(port: number): TesterSnapshot {
    const f = this.testerF64(port);
    const us = (ns: number): number => ns / 1000;
    const streams: StreamCounts[] = [];
    for (let s = 0; s < MAX_STREAMS; s++) {
      const b = T_STREAM_BASE + s * STREAM_WORDS;
      const hist = new Uint32Array(this.handles.stats, histogramOffset(port, s), HISTOGRAM_BUCKETS);
      const count = f[b + S_LAT_COUNT];
      streams.push({
        sent: f[b + S_SENT], missed: f[b + S_MISSED], unique: f[b + S_UNIQUE], reordered: f[b + S_REORDERED], duplicated: f[b + S_DUPLICATED], next: f[b + S_NEXT],
        latency: {
          count, meanUs: count ? us(f[b + S_LAT_SUM_NS] / count) : NaN,
          p50Us: us(percentile(hist, 50)), p99Us: us(percentile(hist, 99)), p999Us: us(percentile(hist, 99.9)),
          p9999Us: us(percentile(hist, 99.99)), maxUs: count ? us(f[b + S_LAT_MAX_NS]) : NaN,
        },
      });
    }
    return { generated: f[T_GENERATED], missed: f[T_GEN_MISSED], rxFrames: f[T_RX_FRAMES], rxBytes: f[T_RX_BYTES], foreign: f[T_FOREIGN], stalls: f[T_GEN_STALLS], skipped: f[T_GEN_SKIPPED], streams };
  }

  /**
   * Starts a new measurement phase on the tester of `port` (e.g. after a warm-up): from the model's next step it
   * sends stream `port + 2 * epoch` from sequence number 0, and its latency histogram starts empty.
   * Returns that stream id.
   */
  startEpoch(port: number, epoch: number): number {
    this.testerF64(port)[T_EPOCH] = epoch;
    this.wake();
    return (port + 2 * epoch) % MAX_STREAMS;
  }

  /** The first hardware rule the driver broke, or null. */
  fault(): string | null {
    return Atomics.load(this.g, G_FAULT) === 0 ? null : readFaultMessage(this.handles.ctl);
  }

  private testerF64(port: number): Float64Array {
    if (this.handles.wire !== 'tester') throw new IxyError('this simulated NIC is cabled port-to-port: it has no testers');
    if (port < 0 || port >= this.ports) throw new IxyError(`no tester on port ${port}`);
    return new Float64Array(this.handles.stats, port * TESTER_BYTES, TESTER_F64);
  }

  private wake(): void {
    Atomics.add(this.g, G_WAKE, 1);
    Atomics.notify(this.g, G_WAKE);
  }

  private checkAlive(): void {
    if (this.workerError) throw new IxyError(`simulated NIC crashed: ${this.workerError.message}`);
  }

  /** Stops the model thread (owner only). */
  async stop(): Promise<void> {
    Atomics.store(this.g, G_STOP, 1);
    this.wake();
    if (this.worker) {
      const w = this.worker;
      this.worker = null;
      w.ref(); // keep the process alive until the model has really stopped
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => { timer = setTimeout(r, 2000); });
      await Promise.race([exited, timeout]);
      clearTimeout(timer);
      await w.terminate();
    }
    if (current === this) current = null;
  }
}
