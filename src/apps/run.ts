import { Worker } from 'node:worker_threads';
import type { SimNic } from '../driver/sim/sim-nic.js';
import { IxyError, UsageError } from '../util/errors.js';
import {
  C_ACK, C_REQ, C_STOP, CTL_WORDS, type DataplaneConfig, DEV_FIELDS, D_RX_BYTES, D_RX_DROPPED, D_RX_PACKETS,
  D_TX_BYTES, D_TX_PACKETS, type DeviceInfo, F_CPU_NS, F_DEV_BASE, F_DROPPED, F_ELAPSED_MS, F_WORK, STATS_F64,
  type WorkerMessage,
} from './dataplane.js';
import { rateLine, rates, statsJson } from './stats-format.js';

export type RunConfig = Omit<DataplaneConfig, 'ctl' | 'stats' | 'sim'>;

export interface DeviceTotals { spec: string; rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; rxDropped: number }

export interface RunResult {
  devices: DeviceInfo[];
  totals: DeviceTotals[];
  /** Packets forwarded (fwd) or sent (pktgen). */
  work: number;
  dropped: number;
  cpuNs: number;
  elapsedMs: number;
  leakedBuffers: number;
  stoppedBy: 'time' | 'signal' | 'count';
}

export interface RunHooks {
  /** Stop after this many seconds (default: run until SIGINT/SIGTERM). */
  seconds?: number;
  /** Print per-second statistics lines (default true). */
  live?: boolean;
  /** Print the per-second figures as one JSON object a line instead of text (stats-format.ts statsJson). */
  json?: boolean;
  print?: (line: string) => void;
  /** Called once a second with the seconds since start (e.g. to print tester figures). */
  onSecond?: (elapsed: number) => void;
  /** Called when the devices are up, before the clock starts. */
  onReady?: (devices: DeviceInfo[]) => void;
  /** Called when asked to stop, before the dataplane stops (e.g. to stop a generator and let the rings drain). */
  beforeStop?: () => Promise<void>;
}

/**
 * Runs an app's dataplane loop in a worker thread and keeps this thread's event loop free: SIGINT/SIGTERM stop it
 * cleanly, a statistics line per device is printed every second, and the final totals are returned.
 */
export async function runDataplane(cfg: RunConfig, sim: SimNic | null, hooks: RunHooks = {}): Promise<RunResult> {
  const print = hooks.print ?? ((l: string) => console.log(l));
  const ctlBuf = new SharedArrayBuffer(CTL_WORDS * 4);
  const statsBuf = new SharedArrayBuffer(STATS_F64 * 8);
  const ctl = new Int32Array(ctlBuf);
  const f = new Float64Array(statsBuf);
  const full: DataplaneConfig = { ...cfg, ctl: ctlBuf, stats: statsBuf, sim: sim ? sim.handles : null };
  const worker = new Worker(new URL('./dataplane-worker.js', import.meta.url), { workerData: full });

  let devices: DeviceInfo[] = [];
  let done: Extract<WorkerMessage, { type: 'done' }> | null = null;
  let failure: Error | null = null;
  let wakeUp: () => void = () => {};
  const wake = (): void => wakeUp();
  worker.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') { devices = m.devices; }
    else if (m.type === 'done') done = m;
    else failure = m.usageError ? new UsageError(m.message) : m.userError ? new IxyError(m.message) : new Error(m.message);
    wake();
  });
  worker.on('error', (e) => { failure = e; wake(); });
  worker.on('exit', () => { if (!done && !failure) failure = new Error('dataplane worker exited unexpectedly'); wake(); });
  const sleep = (ms: number): Promise<void> => new Promise((r) => { const t = setTimeout(r, ms); wakeUp = () => { clearTimeout(t); r(); }; });

  while (devices.length === 0 && !failure) await sleep(1000);
  if (failure) { await worker.terminate(); throw failure; }
  hooks.onReady?.(devices);

  let stoppedBy: RunResult['stoppedBy'] = 'time';
  let stopRequested = false;
  const onSignal = (): void => { stoppedBy = 'signal'; stopRequested = true; wake(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const snapshot = async (): Promise<void> => {
    const req = Atomics.add(ctl, C_REQ, 1) + 1;
    const deadline = Date.now() + 1000;
    while (Atomics.load(ctl, C_ACK) !== req && Date.now() < deadline && !failure && !done) await new Promise((r) => setTimeout(r, 1));
  };
  const prev = new Float64Array(STATS_F64);
  try {
    const t0 = Date.now();
    let next = t0 + 1000;
    while (!stopRequested && !failure && !done) {
      if (hooks.seconds !== undefined && Date.now() - t0 >= hooks.seconds * 1000) break;
      const until = hooks.seconds !== undefined ? Math.min(next, t0 + hooks.seconds * 1000) : next;
      await sleep(Math.max(0, until - Date.now()));
      if (Date.now() >= next) {
        await snapshot();
        const dt = (f[F_ELAPSED_MS] - prev[F_ELAPSED_MS]) / 1000 || 1;
        if (hooks.live !== false) {
          const perDevice = devices.map((d, i) => {
            const b = F_DEV_BASE + i * DEV_FIELDS;
            return rates(f[b + D_RX_PACKETS] - prev[b + D_RX_PACKETS], f[b + D_RX_BYTES] - prev[b + D_RX_BYTES],
              f[b + D_TX_PACKETS] - prev[b + D_TX_PACKETS], f[b + D_TX_BYTES] - prev[b + D_TX_BYTES], dt);
          });
          if (hooks.json) {
            print(statsJson((Date.now() - t0) / 1000, {
              devices: perDevice.map((r, i) => {
                const b = F_DEV_BASE + i * DEV_FIELDS;
                return { spec: devices[i].spec, ...r, rxPackets: f[b + D_RX_PACKETS], txPackets: f[b + D_TX_PACKETS], rxMissed: f[b + D_RX_DROPPED] };
              }),
              work: f[F_WORK], dropped: f[F_DROPPED],
            }));
          } else for (let i = 0; i < devices.length; i++) print(rateLine(devices[i].spec, perDevice[i]));
        }
        prev.set(f);
        hooks.onSecond?.((Date.now() - t0) / 1000);
        next += 1000;
      }
    }
    if (done) stoppedBy = 'count';
    if (!failure && hooks.beforeStop) await hooks.beforeStop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    Atomics.store(ctl, C_STOP, 1);
  }
  const deadline = Date.now() + 10000;
  while (!done && !failure && Date.now() < deadline) await sleep(50);
  await worker.terminate();
  if (failure) throw failure;
  if (!done) throw new Error('dataplane worker did not stop within 10 s');
  const d = done as Extract<WorkerMessage, { type: 'done' }>;
  const totals = devices.map((dev, i): DeviceTotals => {
    const b = F_DEV_BASE + i * DEV_FIELDS;
    return { spec: dev.spec, rxPackets: f[b + D_RX_PACKETS], txPackets: f[b + D_TX_PACKETS], rxBytes: f[b + D_RX_BYTES], txBytes: f[b + D_TX_BYTES], rxDropped: f[b + D_RX_DROPPED] };
  });
  return { devices, totals, work: d.work, dropped: f[F_DROPPED], cpuNs: f[F_CPU_NS], elapsedMs: d.elapsedMs, leakedBuffers: d.leaked, stoppedBy };
}
