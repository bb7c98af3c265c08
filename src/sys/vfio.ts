/**
 * PCI devices through VFIO (Documentation/driver-api/vfio.rst, include/uapi/linux/vfio.h): the device is bound to
 * vfio-pci, its IOMMU group joins a type-1 container, BARs and config space are regions of the device fd, and DMA
 * memory is ordinary anonymous memory mapped into the IOMMU with IOVA = its virtual address (no pagemap, no
 * hugepages, no root-only physical addresses). The other path (hugepages + /proc/self/pagemap) is in hugepages.ts;
 * `openPciPlatform` picks one for a driver (see `dmaPathFor` in pci.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DmaAllocator, DmaRegion } from '../mem/dma.js';
import { roundUp } from '../mem/dma.js';
import { IxyError } from '../util/errors.js';
import {
  errnoMessage, libc, viewOf, MAP_ANONYMOUS, MAP_FAILED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE,
} from './libc.js';
import {
  type ClaimedPciDevice, type ClaimOptions, type DmaChoice, type DmaPath, type MappedBar, type PciDeviceInfo,
  claimPciDevice, dmaPathFor, isNetworkClass, NO_SCAN, parsePciAddress, readPciDevice, safetyOf, VFIO_CONTAINER_PATH,
} from './pci.js';

// ---- include/uapi/linux/vfio.h ----
/** `#define VFIO_TYPE (';')`, `#define VFIO_BASE 100`; every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)` (no size/dir bits). */
export const VFIO_TYPE = 0x3b;
export const VFIO_BASE = 100;
const vfioIo = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n); // _IO(type, nr) = type << 8 | nr
export const VFIO_GET_API_VERSION = vfioIo(0); // 0x3b64
export const VFIO_CHECK_EXTENSION = vfioIo(1); // 0x3b65
export const VFIO_SET_IOMMU = vfioIo(2); // 0x3b66
export const VFIO_GROUP_GET_STATUS = vfioIo(3); // 0x3b67
export const VFIO_GROUP_SET_CONTAINER = vfioIo(4); // 0x3b68
export const VFIO_GROUP_UNSET_CONTAINER = vfioIo(5); // 0x3b69
export const VFIO_GROUP_GET_DEVICE_FD = vfioIo(6); // 0x3b6a
export const VFIO_DEVICE_GET_INFO = vfioIo(7); // 0x3b6b
export const VFIO_DEVICE_GET_REGION_INFO = vfioIo(8); // 0x3b6c
export const VFIO_IOMMU_GET_INFO = vfioIo(12); // 0x3b70
export const VFIO_IOMMU_MAP_DMA = vfioIo(13); // 0x3b71
export const VFIO_IOMMU_UNMAP_DMA = vfioIo(14); // 0x3b72
export const VFIO_API_VERSION = 0;
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
/** struct vfio_group_status.flags */
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
/** struct vfio_region_info.flags */
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
/** struct vfio_iommu_type1_dma_map.flags */
const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
/** enum { VFIO_PCI_BAR0_REGION_INDEX … VFIO_PCI_BAR5_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX } */
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;

/** PCI Local Bus Spec 3.0 §6.2.2: Command register at config offset 4, bit 2 = Bus Master Enable. */
const PCI_COMMAND = 4;
const PCI_COMMAND_MASTER = 0x4;
/** Drivers the kernel lets share a group with a vfio-pci device (vfio_main.c: vfio-pci itself, pci-stub, pcieport). */
const GROUP_SAFE_DRIVERS = new Set(['vfio-pci', 'pci-stub', 'pcieport']);

const linkBase = (link: string): string | null => { try { return path.basename(fs.readlinkSync(link)); } catch { return null; } };
const devDir = (addr: string, root: string): string => path.join(root, 'bus/pci/devices', addr);

// ---- path choice and group viability (sysfs only: unit-testable against a fake tree) ----

