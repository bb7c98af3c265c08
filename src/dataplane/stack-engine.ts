/** A stack app on one thread (this one) or on N worker threads, one device queue each (IX's elastic threads). */
import { Worker } from 'node:worker_threads';
import type { App } from '../api/native.js';
import { type DeviceSpec, shareDeviceQueues, type SimHandles } from '../driver/index.js';
import type { Ipv4Address } from '../stack/ip-interface.js';
import type { StackAppDefinition } from './app.js';
import { type Engine, type EngineDone, type EngineHooks, type ModuleRef, STOP_TIMEOUT_MS } from './engine.js';
import type { DeviceInfo, ThreadFigures } from './figures.js';
import { createMailbox } from './mailbox.js';
import { DATAPLANE_YOUNG_MB, quietHeap } from './quiet-heap.js';
import type { RuntimeOptions } from './runtime.js';
import { type StackHostConfig, StackHost } from './stack-host.js';
import type { StackWorkerConfig, StackWorkerMessage, StackWorkerRequest } from './stack-worker.js';
import { errorFromWire } from './worker-error.js';

function hostConfig(o: RuntimeOptions, spec: string, addr: Ipv4Address, gateway: number, mac: number[] | null, thread: number, threads: number): StackHostConfig {
  return {
    thread, threads, spec, addr, gateway, mac, batch: o.batch ?? 32, poolSize: o.poolSize ?? 4096, ringSize: o.ringSize ?? 512,
    tcp: o.tcp, force: o.force === true, steering: null, finished: new SharedArrayBuffer(4),
  };
}

export function startStackInline(
  def: StackAppDefinition<unknown, App>, ref: ModuleRef, o: RuntimeOptions, spec: DeviceSpec, addr: Ipv4Address, gateway: number,
  mac: number[] | null, hooks: EngineHooks,
): Engine {
  const host = StackHost.open(def, ref.options, hostConfig(o, spec.text, addr, gateway, mac, 0, 1), hooks);
  const done = host.run().then((d): EngineDone => ({ threads: [d.figures], summaries: [d.summary], leaked: d.leaked }));
  return { devices: [host.info], done, stop: () => host.stop(), sample: () => Promise.resolve([host.figures()]) };
}

export async function startStackWorkers(
  ref: ModuleRef, o: RuntimeOptions, spec: DeviceSpec, addr: Ipv4Address, gateway: number, mac: number[] | null,
  sim: SimHandles | null, hooks: EngineHooks,
): Promise<Engine> {
  const n = o.threads ?? 1;
  const share = shareDeviceQueues(spec, n, o.force);
  quietHeap();
  const boxes = Array.from({ length: n }, (_, from) => Array.from({ length: n }, (_, to) => (from === to ? null : createMailbox())));
  const finished = new SharedArrayBuffer(4);
  const workers: Worker[] = [];
  const devices: DeviceInfo[] = new Array(n);
  const last: ThreadFigures[] = new Array(n);
  const results: (Extract<StackWorkerMessage, { type: 'done' }> | null)[] = new Array(n).fill(null);
  let failure: Error | null = null;
  let ready = 0;
  let exited = 0;
  let wake: () => void = () => {};
  let sampled: (() => void) | null = null;
  let awaiting = 0;
  const send = (m: StackWorkerRequest): void => { for (const w of workers) w.postMessage(m); };
  const fail = (e: Error): void => { failure ??= e; send('halt'); wake(); };
  const allExited = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const host = { ...hostConfig(o, share.specs[i], addr, gateway, mac, i, n), finished };
      host.steering = { mode: share.steering, rss: share.rss, inboxes: boxes.map((row) => row[i]), outboxes: boxes[i] };
      const cfg: StackWorkerConfig = { app: ref.href, export: ref.exportName, options: ref.options, host, sim, cpu: o.pin ? i : -1 };
      const w = new Worker(new URL('./stack-worker.js', import.meta.url), { workerData: cfg, resourceLimits: { maxYoungGenerationSizeMb: DATAPLANE_YOUNG_MB } });
      workers.push(w);
      w.on('message', (m: StackWorkerMessage) => {
        switch (m.type) {
          case 'ready': devices[i] = m.device; ready++; wake(); break;
          case 'figures': last[i] = m.figures; if (--awaiting === 0) sampled?.(); break;
          case 'warning': hooks.warn(`[thread ${i}] ${m.line}`); break;
          case 'unreachable': hooks.unreachable(); break;
          case 'done': results[i] = m; last[i] = m.figures; break;
          case 'error': fail(errorFromWire(m.error, `thread ${i}: `)); break;
        }
      });
      w.on('error', (e) => fail(e));
      w.on('exit', () => {
        if (!results[i]) failure ??= new Error(`thread ${i} exited unexpectedly`);
        if (++exited === n) resolve();
        wake();
      });
    }
  }).finally(() => share.close());
  await new Promise<void>((resolve) => {
    wake = () => { if (ready === n || failure !== null || exited === n) resolve(); };
    wake();
  });
  wake = () => {};
  if (failure !== null) {
    await allExited;
    throw failure;
  }
  let stopTimer: NodeJS.Timeout | null = null;
  const done = allExited.then((): EngineDone => {
    if (stopTimer) clearTimeout(stopTimer);
    if (failure !== null) throw failure;
    const r = results as Extract<StackWorkerMessage, { type: 'done' }>[];
    return { threads: r.map((x) => x.figures), summaries: r.map((x) => x.summary), leaked: r.reduce((a, x) => a + x.leaked, 0) };
  });
  return {
    devices,
    done,
    stop: () => {
      send('stop');
      stopTimer ??= setTimeout(() => {
        failure ??= new Error(`the threads did not stop within ${STOP_TIMEOUT_MS / 1000} s`);
        for (const w of workers) void w.terminate();
      }, STOP_TIMEOUT_MS + 2000);
    },
    // every thread's figures, or a rejection (the tick is skipped) if one did not answer within a second
    sample: () => new Promise<ThreadFigures[]>((resolve, reject) => {
      const answer = (): void => {
        sampled = null;
        if (last.every((f) => f !== undefined) && last.length === n) resolve(last.slice()); else reject(new Error('no figures'));
      };
      if (exited > 0) { answer(); return; }
      awaiting = n;
      const t = setTimeout(answer, 1000);
      sampled = () => { clearTimeout(t); answer(); };
      send('figures');
    }),
  };
}
