/**
 * DMA memory without an IOMMU: 2 MiB pages from hugetlbfs (Documentation/admin-guide/mm/hugetlbpage.rst),
 * locked, with physical addresses from /proc/self/pagemap (Documentation/admin-guide/mm/pagemap.rst).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IxyError } from '../util/errors.js';
import { roundUp, type DmaAllocator, type DmaRegion } from '../mem/dma.js';
import {
  libc, errnoMessage, lastErrno, viewOf,
  O_RDONLY, O_RDWR, O_CREAT, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_POPULATE, MAP_FAILED,
} from './libc.js';

export const HUGE_PAGE = 2 * 1024 * 1024;
const PAGE = 4096;
const ENOMEM = 12;

export interface HugepageStatus { total: number; free: number; sizeKb: number; mounts: string[] }

/** /proc/mounts escapes space, tab, newline and backslash as octal (\040 …): see getmntent(3). */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function hugetlbfsMounts(mountsPath: string): { dir: string; pagesizeOk: boolean }[] {
  let text = '';
  try { text = fs.readFileSync(mountsPath, 'utf8'); } catch { return []; }
  return text.split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'hugetlbfs').map((f) => {
    const ps = /(?:^|,)pagesize=([^,]+)/.exec(f[3] ?? '')?.[1];
    return { dir: unescapeMount(f[1] ?? ''), pagesizeOk: ps === undefined || ps === '2M' || ps === '2048k' };
  });
}

export function hugepageStatus(meminfoPath = '/proc/meminfo', mountsPath = '/proc/mounts'): HugepageStatus {
  let text = '';
  try { text = fs.readFileSync(meminfoPath, 'utf8'); } catch { /* all zero */ }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    total: field('HugePages_Total'), free: field('HugePages_Free'), sizeKb: field('Hugepagesize'),
    mounts: hugetlbfsMounts(mountsPath).map((m) => m.dir),
  };
}

/** Writes /proc/sys/vm/nr_hugepages and returns the previous value (the kernel may grant fewer). */
export function reserveHugepages(n: number, sysctlPath = '/proc/sys/vm/nr_hugepages'): number {
  const prev = parseInt(fs.readFileSync(sysctlPath, 'utf8'), 10);
  fs.writeFileSync(sysctlPath, `${n}\n`);
  return prev;
}

export interface HugepageOptions { mountPoint?: string; meminfoPath?: string; mountsPath?: string }

let fileCounter = 0;

export class HugepageDmaAllocator implements DmaAllocator {
  readonly description: string;
  readonly mountPoint: string;

  constructor(opts: HugepageOptions = {}) {
    if (process.getuid?.() !== 0) {
      throw new IxyError('hugepage DMA memory needs root (pagemap translation): run with sudo');
    }
    const mounts = hugetlbfsMounts(opts.mountsPath ?? '/proc/mounts');
    const want = opts.mountPoint === undefined ? undefined : path.resolve(opts.mountPoint);
    const mount = want === undefined ? mounts.find((m) => m.pagesizeOk) : mounts.find((m) => m.dir === want);
    if (mount === undefined) {
      throw new IxyError(want === undefined
        ? 'no hugetlbfs mounted: run `mkdir -p /mnt/huge && mount -t hugetlbfs hugetlbfs /mnt/huge`'
        : `${want} is not a hugetlbfs mount: run \`mkdir -p ${want} && mount -t hugetlbfs hugetlbfs ${want}\``);
    }
    if (!mount.pagesizeOk) {
      throw new IxyError(`${mount.dir} is a hugetlbfs mount with pages other than 2 MiB: mount one with -o pagesize=2M`);
    }
    if (hugepageStatus(opts.meminfoPath ?? '/proc/meminfo', opts.mountsPath).free < 1) {
      throw new IxyError('no free 2 MiB hugepages: run `echo 512 > /proc/sys/vm/nr_hugepages`');
    }
    this.mountPoint = mount.dir;
    this.description = `hugetlbfs ${mount.dir}`;
  }

