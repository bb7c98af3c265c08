import type { Device } from '../driver/device.js';
import { PcapWriter } from './pcap-writer.js';
import { defineL2App } from '../dataplane/app.js';

/** `ixy pcap`: every packet received on queue 0 of a device goes to a pcap file, then back to the pool. */
export class PcapCapture {
  captured = 0;
  private readonly ids: Uint32Array;
  private readonly writer: PcapWriter;
  private readonly src: Buffer;

  /** Stops after `limit` packets (0: no limit). */
  constructor(private readonly dev: Device, file: string, private readonly batch: number, snaplen: number, private readonly limit: number) {
    this.ids = new Uint32Array(batch);
    this.writer = new PcapWriter(file, snaplen);
    const b = dev.pool.bytes;
    this.src = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  get finished(): boolean {
    return this.limit > 0 && this.captured >= this.limit;
  }

  step(): number {
    let want = this.batch;
    if (this.limit > 0 && this.limit - this.captured < want) want = this.limit - this.captured;
    if (want <= 0) return 0;
    const n = this.dev.rxBatch(0, this.ids, want);
    if (n === 0) return 0;
    // one clock read per batch: the packets of a batch share a timestamp
    const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const sec = Math.floor(us / 1e6);
    const usec = us - sec * 1e6;
    const pool = this.dev.pool;
    for (let i = 0; i < n; i++) {
      const id = this.ids[i];
      this.writer.append(this.src, pool.dataOffset(id), pool.len[id], sec, usec);
    }
    pool.freeBatch(this.ids, 0, n);
    this.captured += n;
    return n;
  }

  close(): void {
    this.writer.close();
  }
}

export interface PcapOptions {
  file: string;
  /** Bytes of each packet to keep (default 65535). */
  snaplen?: number;
  /** Packets to capture, 0: until stopped. */
  count?: number;
}

/** `ixy pcap DEV FILE`. */
export default defineL2App({
  devices: [1, 1],
  create: (ctx, o: PcapOptions) => new PcapCapture(ctx.devices[0], o.file, ctx.batch, o.snaplen ?? 65535, o.count ?? 0),
  figures: (a) => ({ captured: a.captured }),
});
