/**
 * The runtime: runs an app (dataplane/app.ts) on devices until it finishes, `seconds` pass, its AbortSignal fires
 * or `stop()` is called, reports its counters once a second, and at the end closes everything and checks that every
 * packet buffer came back. One runtime for every app:
 * - an L2 app runs in one worker thread, in a busy loop that never yields (dataplane/l2-worker.ts);
 * - a stack app on one thread runs in this thread, on an elastic loop that shares it with Node's event loop;
 * - a stack app with `threads: N` runs in N workers, shared-nothing as in IX: each serves one queue of the device
 *   with its own mempool, stack and app copy (dataplane/stack-worker.ts, steering.ts).
 *
 *   const rt = await start({ module: './my-app.js', options: { port: 7 } }, { devices: ['xdp:veth0'], ip: '10.0.0.2/24' });
 *   for await (const f of rt) console.log(f.threads[0].app);   // once a second, until the run ends
 *   const result = await rt.done;
 */
import { EventEmitter } from 'node:events';
import type { App } from '../api/native.js';
import { type DeviceSpec, parseDeviceSpec, SimNic, type SimHandles } from '../driver/index.js';
import { type Ipv4Address, parseIpv4, parseIpv4Cidr } from '../stack/ip-interface.js';
import { MAX_POLL_BATCH } from '../stack/stack.js';
import type { TcpConfig } from '../stack/tcp/tcp.js';
import { IxyError, UsageError } from '../util/errors.js';
import type { AppRef, L2App, L2AppDefinition, StackAppDefinition } from './app.js';
import { loadApp, refHref } from './app-loader.js';
import type { DeviceInfo, Figures, RunResult, StopReason } from './figures.js';
import type { Engine, EngineHooks } from './engine.js';
import { startL2 } from './l2-engine.js';
import { startStackInline, startStackWorkers } from './stack-engine.js';

export interface RuntimeOptions {
  /** Device specs: as many as an L2 app takes (in its order), one for a stack app. */
  devices: string[];
  /** Stack apps: the interface's address and prefix, `A.B.C.D/N`. */
  ip?: string | Ipv4Address;
  /** Stack apps: the next hop for addresses off the network. */
  gateway?: string;
  /** Stack apps: the interface's MAC (`aa:bb:cc:dd:ee:ff`; default the device's). */
  mac?: string;
  tcp?: TcpConfig;
  /** Packets per rxBatch/txBatch (L2) or most packets per loop iteration (stack). Default 32. */
  batch?: number;
  /** Descriptors per ring, a power of two 64..4096. Default 512. */
  ringSize?: number;
  /** Packet buffers per pool (one pool per thread). Default 4096. */
  poolSize?: number;
  /** Take a device the kernel uses, or an interface that carries the default route. */
  force?: boolean;
  /** L2 apps: put the devices in promiscuous mode. Default true. */
  promisc?: boolean;
  /** Stack apps: elastic threads, one device queue each. Default 1. */
  threads?: number;
  /** L2 apps: pin the worker to this CPU. Stack apps with threads: `pin` puts thread i on CPU i. */
  cpu?: number;
  pin?: boolean;
  /** Stop after this many seconds. */
  seconds?: number;
  /** Stop when this fires (e.g. from SIGINT). */
  signal?: AbortSignal;
}

interface RuntimeEvents {
  /** Once a second while the app runs. */
  figures: [Figures];
  /** Something the user should fix (a link down, frames dropped for a reason with a remedy): one line. */
  warning: [string];
}

/**
 * A running app. Events: `figures` once a second, `warning` (without a listener, warnings go to stderr).
 * Iterating it yields the figures until the run ends; `done` settles with the result (or the error that ended it).
 */