  allocate(size: number, contiguous: boolean): DmaRegion {
    if (!(size > 0)) throw new RangeError(`DMA allocation of ${size} bytes`);
    size = roundUp(size, HUGE_PAGE);
    if (contiguous && size > HUGE_PAGE) {
      throw new IxyError(`a physically contiguous DMA region cannot exceed one 2 MiB hugepage (asked for ${size} bytes)`);
    }
    const c = libc();
    const file = path.join(this.mountPoint, `ixy-${process.pid}-${fileCounter++}`);
    const mib = size / (1024 * 1024);
    const fd = c.open(file, O_RDWR | O_CREAT, 0o600);
    if (fd < 0) throw new IxyError(`${errnoMessage(`open ${file}`)}: check that ${this.mountPoint} is writable`);
    let ptr = MAP_FAILED;
    const fail = (msg: string): never => {
      if (ptr !== MAP_FAILED) c.munmap(ptr, size);
      c.close(fd);
      c.unlink(file);
      throw new IxyError(msg);
    };
    const oom = `not enough free hugepages for ${mib} MiB: raise /proc/sys/vm/nr_hugepages`;
    if (c.ftruncate(fd, size) !== 0) fail(lastErrno() === ENOMEM ? oom : errnoMessage(`ftruncate ${file}`));
    // hugetlbfs reserves the pages at mmap time (ENOMEM if short); MAP_POPULATE faults them in now.
    ptr = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (ptr === MAP_FAILED) fail(lastErrno() === ENOMEM ? oom : errnoMessage(`mmap ${file}`));
    if (c.mlock(ptr, size) !== 0) fail(`${errnoMessage('mlock')}: raise the memlock limit (ulimit -l)`);
    c.close(fd);
    c.unlink(file); // the mapping keeps the pages; nothing is left behind even if we crash
    let pageBase: number[];
    try {
      pageBase = physicalPages(ptr, size / HUGE_PAGE);
    } catch (e) {
      c.munmap(ptr, size);
      throw e;
    }
    let freed = false;
    const mapped = ptr;
    return {
      buffer: viewOf(mapped, size),
      byteOffset: 0,
      size,
      contiguousBytes: HUGE_PAGE,
      physAddr(offset: number): number {
        if (!(offset >= 0 && offset < size)) throw new RangeError(`offset ${offset} outside a ${size}-byte DMA region`);
        return pageBase[Math.floor(offset / HUGE_PAGE)]! + (offset % HUGE_PAGE);
      },
      free(): void {
        if (freed) return;
        freed = true;
        c.munmap(mapped, size); // also drops the mlock
      },
    };
  }
}

/** Physical base of each 2 MiB page of a mapping, from /proc/self/pagemap (one u64 per 4 KiB page). */
function physicalPages(virt: bigint, pages: number): number[] {
  const c = libc();
  const fd = c.open('/proc/self/pagemap', O_RDONLY, 0);
  if (fd < 0) throw new IxyError(`${errnoMessage('open /proc/self/pagemap')}: run as root`);
  const entry = Buffer.alloc(8);
  const bases: number[] = [];
  try {
    for (let i = 0; i < pages; i++) {
      const v = virt + BigInt(i * HUGE_PAGE);
      if (c.pread(fd, entry, 8, Number(v / BigInt(PAGE)) * 8) !== 8) {
        throw new IxyError(`${errnoMessage('read /proc/self/pagemap')}: run as root`);
      }
      const e = entry.readBigUInt64LE(0);
      const pfn = e & ((1n << 55n) - 1n); // bits 0-54; bit 63 = present
      if ((e >> 63n) === 0n) throw new IxyError('hugepage not resident after MAP_POPULATE and mlock: check free hugepages');
      if (pfn === 0n) throw new IxyError('the kernel hides physical addresses (pagemap PFN 0): run as root with CAP_SYS_ADMIN');
      const phys = Number(pfn) * PAGE;
      if (phys % HUGE_PAGE !== 0) throw new IxyError(`physical address 0x${phys.toString(16)} is not 2 MiB aligned: the mount is not backed by 2 MiB hugepages`);
      bases.push(phys);
    }
  } finally {
    c.close(fd);
  }
  return bases;
}