/** The DMA path for `address` (spec option `forced` wins): VFIO iff it has an IOMMU group and `vfioDev` exists. */
export function chooseDmaPath(address: string, opts: { sysfsRoot?: string; vfioDev?: string; forced?: DmaPath } = {}): DmaChoice {
  const root = opts.sysfsRoot ?? '/sys';
  const info = readPciDevice(address, root, NO_SCAN);
  return dmaPathFor(info.iommuGroup, fs.existsSync(opts.vfioDev ?? VFIO_CONTAINER_PATH), opts.forced);
}

/**
 * Null if every other device of `group` is unbound or on a driver VFIO accepts; else the one-line reason
 * "VFIO group N not viable: other devices in the group are still bound: ADDR (driver), …: …".
 */
export function groupNotViable(group: string, address: string, sysfsRoot = '/sys'): string | null {
  let members: string[] = [];
  try { members = fs.readdirSync(path.join(sysfsRoot, 'kernel/iommu_groups', group, 'devices')).sort(); } catch { return null; }
  const bound = members.filter((a) => a !== address).map((a) => [a, linkBase(path.join(sysfsRoot, 'kernel/iommu_groups', group, 'devices', a, 'driver'))] as const)
    .filter(([, d]) => d !== null && !GROUP_SAFE_DRIVERS.has(d));
  if (bound.length === 0) return null;
  return `VFIO group ${group} not viable: other devices in the group are still bound: ${bound.map(([a, d]) => `${a} (${d})`).join(', ')}: ` +
    'unbind them or bind them to vfio-pci too (the IOMMU isolates only whole groups)';
}

// ---- the container: one per process, shared by every VFIO device and the DMA allocator ----

interface DmaRec { iova: number; len: number; mapped: boolean }

function ioctlOrThrow(fd: number, req: number, arg: Buffer | number, what: string, hint: string): number {
  const r = typeof arg === 'number' ? libc().ioctlInt(fd, req, arg) : libc().ioctl(fd, req, arg);
  if (r < 0) throw new IxyError(`${errnoMessage(what)}${hint ? `: ${hint}` : ''}`);
  return r;
}

class VfioContainer {
  fd = -1;
  groups = 0;
  readonly regions = new Set<DmaRec>();

  constructor(readonly dev: string) {}

