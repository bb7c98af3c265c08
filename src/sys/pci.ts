/**
 * PCI devices through sysfs (Documentation/ABI/testing/sysfs-bus-pci, Documentation/PCI/sysfs-pci.rst).
 * Every function takes `sysfsRoot` so tests can point it at a fake tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IxyError, UsageError } from '../util/errors.js';
import { EMPTY_SCAN, type KernelNetdev, type NetdevScan, scanKernelNetdevs } from './kernel-netdevs.js';
import { libc, errnoMessage, viewOf, O_RDWR, O_SYNC, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_FAILED } from './libc.js';

export interface PciDeviceInfo {
  address: string;
  vendor: number;
  device: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | prog-if (0x020000 = Ethernet). */
  classCode: number;
  /** The PCI driver bound to it (ixgbe, virtio-pci, vfio-pci, …), or null. */
  driver: string | null;
  /**
   * The kernel network driver that makes interfaces of it (ixgbe; virtio_net on a virtio-pci device's virtio child),
   * or null: unbound, or bound only to a driver that hands it to user space (vfio-pci, uio_pci_generic) or to virtio-pci alone.
   */
  netDriver: string | null;
  /** Its interfaces in this and the init network namespace (rtnetlink), plus any this namespace's sysfs names. */
  interfaces: KernelNetdev[];
  /** Why a namespace that may hold its interfaces could not be looked into, or null. */
  blind: string | null;
  iommuGroup: string | null;
  numaNode: number;
  /** virtio devices bound to the kernel: the feature bits its driver negotiated (virtioN/features: '0'/'1', bit i at i). */
  virtioFeatureBits: string | null;
}

export interface MappedBar {
  /** Over the device's registers. Don't touch it after unmap(). */
  buffer: ArrayBuffer;
  size: number;
  unmap(): void;
}

export interface ClaimedPciDevice {
  info: PciDeviceInfo;
  mapBar(n: number): MappedBar;
  /** Unmaps every BAR; with `rebind`, hands the device back to the kernel driver it had. */
  release(rebind: boolean): void;
}

const ADDR_RE = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/;

/** `0000:03:00.0` or `03:00.0` → `0000:03:00.0` (device number 0–0x1f, function 0–7). */
export function parsePciAddress(s: string): string {
  const m = ADDR_RE.exec(s);
  if (!m) throw new UsageError(`'${s}' is not a PCI address: use DDDD:BB:DD.F, e.g. 0000:03:00.0 (see \`ixy devices\`)`, 'EBADSPEC');
  return `${m[1] ?? '0000'}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

export const isNetworkClass = (classCode: number): boolean => classCode >> 16 === 0x02;

const devDir = (addr: string, root: string) => path.join(root, 'bus/pci/devices', addr);
const hex = (n: number) => `0x${n.toString(16).padStart(6, '0')}`;

function readHex(file: string): number {
  const v = parseInt(fs.readFileSync(file, 'utf8').trim(), 16);
  if (Number.isNaN(v)) throw new IxyError(`${file} does not hold a hex number: is this a PCI sysfs tree?`);
  return v;
}

function linkBase(link: string): string | null {
  try { return path.basename(fs.readlinkSync(link)); } catch { return null; }
}

function interfaceUp(ifname: string, root: string): boolean {
  // include/uapi/linux/if.h: IFF_UP = 0x1. /sys/class/net/<if> links to the netdev under its device.
  try { return (readHex(path.join(root, 'class/net', ifname, 'flags')) & 0x1) !== 0; } catch { return false; }
}

/** For reads that need only a device's identity (vendor, class, IOMMU group): no look at its interfaces. */
export const NO_SCAN = (): NetdevScan => EMPTY_SCAN;

/** PCI drivers that only hand a device to user space: no interface of the kernel hangs off them. */
const HANDOVER_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio', 'pci-stub']);

/**
 * One PCI device. `scan` gives its interfaces as rtnetlink sees them in this and the init namespace; by default it is
 * made when the real /sys is read and a network driver is bound (a fake tree gets none: its sysfs names are all).
 */
export function readPciDevice(addr: string, sysfsRoot = '/sys', scan?: () => NetdevScan): PciDeviceInfo {
  const address = parsePciAddress(addr);
  const dir = devDir(address, sysfsRoot);
  if (!fs.existsSync(dir)) {
    throw new IxyError(`no PCI device ${address}: check the address with \`ixy devices\` or \`lspci -D\``);
  }
  // Netdevs hang off the PCI device (<dev>/net/eth0) or, for virtio, off its virtio child (<dev>/virtio2/net/eth0).
  const virtioChildren = fs.readdirSync(dir).filter((e) => /^virtio\d+$/.test(e));
  let virtioFeatureBits: string | null = null;
  let virtioDriver: string | null = null;
  for (const v of virtioChildren) {
    try { virtioFeatureBits = fs.readFileSync(path.join(dir, v, 'features'), 'utf8').trim(); } catch { /* not bound to virtio_net */ }
    virtioDriver ??= linkBase(path.join(dir, v, 'driver'));
  }
  // This namespace's sysfs: all there is on a fake tree, and the fallback on kernels without IFLA_PARENT_DEV_NAME.
  const sysfsNames = [path.join(dir, 'net'), ...virtioChildren.map((e) => path.join(dir, e, 'net'))]
    .flatMap((d) => { try { return fs.readdirSync(d); } catch { return []; } });
  const driver = linkBase(path.join(dir, 'driver'));
  const netDriver = driver === null || HANDOVER_DRIVERS.has(driver) ? null
    : driver === 'virtio-pci' ? virtioDriver ?? (sysfsNames.length > 0 ? 'virtio_net' : null) : driver;
  const { netdevs, blind } = netDriver === null ? EMPTY_SCAN : (scan ?? (sysfsRoot === '/sys' ? scanKernelNetdevs : () => EMPTY_SCAN))();
  const mine = netdevs.filter((n) => (n.parentBus === 'pci' && n.parentDev === address) ||
    (n.parentBus === 'virtio' && n.parentDev !== null && virtioChildren.includes(n.parentDev)));
  for (const name of sysfsNames) {
    if (mine.some((n) => n.netns === 'this' && n.name === name)) continue;
    const seen = netdevs.find((n) => n.netns === 'this' && n.name === name);
    mine.push(seen ?? { name, netns: 'this', up: interfaceUp(name, sysfsRoot), addresses: [], routes: 0, defaultRoute: false, parentBus: null, parentDev: null });
  }
  mine.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let numaNode = -1;
  try { numaNode = parseInt(fs.readFileSync(path.join(dir, 'numa_node'), 'utf8'), 10); } catch { /* none */ }
  return {
    address,
    vendor: readHex(path.join(dir, 'vendor')),
    device: readHex(path.join(dir, 'device')),
    classCode: readHex(path.join(dir, 'class')),
    driver,
    netDriver,
    interfaces: mine,
    blind,
    iommuGroup: linkBase(path.join(dir, 'iommu_group')),
    numaNode: Number.isNaN(numaNode) ? -1 : numaNode,
    virtioFeatureBits,
  };
}

