import type { Device } from '../driver/device.js';
import { buildTestFrame, OFF_SEQ, TEST_FRAME_LEN } from '../util/test-frame.js';
import { defineL2App } from '../dataplane/app.js';

/** Stream id of frames from `ixy pktgen` (the simulated testers use their port number). */
export const PKTGEN_STREAM = 8;

/**
 * ixy's packet generator: every pool buffer is filled with the test frame once; per batch only the sequence number
 * changes. An optional rate (Mpps) is kept with a token bucket checked once per batch.
 */
export class Pktgen {
  sent = 0;
  private seq = 0;
  private readonly ids: Uint32Array;
  private readonly seqWord: Uint32Array;
  private credit = 0;
  private last = 0;

  /** Stops after `limit` frames (0: no limit). */
  constructor(private readonly dev: Device, private readonly batch: number, private readonly rateMpps: number, dst: Uint8Array, private readonly limit = 0) {
    this.ids = new Uint32Array(batch);
    const pool = dev.pool;
    const frame = buildTestFrame({ src: dev.macAddress(), dst, stream: PKTGEN_STREAM });
    // fill every free buffer with the frame once (they come back unchanged after transmission)
    const held = new Uint32Array(pool.available);
    const n = pool.allocBatch(held, 0, held.length);
    for (let i = 0; i < n; i++) {
      pool.bytes.set(frame, pool.dataOffset(held[i]));
      pool.len[held[i]] = TEST_FRAME_LEN;
    }
    pool.freeBatch(held, 0, n);
    this.seqWord = new Uint32Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength >>> 2);
    this.last = performance.now();
  }

  get finished(): boolean {
    return this.limit > 0 && this.sent >= this.limit;
  }

  step(): number {
    let want = this.batch;
    if (this.limit > 0 && this.limit - this.sent < want) want = this.limit - this.sent;
    if (want <= 0) return 0;
    if (this.rateMpps > 0) {
      const now = performance.now();
      this.credit += (now - this.last) * 1000 * this.rateMpps;
      this.last = now;
      if (this.credit > this.batch) this.credit = this.batch;
      if ((this.credit | 0) < want) want = this.credit | 0;
      if (want <= 0) return 0;
    }
    const pool = this.dev.pool;
    const ids = this.ids;
    const n = pool.allocBatch(ids, 0, want);
    const words = this.seqWord;
    const entry = pool.entrySize >>> 2;
    const seqAt = (pool.headroom + OFF_SEQ) >>> 2; // headroom is a multiple of 64: the word is aligned
    let seq = this.seq;
    for (let i = 0; i < n; i++) {
      words[ids[i] * entry + seqAt] = seq;
      seq = (seq + 1) >>> 0;
    }
    const sent = this.dev.txBatch(0, ids, n);
    if (sent < n) pool.freeBatch(ids, sent, n - sent);
    // sequence numbers of frames that were not sent are reused, so the receiver sees no gap
    this.seq = (this.seq + sent) >>> 0;
    this.sent += sent;
    if (this.rateMpps > 0) this.credit -= sent;
    return sent;
  }
}

export interface PktgenOptions {
  /** Mpps, 0: as fast as possible. */
  rateMpps?: number;
  /** Destination MAC, six bytes (default broadcast). */
  dst?: number[];
  /** Frames to send, 0: until stopped. */
  count?: number;
}

/** `ixy pktgen DEV`. */
export default defineL2App({
  devices: [1, 1],
  create: (ctx, o: PktgenOptions) => new Pktgen(ctx.devices[0], ctx.batch, o.rateMpps ?? 0, Uint8Array.from(o.dst ?? [255, 255, 255, 255, 255, 255]), o.count ?? 0),
  figures: (a) => ({ sent: a.sent }),
});