  /** Opens /dev/vfio/vfio once and checks the API version and type-1 support. */
  open(): void {
    if (this.fd >= 0) return;
    const c = libc();
    const fd = c.open(this.dev, O_RDWR, 0);
    if (fd < 0) throw new IxyError(`${errnoMessage(`open ${this.dev}`)}: modprobe vfio-pci and run as root`);
    try {
      const v = c.ioctlInt(fd, VFIO_GET_API_VERSION, 0);
      if (v !== VFIO_API_VERSION) throw new IxyError(`${this.dev}: VFIO API version ${v}, this driver speaks ${VFIO_API_VERSION}`);
      if (c.ioctlInt(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
        throw new IxyError(`${this.dev}: no VFIO_TYPE1_IOMMU: modprobe vfio_iommu_type1 (no IOMMU driver, or only no-IOMMU mode: use dma=pagemap)`);
      }
    } catch (e) {
      c.close(fd);
      throw e;
    }
    this.fd = fd;
  }

  /** After the first group joined: VFIO_SET_IOMMU (type 1 v2 if offered), then map every live region. */
  groupAttached(): void {
    this.groups++;
    if (this.groups > 1) return;
    const type = libc().ioctlInt(this.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
    ioctlOrThrow(this.fd, VFIO_SET_IOMMU, type, 'VFIO_SET_IOMMU', 'the IOMMU refused the container');
    for (const r of this.regions) this.map(r);
  }

  /** When the last group leaves, the kernel unsets the IOMMU and drops every mapping with it. */
  groupDetached(): void {
    if (this.groups === 0) return;
    this.groups--;
    if (this.groups === 0) for (const r of this.regions) r.mapped = false;
  }

  map(r: DmaRec): void {
    if (this.groups === 0 || r.mapped) return;
    // struct vfio_iommu_type1_dma_map { u32 argsz; u32 flags; u64 vaddr; u64 iova; u64 size; }
    const b = Buffer.alloc(32);
    b.writeUInt32LE(32, 0);
    b.writeUInt32LE(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, 4);
    b.writeBigUInt64LE(BigInt(r.iova), 8);
    b.writeBigUInt64LE(BigInt(r.iova), 16);
    b.writeBigUInt64LE(BigInt(r.len), 24);
    ioctlOrThrow(this.fd, VFIO_IOMMU_MAP_DMA, b, `VFIO_IOMMU_MAP_DMA of ${r.len} bytes at IOVA 0x${r.iova.toString(16)}`,
      'IOVA beyond the IOMMU\'s address width, or RLIMIT_MEMLOCK too low (run as root)');
    r.mapped = true;
  }

  unmap(r: DmaRec): void {
    if (!r.mapped) return;
    r.mapped = false;
    // struct vfio_iommu_type1_dma_unmap { u32 argsz; u32 flags; u64 iova; u64 size; }
    const b = Buffer.alloc(24);
    b.writeUInt32LE(24, 0);
    b.writeBigUInt64LE(BigInt(r.iova), 8);
    b.writeBigUInt64LE(BigInt(r.len), 16);
    libc().ioctl(this.fd, VFIO_IOMMU_UNMAP_DMA, b); // best effort: the memory goes back either way
  }
}

const containers = new Map<string, VfioContainer>();
const containerFor = (dev: string): VfioContainer => {
  let c = containers.get(dev);
  if (c === undefined) { c = new VfioContainer(dev); containers.set(dev, c); }
  return c;
};

// ---- DMA memory ----

/**
 * Where the next region is placed (a hint to mmap, not MAP_FIXED): low in the address space so IOVA = virtual
 * address fits an IOMMU with 39-bit addresses (QEMU's intel-iommu default), away from the MSI window at 0xfee00000.
 */
let nextHint = 0x10_0000_0000;
const IOVA_LIMIT_39 = 2 ** 39;

/**
 * Anonymous memory, populated, mapped into the container's IOMMU with IOVA = its virtual address (VFIO_IOMMU_MAP_DMA
 * pins it). Regions allocated before any device joined are mapped when the first one does. Contiguous in IOVA space
 * whatever its size.
 */
export class VfioDmaAllocator implements DmaAllocator {
  readonly description = 'anonymous memory mapped through VFIO (IOVA = virtual address)';
  private readonly container: VfioContainer;

  constructor(vfioDev = VFIO_CONTAINER_PATH) {
    this.container = containerFor(vfioDev);
  }

  allocate(size: number): DmaRegion {
    const len = roundUp(size, 4096);
    const c = libc();
    const addr = c.mmap(BigInt(nextHint), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (addr === MAP_FAILED || addr === 0n) throw new IxyError(`${errnoMessage(`mmap of ${len} bytes for VFIO DMA`)}: lower --pool-size`);
    const iova = Number(addr);
    if (iova + len <= IOVA_LIMIT_39) nextHint = iova + roundUp(len, 2 * 1024 * 1024);
    const rec: DmaRec = { iova, len, mapped: false };
    try {
      this.container.map(rec);
    } catch (e) {
      c.munmap(addr, len);
      throw e;
    }
    this.container.regions.add(rec);
    let freed = false;
    return {
      buffer: viewOf(addr, len), byteOffset: 0, size: len, contiguousBytes: len,
      physAddr: (offset: number) => iova + offset,
      free: () => {
        if (freed) return;
        freed = true;
        this.container.unmap(rec);
        this.container.regions.delete(rec);
        c.munmap(addr, len);
      },
    };
  }

  /** How many regions are mapped into the IOMMU right now (for tests and reports). */
  mappedRegions(): number {
    let n = 0;
    for (const r of this.container.regions) if (r.mapped) n++;
    return n;
  }
}

const vfioAllocators = new Map<string, VfioDmaAllocator>();
/** One allocator per container device, so every VFIO device of a process can share one mempool. */
export function vfioDma(vfioDev = VFIO_CONTAINER_PATH): VfioDmaAllocator {
  let a = vfioAllocators.get(vfioDev);
  if (a === undefined) { a = new VfioDmaAllocator(vfioDev); vfioAllocators.set(vfioDev, a); }
  return a;
}

// ---- the device ----

export interface RegionInfo { index: number; flags: number; size: number; offset: number }
/** An I/O BAR (or any region) reached with pread/pwrite on `fd` at `base` + register offset. */
export interface IoRegion { fd: number; base: number; size: number; name: string }

export interface VfioClaimedDevice extends ClaimedPciDevice {
  readonly group: string;
  readonly deviceFd: number;
  regionInfo(index: number): RegionInfo;
  ioBar(n: number): IoRegion;
}

export interface VfioClaimOptions extends ClaimOptions { vfioDev?: string }

function writeSysfs(file: string, text: string): void { fs.writeFileSync(file, text); }

/**
 * Takes a device for VFIO: the same checks as claimPciDevice, then the group's viability (from sysfs, before anything
 * changes), unbinds the kernel driver, binds vfio-pci (driver_override + drivers_probe), joins the container and opens
 * the device fd, and sets Bus Master Enable through the config region. Any failure, and release(), undo the binding:
 * driver_override cleared and the original kernel driver (if any) bound again.
 */
export function claimVfioDevice(addr: string, opts: VfioClaimOptions = {}): VfioClaimedDevice {
  const root = opts.sysfsRoot ?? '/sys';
  const address = parsePciAddress(addr);
  const info: PciDeviceInfo = readPciDevice(address, root, opts.scan);
  if (!isNetworkClass(info.classCode)) {
    throw new IxyError(`${address} is not a network device (class 0x${info.classCode.toString(16).padStart(6, '0')}): pick one from \`ixy devices\``);
  }
  const refusal = opts.expect?.(info) ?? null;
  if (refusal !== null) throw new IxyError(refusal);
  const group = info.iommuGroup;
  if (group === null) throw new IxyError(`dma=vfio: ${address} has no IOMMU group (no IOMMU, or it is off: boot with intel_iommu=on or amd_iommu=on), use dma=pagemap`);
  const vfioDev = opts.vfioDev ?? VFIO_CONTAINER_PATH;
  if (!fs.existsSync(vfioDev)) throw new IxyError(`dma=vfio: ${vfioDev} does not exist: modprobe vfio-pci (or use dma=pagemap)`);
  if (root === '/sys' && process.getuid?.() !== 0) throw new IxyError(`taking PCI device ${address} through VFIO needs root here: run with sudo`);
  const safety = safetyOf(info, opts.force ?? false);
  if (!safety.safe) throw new IxyError(`${address}: ${safety.reason}`);
  const notViable = groupNotViable(group, address, root);
  if (notViable !== null) throw new IxyError(notViable);

  const dir = devDir(address, root);
  const original = info.driver;
  /** Back to how we found it: off vfio-pci, no override, the original driver bound. Returns a hint on failure. */
  const restore = (): string => {
    const problems: string[] = [];
    try { if (linkBase(path.join(dir, 'driver')) === 'vfio-pci') writeSysfs(path.join(dir, 'driver/unbind'), address); } catch (e) { problems.push(`unbind from vfio-pci: ${(e as Error).message}`); }
    try { writeSysfs(path.join(dir, 'driver_override'), '\n'); } catch (e) { problems.push(`clear driver_override: ${(e as Error).message}`); }
    if (original !== null && original !== 'vfio-pci') {
      try { writeSysfs(path.join(root, 'bus/pci/drivers', original, 'bind'), address); } catch (e) {
        problems.push(`rebind ${original}: ${(e as Error).message}; run \`echo ${address} > /sys/bus/pci/drivers/${original}/bind\``);
      }
    }
    return problems.length ? ` (restoring the binding failed: ${problems.join('; ')})` : '';
  };

  // bind to vfio-pci
  if (original !== 'vfio-pci') {
    try {
      if (original !== null) writeSysfs(path.join(dir, 'driver/unbind'), address);
      writeSysfs(path.join(dir, 'driver_override'), 'vfio-pci');
      writeSysfs(path.join(root, 'bus/pci/drivers_probe'), address);
    } catch (e) {
      throw new IxyError(`cannot bind ${address} to vfio-pci: ${(e as Error).message}${restore()}`);
    }
    const now = linkBase(path.join(dir, 'driver'));
    if (now !== 'vfio-pci') throw new IxyError(`${address} did not bind to vfio-pci (driver now ${now ?? 'none'}): modprobe vfio-pci${restore()}`);
  }

  const c = libc();
  const container = containerFor(vfioDev);
  let groupFd = -1;
  let deviceFd = -1;
  let attached = false;
  const closeAll = (): void => {
    if (deviceFd >= 0) { c.close(deviceFd); deviceFd = -1; }
    if (groupFd >= 0) { c.close(groupFd); groupFd = -1; } // the group leaves the container with its last fd
    if (attached) { attached = false; container.groupDetached(); }
  };
  const regionInfo = (index: number): RegionInfo => {
    // struct vfio_region_info { u32 argsz; u32 flags; u32 index; u32 cap_offset; u64 size; u64 offset; }
    const b = Buffer.alloc(32);
    b.writeUInt32LE(32, 0);
    b.writeUInt32LE(index, 8);
    ioctlOrThrow(deviceFd, VFIO_DEVICE_GET_REGION_INFO, b, `VFIO_DEVICE_GET_REGION_INFO(${index}) on ${address}`, '');
    return { index, flags: b.readUInt32LE(4), size: Number(b.readBigUInt64LE(16)), offset: Number(b.readBigUInt64LE(24)) };
  };
  try {
    container.open();
    const groupPath = path.join(path.dirname(vfioDev), group);
    groupFd = c.open(groupPath, O_RDWR, 0);
    if (groupFd < 0) throw new IxyError(`${errnoMessage(`open ${groupPath}`)}: is another process using VFIO group ${group}?`);
    // struct vfio_group_status { u32 argsz; u32 flags; }
    const st = Buffer.alloc(8);
    st.writeUInt32LE(8, 0);
    ioctlOrThrow(groupFd, VFIO_GROUP_GET_STATUS, st, `VFIO_GROUP_GET_STATUS on group ${group}`, '');
    if ((st.readUInt32LE(4) & VFIO_GROUP_FLAGS_VIABLE) === 0) {
      throw new IxyError(groupNotViable(group, address, root) ?? `VFIO group ${group} not viable: other devices in the group are still bound to kernel drivers`);
    }
    if ((st.readUInt32LE(4) & VFIO_GROUP_FLAGS_CONTAINER_SET) === 0) {
      const fdBuf = Buffer.alloc(4);
      fdBuf.writeInt32LE(container.fd, 0);
      ioctlOrThrow(groupFd, VFIO_GROUP_SET_CONTAINER, fdBuf, `VFIO_GROUP_SET_CONTAINER for group ${group}`, '');
      attached = true;
      container.groupAttached();
    }
    const name = Buffer.from(`${address}\0`);
    deviceFd = c.ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, name);
    if (deviceFd < 0) throw new IxyError(`${errnoMessage(`VFIO_GROUP_GET_DEVICE_FD ${address}`)}: is it open elsewhere?`);
    // Bus Master Enable through the config region (vfio-pci clears it when the device is opened and closed)
    const cfg = regionInfo(VFIO_PCI_CONFIG_REGION_INDEX);
    const cmd = Buffer.alloc(2);
    if (c.pread(deviceFd, cmd, 2, cfg.offset + PCI_COMMAND) !== 2) throw new IxyError(errnoMessage(`read of ${address}'s command register`));
    cmd.writeUInt16LE(cmd.readUInt16LE(0) | PCI_COMMAND_MASTER, 0);
    if (c.pwrite(deviceFd, cmd, 2, cfg.offset + PCI_COMMAND) !== 2) throw new IxyError(errnoMessage(`write of ${address}'s command register`));
  } catch (e) {
    closeAll();
    const tail = restore();
    throw tail === '' ? e : new IxyError(`${(e as Error).message}${tail}`);
  }

  const bars = new Set<MappedBar>();
  let released = false;
  return {
    info, group,
    get deviceFd() { return deviceFd; },
    regionInfo,
    mapBar(n: number): MappedBar {
      if (released) throw new IxyError(`${address} was released: claim it again`);
      const r = regionInfo(n);
      if (r.size === 0) throw new IxyError(`${address} has no BAR${n}`);
      if ((r.flags & VFIO_REGION_INFO_FLAG_MMAP) === 0) throw new IxyError(`${address}: VFIO does not allow mmap of BAR${n} (an I/O BAR needs pread/pwrite)`);
      const ptr = c.mmap(null, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, deviceFd, r.offset);
      if (ptr === MAP_FAILED) throw new IxyError(`${errnoMessage(`mmap of ${address} BAR${n} through VFIO`)}`);
      let mapped = true;
      const bar: MappedBar = {
        buffer: viewOf(ptr, r.size), size: r.size,
        unmap() { if (mapped) { mapped = false; bars.delete(bar); c.munmap(ptr, r.size); } },
      };
      bars.add(bar);
      return bar;
    },
    ioBar(n: number): IoRegion {
      if (released) throw new IxyError(`${address} was released: claim it again`);
      const r = regionInfo(n);
      if (r.size === 0) throw new IxyError(`${address} has no BAR${n}`);
      return { fd: deviceFd, base: r.offset, size: r.size, name: `${address} BAR${n} (VFIO)` };
    },
    release(): void {
      if (released) return;
      released = true;
      for (const b of [...bars]) b.unmap();
      closeAll();
      const tail = restore();
      if (tail !== '') throw new IxyError(`${address} released${tail}`);
    },
  };
}

// ---- what a PCI driver opens: BAR access + DMA memory on one of the two paths ----

export interface PciPlatform {
  readonly choice: DmaChoice;
  readonly claimed: ClaimedPciDevice;
  /** An I/O BAR: the sysfs resource file (pagemap path) or a region of the VFIO device fd. */
  ioBar(n: number): string | IoRegion;
  dma(): DmaAllocator;
}

export interface PlatformOptions extends ClaimOptions {
  dma?: DmaPath;
  vfioDev?: string;
  /** The hugepage allocator of the pagemap path (made lazily: it needs root and hugetlbfs). */
  pagemapDma: () => DmaAllocator;
}

/** The allocator a device's mempool must come from, decided as `openPciPlatform` will decide. Read-only. */
export function dmaAllocatorForPci(address: string, opts: Pick<PlatformOptions, 'dma' | 'vfioDev' | 'sysfsRoot' | 'pagemapDma'>): DmaAllocator {
  const choice = chooseDmaPath(address, { sysfsRoot: opts.sysfsRoot, vfioDev: opts.vfioDev, forced: opts.dma });
  return choice.path === 'vfio' ? vfioDma(opts.vfioDev) : opts.pagemapDma();
}

export function openPciPlatform(address: string, opts: PlatformOptions): PciPlatform {
  const root = opts.sysfsRoot ?? '/sys';
  const choice = chooseDmaPath(address, { sysfsRoot: root, vfioDev: opts.vfioDev, forced: opts.dma });
  if (choice.path === 'vfio') {
    const claimed = claimVfioDevice(address, opts);
    return { choice, claimed, ioBar: (n) => claimed.ioBar(n), dma: () => vfioDma(opts.vfioDev) };
  }
  const claimed = claimPciDevice(address, opts);
  return { choice, claimed, ioBar: (n) => path.join(devDir(claimed.info.address, root), `resource${n}`), dma: opts.pagemapDma };
}

/** `dma=vfio|pagemap` from a spec option, or null if `opt` is not one. */
export function parseDmaOption(opt: string): DmaPath | null {
  const m = /^dma=(vfio|pagemap)$/.exec(opt);
  return m ? (m[1] as DmaPath) : null;
}