export function listPciDevices(sysfsRoot = '/sys', scan?: () => NetdevScan): PciDeviceInfo[] {
  let names: string[] = [];
  try { names = fs.readdirSync(path.join(sysfsRoot, 'bus/pci/devices')); } catch { return []; }
  let cached: NetdevScan | null = null;
  const once = scan ?? (sysfsRoot === '/sys' ? scanKernelNetdevs : () => EMPTY_SCAN);
  const shared = () => (cached ??= once());
  return names.filter((n) => ADDR_RE.test(n)).sort().map((n) => readPciDevice(n, sysfsRoot, shared));
}

export const listNetworkDevices = (sysfsRoot = '/sys', scan?: () => NetdevScan): PciDeviceInfo[] =>
  listPciDevices(sysfsRoot, scan).filter((d) => isNetworkClass(d.classCode));

const where = (n: KernelNetdev) => (n.netns === 'init' ? ' in the init network namespace' : '');
const plural = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : one.endsWith('s') ? 'es' : 's'}`;

/** What makes an interface in use: up, an address, a route; '' when none. */
function useOf(n: KernelNetdev): string {
  const parts = [...(n.up ? ['up'] : []), ...(n.addresses.length ? [plural(n.addresses.length, 'address')] : []),
    ...(n.routes ? [plural(n.routes, 'route')] : [])];
  return parts.join(', ');
}

/**
 * Whether ixy.ts may take the device: refused (unless forced) when any of its interfaces, in this or the init network
 * namespace, is up or has an address or a route, and when a network driver is bound but its interfaces cannot be seen.
 */
export function safetyOf(info: PciDeviceInfo, force: boolean): { safe: boolean; reason: string } {
  if (!isNetworkClass(info.classCode)) {
    return { safe: false, reason: `${info.address} is not a network device (class ${hex(info.classCode)})` };
  }
  if (info.driver === null) return { safe: true, reason: 'no kernel driver bound' };
  if (info.netDriver === null) return { safe: true, reason: `bound to ${info.driver} without a kernel network driver: will be unbound` };
  const used = info.interfaces.filter((n) => useOf(n) !== '');
  if (used.length > 0) {
    const uses = used.map((n) => `${n.name} (${useOf(n)})${where(n)}`).join(', ');
    const cutOff = used.some((n) => n.defaultRoute) ? '; it carries the default route: taking it cuts this machine off' : '';
    if (force) return { safe: true, reason: `forced: the kernel's ${uses} will lose its device${cutOff}` };
    const downs = used.map((n) => `\`ip link set ${n.name} down\`${where(n)}`).join(' and ');
    return { safe: false, reason: `the kernel uses it as ${uses}${cutOff}: take it down first with ${downs}, or pass --force` };
  }
  if (info.interfaces.length === 0) {
    const why = info.blind ?? 'none of its interfaces is in this or the init network namespace (moved to another one?)';
    if (force) return { safe: true, reason: `forced: bound to ${info.netDriver}, its interfaces unseen (${why})` };
    return { safe: false, reason: `bound to ${info.netDriver}, but ${why}: check that its interface is down everywhere, or pass --force` };
  }
  const names = info.interfaces.map((n) => `${n.name}${where(n)}`).join(', ');
  return { safe: true, reason: `bound to ${info.netDriver}, ${names} down without addresses or routes: will be unbound` };
}

