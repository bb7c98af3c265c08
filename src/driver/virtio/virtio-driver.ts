import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DmaAllocator } from '../../mem/dma.js';
import { HugepageDmaAllocator } from '../../sys/hugepages.js';
import { type DmaPath, isNetworkClass, NO_SCAN, type PciDeviceInfo, parsePciAddress, readPciDevice } from '../../sys/pci.js';
import { dmaAllocatorForPci, openPciPlatform, parseDmaOption, type PciPlatform } from '../../sys/vfio.js';
import { IxyError, UsageError } from '../../util/errors.js';
import type { DeviceOptions } from '../device.js';
import { type DeviceSpec, registerDriver } from '../open.js';
import { LEGACY_CONFIG, LEGACY_CONFIG_MSIX, LegacyTransport } from './legacy.js';
import { ModernTransport, msixEnabled, virtioCaps, VIRTIO_PCI_CAP_COMMON_CFG } from './modern.js';
import { VirtioDevice } from './virtio-device.js';
import type { VirtioTransport } from './virtqueue.js';

export const VIRTIO_VENDOR = 0x1af4;
/** virtio 1.0 §4.1.2.1: 0x1000 = legacy/transitional network device, 0x1040 + 1 = modern virtio-net. */
export const VIRTIO_NET_LEGACY = 0x1000;
export const VIRTIO_NET_MODERN = 0x1041;

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** Why this device is not one for the virtio driver, or null. Read-only. */
export function notVirtioNet(info: PciDeviceInfo): string | null {
  if (info.vendor === VIRTIO_VENDOR && (info.device === VIRTIO_NET_LEGACY || info.device === VIRTIO_NET_MODERN) && isNetworkClass(info.classCode)) return null;
  return `${info.address} is ${hex4(info.vendor)}:${hex4(info.device)} (class 0x${info.classCode.toString(16).padStart(6, '0')}), not a virtio-net device (1af4:1000 or 1af4:1041): see \`ixy devices\``;
}

export interface VirtioSpec { address: string; mode: 'auto' | 'legacy' | 'modern'; dma?: DmaPath }

/**
 * `0000:00:04.0[,mode=legacy|modern][,dma=vfio|pagemap]` (a transitional device speaks both modes; default: modern;
 * DMA: VFIO if the device has an IOMMU group and /dev/vfio/vfio exists, else hugepages + pagemap).
 */
export function parseVirtioArg(arg: string): VirtioSpec {
  const [addr, ...opts] = arg.split(',');
  let mode: VirtioSpec['mode'] = 'auto';
  let dma: DmaPath | undefined;
  for (const o of opts) {
    const m = /^mode=(legacy|modern)$/.exec(o);
    const d = parseDmaOption(o);
    if (d !== null) { dma = d; continue; }
    if (!m) throw new UsageError(`unknown virtio option '${o}' in '${arg}': use virtio:DDDD:BB:DD.F[,mode=legacy|modern][,dma=vfio|pagemap]`, 'EBADSPEC');
    mode = m[1] as VirtioSpec['mode'];
  }
  return { address: parsePciAddress(addr ?? ''), mode, ...(dma ? { dma } : {}) };
}

export interface VirtioEnv {
  /** A fake sysfs tree for tests (default /sys). */
  sysfsRoot?: string;
  /** DMA memory (default: hugepages, as ixgbe). */
  dma?: () => DmaAllocator;
}

let hugepages: HugepageDmaAllocator | null = null;
const hugepageDma = (): DmaAllocator => (hugepages ??= new HugepageDmaAllocator());

/** Picks the transport: modern for 0x1041 and (unless mode=legacy) for a transitional device with virtio capabilities. */
function transportFor(platform: PciPlatform, v: VirtioSpec, root: string): VirtioTransport {
  const claimed = platform.claimed;
  const dir = path.join(root, 'bus/pci/devices', claimed.info.address);
  const config = fs.readFileSync(path.join(dir, 'config'));
  const hasCaps = virtioCaps(config).has(VIRTIO_PCI_CAP_COMMON_CFG);
  const legacyCapable = claimed.info.device === VIRTIO_NET_LEGACY;
  if (v.mode === 'legacy' && !legacyCapable) throw new IxyError(`${claimed.info.address} is a modern-only virtio device (1af4:1041): drop ,mode=legacy`);
  if (v.mode === 'modern' && !hasCaps) throw new IxyError(`${claimed.info.address} has no virtio 1.0 capabilities (a legacy-only device): drop ,mode=modern`);
  if (v.mode === 'legacy' || (v.mode === 'auto' && !hasCaps)) {
    if (config.length < 64) throw new IxyError(`${claimed.info.address}: only ${config.length} bytes of config space readable: run as root`);
    return new LegacyTransport(platform.ioBar(0), msixEnabled(config) ? LEGACY_CONFIG_MSIX : LEGACY_CONFIG);
  }
  return new ModernTransport(claimed, config);
}

/** Opens `virtio:<addr>`: checks, unbinds (refusing an interface that is up unless force), then brings the device up. */
export function openVirtio(spec: DeviceSpec, opts: DeviceOptions, env: VirtioEnv = {}): VirtioDevice {
  const root = env.sysfsRoot ?? '/sys';
  const v = parseVirtioArg(spec.arg);
  const platform = openPciPlatform(v.address, { force: opts.force, sysfsRoot: root, expect: notVirtioNet, dma: v.dma, pagemapDma: hugepageDma });
  const claimed = platform.claimed;
  let transport: VirtioTransport;
  try {
    transport = transportFor(platform, v, root);
  } catch (e) {
    claimed.release(true);
    throw e;
  }
  return VirtioDevice.open(spec.text, { transport, dma: env.dma ?? platform.dma, release: (failed) => claimed.release(failed) }, opts);
}

registerDriver({
  kind: 'virtio',
  usage: 'virtio:DDDD:BB:DD.F[,mode=legacy|modern][,dma=vfio|pagemap] — a virtio-net PCI device in a VM (root; VFIO with an IOMMU, else hugepages)',
  check: (spec) => { parseVirtioArg(spec.arg); },
  dmaAllocator: (spec) => {
    const v = parseVirtioArg(spec.arg);
    const why = notVirtioNet(readPciDevice(v.address, '/sys', NO_SCAN));
    if (why) throw new IxyError(why);
    return dmaAllocatorForPci(v.address, { dma: v.dma, pagemapDma: hugepageDma });
  },
  open: (spec, opts) => openVirtio(spec, opts),
});
