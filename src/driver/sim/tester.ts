import { bucketOf, HISTOGRAM_BUCKETS } from '../../util/histogram.js';
import {
  buildTestFrame, isTestFrame, MAX_STREAMS, OFF_SEQ, OFF_STREAM, OFF_TS, readU32LE, TEST_FRAME_LEN, writeU32LE,
} from '../../util/test-frame.js';
import { Pacer } from './pacer.js';
import type { PortModel, WireEnd } from './port-model.js';
import type { PhysView } from './phys-memory.js';

// Layout of one tester's block in the stats SharedArrayBuffer: Float64 counters, then a Uint32 latency histogram.
export const T_GENERATED = 0; // frames put on the wire (each takes a sequence number)
export const T_GEN_MISSED = 1; // of those, frames the NIC could not take (no descriptor / receiver off)
export const T_RX_FRAMES = 2;
export const T_RX_BYTES = 3;
export const T_FOREIGN = 4; // received frames that are not test frames
export const T_GEN_STALLS = 5; // paced generator: times the model thread came back late (see Pacer)
export const T_GEN_SKIPPED = 6; // paced generator: frames not sent because of those stalls (never numbered)
export const T_RATE_MPPS = 8; // control: generator rate (0 = off; capped at line rate)
export const T_GEN_LIMIT = 9; // control: stop after this many frames (0 = no limit)
export const T_DST_FOREIGN = 10; // control: 1 = address frames to a MAC that is not the port's
export const T_CTL_VERSION = 12; // seqlock over rate and limit: odd while the main thread updates them (viewed as Int32)
export const T_EPOCH = 11; // control: measurement phase; each phase sends as its own stream (index + 2 * epoch)
export const T_STREAM_BASE = 16;
export const S_UNIQUE = 0;
export const S_REORDERED = 1;
export const S_DUPLICATED = 2;
export const S_NEXT = 3; // highest sequence number seen + 1
export const S_SENT = 4; // frames this tester generated as this stream
export const S_LAT_COUNT = 5;
export const S_LAT_SUM_NS = 6;
export const S_LAT_MAX_NS = 7;
export const S_MISSED = 8; // of S_SENT: frames the NIC had no descriptor for
export const STREAM_WORDS = 9;
export const TESTER_F64 = T_STREAM_BASE + MAX_STREAMS * STREAM_WORDS;
/** After the counters: one latency histogram (Uint32 x HISTOGRAM_BUCKETS) per stream received. */
export const TESTER_BYTES = TESTER_F64 * 8 + MAX_STREAMS * HISTOGRAM_BUCKETS * 4;
export function histogramOffset(tester: number, stream: number): number {
  return tester * TESTER_BYTES + TESTER_F64 * 8 + stream * HISTOGRAM_BUCKETS * 4;
}

export const FOREIGN_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0xfe);
const WINDOW_BITS = 16; // reordering/duplicate window: 65536 sequence numbers per stream
const WINDOW = 1 << WINDOW_BITS;

export function testerMac(index: number): Uint8Array {
  return Uint8Array.of(0x02, 0x74, 0x65, 0x73, 0x74, index); // "test"
}

/**
 * A MoonGen-like load generator and sink at the far end of a port's cable. It writes test frames straight into
 * the port's receive buffers (sequence number + timestamp), and checks every frame the port transmits:
 * per-stream loss, reordering, duplicates, and latency from the timestamp.
 */
export class Tester implements WireEnd {
  private readonly f: Float64Array;
  private readonly hist: Uint32Array;
  private readonly seen = new Uint32Array((MAX_STREAMS * WINDOW) >>> 5);
  private tplToPort!: Uint32Array;
  private tplForeign!: Uint32Array;
  private tplBytesToPort!: Uint8Array;
  private tplBytesForeign!: Uint8Array;
  private epoch = -1;
  private readonly ctlVersion: Int32Array;
  private seenVersion = -1;
  private rate = 0;
  private limit = 0;
  private stream = 0;
  private seq = 0;
  private readonly pacer = new Pacer();
  private pacedMbps = -1;
  private pacedVersion = -1;

