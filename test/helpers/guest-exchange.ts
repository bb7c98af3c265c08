/**
 * Shared by the guest probe scripts (test/netns-scripts/virtio-probe.ts, vfio-probe.ts): find the virtio-net NICs
 * and exchange numbered test frames between two devices. No side effects on import.
 */
import * as fs from 'node:fs';
import type { Device } from '../../src/driver/index.js';
import type { Mempool } from '../../src/mem/mempool.js';
import { buildTestFrame, MAGIC0, MAGIC1, OFF_MAGIC, OFF_SEQ, OFF_STREAM, TEST_FRAME_LEN } from '../../src/util/test-frame.js';

export interface Exchange { sent: number; received: number; inOrder: boolean; ms: number }

export function virtioNics(): string[] {
  const dir = '/sys/bus/pci/devices';
  return fs.readdirSync(dir).filter((a) => {
    const r = (f: string) => fs.readFileSync(`${dir}/${a}/${f}`, 'utf8').trim();
    return r('vendor') === '0x1af4' && (r('device') === '0x1000' || r('device') === '0x1041');
  }).sort();
}

export const mac = (s: string): Uint8Array => Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));

/** Sends `count` test frames of `stream` from `from` to `dst`, collects those arriving on `to` for up to waitMs after. */
export function exchange(pool: Mempool, from: Device, to: Device, dst: Uint8Array, stream: number, count: number, waitMs: number): Exchange {
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