/** PCI Local Bus Spec 3.0 §6.2.2: Command register at config offset 4, bit 2 = Bus Master Enable. */
const PCI_COMMAND = 4;
const PCI_COMMAND_MASTER = 0x4;

function enableBusMaster(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'config'), 'r+');
  try {
    const b = Buffer.alloc(2);
    if (fs.readSync(fd, b, 0, 2, PCI_COMMAND) !== 2) throw new Error('short read of the command register');
    b.writeUInt16LE(b.readUInt16LE(0) | PCI_COMMAND_MASTER, 0);
    fs.writeSync(fd, b, 0, 2, PCI_COMMAND); // positional write = pwrite(2)
  } finally {
    fs.closeSync(fd);
  }
}

function mapResource(file: string): MappedBar {
  const size = fs.statSync(file).size; // sysfs reports the BAR length as the file size
  if (size === 0) throw new IxyError(`${file} is empty: the BAR is not memory-mapped (an I/O BAR needs pread/pwrite)`);
  const c = libc();
  const fd = c.open(file, O_RDWR | O_SYNC, 0);
  if (fd < 0) throw new IxyError(errnoMessage(`open ${file}`) + ': run as root and check the device is not in use');
  const ptr = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const msg = ptr === MAP_FAILED ? errnoMessage(`mmap ${file}`) : '';
  c.close(fd);
  if (ptr === MAP_FAILED) throw new IxyError(`${msg}: is the BAR disabled or is another driver using it?`);
  let mapped = true;
  return {
    buffer: viewOf(ptr, size),
    size,
    unmap() { if (mapped) { mapped = false; c.munmap(ptr, size); } },
  };
}

const writeSysfs = (file: string, text: string) => fs.writeFileSync(file, text);

export interface ClaimOptions {
  force?: boolean;
  sysfsRoot?: string;
  /** Returns a message to refuse the device (e.g. wrong vendor for this driver), or null. */
  expect?: (info: PciDeviceInfo) => string | null;
  /** Its interfaces as rtnetlink sees them (tests give a fake; default: readPciDevice's). */
  scan?: () => NetdevScan;
}

/**
 * Takes a device for a user-space driver: checks first, then unbinds the kernel driver and enables
 * bus mastering. A failure after the unbind rebinds the kernel driver before throwing.
 */
export function claimPciDevice(addr: string, opts: ClaimOptions = {}): ClaimedPciDevice {
  const root = opts.sysfsRoot ?? '/sys';
  const address = parsePciAddress(addr);
  const info = readPciDevice(address, root, opts.scan);
  if (!isNetworkClass(info.classCode)) {
    throw new IxyError(`${address} is not a network device (class ${hex(info.classCode)}): pick one from \`ixy devices\``);
  }
  const refusal = opts.expect?.(info) ?? null;
  if (refusal !== null) throw new IxyError(refusal);
  if (root === '/sys' && process.getuid?.() !== 0) {
    throw new IxyError(`taking PCI device ${address} needs root: run with sudo`);
  }
  const safety = safetyOf(info, opts.force ?? false);
  if (!safety.safe) throw new IxyError(`${address}: ${safety.reason}`);

  const dir = devDir(address, root);
  const rebind = (): string => {
    if (info.driver === null) return '';
    try {
      writeSysfs(path.join(root, 'bus/pci/drivers', info.driver, 'bind'), address);
      return '';
    } catch (e) {
      return ` (rebinding ${info.driver} also failed: ${(e as Error).message}; run \`echo ${address} > /sys/bus/pci/drivers/${info.driver}/bind\`)`;
    }
  };

  if (info.driver !== null) {
    try {
      writeSysfs(path.join(dir, 'driver/unbind'), address);
    } catch (e) {
      throw new IxyError(`cannot unbind ${address} from ${info.driver}: ${(e as Error).message}: run as root`);
    }
  }
  try {
    enableBusMaster(dir);
  } catch (e) {
    const tail = rebind();
    throw new IxyError(`cannot enable bus mastering on ${address}: ${(e as Error).message}${tail}`);
  }

  const bars = new Set<MappedBar>();
  let released = false;
  return {
    info,
    mapBar(n: number): MappedBar {
      if (released) throw new IxyError(`${address} was released: claim it again`);
      const bar = mapResource(path.join(dir, `resource${n}`));
      const unmap = bar.unmap;
      const tracked: MappedBar = { ...bar, unmap() { bars.delete(tracked); unmap(); } };
      bars.add(tracked);
      return tracked;
    },
    release(rebindDriver: boolean): void {
      if (released) return;
      released = true;
      for (const b of [...bars]) b.unmap();
      if (rebindDriver) {
        const tail = rebind();
        if (tail !== '') throw new IxyError(`${address} released${tail}`);
      }
    },
  };
}

