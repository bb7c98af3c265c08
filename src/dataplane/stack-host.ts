/**
 * One thread's share of a stack app: its mempool, device (or device queue), stack, app copy and elastic loop, built
 * from the app's definition. The runtime uses it in its own thread for one thread, and a worker per thread for
 * `threads > 1` (dataplane/stack-worker.ts). It also watches what a user must hear about (dataplane/stack-watch.ts).
 */
import type { App } from '../api/native.js';
import type { EventQueue } from '../api/events.js';
import type { NetApi } from '../api/native.js';
import { type Device, type DeviceStats, emptyStats, formatMac, openDevice, parseDeviceSpec } from '../driver/index.js';
import type { Mempool } from '../mem/mempool.js';
import type { Ipv4Address } from '../stack/ip-interface.js';
import { Stack } from '../stack/stack.js';
import type { TcpConfig } from '../stack/tcp/tcp.js';
import { MonotonicClock } from '../sys/monotonic-clock.js';
import type { StackAppDefinition } from './app.js';
import { ElasticThread } from './elastic-thread.js';
import type { DeviceInfo, ThreadFigures } from './figures.js';
import { createPool } from './pool.js';
import { Steering, type SteeringMode } from './steering.js';
import { StackWatch } from './stack-watch.js';

/** Everything a thread needs to build its share (structured-cloneable: it is a worker's `workerData`). */
export interface StackHostConfig {
  thread: number;
  threads: number;
  spec: string;
  addr: Ipv4Address;
  gateway: number;
  /** The interface's MAC (six bytes), or null for the device's own (a TAP device's user side gets its own). */
  mac: number[] | null;
  batch: number;
  poolSize: number;
  ringSize: number;
  tcp?: TcpConfig;
  force: boolean;
  steering: { mode: SteeringMode; rss?: { key: number[]; reta: number[] }; inboxes: (SharedArrayBuffer | null)[]; outboxes: (SharedArrayBuffer | null)[] } | null;
  /** One Int32: how many threads' apps have finished (the loops end when all have). */
  finished: SharedArrayBuffer;
}

export interface StackHostHooks {
  warn(line: string): void;
  /** The app asked for the run to end (ARP gave up on what it needs). */
  unreachable(): void;
}

export interface StackHostDone {
  figures: ThreadFigures;
  summary: unknown;
  leaked: number;
}

type Def = StackAppDefinition<unknown, App>;

export class StackHost {
  readonly info: DeviceInfo;
  private readonly loop: ElasticThread;
  private readonly steering: Steering | null;
  private readonly watch: StackWatch;
  private readonly acc: DeviceStats = emptyStats();
  private stopping = false;

  private constructor(
    private readonly def: Def,
    private readonly app: App,
    private readonly stack: Stack,
    private readonly device: Device,
    private readonly pool: Mempool,
    steering: Steering | null,
    private readonly cfg: StackHostConfig,
    private readonly hooks: StackHostHooks,
  ) {
    this.steering = steering;
    const finished = cfg.threads > 1 ? new UntilAllFinished(app, new Int32Array(cfg.finished), cfg.threads) : app;
    this.loop = new ElasticThread(stack, finished, { batch: cfg.batch, steering: steering ?? undefined });
    this.watch = new StackWatch(stack, device, hooks.warn);
    this.info = { thread: cfg.thread, spec: device.spec, driver: device.driverName, mac: formatMac(stack.iface.mac), linkMbps: device.linkSpeedMbps() };
  }

  /** Opens the device and builds the stack and the app; closes what it opened if that fails. */
  static open(def: Def, options: unknown, cfg: StackHostConfig, hooks: StackHostHooks): StackHost {
    const spec = parseDeviceSpec(cfg.spec);
    const pool = createPool([spec], { count: cfg.poolSize });
    const device = openDevice(spec, { pool, ringSize: cfg.ringSize, force: cfg.force });
    try {
      const s = cfg.steering;
      const steering = s === null ? null : new Steering({
        thread: cfg.thread, threads: cfg.threads, mode: s.mode, inboxes: s.inboxes, outboxes: s.outboxes,
        rssKey: s.rss ? Uint8Array.from(s.rss.key) : undefined, reta: s.rss ? Uint8Array.from(s.rss.reta) : undefined, queue: cfg.thread,
      });
      const mac = cfg.mac ? Uint8Array.from(cfg.mac) : spec.kind === 'tap' ? tapUserSideMac(device.macAddress()) : undefined;
      const stack = new Stack({
        device, addresses: [cfg.addr], gateway: cfg.gateway, mac, tcp: cfg.tcp, time: new MonotonicClock(),
        portFilter: steering?.portFilter,
      });
      const app = def.create({ stack, device, thread: cfg.thread, threads: cfg.threads }, options);
      return new StackHost(def, app, stack, device, pool, steering, cfg, hooks);
    } catch (e) {
      device.close();
      throw e;
    }
  }

