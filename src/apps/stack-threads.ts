/**
 * `--threads N`: N elastic threads (worker_threads), shared-nothing as in IX: each serves one queue of the device
 * with its own mempool, stack and application (apps/stack-thread-worker.ts). This thread prepares the device for
 * sharing (driver `shareQueues`: e.g. one XDP program for all AF_XDP sockets), makes the mailboxes, prints a line a
 * second with per-thread figures, relays SIGINT/SIGTERM, and sums up at the end.
 */
import { Worker } from 'node:worker_threads';
import { parseDeviceSpec, poolHeadroomFor, shareDeviceQueues, SimNic, type SimHandles } from '../driver/index.js';
import { createMailbox } from '../dataplane/mailbox.js';
import { DATAPLANE_YOUNG_MB, quietHeap } from '../dataplane/quiet-heap.js';
import type { SteeringCounters } from '../dataplane/steering.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr, type Ipv4Address } from '../stack/ip-interface.js';
import type { TcpConfig } from '../stack/tcp/tcp.js';
import { IxyError, UsageError } from '../util/errors.js';
import { HISTOGRAM_BUCKETS } from '../util/histogram.js';
import type { EchoClientOptions } from './echo-client.js';
import { parseMacText, type StackRunOptions } from './stack-runner.js';
import { statsJson } from './stats-format.js';

export type ThreadApp = { kind: 'echo-server'; port: number } | { kind: 'echo-client'; client: EchoClientOptions };

export interface ThreadWorkerConfig {
  thread: number;
  threads: number;
  spec: string;
  headroom: number | undefined;
  addr: Ipv4Address;
  gateway: number;
  mac: number[] | null;
  batch: number;
  poolSize: number;
  ringSize: number;
  tcp?: TcpConfig;
  app: ThreadApp;
  steering: 'rss' | 'partition';
  rss?: { key: number[]; reta: number[] };
  inboxes: (SharedArrayBuffer | null)[];
  outboxes: (SharedArrayBuffer | null)[];
  /** The simulated NIC's shared memory, for `sim:` devices (the workers attach to it). */
  sim: SimHandles | null;
  /** One Int32: how many threads' apps have finished (the loops stop when all have). */
  finished: SharedArrayBuffer;
  cpu: number;
}

/** What one thread reports (a snapshot of counters since it started). */
export interface ThreadFigures {
  thread: number;
  cpuNs: number;
  accepted: number;
  activeOpens: number;
  rxPackets: number;
  iterations: number;
  steering: SteeringCounters;
  connections?: number;
  bytesEchoed?: number;
  messages?: number;
  failures?: number;
  /** The RTT histogram (util/histogram.ts), client only. */
  rtt?: number[];
}

export type ThreadMessage =
  | { type: 'ready'; thread: number; spec: string; driver: string; mac: string }
  | { type: 'stats'; figures: ThreadFigures }
  | { type: 'done'; figures: ThreadFigures; leakedBuffers: number }
  | { type: 'error'; thread: number; message: string; userError: boolean; usageError: boolean };

export interface ThreadsResult {
  elapsedMs: number;
  stoppedBy: 'time' | 'signal' | 'finished';
  leakedBuffers: number;
  perThread: ThreadFigures[];
  /** Histogram summed over the threads (client). */
  rtt: Uint32Array;
  devices: { spec: string; driver: string; mac: string }[];
}

export interface ThreadsOptions extends StackRunOptions {
  threads: number;
  /** Pin thread i to CPU i (mod the CPU count). */
  pin?: boolean;
  /** Stops the threads when aborted (as SIGINT does). */
  signal?: AbortSignal;
  /** One live line from the per-thread figures of the last second. */
  line?(now: ThreadFigures[], prev: ThreadFigures[], dt: number): string;
  /** The same figures for `--json` (called instead of `line`). */
  figures?(now: ThreadFigures[], prev: ThreadFigures[], dt: number): object;
}