export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly done: Promise<RunResult>;
  private stoppedBy: StopReason | null = null;
  private readonly t0 = performance.now();
  private ended = false;

  /** @internal */
  constructor(readonly kind: 'l2' | 'stack', readonly devices: DeviceInfo[], private readonly engine: Engine, o: RuntimeOptions) {
    super();
    const timer = o.seconds !== undefined ? setTimeout(() => this.requestStop('time'), o.seconds * 1000) : null;
    const onAbort = (): void => this.requestStop('signal');
    o.signal?.addEventListener('abort', onAbort);
    let last = this.t0;
    let sampling = false;
    const ticker = setInterval(() => {
      if (sampling) return;
      sampling = true;
      engine.sample().then((threads) => {
        sampling = false;
        if (this.ended) return;
        const now = performance.now();
        this.emit('figures', { t: (now - this.t0) / 1000, dt: (now - last) / 1000, threads });
        last = now;
      }, () => { sampling = false; });
    }, 1000).unref(); // the app's loop or worker keeps the process alive, or lets it go (App.refed)
    this.done = engine.done.then(
      (d): RunResult => ({
        stoppedBy: this.stoppedBy ?? 'finished', elapsedMs: performance.now() - this.t0, leakedBuffers: d.leaked,
        devices, threads: d.threads, summaries: d.summaries,
      }),
    ).finally(() => {
      this.ended = true;
      if (timer) clearTimeout(timer);
      clearInterval(ticker);
      o.signal?.removeEventListener('abort', onAbort);
    });
    this.done.catch(() => { /* settled for whoever awaits it; an unobserved failure must not crash the process */ });
    if (o.signal?.aborted) this.requestStop('signal');
  }

  /** Asks the app to stop (a stack app may wind down for up to 2 s); resolves with the result. */
  stop(): Promise<RunResult> {
    this.requestStop('stop');
    return this.done;
  }

  /** The figures once a second until the run ends; rejects with the error that ended it, if one did. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Figures> {
    const queue: Figures[] = [];
    let waiter: { resolve: (r: IteratorResult<Figures>) => void; reject: (e: unknown) => void } | null = null;
    let finished = false;
    let failure: unknown = null;
    const onFigures = (f: Figures): void => {
      if (waiter) { waiter.resolve({ value: f, done: false }); waiter = null; } else queue.push(f);
    };
    this.on('figures', onFigures);
    const end = (): void => {
      finished = true;
      this.off('figures', onFigures);
      if (waiter) {
        if (failure !== null) waiter.reject(failure); else waiter.resolve({ value: undefined, done: true });
        waiter = null;
      }
    };
    this.done.then(end, (e: unknown) => { failure = e; end(); });
    const it: AsyncIterableIterator<Figures> = {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (finished) return failure !== null ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => { waiter = { resolve, reject }; });
      },
      return: () => { this.off('figures', onFigures); finished = true; return Promise.resolve({ value: undefined, done: true }); },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** @internal */
  requestStop(why: StopReason): void {
    if (this.stoppedBy !== null || this.ended) return;
    this.stoppedBy = why;
    this.engine.stop();
  }

  /** @internal */
  warn(line: string): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', line);
    else console.error(line);
  }
}

/**
 * Loads the app, checks the options, opens the devices and starts the app; resolves once the devices are up.
 * Bad input (a spec, a missing or wrong option, an app that cannot be loaded) rejects with a UsageError whose `code`
 * says which (util/errors.ts), before anything is opened; a failure while opening leaves nothing open.
 */
