/** `ixy fwd`, `ixy pktgen`, `ixy pcap`: L2 apps run by the runtime in a worker thread (dataplane/runtime.ts). */
import type { DeviceInfo, Figures, RunResult } from '../dataplane/figures.js';
import type { RuntimeOptions } from '../dataplane/runtime.js';
import { fmt, rateLine, rates, summaryJson } from '../apps/stats-format.js';
import { APPS, type LiveView, runApp } from './run-app.js';

type Values = Record<string, string | number | boolean | undefined>;

/** The app figure that counts its work, per command. */
const WORK = { fwd: 'forwarded', pktgen: 'sent', pcap: 'captured' } as const;

export interface L2Summary {
  devices: DeviceInfo[];
  totals: { spec: string; rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; rxDropped: number }[];
  work: number;
  dropped: number;
  cpuNs: number;
  elapsedMs: number;
  leakedBuffers: number;
  stoppedBy: 'time' | 'signal' | 'count';
}

function deviceRates(now: Figures, prev: Figures | null, i: number): ReturnType<typeof rates> {
  const a = now.threads[0].devices[i];
  const b = prev?.threads[0].devices[i] ?? { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };
  return rates(a.rxPackets - b.rxPackets, a.rxBytes - b.rxBytes, a.txPackets - b.txPackets, a.txBytes - b.txBytes, now.dt || 1);
}

/** A line per device per second (ixy's), or the same as one JSON object; `devices()` once they are up. */
export function l2View(devices: () => DeviceInfo[], work: string): LiveView {
  return {
    lines: (now, prev) => devices().map((d, i) => rateLine(d.spec, deviceRates(now, prev, i))),
    json: (now, prev) => ({
      devices: devices().map((d, i) => {
        const c = now.threads[0].devices[i];
        return { spec: d.spec, ...deviceRates(now, prev, i), rxPackets: c.rxPackets, txPackets: c.txPackets, rxMissed: c.rxMissed };
      }),
      work: now.threads[0].app[work], dropped: now.threads[0].app.dropped ?? 0,
    }),
  };
}

/** Runs `cmd` with the app options `options` on the devices `specs`; prints a line per device per second. */
export async function runL2(cmd: keyof typeof WORK, specs: string[], options: unknown, v: Values, ro: Partial<RuntimeOptions> = {}): Promise<L2Summary> {
  const work = WORK[cmd];
  let devices: DeviceInfo[] = [];
  const view = l2View(() => devices, work);
  const r = await runApp(APPS[cmd], options, {
    devices: specs, batch: v.batch as number, ringSize: v['ring-size'] as number, poolSize: v['pool-size'] as number,
    force: v.force === true, cpu: v.cpu as number, seconds: v.seconds as number | undefined, ...ro,
  }, view, {
    live: true, json: v.json === true,
    onReady: (rt) => {
      devices = rt.devices;
      if (!v.json) for (const d of devices) console.log(`[${d.spec}] up: driver ${d.driver}, MAC ${d.mac}, link ${d.linkMbps > 0 ? `${d.linkMbps} Mbit/s` : 'down'}`);
    },
  });
  return l2Summary(r, work);
}

export function l2Summary(r: RunResult, work: string): L2Summary {
  const t = r.threads[0];
  return {
    devices: r.devices,
    totals: r.devices.map((d, i) => {
      const c = t.devices[i];
      return { spec: d.spec, rxPackets: c.rxPackets, txPackets: c.txPackets, rxBytes: c.rxBytes, txBytes: c.txBytes, rxDropped: c.rxMissed };
    }),
    work: t.app[work], dropped: t.app.dropped ?? 0, cpuNs: t.cpuNs, elapsedMs: r.elapsedMs, leakedBuffers: r.leakedBuffers,
    stoppedBy: r.stoppedBy === 'finished' ? 'count' : r.stoppedBy === 'time' ? 'time' : 'signal',
  };
}

export function printTotals(r: L2Summary, what: string): void {
  const secs = r.elapsedMs / 1000;
  console.log(`totals after ${fmt(secs, 1)} s (${r.stoppedBy === 'signal' ? 'stopped by signal' : r.stoppedBy === 'count' ? 'count reached' : 'time is up'}): ${what} ${r.work} ` +
    `(${fmt(r.work / secs / 1e6)} Mpps), dropped ${r.dropped}, buffers leaked ${r.leakedBuffers}`);
  for (const t of r.totals) console.log(`  [${t.spec}] RX ${t.rxPackets} packets ${t.rxBytes} bytes (${t.rxDropped} missed) | TX ${t.txPackets} packets ${t.txBytes} bytes`);
}

export function printL2Summary(r: L2Summary, v: Values, what: string, extra: Record<string, unknown> = {}): void {
  if (v.json) console.log(summaryJson({ ...r, ...extra }));
  else printTotals(r, what);
}
