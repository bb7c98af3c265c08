/**
 * Inside the QEMU guest (`npm run vm -- --nics 2 --bridge ...`): opens both virtio-net NICs with one mempool and
 * prints one line `PROBE {json}`: each device's MAC, link, ring size and feature negotiation; frames sent from A
 * through the host's bridge to B and back (sequence numbers checked); promiscuous mode off/on observed on B; and
 * the mempool's leaks after close. `node virtio-probe.js [,mode=legacy|modern]`. Does nothing unless IXY_NETNS_SCRIPT=1.
 */
import { dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor } from '../../src/driver/index.js';
import type { VirtioDevice } from '../../src/driver/virtio/virtio-device.js';
import { Mempool } from '../../src/mem/mempool.js';
import { type Exchange, exchange, mac, virtioNics } from '../helpers/guest-exchange.js';

function main(): void {
  const mode = process.argv[2] ?? '';
  const addrs = virtioNics();
  if (addrs.length < 2) throw new Error(`need two virtio-net NICs, found ${addrs.join(' ') || 'none'}`);
  const specs = addrs.slice(0, 2).map((a) => parseDeviceSpec(`virtio:${a}${mode}`));
  const pool = new Mempool(dmaAllocatorFor(specs), { count: 2048, headroom: poolHeadroomFor(specs) });
  const devs: VirtioDevice[] = [];
  const out: Record<string, unknown> = {};
  try {
    for (const s of specs) devs.push(openDevice(s, { pool }) as VirtioDevice);
    const [a, b] = devs as [VirtioDevice, VirtioDevice];
    out.devices = devs.map((d) => ({ spec: d.spec, mac: formatMac(d.macAddress()), linkMbps: d.linkSpeedMbps(), ringSize: d.ringSize, ...d.features() }));
    const K = Number(process.env.PROBE_COUNT ?? 1000);
    const t = performance.now();
    out.aToB = exchange(pool, a, b, mac('ff:ff:ff:ff:ff:ff'), 1, K, 2000);
    out.aToBMpps = (out.aToB as Exchange).received / ((performance.now() - t) * 1000);
    out.bToA = exchange(pool, b, a, a.macAddress(), 2, K, 2000);
    b.setPromisc(false);
    out.promiscOffOther = exchange(pool, a, b, mac('02:00:00:00:00:99'), 3, 100, 1000);
    out.promiscOffOwn = exchange(pool, a, b, b.macAddress(), 4, 100, 2000);
    b.setPromisc(true);
    out.promiscOnOther = exchange(pool, a, b, mac('02:00:00:00:00:99'), 5, 100, 2000);
    const st = devs.map(() => ({ rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 }));
    devs.forEach((d, i) => d.readStats(st[i]!));
    out.stats = st;
  } finally {
    for (const d of devs) d.close();
  }
  out.leaked = pool.count - pool.available;
  console.log(`PROBE ${JSON.stringify(out)}`);
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  try {
    main();
  } catch (e) {
    console.log(`PROBE ${JSON.stringify({ error: (e as Error).message, name: (e as Error).name })}`);
    process.exitCode = 1;
  }
}