  /** Runs the loop until it is stopped or every thread's app finished; then closes the device and counts leaks. */
  async run(): Promise<StackHostDone> {
    let unresolved = 0;
    const ticker = setInterval(() => {
      this.watch.check();
      const arp = this.stack.iface.arp;
      if (arp.unresolvedAddresses !== unresolved) {
        unresolved = arp.unresolvedAddresses;
        if (this.def.unreachable?.(this.app, arp.lastUnresolvedIp)) this.hooks.unreachable();
      }
    }, 1000).unref();
    try {
      await this.loop.run();
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearInterval(ticker);
    }
    const figures = this.figures();
    const summary = this.def.summary?.(this.app);
    this.stack.shutdown();
    this.device.close();
    return { figures, summary, leaked: this.pool.allocated };
  }

  /** After a failure: frees what the stack holds and closes the device; the first error is the one reported. */
  private close(): void {
    try { this.stack.shutdown(); } catch { /* reported by the caller */ }
    try { this.device.close(); } catch { /* reported by the caller */ }
  }

  /** Lets the app wind down (its definition's `stop`, at most 2 s), else ends the loop now. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    if (this.def.stop) {
      this.def.stop(this.app, this.stack.api);
      setTimeout(() => this.loop.stop(), 2000).unref();
    } else this.loop.stop();
  }

  /** Ends the loop now (another thread failed). */
  halt(): void {
    this.loop.stop();
  }

  figures(): ThreadFigures {
    const s = this.stack;
    const l = this.loop.counters;
    const d = this.acc;
    this.device.readStats(d);
    return {
      thread: this.cfg.thread,
      cpuNs: this.loop.cpuNs(),
      devices: [{ rxPackets: d.rxPackets, txPackets: d.txPackets, rxBytes: d.rxBytes, txBytes: d.txBytes, rxMissed: d.rxDropped }],
      app: this.def.figures?.(this.app) ?? {},
      stack: {
        tcp: { ...s.tcp.counters }, ip: { ...s.counters }, iface: { ...s.iface.counters },
        loop: { iterations: l.iterations, rxPackets: l.rxPackets, parks: l.parks, yields: l.yields, batchSizes: Array.from(l.batchSizes) },
        steering: this.steering ? { ...this.steering.counters } : { handedOff: 0, arpShared: 0, received: 0, dropped: 0 },
        rxOversize: this.device.rxOversize ?? 0,
      },
    };
  }
}

/**
 * The app as the loop sees it with several threads: finished only when every thread's app is. A thread whose app is
 * done keeps serving its queue, because the others' flows may still arrive on it and must be handed over.
 */
class UntilAllFinished implements App {
  private counted = false;
  constructor(private readonly app: App, private readonly done: Int32Array, private readonly threads: number) {}
  start(api: NetApi): void { this.app.start(api); }
  onEvents(ev: EventQueue, api: NetApi): void { this.app.onEvents(ev, api); }
  get yieldNow(): boolean { return this.app.yieldNow === true; }
  get refed(): boolean { return this.app.refed !== false; }
  set yieldNow(v: boolean) { this.app.yieldNow = v; }
  get finished(): boolean {
    if (!this.counted && this.app.finished) { this.counted = true; Atomics.add(this.done, 0, 1); }
    return Atomics.load(this.done, 0) === this.threads;
  }
}

/**
 * A TAP interface's MAC belongs to the kernel's side; the stack on the file-descriptor side is another host on the
 * wire and needs its own: the same bytes with the last one changed, locally administered (IEEE 802 U/L bit).
 */
export function tapUserSideMac(kernelMac: Uint8Array): Uint8Array {
  const m = Uint8Array.from(kernelMac);
  m[0] = (m[0] | 0x02) & 0xfe;
  m[5] ^= 0x01;
  return m;
}
