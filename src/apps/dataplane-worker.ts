import { parentPort, workerData } from 'node:worker_threads';
import { type Device, type DeviceStats, dmaAllocatorFor, emptyStats, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor, SimNic } from '../driver/index.js';
import { Mempool } from '../mem/mempool.js';
import { pinThisThread, threadCpuNs } from '../sys/cpu.js';
import { IxyError, UsageError } from '../util/errors.js';
import {
  C_ACK, C_REQ, C_STOP, type DataplaneConfig, DEV_FIELDS, D_RX_BYTES, D_RX_DROPPED, D_RX_PACKETS, D_TX_BYTES,
  D_TX_PACKETS, F_CPU_NS, F_DEV_BASE, F_DROPPED, F_ELAPSED_MS, F_WORK, type WorkerMessage,
} from './dataplane.js';
import { Forwarder } from './forward.js';
import { PcapCapture } from './pcap-capture.js';
import { Pktgen } from './pktgen.js';

function makeApp(devices: Device[]): Forwarder | Pktgen | PcapCapture {
  switch (cfg.app) {
    case 'fwd': return new Forwarder(devices[0], devices[1], cfg.batch);
    case 'pktgen': return new Pktgen(devices[0], cfg.batch, cfg.rateMpps, Uint8Array.from(cfg.dst), cfg.count ?? 0);
    case 'pcap': return new PcapCapture(devices[0], cfg.pcapFile ?? 'capture.pcap', cfg.batch, cfg.snaplen ?? 65535, cfg.count ?? 0);
  }
}

function appWork(app: Forwarder | Pktgen | PcapCapture): number {
  return app instanceof Forwarder ? app.forwarded : app instanceof Pktgen ? app.sent : app.captured;
}

const cfg = workerData as DataplaneConfig;
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

function run(): void {
  if (cfg.cpu >= 0) pinThisThread(cfg.cpu);
  if (cfg.sim) SimNic.attach(cfg.sim);
  const specs = cfg.devices.map(parseDeviceSpec);
  const pool = new Mempool(dmaAllocatorFor(specs), { count: cfg.poolSize, headroom: poolHeadroomFor(specs) });
  const devices: Device[] = [];
  try {
    for (const s of specs) devices.push(openDevice(s, { pool, ringSize: cfg.ringSize, force: cfg.force }));
    for (const d of devices) d.setPromisc(cfg.promisc);
    post({
      type: 'ready',
      devices: devices.map((d) => ({ spec: d.spec, driver: d.driverName, mac: formatMac(d.macAddress()), linkMbps: d.linkSpeedMbps() })),
    });
    const app = makeApp(devices);
    const ctl = new Int32Array(cfg.ctl);
    const f = new Float64Array(cfg.stats);
    const acc: DeviceStats[] = devices.map(() => emptyStats());
    const publish = (cpu0: number, t0: number): void => {
      for (let i = 0; i < devices.length; i++) {
        devices[i].readStats(acc[i]);
        const b = F_DEV_BASE + i * DEV_FIELDS;
        f[b + D_RX_PACKETS] = acc[i].rxPackets; f[b + D_TX_PACKETS] = acc[i].txPackets;
        f[b + D_RX_BYTES] = acc[i].rxBytes; f[b + D_TX_BYTES] = acc[i].txBytes; f[b + D_RX_DROPPED] = acc[i].rxDropped;
      }
      f[F_CPU_NS] = threadCpuNs() - cpu0;
      f[F_ELAPSED_MS] = performance.now() - t0;
      f[F_WORK] = appWork(app);
      f[F_DROPPED] = app instanceof Forwarder ? app.dropped : 0;
    };
    const cpu0 = threadCpuNs();
    const t0 = performance.now();
    let lastReq = 0;
    while (Atomics.load(ctl, C_STOP) === 0 && !app.finished) {
      for (let i = 0; i < 256; i++) app.step();
      const req = Atomics.load(ctl, C_REQ);
      if (req !== lastReq) {
        publish(cpu0, t0);
        lastReq = req;
        Atomics.store(ctl, C_ACK, req);
        Atomics.notify(ctl, C_ACK);
      }
    }
    publish(cpu0, t0);
    if (app instanceof PcapCapture) app.close();
    for (const d of devices) d.close();
    devices.length = 0;
    post({
      type: 'done', work: f[F_WORK], dropped: f[F_DROPPED], cpuNs: f[F_CPU_NS], elapsedMs: f[F_ELAPSED_MS],
      leaked: pool.count - pool.available,
    });
  } finally {
    for (const d of devices) { try { d.close(); } catch { /* reported by the first error */ } }
  }
}

try {
  run();
} catch (e) {
  const err = e as Error;
  post({ type: 'error', message: err.message, userError: err instanceof IxyError, usageError: err instanceof UsageError });
}
