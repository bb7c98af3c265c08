/**
 * Inside the QEMU guest with an emulated IOMMU (`npm run vm -- --iommu --nics 2 --virtio modern --bridge ...`, after
 * `modprobe vfio-pci`): checks that both virtio-net NICs would take the VFIO path, opens them with one mempool from the
 * VFIO allocator (spec options taken from argv[2], e.g. ",dma=vfio"), checks they are on vfio-pci while open, sends
 * frames A → host bridge → B and back (sequence numbers checked), closes, and checks the binding was restored
 * (virtio-pci, driver_override cleared) and no IOMMU mapping or buffer is left; then opens both again (the pool is
 * mapped into the new container) and exchanges a few frames more. Prints one line `VFIO {json}`.
 * Does nothing unless IXY_NETNS_SCRIPT=1.
 */
import * as fs from 'node:fs';
import { type Device, dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor } from '../../src/driver/index.js';
import type { VirtioDevice } from '../../src/driver/virtio/virtio-device.js';
import { Mempool } from '../../src/mem/mempool.js';
import { describeForListing, readPciDevice } from '../../src/sys/pci.js';
import { VfioDmaAllocator } from '../../src/sys/vfio.js';
import { buildTestFrame, MAGIC0, MAGIC1, OFF_MAGIC, OFF_SEQ, OFF_STREAM, TEST_FRAME_LEN } from '../../src/util/test-frame.js';

interface Exchange { sent: number; received: number; inOrder: boolean; ms: number }
const DIR = '/sys/bus/pci/devices';

function virtioNics(): string[] {
  return fs.readdirSync(DIR).filter((a) => {
    const r = (f: string) => fs.readFileSync(`${DIR}/${a}/${f}`, 'utf8').trim();
    return r('vendor') === '0x1af4' && (r('device') === '0x1000' || r('device') === '0x1041');
  }).sort();
}

const binding = (a: string) => ({
  driver: readPciDevice(a).driver,
  override: (() => { try { return fs.readFileSync(`${DIR}/${a}/driver_override`, 'utf8').trim(); } catch { return '?'; } })(),
});

/** Sends `count` test frames of `stream` from `from` to `to`'s MAC, collects those arriving on `to` for up to waitMs after. */
function exchange(pool: Mempool, from: Device, to: Device, stream: number, count: number, waitMs: number): Exchange {
  const frame = buildTestFrame({ src: from.macAddress(), dst: to.macAddress(), stream });
  const ids = new Uint32Array(32);
  const rx = new Uint32Array(64);
  const view = new DataView(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength);
  let sent = 0;
  let received = 0;
  let next = 0;
  let inOrder = true;
  const t0 = performance.now();
  let doneAt = 0;
  const poll = (dev: Device, mine: boolean): void => {
    const n = dev.rxBatch(0, rx, rx.length);
    for (let i = 0; i < n; i++) {
      const off = pool.dataOffset(rx[i]);
      if (mine && pool.len[rx[i]] >= TEST_FRAME_LEN && pool.bytes[off + OFF_MAGIC] === MAGIC0 && pool.bytes[off + OFF_MAGIC + 1] === MAGIC1 &&
        view.getUint16(off + OFF_STREAM, true) === stream) {
        if (view.getUint32(off + OFF_SEQ, true) !== next) inOrder = false;
        next = view.getUint32(off + OFF_SEQ, true) + 1;
        received++;
      }
    }
    pool.freeBatch(rx, 0, n);
  };
  for (;;) {
    if (sent < count) {
      const got = pool.allocBatch(ids, 0, Math.min(ids.length, count - sent));
      for (let i = 0; i < got; i++) {
        const off = pool.dataOffset(ids[i]);
        pool.bytes.set(frame, off);
        view.setUint32(off + OFF_SEQ, sent + i, true);
        pool.len[ids[i]] = TEST_FRAME_LEN;
      }
      const took = from.txBatch(0, ids, got);
      pool.freeBatch(ids, took, got - took);
      sent += took;
      if (sent === count) doneAt = performance.now();
    }
    poll(to, true);
    poll(from, false);
    if (received >= count) break;
    if (sent === count && performance.now() - doneAt > waitMs) break;
    if (performance.now() - t0 > 30000) break;
  }
  return { sent, received, inOrder, ms: Math.round(performance.now() - t0) };
}

function main(): void {
  const opts = process.argv[2] ?? '';
  const addrs = virtioNics().slice(0, 2);
  if (addrs.length < 2) throw new Error(`need two virtio-net NICs, found ${addrs.join(' ') || 'none'}`);
  const out: Record<string, unknown> = { addrs };
  out.before = addrs.map(binding);
  out.listing = addrs.map((a) => describeForListing(readPciDevice(a)).dma);
  const specs = addrs.map((a) => parseDeviceSpec(`virtio:${a}${opts}`));
  const alloc = dmaAllocatorFor(specs);
  out.allocator = alloc.description;
  if (!(alloc instanceof VfioDmaAllocator)) throw new Error(`expected the VFIO allocator, got ${alloc.description}`);
  const pool = new Mempool(alloc, { count: 2048, headroom: poolHeadroomFor(specs) });
  out.mappedBeforeOpen = alloc.mappedRegions();
  const K = Number(process.env.PROBE_COUNT ?? 1000);
  const round = (k: number): Record<string, unknown> => {
    const devs: VirtioDevice[] = [];
    const r: Record<string, unknown> = {};
    try {
      for (const s of specs) devs.push(openDevice(s, { pool }) as VirtioDevice);
      const [a, b] = devs as [VirtioDevice, VirtioDevice];
      r.whileOpen = addrs.map(binding);
      r.mappedWhileOpen = alloc.mappedRegions();
      r.devices = devs.map((d) => ({ mac: formatMac(d.macAddress()), linkMbps: d.linkSpeedMbps(), ...d.features() }));
      r.aToB = exchange(pool, a, b, 1, k, 2000);
      r.bToA = exchange(pool, b, a, 2, k, 2000);
    } finally {
      for (const d of devs) d.close();
    }
    r.after = addrs.map(binding);
    r.mappedAfterClose = alloc.mappedRegions();
    r.leaked = pool.count - pool.available;
    return r;
  };
  out.first = round(K);
  out.second = round(100);
  console.log(`VFIO ${JSON.stringify(out)}`);
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  try {
    main();
  } catch (e) {
    console.log(`VFIO ${JSON.stringify({ error: (e as Error).message, name: (e as Error).name })}`);
    process.exitCode = 1;
  }
}
