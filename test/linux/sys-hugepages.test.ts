import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { IxyError } from '../../src/util/errors.js';
import { HugepageDmaAllocator, hugepageStatus, reserveHugepages, HUGE_PAGE } from '../../src/sys/hugepages.js';
import { koffi } from '../../src/sys/libc.js';
import type { DmaRegion } from '../../src/mem/dma.js';

const isRoot = process.getuid?.() === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-huge-'));
const meminfo = (free: number) =>
  `MemTotal:        8000000 kB\nHugePages_Total:     512\nHugePages_Free:      ${free}\nHugePages_Rsvd:        0\nHugepagesize:       2048 kB\n`;
const MOUNTS_NONE = 'proc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs rw,nosuid 0 0\n';
const MOUNTS_HUGE = `${MOUNTS_NONE}hugetlbfs /mnt/my\\040huge hugetlbfs rw,relatime,pagesize=2M 0 0\nnone /mnt/giant hugetlbfs rw,pagesize=1024M 0 0\n`;
function fake(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

const ours = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(`ixy-${process.pid}-`));

test('hugepageStatus parses meminfo and hugetlbfs mounts (octal escapes, all page sizes)', () => {
  const s = hugepageStatus(fake('mi', meminfo(7)), fake('mo', MOUNTS_HUGE));
  assert.deepEqual(s, { total: 512, free: 7, sizeKb: 2048, mounts: ['/mnt/my huge', '/mnt/giant'] });
  assert.deepEqual(hugepageStatus(fake('mi', meminfo(7)), fake('mo', MOUNTS_NONE)).mounts, []);
});

test('constructor errors name the fix', () => {
  const ctor = (mi: string, mo: string, mountPoint?: string) =>
    () => new HugepageDmaAllocator({ meminfoPath: fake('mi', mi), mountsPath: fake('mo', mo), mountPoint });
  const is = (msg: string) => (e: unknown) => e instanceof IxyError && e.message === msg;
  if (!isRoot) {
    assert.throws(ctor(meminfo(10), MOUNTS_HUGE), is('hugepage DMA memory needs root (pagemap translation): run with sudo'));
    return;
  }
  assert.throws(ctor(meminfo(10), MOUNTS_NONE),
    is('no hugetlbfs mounted: run `mkdir -p /mnt/huge && mount -t hugetlbfs hugetlbfs /mnt/huge`'));
  assert.throws(ctor(meminfo(0), MOUNTS_HUGE), is('no free 2 MiB hugepages: run `echo 512 > /proc/sys/vm/nr_hugepages`'));
  assert.throws(ctor(meminfo(10), MOUNTS_HUGE, '/mnt/elsewhere'), (e: unknown) => e instanceof IxyError && /is not a hugetlbfs mount/.test(e.message));
  assert.throws(ctor(meminfo(10), MOUNTS_HUGE, '/mnt/giant'), (e: unknown) => e instanceof IxyError && /pagesize=2M/.test(e.message));
  assert.equal(new HugepageDmaAllocator({ meminfoPath: fake('mi', meminfo(10)), mountsPath: fake('mo', MOUNTS_HUGE) }).description, 'hugetlbfs /mnt/my huge');
});

// Real hugepages: reserve and mount what is missing, put everything back afterwards.
let skipReason: string | null = null;
let oldNr: number | null = null;
let mountedDir: string | null = null;
let mountDir = '';

