/**
 * The virtio 1.0 PCI transport (virtio 1.0 §4.1.4): vendor-specific capabilities in config space point at the
 * common, notify, ISR and device configuration structures inside memory BARs, which are mmapped through
 * sysfs `resource<N>`. Used for device 0x1041 and for transitional devices (0x1000 with these capabilities).
 */
import type { ClaimedPciDevice, MappedBar } from '../../sys/pci.js';
import { IxyError } from '../../util/errors.js';
import { waitForBits } from '../bar.js';
import type { VirtioTransport } from './virtqueue.js';

// §4.1.4: cfg_type of struct virtio_pci_cap
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
const PCI_CAP_ID_VNDR = 0x09;
const PCI_CAP_ID_MSIX = 0x11;
const PCI_STATUS = 6;
const PCI_STATUS_CAP_LIST = 0x10;
const PCI_CAPABILITY_LIST = 0x34;

export interface VirtioCap { type: number; bar: number; offset: number; length: number; notifyMultiplier: number }

/** PCI 3.0 §6.7: the capability list in config space, as [id, offset] pairs (loop-safe). */
export function pciCapabilities(config: Buffer): [number, number][] {
  const caps: [number, number][] = [];
  if (config.length < 0x40 || (config.readUInt16LE(PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return caps;
  let ptr = config[PCI_CAPABILITY_LIST]! & 0xfc;
  for (let guard = 0; ptr >= 0x40 && ptr + 2 <= config.length && guard < 48; guard++) {
    caps.push([config[ptr]!, ptr]);
    ptr = config[ptr + 1]! & 0xfc;
  }
  return caps;
}

/** The virtio structures the capabilities describe (the first of each type, as §4.1.4 asks drivers to use). */
export function virtioCaps(config: Buffer): Map<number, VirtioCap> {
  const found = new Map<number, VirtioCap>();
  for (const [id, p] of pciCapabilities(config)) {
    if (id !== PCI_CAP_ID_VNDR || p + 16 > config.length) continue;
    const type = config[p + 3]!;
    if (found.has(type) || type < 1 || type > 4) continue;
    found.set(type, {
      type, bar: config[p + 4]!, offset: config.readUInt32LE(p + 8), length: config.readUInt32LE(p + 12),
      notifyMultiplier: type === VIRTIO_PCI_CAP_NOTIFY_CFG && p + 20 <= config.length ? config.readUInt32LE(p + 16) : 0,
    });
  }
  return found;
}

/** Whether MSI-X is enabled (Message Control bit 15): the legacy device config then starts 4 bytes later. */
export function msixEnabled(config: Buffer): boolean {
  const cap = pciCapabilities(config).find(([id]) => id === PCI_CAP_ID_MSIX);
  return cap !== undefined && cap[1] + 4 <= config.length && (config.readUInt16LE(cap[1] + 2) & 0x8000) !== 0;
}

// §4.1.4.3 struct virtio_pci_common_cfg
const DEVICE_FEATURE_SELECT = 0;
const DEVICE_FEATURE = 4;
const DRIVER_FEATURE_SELECT = 8;
const DRIVER_FEATURE = 12;
const DEVICE_STATUS = 20;
const QUEUE_SELECT = 22;
const QUEUE_SIZE = 24;
const QUEUE_MSIX_VECTOR = 26;
const QUEUE_ENABLE = 28;
const QUEUE_NOTIFY_OFF = 30;
const QUEUE_DESC = 32;
const QUEUE_DRIVER = 40;
const QUEUE_DEVICE = 48;
const VIRTIO_MSI_NO_VECTOR = 0xffff;

export class ModernTransport implements VirtioTransport {
  readonly kind = 'modern' as const;
  private readonly c8: Uint8Array;
  private readonly c16: Uint16Array;
  private readonly c32: Uint32Array;
  private readonly notify16: Uint16Array;
  private readonly dev8: Uint8Array;
  private readonly notifyMul: number;
  private readonly notifyAt: number[] = [];
  private readonly bars: MappedBar[] = [];

  /** Maps the BARs the capabilities name; throws a one-line IxyError (nothing left mapped) if a structure is missing. */
  constructor(claimed: ClaimedPciDevice, config: Buffer) {
    const caps = virtioCaps(config);
    const need = [[VIRTIO_PCI_CAP_COMMON_CFG, 'common'], [VIRTIO_PCI_CAP_NOTIFY_CFG, 'notify'], [VIRTIO_PCI_CAP_DEVICE_CFG, 'device']] as const;
    const byBar = new Map<number, MappedBar>();
    const view = <T>(type: number, name: string, min: number, make: (b: ArrayBuffer, off: number, len: number) => T): T => {
      const cap = caps.get(type);
      if (cap === undefined) throw new IxyError(`${claimed.info.address} has no virtio ${name} capability: not a virtio 1.0 device (try ,mode=legacy)`);
      if (cap.offset % 4 !== 0 || cap.length < min) throw new IxyError(`${claimed.info.address}: virtio ${name} structure at BAR${cap.bar}+${cap.offset} (${cap.length} bytes) is malformed`);
      let bar = byBar.get(cap.bar);
      if (bar === undefined) { bar = claimed.mapBar(cap.bar); byBar.set(cap.bar, bar); this.bars.push(bar); }
      if (cap.offset + cap.length > bar.size) throw new IxyError(`${claimed.info.address}: virtio ${name} structure lies outside BAR${cap.bar}`);
      return make(bar.buffer, cap.offset, cap.length);
    };
    try {
      this.c8 = view(need[0][0], need[0][1], 56, (b, o, l) => new Uint8Array(b, o, l));
      this.c16 = new Uint16Array(this.c8.buffer, this.c8.byteOffset, 28);
      this.c32 = new Uint32Array(this.c8.buffer, this.c8.byteOffset, 14);
      this.notify16 = view(need[1][0], need[1][1], 2, (b, o, l) => new Uint16Array(b, o, l >>> 1));
      this.dev8 = view(need[2][0], need[2][1], 6, (b, o, l) => new Uint8Array(b, o, l));
      this.notifyMul = caps.get(VIRTIO_PCI_CAP_NOTIFY_CFG)!.notifyMultiplier;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  reset(): void {
    Atomics.store(this.c8, DEVICE_STATUS, 0);
    // §4.1.4.3.2: the driver must wait for device_status to read back 0 before reinitialising
    if (!waitForBits(() => Atomics.load(this.c8, DEVICE_STATUS), 0xff, 0, 1000)) throw new IxyError('virtio device did not finish its reset (status not 0)');
  }

  getStatus(): number { return Atomics.load(this.c8, DEVICE_STATUS); }
  setStatus(s: number): void { Atomics.store(this.c8, DEVICE_STATUS, s); }

  deviceFeatures(): bigint {
    Atomics.store(this.c32, DEVICE_FEATURE_SELECT >>> 2, 0);
    const lo = Atomics.load(this.c32, DEVICE_FEATURE >>> 2);
    Atomics.store(this.c32, DEVICE_FEATURE_SELECT >>> 2, 1);
    const hi = Atomics.load(this.c32, DEVICE_FEATURE >>> 2);
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }

  setDriverFeatures(f: bigint): void {
    Atomics.store(this.c32, DRIVER_FEATURE_SELECT >>> 2, 0);
    Atomics.store(this.c32, DRIVER_FEATURE >>> 2, Number(f & 0xffff_ffffn));
    Atomics.store(this.c32, DRIVER_FEATURE_SELECT >>> 2, 1);
    Atomics.store(this.c32, DRIVER_FEATURE >>> 2, Number((f >> 32n) & 0xffff_ffffn));
  }

  queueMax(q: number): number {
    Atomics.store(this.c16, QUEUE_SELECT >>> 1, q);
    return Atomics.load(this.c16, QUEUE_SIZE >>> 1);
  }

  setupQueue(q: number, size: number, desc: number, avail: number, used: number): void {
    const c16 = this.c16;
    const c32 = this.c32;
    Atomics.store(c16, QUEUE_SELECT >>> 1, q);
    Atomics.store(c16, QUEUE_SIZE >>> 1, size);
    Atomics.store(c16, QUEUE_MSIX_VECTOR >>> 1, VIRTIO_MSI_NO_VECTOR); // no interrupts
    const put64 = (off: number, v: number): void => {
      Atomics.store(c32, off >>> 2, v >>> 0);
      Atomics.store(c32, (off >>> 2) + 1, Math.floor(v / 0x1_0000_0000));
    };
    put64(QUEUE_DESC, desc);
    put64(QUEUE_DRIVER, avail);
    put64(QUEUE_DEVICE, used);
    // §4.1.4.4: the queue's doorbell is at cap.offset + queue_notify_off * notify_off_multiplier
    const at = Atomics.load(c16, QUEUE_NOTIFY_OFF >>> 1) * this.notifyMul;
    if (at + 2 > this.notify16.byteLength || at % 2 !== 0) throw new IxyError(`virtio queue ${q}: notify offset ${at} outside the notify structure`);
    this.notifyAt[q] = at >>> 1;
    Atomics.store(c16, QUEUE_ENABLE >>> 1, 1);
  }

  notify(q: number): void {
    Atomics.store(this.notify16, this.notifyAt[q]!, q);
  }

  readConfig8(off: number): number {
    return off < this.dev8.length ? Atomics.load(this.dev8, off) : 0;
  }

  close(): void {
    for (const b of this.bars.splice(0)) b.unmap();
  }
}
