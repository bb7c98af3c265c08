/** An L2 app in its worker thread (dataplane/l2-worker.ts), driven through shared memory (dataplane/l2-shared.ts). */
import { Worker } from 'node:worker_threads';
import type { SimHandles } from '../driver/index.js';
import type { L2App, L2AppDefinition } from './app.js';
import { type Engine, type EngineDone, type EngineHooks, type ModuleRef, STOP_TIMEOUT_MS } from './engine.js';
import type { DeviceInfo, ThreadFigures } from './figures.js';
import {
  C_ACK, C_REQ, C_STOP, CTL_WORDS, DEV_FIELDS, F_APP, F_CPU_NS, F_DEV, type L2Message, type L2WorkerConfig, STATS_F64,
} from './l2-shared.js';
import type { RuntimeOptions } from './runtime.js';
import { errorFromWire } from './worker-error.js';

export async function startL2(
  ref: ModuleRef, _def: L2AppDefinition<unknown, L2App>, o: RuntimeOptions, sim: SimHandles | null, _hooks: EngineHooks,
): Promise<Engine> {
  const ctlBuf = new SharedArrayBuffer(CTL_WORDS * 4);
  const statsBuf = new SharedArrayBuffer(STATS_F64 * 8);
  const ctl = new Int32Array(ctlBuf);
  const f = new Float64Array(statsBuf);
  const cfg: L2WorkerConfig = {
    app: ref.href, export: ref.exportName, options: ref.options, devices: o.devices, batch: o.batch ?? 32,
    ringSize: o.ringSize ?? 512, poolSize: o.poolSize ?? 4096, force: o.force === true, promisc: o.promisc !== false,
    cpu: o.cpu ?? -1, sim, ctl: ctlBuf, stats: statsBuf,
  };
  const worker = new Worker(new URL('./l2-worker.js', import.meta.url), { workerData: cfg });
  let devices: DeviceInfo[] = [];
  let names: string[] = [];
  let doneMsg: Extract<L2Message, { type: 'done' }> | null = null;
  let failure: Error | null = null;
  let onReady: (() => void) | null = null;
  const exited = new Promise<void>((resolve) => {
    worker.on('message', (m: L2Message) => {
      if (m.type === 'ready') { devices = m.devices; names = m.figureNames; }
      else if (m.type === 'done') doneMsg = m;
      else failure ??= errorFromWire(m.error);
      onReady?.();
    });
    worker.on('error', (e) => { failure ??= e; onReady?.(); });
    worker.on('exit', () => {
      if (!doneMsg) failure ??= new Error('the dataplane worker exited unexpectedly');
      onReady?.();
      resolve();
    });
  });
  await new Promise<void>((resolve) => {
    onReady = () => { if (devices.length > 0 || failure || doneMsg) resolve(); };
  });
  onReady = null;
  if (failure) { await worker.terminate(); throw failure; }

  const read = (): ThreadFigures => {
    const app: Record<string, number> = {};
    for (let i = 0; i < names.length; i++) app[names[i]] = f[F_APP + i];
    return {
      thread: 0, cpuNs: f[F_CPU_NS], app, stack: null,
      devices: devices.map((_d, i) => {
        const b = F_DEV + i * DEV_FIELDS;
        return { rxPackets: f[b], txPackets: f[b + 1], rxBytes: f[b + 2], txBytes: f[b + 3], rxMissed: f[b + 4] };
      }),
    };
  };
  let stopTimer: NodeJS.Timeout | null = null;
  const done = exited.then((): EngineDone => {
    if (stopTimer) clearTimeout(stopTimer);
    if (failure) throw failure;
    const d = doneMsg!;
    return { threads: [read()], summaries: [d.summary], leaked: d.leaked };
  });
  return {
    devices,
    done,
    stop: () => {
      Atomics.store(ctl, C_STOP, 1);
      stopTimer ??= setTimeout(() => {
        failure ??= new Error(`the dataplane worker did not stop within ${STOP_TIMEOUT_MS / 1000} s`);
        void worker.terminate();
      }, STOP_TIMEOUT_MS);
    },
    sample: async () => {
      const req = Atomics.add(ctl, C_REQ, 1) + 1;
      const deadline = Date.now() + 1000;
      while (Atomics.load(ctl, C_ACK) !== req && Date.now() < deadline && !failure && !doneMsg) await new Promise((r) => setTimeout(r, 1));
      return [read()];
    },
  };
}
