import { fmt, statsJson, summaryJson } from '../apps/stats-format.js';
import type { Figures } from '../dataplane/figures.js';
import { start } from '../dataplane/runtime.js';
import { SimNic } from '../driver/sim/sim-nic.js';
import { l2Summary, l2View } from './l2-commands.js';
import { APPS } from './run-app.js';

export interface DemoOptions {
  seconds: number;
  /** Seconds of traffic before measuring (JIT warm-up), sent as a separate stream that the verdict ignores. */
  warmup: number;
  rateMpps: number;
  batch: number;
  ringSize: number;
  poolSize: number;
  json: boolean;
  /** Pin the model thread to CPU 0 and the forwarder to CPU 1. */
  pin: boolean;
}

export interface DemoVerdict {
  ok: boolean;
  seconds: number;
  offeredMpps: number;
  generated: number;
  /** Frames of the measured stream that crossed the forwarder (= received by the sink). */
  forwarded: number;
  /** Everything the forwarder sent, warm-up included. */
  forwardedTotal: number;
  received: number;
  /** generated - received. */
  lost: number;
  /** Of `lost`: dropped by the NIC because its RX ring was full (the forwarder was not running, e.g. descheduled). */
  missedByNic: number;
  /** Of `lost`: dropped by the forwarder because the TX ring was full. */
  droppedByForwarder: number;
  reordered: number;
  duplicated: number;
  mpps: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  p9999Us: number;
  maxUs: number;
  leakedBuffers: number;
  fwdCpuNsPerPacket: number;
  stoppedBy: 'time' | 'signal' | 'count';
}

/**
 * The demo of `npm start`: tester → sim port 0 → `fwd` → sim port 1 → tester, with live statistics and a verdict.
 * Needs no hardware, hugepages or root.
 */
export async function runDemo(o: DemoOptions, print: (l: string) => void = console.log): Promise<DemoVerdict> {
  const nic = await SimNic.start({ ports: 2, wire: 'tester', cpu: o.pin ? 0 : -1 });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!o.json) print(`ixy.ts demo: tester → sim:0 → fwd (batch ${o.batch}) → sim:1 → tester, ${o.rateMpps} Mpps offered, ${o.seconds} s`);
    let stream = 0;
    let measuring = o.warmup <= 0;
    let timer: NodeJS.Timeout | undefined;
    const rt = await start({ module: APPS.fwd }, {
      devices: ['sim:0', 'sim:1'], batch: o.batch, ringSize: o.ringSize, poolSize: o.poolSize, cpu: o.pin ? 1 : -1, signal: abort.signal,
    });
    if (!o.json) for (const d of rt.devices) print(`  ${d.spec}: ${d.driver}, MAC ${d.mac}, link ${d.linkMbps} Mbit/s`);
    nic.setGenerator(0, o.rateMpps);
    if (!measuring) {
      if (!o.json) print(`  warming up for ${o.warmup} s (not counted)`);
      timer = setTimeout(() => { stream = nic.startEpoch(0, 1); measuring = true; }, o.warmup * 1000);
    }
    const view = l2View(() => rt.devices, 'forwarded');
    let prev: Figures | null = null;
    rt.on('figures', (f) => {
      if (o.json) print(statsJson(f.t, view.json!(f, prev)));
      else for (const l of view.lines!(f, prev)) print(l);
      prev = f;
      if (o.json || !measuring) return;
      const sink = nic.tester(1).streams[stream];
      print(`  tester: sent ${nic.tester(0).streams[stream].sent}, received ${sink.unique}, latency p50 ${fmt(sink.latency.p50Us)} µs p99 ${fmt(sink.latency.p99Us)} µs`);
    });
    await Promise.race([rt.done, sleepUnlessAborted((o.seconds + Math.max(0, o.warmup)) * 1000, abort.signal)]);
    nic.setGenerator(0, 0);
    await sleepUnlessAborted(200, abort.signal); // let the rings drain through the forwarder
    const r = l2Summary(await rt.stop(), 'forwarded');
    r.stoppedBy = abort.signal.aborted ? 'signal' : 'time';
    clearTimeout(timer);
    const gen = nic.tester(0).streams[stream];
    const sent = gen.sent;
    const s = nic.tester(1).streams[stream];
    const seconds = Math.min(o.seconds, Math.max(0.001, r.elapsedMs / 1000 - Math.max(0, o.warmup)));
    const v: DemoVerdict = {
      ok: false,
      seconds,
      offeredMpps: o.rateMpps,
      generated: sent,
      forwarded: s.unique,
      forwardedTotal: r.work,
      received: s.unique,
      lost: sent - s.unique,
      missedByNic: gen.missed,
      droppedByForwarder: r.dropped,
      reordered: s.reordered,
      duplicated: s.duplicated,
      mpps: s.unique / seconds / 1e6,
      p50Us: s.latency.p50Us,
      p99Us: s.latency.p99Us,
      p999Us: s.latency.p999Us,
      p9999Us: s.latency.p9999Us,
      maxUs: s.latency.maxUs,
      leakedBuffers: r.leakedBuffers,
      fwdCpuNsPerPacket: r.work > 0 ? r.cpuNs / r.work : NaN,
      stoppedBy: r.stoppedBy,
    };
    // Every loss must be explained by a counter: frames the NIC missed or the forwarder could not queue.
    const unexplained = v.lost - v.missedByNic - v.droppedByForwarder;
    v.ok = measuring && v.generated > 0 && v.lost >= v.missedByNic && unexplained <= 0 && v.reordered === 0 && v.duplicated === 0 && v.leakedBuffers === 0;
    if (o.json) print(summaryJson(v));
    else {
      print(`verdict: ${v.ok ? 'PASS' : 'FAIL'} — generated ${v.generated}, forwarded ${v.forwarded}, lost ${v.lost} ` +
        `(${v.missedByNic} missed by the NIC while the forwarder was not running, ${v.droppedByForwarder} dropped at a full TX ring), ` +
        `reordered ${v.reordered}, duplicated ${v.duplicated}, ${v.leakedBuffers} buffers leaked`);
      print(`  ${fmt(v.mpps)} Mpps forwarded; latency p50 ${fmt(v.p50Us)} µs, p99 ${fmt(v.p99Us)} µs, p99.9 ${fmt(v.p999Us)} µs, ` +
        `max ${fmt(v.maxUs)} µs; forwarder CPU ${fmt(v.fwdCpuNsPerPacket)} ns/packet (incl. idle polling)`);
    }
    return v;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await nic.stop();
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return; }
    const t = setTimeout(() => { signal.removeEventListener('abort', stop); resolve(); }, ms);
    const stop = (): void => { clearTimeout(t); resolve(); };
    signal.addEventListener('abort', stop, { once: true });
  });
}
