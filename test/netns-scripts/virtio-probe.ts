/**
 * Inside the QEMU guest (`npm run vm -- --nics 2 --bridge ...`): opens both virtio-net NICs with one mempool and
 * prints one line `PROBE {json}`: each device's MAC, link, ring size and feature negotiation; frames sent from A
 * through the host's bridge to B and back (sequence numbers checked); promiscuous mode off/on observed on B; and
 * the mempool's leaks after close. `node virtio-probe.js [,mode=legacy|modern]`. Does nothing unless IXY_NETNS_SCRIPT=1.
 */
import * as fs from 'node:fs';
import { type Device, dmaAllocatorFor, formatMac, openDevice, parseDeviceSpec, poolHeadroomFor } from '../../src/driver/index.js';
import type { VirtioDevice } from '../../src/driver/virtio/virtio-device.js';
import { Mempool } from '../../src/mem/mempool.js';
import { buildTestFrame, MAGIC0, MAGIC1, OFF_MAGIC, OFF_SEQ, OFF_STREAM, TEST_FRAME_LEN } from '../../src/util/test-frame.js';

interface Exchange { sent: number; received: number; inOrder: boolean; ms: number }

function virtioNics(): string[] {
  const dir = '/sys/bus/pci/devices';
  return fs.readdirSync(dir).filter((a) => {
    const r = (f: string) => fs.readFileSync(`${dir}/${a}/${f}`, 'utf8').trim();
    return r('vendor') === '0x1af4' && (r('device') === '0x1000' || r('device') === '0x1041');
  }).sort();
}

const mac = (s: string) => Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));

/** Sends `count` test frames of `stream` from `from` to `dst`, collects those arriving on `to` for up to waitMs after. */
function exchange(pool: Mempool, from: Device, to: Device, dst: Uint8Array, stream: number, count: number, waitMs: number): Exchange {
  const frame = buildTestFrame({ src: from.macAddress(), dst, stream });
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
      const want = Math.min(ids.length, count - sent);
      const got = pool.allocBatch(ids, 0, want);
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
    if (from !== to) poll(from, false);
    if (received >= count) break;
    if (sent === count && performance.now() - doneAt > waitMs) break;
    if (performance.now() - t0 > 30000) break;
  }
  return { sent, received, inOrder, ms: Math.round(performance.now() - t0) };
}

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
