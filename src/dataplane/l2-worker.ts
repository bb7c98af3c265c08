/**
 * The thread of an L2 app (dataplane/app.ts): opens its devices on one pool, builds the app and calls `step()` in a
 * busy loop until the runtime sets C_STOP or the app is finished. Allocates nothing while it runs; once a second,
 * when asked, it copies its counters to shared memory (dataplane/l2-shared.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Device, type DeviceStats, emptyStats, formatMac, openDevice, parseDeviceSpec, SimNic } from '../driver/index.js';
import { pinThisThread, threadCpuNs } from '../sys/cpu.js';
import { UsageError } from '../util/errors.js';
import type { L2App, L2AppDefinition } from './app.js';
import { loadApp } from './app-loader.js';
import {
  C_ACK, C_REQ, C_STOP, DEV_FIELDS, F_APP, F_CPU_NS, F_DEV, type L2Message, type L2WorkerConfig, MAX_APP_FIGURES,
} from './l2-shared.js';
import { createPool } from './pool.js';
import { errorToWire } from './worker-error.js';

const cfg = workerData as L2WorkerConfig;
const post = (m: L2Message): void => parentPort!.postMessage(m);

async function run(): Promise<void> {
  if (cfg.cpu >= 0) pinThisThread(cfg.cpu);
  if (cfg.sim) SimNic.attach(cfg.sim);
  const def = (await loadApp(cfg.app, cfg.export)) as L2AppDefinition<unknown, L2App>;
  const specs = cfg.devices.map(parseDeviceSpec);
  const pool = createPool(specs, { count: cfg.poolSize });
  const devices: Device[] = [];
  try {
    for (const s of specs) devices.push(openDevice(s, { pool, ringSize: cfg.ringSize, force: cfg.force }));
    for (const d of devices) d.setPromisc(cfg.promisc);
    const app = def.create({ devices, pool, batch: cfg.batch }, cfg.options);
    const figureNames = def.figures ? Object.keys(def.figures(app)) : [];
    if (figureNames.length > MAX_APP_FIGURES) throw new UsageError(`an app reports at most ${MAX_APP_FIGURES} figures, not ${figureNames.length}`, 'EBADOPTION');
    post({
      type: 'ready', figureNames,
      devices: devices.map((d) => ({ thread: 0, spec: d.spec, driver: d.driverName, mac: formatMac(d.macAddress()), linkMbps: d.linkSpeedMbps() })),
    });
    const ctl = new Int32Array(cfg.ctl);
    const f = new Float64Array(cfg.stats);
    const acc: DeviceStats[] = devices.map(() => emptyStats());
    const publish = (cpu0: number): void => {
      for (let i = 0; i < devices.length; i++) {
        const s = acc[i];
        devices[i].readStats(s);
        const b = F_DEV + i * DEV_FIELDS;
        f[b] = s.rxPackets; f[b + 1] = s.txPackets; f[b + 2] = s.rxBytes; f[b + 3] = s.txBytes; f[b + 4] = s.rxDropped;
      }
      f[F_CPU_NS] = threadCpuNs() - cpu0;
      if (def.figures) {
        const o = def.figures(app); // once a second, not per packet
        for (let i = 0; i < figureNames.length; i++) f[F_APP + i] = o[figureNames[i]];
      }
    };
    const cpu0 = threadCpuNs();
    let lastReq = 0;
    while (Atomics.load(ctl, C_STOP) === 0 && !app.finished) {
      for (let i = 0; i < 256; i++) app.step();
      const req = Atomics.load(ctl, C_REQ);
      if (req !== lastReq) {
        publish(cpu0);
        lastReq = req;
        Atomics.store(ctl, C_ACK, req);
        Atomics.notify(ctl, C_ACK);
      }
    }
    publish(cpu0);
    app.close?.();
    const summary = def.summary?.(app);
    for (const d of devices) d.close();
    devices.length = 0;
    post({ type: 'done', summary, leaked: pool.allocated });
  } finally {
    for (const d of devices) { try { d.close(); } catch { /* the first error is the one reported */ } }
  }
}

run().catch((e: unknown) => post({ type: 'error', error: errorToWire(e) })).finally(() => parentPort!.close());
