/**
 * One elastic thread of `--threads N` (apps/stack-threads.ts starts them): its own mempool, device queue, stack
 * (flow table, ARP cache, timer wheel) and copy of the application; frames for other threads' flows go through the
 * mailboxes of dataplane/steering.ts. The main thread asks for figures and for the stop by message: the elastic loop
 * yields to this thread's event loop between slices, so messages arrive while it runs.
 */
import { MonotonicClock } from '../sys/monotonic-clock.js';
import { parentPort, workerData } from 'node:worker_threads';
import type { EventQueue } from '../api/events.js';
import { type App, NetApi } from '../api/native.js';
import { dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, SimNic, type Device } from '../driver/index.js';
import { ElasticThread } from '../dataplane/elastic-thread.js';
import { Steering } from '../dataplane/steering.js';
import { Mempool } from '../mem/mempool.js';
import { Stack } from '../stack/stack.js';
import { pinThisThread } from '../sys/cpu.js';
import { IxyError, UsageError } from '../util/errors.js';
import { EchoClient } from './echo-client.js';
import { EchoServer } from './echo-server.js';
import type { ThreadApp, ThreadFigures, ThreadMessage, ThreadWorkerConfig } from './stack-threads.js';

const cfg = workerData as ThreadWorkerConfig;
const post = (m: ThreadMessage): void => parentPort!.postMessage(m);

function makeApp(a: ThreadApp): EchoServer | EchoClient {
  return a.kind === 'echo-server' ? new EchoServer(a.port) : new EchoClient(a.client);
}

function figures(app: App, stack: Stack, loop: ElasticThread, steering: Steering): ThreadFigures {
  const f: ThreadFigures = {
    thread: cfg.thread, cpuNs: loop.cpuNs(),
    accepted: stack.tcp.counters.passiveOpens, activeOpens: stack.tcp.counters.activeOpens,
    rxPackets: loop.counters.rxPackets, iterations: loop.counters.iterations,
    steering: { ...steering.counters },
  };
  if (app instanceof EchoServer) { f.bytesEchoed = app.bytesEchoed; f.connections = app.accepted; }
  if (app instanceof EchoClient) {
    f.messages = app.messages; f.failures = app.failures; f.connections = app.connectionsOpened; f.rtt = Array.from(app.rtt);
  }
  return f;
}

/**
 * The app as the loop sees it: finished only when every thread's app is. A thread whose app is done keeps serving
 * its queue, because the others' flows may still arrive on it and must be handed over.
 */
class UntilAllFinished implements App {
  private counted = false;
  constructor(private readonly app: App, private readonly done: Int32Array, private readonly threads: number) {}
  start(api: NetApi): void { this.app.start(api); }
  onEvents(ev: EventQueue, api: NetApi): void { this.app.onEvents(ev, api); }
  get finished(): boolean {
    if (!this.counted && this.app.finished) { this.counted = true; Atomics.add(this.done, 0, 1); }
    return Atomics.load(this.done, 0) === this.threads;
  }
}

async function run(): Promise<void> {
  if (cfg.cpu >= 0) pinThisThread(cfg.cpu);
  if (cfg.sim) SimNic.attach(cfg.sim);
  const spec = parseDeviceSpec(cfg.spec);
  const pool = new Mempool(dmaAllocatorFor([spec]), { count: cfg.poolSize, headroom: cfg.headroom });
  let device: Device | null = null;
  try {
    device = openDevice(spec, { pool, ringSize: cfg.ringSize });
    const mac = cfg.mac ? Uint8Array.from(cfg.mac) : undefined;
    const stack = new Stack({ device, addresses: [cfg.addr], gateway: cfg.gateway, mac, tcp: cfg.tcp, time: new MonotonicClock() });
    const steering = new Steering(stack, {
      thread: cfg.thread, threads: cfg.threads, mode: cfg.steering, inboxes: cfg.inboxes, outboxes: cfg.outboxes,
      rssKey: cfg.rss ? Uint8Array.from(cfg.rss.key) : undefined, reta: cfg.rss ? Uint8Array.from(cfg.rss.reta) : undefined,
      queue: cfg.thread,
    });
    const api = stack.api;
    const app = makeApp(cfg.app);
    const loop = new ElasticThread(stack, new UntilAllFinished(app, new Int32Array(cfg.finished), cfg.threads), { batch: cfg.batch, steering });
    parentPort!.on('message', (m: 'stats' | 'stop' | 'halt') => {
      if (m === 'stats') post({ type: 'stats', figures: figures(app, stack, loop, steering) });
      else if (m === 'halt') loop.stop();
      else if (app instanceof EchoClient) { app.stop(api); setTimeout(() => loop.stop(), 2000).unref(); }
      else loop.stop();
    });
    post({ type: 'ready', thread: cfg.thread, spec: device.spec, driver: device.driverName, mac: formatMac(stack.iface.mac) });
    await loop.run();
    const last = figures(app, stack, loop, steering);
    stack.shutdown();
    device.close();
    device = null;
    post({ type: 'done', figures: last, leakedBuffers: pool.allocated });
  } finally {
    if (device) { try { device.close(); } catch { /* the first error is the one reported */ } }
  }
}

run().catch((e: unknown) => {
  const err = e as Error;
  post({ type: 'error', thread: cfg.thread, message: err.message, userError: err instanceof IxyError, usageError: err instanceof UsageError });
}).finally(() => parentPort!.close());