before(() => {
  if (!isRoot) { skipReason = 'needs root to reserve hugepages and read pagemap'; return; }
  try {
    const s = hugepageStatus();
    if (s.free < 4) oldNr = reserveHugepages(s.total + 4 - s.free);
    if (hugepageStatus().free < 4) skipReason = `the kernel granted only ${hugepageStatus().free} free hugepages (need 4)`;
    mountDir = hugepageStatus().mounts[0] ?? '';
    if (!skipReason && mountDir === '') {
      mountedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-hugetlbfs-'));
      execFileSync('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'hugetlbfs', mountedDir]);
      mountDir = mountedDir;
    }
  } catch (e) {
    skipReason = `cannot set up hugepages here: ${(e as Error).message.split('\n')[0]}`;
  }
});

after(() => {
  // Each step on its own, so one failure (e.g. a region a failed test left mapped) can't skip the rest.
  const step = (f: () => void) => { try { f(); } catch (e) { console.error(`cleanup: ${(e as Error).message}`); } };
  for (const r of live) step(() => r.free());
  if (mountedDir !== null) {
    const dir = mountedDir;
    step(() => { try { execFileSync('umount', [dir]); } catch { execFileSync('umount', ['-l', dir]); } });
    step(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
  if (oldNr !== null) step(() => reserveHugepages(oldNr!));
  step(() => fs.rmSync(tmp, { recursive: true, force: true }));
});

/** Regions the tests allocated, freed in `after` even when an assertion failed first. */
const live: DmaRegion[] = [];
function track(r: DmaRegion): DmaRegion {
  live.push(r);
  return r;
}

/** Physical address of a virtual address, read from pagemap independently of the allocator (via node fs). */
function pagemapPhys(virt: bigint): number {
  const fd = fs.openSync('/proc/self/pagemap', 'r');
  try {
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, Number(virt / 4096n) * 8);
    const e = b.readBigUInt64LE(0);
    return Number(e & ((1n << 55n) - 1n)) * 4096 + Number(virt % 4096n);
  } finally {
    fs.closeSync(fd);
  }
}

test('real 4 MiB hugepage allocation: readable, writable, translated, unlinked, freed', (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const alloc = new HugepageDmaAllocator({ mountPoint: mountDir });
  const free0 = hugepageStatus().free;
  const r = track(alloc.allocate(3 * 1024 * 1024 + 1, false));
  assert.equal(r.size, 4 * 1024 * 1024);
  assert.equal(r.byteOffset, 0);
  assert.equal(r.contiguousBytes, HUGE_PAGE);
  assert.equal(r.buffer.byteLength, r.size);
  assert.equal(hugepageStatus().free, free0 - 2);
  assert.deepEqual(ours(mountDir), [], 'the backing file must be unlinked right away');

  const u32 = new Uint32Array(r.buffer, r.byteOffset, r.size / 4);
  assert.ok(u32.every((x) => x === 0), 'fresh hugepages are zeroed');
  for (let i = 0; i < u32.length; i++) u32[i] = Math.imul(i, 2654435761) >>> 0;
  for (let i = 0; i < u32.length; i++) if (u32[i] !== Math.imul(i, 2654435761) >>> 0) assert.fail(`word ${i} reads back wrong`);

  const p0 = r.physAddr(0);
  assert.equal(p0 % 4096, 0);
  assert.equal(p0 % HUGE_PAGE, 0);
  assert.equal(r.physAddr(4096) - p0, 4096);
  assert.equal(r.physAddr(HUGE_PAGE + 100) - r.physAddr(HUGE_PAGE), 100);
  assert.throws(() => r.physAddr(r.size), RangeError);
  const virt = koffi().address(r.buffer) as bigint;
  for (const off of [0, 4096, 12345, HUGE_PAGE, HUGE_PAGE + 8192 + 7, r.size - 1]) {
    assert.equal(r.physAddr(off), pagemapPhys(virt + BigInt(off)), `offset ${off}`);
  }

  r.free();
  r.free();
  assert.equal(hugepageStatus().free, free0);
});

test('contiguous allocations stay within one hugepage; a too-large request cleans up', (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const alloc = new HugepageDmaAllocator({ mountPoint: mountDir });
  assert.throws(() => alloc.allocate(HUGE_PAGE + 1, true), IxyError);
  const small = track(alloc.allocate(100, true));
  assert.equal(small.size, HUGE_PAGE);
  small.free();

  const free0 = hugepageStatus().free;
  const mib = (free0 + 1) * 2;
  assert.throws(() => alloc.allocate(mib * 1024 * 1024, false), (e: unknown) => e instanceof IxyError &&
    e.message === `not enough free hugepages for ${mib} MiB: raise /proc/sys/vm/nr_hugepages`);
  assert.equal(hugepageStatus().free, free0);
  assert.deepEqual(ours(mountDir), []);
});