/** The same app (per thread: `appFor(i)`) on N threads; resolves when they all stopped. */
export async function runStackThreads(o: ThreadsOptions, appFor: (thread: number) => ThreadApp): Promise<ThreadsResult> {
  const n = o.threads;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new IxyError(`--threads ${n} is invalid: use 1..64`);
  const print = o.print ?? ((l: string) => console.log(l));
  const addr = parseIpv4Cidr(o.ip);
  const gateway = o.gateway ? parseIpv4(o.gateway, 'gateway') : 0;
  const spec = parseDeviceSpec(o.dev);
  const mac = o.mac ? Array.from(parseMacText(o.mac)) : null;
  const share = shareDeviceQueues(spec, n, o.force);
  quietHeap();
  const boxes = Array.from({ length: n }, (_, from) => Array.from({ length: n }, (_, to) => (from === to ? null : createMailbox())));
  const finished = new SharedArrayBuffer(4);
  const workers: Worker[] = [];
  const latest: (ThreadFigures | null)[] = new Array(n).fill(null);
  const prevFig: (ThreadFigures | null)[] = new Array(n).fill(null);
  const done: (ThreadFigures | null)[] = new Array(n).fill(null);
  const devices: ThreadsResult['devices'] = [];
  let leaked = 0;
  let failure: Error | null = null;
  let stoppedBy: ThreadsResult['stoppedBy'] = 'finished';
  const t0 = performance.now();
  const stopAll = (why: 'time' | 'signal', how: 'stop' | 'halt' = 'stop'): void => {
    if (stoppedBy === 'finished') stoppedBy = why;
    for (const w of workers) w.postMessage(how);
  };
  const onSignal = (): void => stopAll('signal');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = o.seconds !== undefined ? setTimeout(() => stopAll('time'), o.seconds * 1000) : null;
  o.signal?.addEventListener('abort', onSignal);
  let ticker: NodeJS.Timeout | null = null;
  try {
    let ready = 0;
    await new Promise<void>((resolve) => {
      let exited = 0;
      for (let i = 0; i < n; i++) {
        const cfg: ThreadWorkerConfig = {
          thread: i, threads: n, spec: share.specs[i], headroom: poolHeadroomFor([spec]), addr, gateway, mac,
          batch: o.batch, poolSize: o.poolSize, ringSize: o.ringSize, tcp: o.tcp, app: appFor(i),
          steering: share.steering, rss: share.rss,
          inboxes: boxes.map((row) => row[i]), outboxes: boxes[i], finished, cpu: o.pin ? i : -1,
          sim: spec.kind === 'sim' ? SimNic.current()?.handles ?? null : null,
        };
        const w = new Worker(new URL('./stack-thread-worker.js', import.meta.url), { workerData: cfg, resourceLimits: { maxYoungGenerationSizeMb: DATAPLANE_YOUNG_MB } });
        workers.push(w);
        w.on('message', (m: ThreadMessage) => {
          if (m.type === 'ready') {
            devices[m.thread] = { spec: m.spec, driver: m.driver, mac: m.mac };
            if (o.live !== false && !o.json) print(`[thread ${m.thread}] up: ${m.spec}, driver ${m.driver}, MAC ${m.mac}, IPv4 ${formatIpv4(addr.ip)}/${addr.prefix}, B=${o.batch}`);
            if (++ready === n && o.live !== false && (o.json ? o.figures : o.line)) {
              for (const x of workers) x.postMessage('stats'); // so that the first tick has figures to print
              let last = performance.now();
              ticker = setInterval(() => {
                const now = performance.now();
                if (latest.every((f) => f !== null)) {
                  const prev = prevFig.map((p, k) => p ?? zeroFigures(k));
                  const dt = (now - last) / 1000;
                  print(o.json ? statsJson((now - t0) / 1000, o.figures!(latest as ThreadFigures[], prev, dt)) : o.line!(latest as ThreadFigures[], prev, dt));
                  for (let k = 0; k < n; k++) prevFig[k] = latest[k];
                }
                last = now;
                for (const x of workers) x.postMessage('stats');
              }, 1000);
            }
          } else if (m.type === 'stats') latest[m.figures.thread] = m.figures;
          else if (m.type === 'done') { done[m.figures.thread] = m.figures; leaked += m.leakedBuffers; }
          else if (m.type === 'error') {
            failure ??= m.usageError ? new UsageError(m.message) : m.userError ? new IxyError(`thread ${m.thread}: ${m.message}`) : new Error(`thread ${m.thread}: ${m.message}`);
            stopAll('signal', 'halt');
          }
        });
        w.on('error', (e) => { failure ??= e; stopAll('signal', 'halt'); });
        w.on('exit', () => { if (++exited === n) resolve(); });
      }
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o.signal?.removeEventListener('abort', onSignal);
    if (timer) clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    share.close();
  }
  if (failure) throw failure;
  const perThread = done.map((f, i) => f ?? zeroFigures(i));
  const rtt = new Uint32Array(HISTOGRAM_BUCKETS);
  for (const f of perThread) if (f.rtt) for (let b = 0; b < HISTOGRAM_BUCKETS; b++) rtt[b] += f.rtt[b];
  return { elapsedMs: performance.now() - t0, stoppedBy, leakedBuffers: leaked, perThread, rtt, devices };
}

function zeroFigures(thread: number): ThreadFigures {
  return {
    thread, cpuNs: 0, accepted: 0, activeOpens: 0, rxPackets: 0, iterations: 0,
    steering: { handedOff: 0, arpShared: 0, received: 0, dropped: 0 }, connections: 0, bytesEchoed: 0, messages: 0, failures: 0,
  };
}