export async function start<O>(app: AppRef<O>, o: RuntimeOptions): Promise<Runtime> {
  const href = refHref(app);
  checkOptions(o);
  const specs = o.devices.map(parseDeviceSpec);
  const def = await loadApp(href, app.export ?? 'default');
  if (o.signal?.aborted) throw new IxyError('the run was aborted before it started', 'ABORT_ERR');
  let rt: Runtime | null = null;
  const pending: string[] = [];
  const hooks: EngineHooks = {
    warn: (line) => { if (rt) rt.warn(line); else pending.push(line); },
    unreachable: () => rt?.requestStop('unreachable'),
  };
  const ref = { href, exportName: app.export ?? 'default', options: app.options as unknown };
  let engine: Engine;
  if (def.kind === 'l2') {
    const [least, most] = def.devices;
    if (specs.length < least || specs.length > most) {
      throw new UsageError(`${href} takes ${least === most ? least : `${least} to ${most}`} device(s), not ${specs.length}`, 'EBADOPTION');
    }
    if ((o.threads ?? 1) !== 1) throw new UsageError('an L2 app runs on one thread: leave threads at 1', 'EBADOPTION');
    if ((o.batch ?? 32) > (o.ringSize ?? 512)) throw new UsageError(`batch ${o.batch} is larger than the ring size ${o.ringSize ?? 512}`, 'EBADOPTION');
    engine = await startL2(ref, def as L2AppDefinition<unknown, L2App>, o, simHandlesFor(specs), hooks);
  } else {
    if (specs.length !== 1) throw new UsageError(`a stack app runs on one device, not ${specs.length}`, 'EBADOPTION');
    if (o.ip === undefined) throw new UsageError("a stack app needs ip: the interface's address and prefix, e.g. '10.0.0.2/24'", 'ENOOPTION');
    const addr = typeof o.ip === 'string' ? parseIpv4Cidr(o.ip) : o.ip;
    const gateway = o.gateway ? parseIpv4(o.gateway, 'gateway') : 0;
    const mac = o.mac ? parseMacText(o.mac) : null;
    const stackDef = def as StackAppDefinition<unknown, App>;
    const threads = o.threads ?? 1;
    engine = threads === 1
      ? startStackInline(stackDef, ref, o, specs[0], addr, gateway, mac, hooks)
      : await startStackWorkers(ref, o, specs[0], addr, gateway, mac, simHandlesFor(specs), hooks);
  }
  rt = new Runtime(def.kind, engine.devices, engine, o);
  for (const line of pending) rt.warn(line);
  return rt;
}

/** Starts the app and resolves with its result when the run ends. */
export async function run<O>(app: AppRef<O>, o: RuntimeOptions): Promise<RunResult> {
  return (await start(app, o)).done;
}

function simHandlesFor(specs: DeviceSpec[]): SimHandles | null {
  if (!specs.some((s) => s.kind === 'sim')) return null;
  const nic = SimNic.current();
  if (!nic) throw new UsageError(`${specs.find((s) => s.kind === 'sim')!.text} needs the simulated NIC: start it first (SimNic.start() from ixy.ts/sim)`, 'EBADSPEC');
  return nic.handles;
}

function checkOptions(o: RuntimeOptions): void {
  if (o === null || typeof o !== 'object' || !Array.isArray(o.devices) || o.devices.length === 0 || o.devices.some((d) => typeof d !== 'string')) {
    throw new UsageError("devices is required: the device specs to run on, e.g. devices: ['sim:0', 'sim:1']", 'ENOOPTION');
  }
  const int = (name: keyof RuntimeOptions, min: number, max: number, pow2 = false): void => {
    const v = o[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max || (pow2 && (v & (v - 1)) !== 0)) {
      throw new UsageError(`${name} must be ${pow2 ? 'a power of two' : 'an integer'} in ${min}..${max}, not ${String(v)}`, 'EBADOPTION');
    }
  };
  int('ringSize', 64, 4096, true);
  int('poolSize', 64, 1 << 22);
  int('batch', 1, MAX_POLL_BATCH);
  int('threads', 1, 64);
  int('cpu', -1, 1023);
  if (o.seconds !== undefined && (typeof o.seconds !== 'number' || !(o.seconds >= 0))) throw new UsageError(`seconds must be a number ≥ 0, not ${String(o.seconds)}`, 'EBADOPTION');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new UsageError('signal must be an AbortSignal', 'EBADOPTION');
}

export function parseMacText(s: string): number[] {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)) throw new UsageError(`'${s}' is not a MAC address: use six hex bytes like 02:00:00:00:00:01`, 'EBADOPTION');
  return s.split(':').map((x) => parseInt(x, 16));
}