  /** `clock`: the model thread's clock cell (ModelContext.now), in ms. */
  constructor(readonly index: number, private readonly port: PortModel, private readonly phys: PhysView, stats: SharedArrayBuffer, private readonly clock: Float64Array) {
    this.f = new Float64Array(stats, index * TESTER_BYTES, TESTER_F64);
    this.ctlVersion = new Int32Array(stats, index * TESTER_BYTES + T_CTL_VERSION * 8, 1);
    this.hist = new Uint32Array(stats, histogramOffset(index, 0), MAX_STREAMS * HISTOGRAM_BUCKETS);
    this.startEpoch(0);
  }

  /** A new phase: a new stream id, sequence numbers from 0, a fresh latency histogram (set-up, not hot). */
  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.stream = (this.index + 2 * epoch) % MAX_STREAMS;
    this.seq = 0;
    this.tplBytesToPort = buildTestFrame({ src: testerMac(this.index), dst: this.port.mac, stream: this.stream });
    this.tplBytesForeign = buildTestFrame({ src: testerMac(this.index), dst: FOREIGN_MAC, stream: this.stream });
    this.tplToPort = new Uint32Array(this.tplBytesToPort.buffer);
    this.tplForeign = new Uint32Array(this.tplBytesForeign.buffer);
  }

  present(): boolean {
    return true;
  }

  /** True while the generator has work configured (the model thread then never parks). */
  active(): boolean {
    return this.rate > 0 || this.f[T_RATE_MPPS] > 0;
  }

  /** Adopts the generator settings only as a consistent pair (the main thread writes them under a seqlock). */
  private readControl(): void {
    const v = Atomics.load(this.ctlVersion, 0);
    if (v === this.seenVersion || (v & 1) !== 0) return;
    const rate = this.f[T_RATE_MPPS];
    const limit = this.f[T_GEN_LIMIT];
    if (Atomics.load(this.ctlVersion, 0) !== v) return;
    this.rate = rate;
    this.limit = limit;
    this.seenVersion = v;
  }

  /** Puts the frames due by now on the wire; returns how many. */
  generate(): number {
    const now = this.clock[0];
    const f = this.f;
    if (f[T_EPOCH] !== this.epoch) this.startEpoch(f[T_EPOCH]);
    this.readControl();
    const mbps = this.port.linkMbps();
    if (mbps !== this.pacedMbps || this.pacedVersion !== this.seenVersion) {
      this.pacedMbps = mbps;
      this.pacedVersion = this.seenVersion;
      // Mpps of 64-byte frames at this link speed: 84 bytes on the wire with preamble and gap
      this.pacer.setRate(mbps === 0 ? 0 : this.rate, mbps / 672, this.clock);
    }
    const pacer = this.pacer;
    let n = pacer.due(this.clock);
    f[T_GEN_STALLS] = pacer.stalls;
    f[T_GEN_SKIPPED] = pacer.skipped;
    const limit = this.limit;
    if (limit > 0 && f[T_GENERATED] + n > limit) n = limit - f[T_GENERATED];
    if (n <= 0) return 0;
    pacer.take(n);
    const foreign = f[T_DST_FOREIGN] !== 0;
    const tplBytes = foreign ? this.tplBytesForeign : this.tplBytesToPort;
    const tpl = foreign ? this.tplForeign : this.tplToPort;
    const port = this.port;
    const u8 = this.phys.u8;
    const u32 = this.phys.u32;
    const ts = (now * 1e6) >>> 0;
    let missed = 0;
    if (!port.accepts(tplBytes, 0)) { // filtered out by the NIC's address filter: on the wire, never received
      this.seq = (this.seq + n) >>> 0;
      f[T_GENERATED] += n;
      f[T_STREAM_BASE + this.stream * STREAM_WORDS + S_SENT] += n;
      return n;
    }
    for (let i = 0; i < n; i++) {
      const off = port.rxBuffer();
      if (off < 0) { missed++; this.seq = (this.seq + 1) >>> 0; continue; }
      if ((off & 3) === 0) {
        const w = off >>> 2;
        for (let k = 0; k < 15; k++) u32[w + k] = tpl[k];
        u32[w + (OFF_SEQ >>> 2)] = this.seq;
        u32[w + (OFF_TS >>> 2)] = ts;
      } else {
        u8.set(tplBytes, off);
        writeU32LE(u8, off + OFF_SEQ, this.seq);
        writeU32LE(u8, off + OFF_TS, ts);
      }
      this.seq = (this.seq + 1) >>> 0;
      port.rxCommit(TEST_FRAME_LEN);
    }
    f[T_GENERATED] += n;
    f[T_GEN_MISSED] += missed;
    f[T_STREAM_BASE + this.stream * STREAM_WORDS + S_SENT] += n;
    f[T_STREAM_BASE + this.stream * STREAM_WORDS + S_MISSED] += missed;
    return n;
  }

  /** Sink: checks a frame the port transmitted; latency is kept per stream. */
  deliver(mem: Uint8Array, off: number, len: number): boolean {
    const now = this.clock[0];
    const f = this.f;
    f[T_RX_FRAMES]++;
    f[T_RX_BYTES] += len;
    if (!isTestFrame(mem, off, len)) { f[T_FOREIGN]++; return true; }
    const stream = mem[off + OFF_STREAM] | (mem[off + OFF_STREAM + 1] << 8);
    if (stream >= MAX_STREAMS) { f[T_FOREIGN]++; return true; }
    const seq = readU32LE(mem, off + OFF_SEQ);
    this.checkSequence(stream, seq);
    const ts = readU32LE(mem, off + OFF_TS);
    if (ts !== 0) {
      const ns = (((now * 1e6) >>> 0) - ts) >>> 0;
      this.hist[stream * HISTOGRAM_BUCKETS + bucketOf(ns)]++;
      const s = T_STREAM_BASE + stream * STREAM_WORDS;
      f[s + S_LAT_COUNT]++;
      f[s + S_LAT_SUM_NS] += ns;
      if (ns > f[s + S_LAT_MAX_NS]) f[s + S_LAT_MAX_NS] = ns;
    }
    return true;
  }

  /**
   * A bitmap of the last WINDOW sequence numbers per stream tells a late frame (reordered) from a repeat
   * (duplicate). Bits are cleared as the highest sequence number moves past them.
   */
  private checkSequence(stream: number, seq: number): void {
    const f = this.f;
    const s = T_STREAM_BASE + stream * STREAM_WORDS;
    const next = f[s + S_NEXT];
    const bits = this.seen;
    const base = stream * WINDOW;
    if (seq >= next) {
      if (seq - next >= WINDOW) bits.fill(0, base >>> 5, (base + WINDOW) >>> 5);
      else for (let q = next; q < seq; q++) clearBit(bits, base + (q & (WINDOW - 1)));
      setBit(bits, base + (seq & (WINDOW - 1)));
      f[s + S_NEXT] = seq + 1;
      f[s + S_UNIQUE]++;
    } else if (next - seq > WINDOW) {
      f[s + S_REORDERED]++; // too late to tell; counted as a late arrival
      f[s + S_UNIQUE]++;
    } else if (testBit(bits, base + (seq & (WINDOW - 1)))) {
      f[s + S_DUPLICATED]++;
    } else {
      setBit(bits, base + (seq & (WINDOW - 1)));
      f[s + S_REORDERED]++;
      f[s + S_UNIQUE]++;
    }
  }
}

function setBit(b: Uint32Array, i: number): void { b[i >>> 5] |= 1 << (i & 31); }
function clearBit(b: Uint32Array, i: number): void { b[i >>> 5] &= ~(1 << (i & 31)); }
function testBit(b: Uint32Array, i: number): boolean { return (b[i >>> 5] & (1 << (i & 31))) !== 0; }
