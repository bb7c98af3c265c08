/**
 * Runs a stack application (echo, pingpong) on one device in this thread: opens the device and its pool, builds the
 * stack and the elastic loop, prints a line a second, stops on SIGINT/SIGTERM or after `seconds`, then closes
 * everything and checks that every packet buffer came back.
 */
import { MonotonicClock } from '../sys/monotonic-clock.js';
import type { App, NetApi } from '../api/native.js';
import { dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor, SimNic, type Device } from '../driver/index.js';
import { ElasticThread } from '../dataplane/elastic-thread.js';
import { Mempool } from '../mem/mempool.js';
import { formatIpv4, parseIpv4, parseIpv4Cidr } from '../stack/ip-interface.js';
import { Stack } from '../stack/stack.js';
import type { TcpConfig } from '../stack/tcp/tcp.js';
import { IxyError, UsageError } from '../util/errors.js';
import { StackWatch } from './stack-watch.js';
import { statsJson } from './stats-format.js';

export interface StackRunOptions {
  dev: string;
  /** A.B.C.D/N */
  ip: string;
  gateway?: string;
  /** Override the interface MAC (aa:bb:cc:dd:ee:ff). */
  mac?: string;
  batch: number;
  poolSize: number;
  ringSize: number;
  seconds?: number;
  /** Print a line a second (default true). */
  live?: boolean;
  /** Print the live figures as one JSON object a line (NDJSON, stats-format.ts statsJson) instead of text. */
  json?: boolean;
  print?: (line: string) => void;
  /** Where warnings go (default stderr). */
  warn?: (line: string) => void;
  tcp?: TcpConfig;
  /** Take an interface that carries the default route, or a PCI device the kernel uses (--force). */
  force?: boolean;
}

export interface StackAppHooks<T extends App> {
  /** One line of live figures for the last `dt` seconds. */
  line?(app: T, dt: number): string;
  /** The same figures for `--json` (called instead of `line`). */
  figures?(app: T, dt: number): object;
  /** ARP gave up on `ip` (no reply): return true to end the run (nothing it needs can be reached). */
  unreachable?(app: T, ip: number): boolean;
  /** Asked to stop: let the app wind down (e.g. close connections); the loop stops when it is finished or after 2 s. */
  stop?(app: T, api: NetApi): void;
}

export interface StackRunResult {
  elapsedMs: number;
  cpuNs: number;
  stoppedBy: 'time' | 'signal' | 'finished' | 'unreachable';
  /** Addresses ARP gave up on during the run (the last one), 0 if none. */
  unresolvedIp: number;
  leakedBuffers: number;
  stack: Stack;
  loop: ElasticThread;
  device: { spec: string; driver: string; mac: string };
}

export async function runStackApp<T extends App>(o: StackRunOptions, app: T, hooks: StackAppHooks<T> = {}): Promise<StackRunResult> {
  const print = o.print ?? ((l: string) => console.log(l));
  const addr = parseIpv4Cidr(o.ip);
  const gateway = o.gateway ? parseIpv4(o.gateway, 'gateway') : 0;
  const spec = parseDeviceSpec(o.dev);
  if (spec.kind === 'sim' && !SimNic.current()) {
    throw new IxyError(`'${o.dev}' needs the simulated NIC cabled to Linux interfaces (ixy … --sim-wire IF0,IF1), where the stack's peers are`);
  }
  const pool = new Mempool(dmaAllocatorFor([spec]), { count: o.poolSize, headroom: poolHeadroomFor([spec]) });
  let device: Device | null = null;
  try {
    device = openDevice(spec, { pool, ringSize: o.ringSize, force: o.force });
    const mac = o.mac ? parseMacText(o.mac) : spec.kind === 'tap' ? userSideMac(device.macAddress()) : undefined;
    const stack = new Stack({ device, addresses: [addr], gateway, mac, tcp: o.tcp, time: new MonotonicClock() });
    const api = stack.api;
    const loop = new ElasticThread(stack, app, { batch: o.batch });
    const info = { spec: device.spec, driver: device.driverName, mac: formatMac(stack.iface.mac) };
    if (o.live !== false && !o.json) print(`[${info.spec}] up: driver ${info.driver}, MAC ${info.mac}, IPv4 ${formatIpv4(addr.ip)}/${addr.prefix}, B=${o.batch}`);
    const watch = new StackWatch(stack, device, o.warn ?? ((l: string) => console.error(l)));
    const t0 = performance.now();
    let stoppedBy: StackRunResult['stoppedBy'] = 'finished';
    let stopping = false;
    const requestStop = (why: 'time' | 'signal' | 'unreachable'): void => {
      if (stopping) return;
      stopping = true;
      stoppedBy = why;
      if (hooks.stop) {
        hooks.stop(app, api);
        setTimeout(() => loop.stop(), 2000).unref();
      } else loop.stop();
    };
    const onSignal = (): void => requestStop('signal');
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const timer = o.seconds !== undefined ? setTimeout(() => requestStop('time'), o.seconds * 1000) : null;
    let last = t0;
    let unresolvedSeen = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      const dt = (now - last) / 1000;
      const dropped = watch.check();
      if (o.live !== false && o.json && hooks.figures) {
        const c = stack.counters;
        print(statsJson((now - t0) / 1000, { ...hooks.figures(app, dt), badChecksum: c.badChecksum, rxOversize: device?.rxOversize ?? 0 }));
      } else if (o.live !== false && hooks.line) print(hooks.line(app, dt) + dropped);
      last = now;
      const arp = stack.iface.arp;
      if (arp.unresolvedAddresses !== unresolvedSeen) {
        unresolvedSeen = arp.unresolvedAddresses;
        if (hooks.unreachable?.(app, arp.lastUnresolvedIp)) requestStop('unreachable');
      }
    }, 1000);
    try {
      await loop.run();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (timer) clearTimeout(timer);
      clearInterval(ticker);
    }
    const elapsedMs = performance.now() - t0;
    const cpuNs = loop.cpuNs();
    stack.shutdown();
    device.close();
    device = null;
    const unresolvedIp = stack.iface.arp.unresolvedAddresses > 0 ? stack.iface.arp.lastUnresolvedIp : 0;
    return { elapsedMs, cpuNs, stoppedBy, unresolvedIp, leakedBuffers: pool.allocated, stack, loop, device: info };
  } finally {
    if (device) { try { device.close(); } catch { /* the first error is the one reported */ } }
  }
}

export function parseMacText(s: string): Uint8Array {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)) throw new UsageError(`'${s}' is not a MAC address: use six hex bytes like 02:00:00:00:00:01`);
  return Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
}

/**
 * A TAP interface's MAC belongs to the kernel's side; the stack on the file-descriptor side is another host on the
 * wire and needs its own: the same bytes with the last one changed, locally administered (IEEE 802 U/L bit).
 */
function userSideMac(kernelMac: Uint8Array): Uint8Array {
  const m = Uint8Array.from(kernelMac);
  m[0] = (m[0] | 0x02) & 0xfe;
  m[5] ^= 0x01;
  return m;
}
