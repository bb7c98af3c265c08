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
import { dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor } from '../../src/driver/index.js';
import type { VirtioDevice } from '../../src/driver/virtio/virtio-device.js';
import { Mempool } from '../../src/mem/mempool.js';
import { describeForListing, readPciDevice } from '../../src/sys/pci.js';
import { VfioDmaAllocator } from '../../src/sys/vfio.js';
import { exchange, virtioNics } from '../helpers/guest-exchange.js';

const DIR = '/sys/bus/pci/devices';

const binding = (a: string) => ({
  driver: readPciDevice(a).driver,
  override: (() => { try { return fs.readFileSync(`${DIR}/${a}/driver_override`, 'utf8').trim(); } catch { return '?'; } })(),
});

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
      r.aToB = exchange(pool, a, b, b.macAddress(), 1, k, 2000);
      r.bToA = exchange(pool, b, a, a.macAddress(), 2, k, 2000);
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