// Short names for `ixy devices` (PCI IDs from the pci.ids database; the ixgbe ones ixy drives).
const NAMES: Record<string, string> = {
  '8086:10fb': '82599ES SFP+',
  '8086:10fc': '82599 XAUI/BX4',
  '8086:10f8': '82599 backplane',
  '8086:154d': '82599ES SFP+ (X520)',
  '8086:1528': 'X540-AT2',
  '8086:1563': 'X550T',
  '1af4:1000': 'virtio-net legacy',
  '1af4:1041': 'virtio-net modern',
};

export interface DeviceListing {
  address: string;
  vendorDevice: string;
  name: string;
  driver: string | null;
  /** Interface names, with ` (init netns)` for those of the init network namespace. */
  interfaces: string[];
  userDriver: 'ixgbe' | 'virtio' | null;
  safe: boolean;
  reason: string;
  /** Where a PCI driver's DMA memory would come from for this device (VFIO vs hugepages + pagemap), and why. */
  dma: DmaChoice;
  /** virtio: the feature bits the kernel's driver negotiated, if it is bound ('0'/'1' per bit). */
  virtioFeatureBits: string | null;
}

/** The container device whose presence (with an IOMMU group) makes the VFIO path the default. */
export const VFIO_CONTAINER_PATH = '/dev/vfio/vfio';

export type DmaPath = 'vfio' | 'pagemap';
export interface DmaChoice { path: DmaPath; reason: string }

/**
 * VFIO when the device has an IOMMU group and /dev/vfio/vfio exists, else hugepages + pagemap. `forced` (a spec's
 * `,dma=vfio|pagemap`) wins; a forced VFIO that cannot work is reported in `reason` and by the open.
 */
export function dmaPathFor(iommuGroup: string | null, vfioPresent: boolean, forced?: DmaPath): DmaChoice {
  if (forced === 'pagemap') return { path: 'pagemap', reason: 'forced by dma=pagemap: hugepages + /proc/self/pagemap physical addresses' };
  if (forced === 'vfio') return { path: 'vfio', reason: 'forced by dma=vfio' };
  if (iommuGroup === null) return { path: 'pagemap', reason: 'no IOMMU group: hugepages + /proc/self/pagemap physical addresses' };
  if (!vfioPresent) {
    return { path: 'pagemap', reason: `IOMMU group ${iommuGroup} but no ${VFIO_CONTAINER_PATH} (modprobe vfio-pci for VFIO): hugepages + pagemap, which fails if the IOMMU translates` };
  }
  return { path: 'vfio', reason: `IOMMU group ${iommuGroup} and ${VFIO_CONTAINER_PATH}: vfio-pci, DMA mapped through the IOMMU (IOVA = virtual address)` };
}

export function describeForListing(info: PciDeviceInfo, vfioPresent: boolean = fs.existsSync(VFIO_CONTAINER_PATH)): DeviceListing {
  const h4 = (n: number) => n.toString(16).padStart(4, '0');
  const vendorDevice = `${h4(info.vendor)}:${h4(info.device)}`;
  const name = NAMES[vendorDevice];
  // Only the legacy (transitional) virtio device has the I/O BAR layout our virtio driver speaks.
  const userDriver = name === undefined ? null : vendorDevice.startsWith('8086:') ? 'ixgbe'
    : vendorDevice === '1af4:1000' || vendorDevice === '1af4:1041' ? 'virtio' : null;
  const { safe, reason } = safetyOf(info, false);
  return { address: info.address, vendorDevice, name: name ?? 'network device', driver: info.driver,
    interfaces: info.interfaces.map((n) => (n.netns === 'init' ? `${n.name} (init netns)` : n.name)), userDriver, safe, reason, dma: dmaPathFor(info.iommuGroup, vfioPresent),
    virtioFeatureBits: info.virtioFeatureBits ?? null };
}
