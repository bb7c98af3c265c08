import type { Mempool } from '../mem/mempool.js';
import type { DmaAllocator } from '../mem/dma.js';
import { IxyError, UsageError } from '../util/errors.js';
import type { Device, DeviceOptions } from './device.js';

/** A device spec split into its kind and argument: `ixgbe:0000:03:00.0` → { kind: 'ixgbe', arg: '0000:03:00.0' }. */
export interface DeviceSpec {
  kind: string;
  arg: string;
  text: string;
}

/** One kind of device: how to open it, and which DMA memory its mempool must live in. */
export interface DriverEntry {
  kind: string;
  /** One line for `--help`: what the argument is. */
  usage: string;
  /** Throws a UsageError (EBADSPEC) if the argument is malformed; touches no device. */
  check?(spec: DeviceSpec): void;
  dmaAllocator(spec: DeviceSpec): DmaAllocator;
  /** Headroom the mempool's buffers must have for this kind (AF_XDP: XDP_PACKET_HEADROOM = 256); default: any. */
  poolHeadroom?: number;
  open(spec: DeviceSpec, opts: DeviceOptions): Device;
  /** Prepares the device to be served one queue per thread (`--threads N`); absent: the kind cannot. */
  shareQueues?(spec: DeviceSpec, threads: number, force?: boolean): QueueShare;
}

/** A device split among N threads of this process: thread i opens `specs[i]`; close() once they all closed. */
export interface QueueShare {
  specs: string[];
  /** How the device spreads flows over the queues: a Toeplitz hash the threads can compute, or the kernel's own. */
  steering: 'rss' | 'partition';
  rss?: { key: number[]; reta: number[] };
  close(): void;
}

/** `shareQueues` of the spec's kind, or a one-line error naming the kinds that can. */
export function shareDeviceQueues(spec: DeviceSpec, threads: number, force?: boolean): QueueShare {
  const e = entryOf(spec);
  if (!e.shareQueues) {
    const can = [...drivers.values()].filter((d) => d.shareQueues).map((d) => `${d.kind}:`).join(', ');
    throw new IxyError(`${spec.text}: --threads ${threads} needs a device whose queues threads can share (${can}); ${spec.kind}: devices serve one thread`);
  }
  return e.shareQueues(spec, threads, force);
}

const drivers = new Map<string, DriverEntry>();

export function registerDriver(entry: DriverEntry): void {
  drivers.set(entry.kind, entry);
}

export function registeredDrivers(): DriverEntry[] {
  return [...drivers.values()];
}

export function parseDeviceSpec(text: string): DeviceSpec {
  const colon = text.indexOf(':');
  const kinds = [...drivers.keys()].join(', ');
  if (colon <= 0 || colon === text.length - 1) throw new UsageError(`'${text}' is not a device spec: ${specSuggestion(text)}`, 'EBADSPEC');
  const kind = text.slice(0, colon);
  if (!drivers.has(kind)) {
    const pci = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(text) ? ` (a PCI device is taken with ixgbe:${text} or virtio:${text})` : '';
    throw new UsageError(`unknown device kind '${kind}' in '${text}': use one of ${kinds}${pci}`, 'EBADSPEC');
  }
  const spec = { kind, arg: text.slice(colon + 1), text };
  drivers.get(kind)!.check?.(spec);
  return spec;
}

/** What the user probably meant by a spec without a kind: an interface name, a port number, or neither. */
function specSuggestion(text: string): string {
  const kinds = `KIND:ARG with KIND one of ${[...drivers.keys()].join(', ')} (see ixy devices)`;
  if (/^\d+$/.test(text)) return `use sim:${text} for port ${text} of the simulated 82599, or ${kinds}`;
  if (/^[A-Za-z0-9_.@-]{1,15}$/.test(text)) {
    return `for the Linux interface ${text} use xdp:${text} (AF_XDP) or packet:${text} (AF_PACKET); otherwise ${kinds}`;
  }
  return `use ${kinds}, e.g. sim:0, xdp:veth0, packet:veth0, tap:ixy0`;
}

function entryOf(spec: DeviceSpec): DriverEntry {
  const e = drivers.get(spec.kind);
  if (!e) throw new IxyError(`unknown device kind '${spec.kind}'`);
  return e;
}

/**
 * The DMA memory a mempool shared by all of `specs` must come from. Devices of kinds whose memory differs
 * (the simulated NIC's physical memory vs. hugepages) cannot share one pool.
 */
export function dmaAllocatorFor(specs: DeviceSpec[]): DmaAllocator {
  const allocs = specs.map((s) => entryOf(s).dmaAllocator(s));
  const first = allocs[0];
  for (let i = 1; i < allocs.length; i++) {
    if (allocs[i] !== first) {
      throw new IxyError(
        `${specs[0].text} and ${specs[i].text} need different DMA memory (${first.description} vs ${allocs[i].description}): ` +
          'use devices of the same kind together',
      );
    }
  }
  return first;
}

/** The mempool headroom that suits all of `specs` (the largest any of their kinds asks for), or undefined. */
export function poolHeadroomFor(specs: DeviceSpec[]): number | undefined {
  let h: number | undefined;
  for (const s of specs) {
    const want = entryOf(s).poolHeadroom;
    if (want !== undefined && (h === undefined || want > h)) h = want;
  }
  return h;
}

export function openDevice(spec: DeviceSpec | string, opts: DeviceOptions): Device {
  const s = typeof spec === 'string' ? parseDeviceSpec(spec) : spec;
  return entryOf(s).open(s, opts);
}

export type { Mempool };
