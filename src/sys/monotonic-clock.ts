/**
 * CLOCK_MONOTONIC read without allocating: `performance.now()` and `process.hrtime()` each allocate on Node 20
 * (an array per call), which at a few hundred thousand loop iterations a second is megabytes of garbage a second.
 * clock_gettime(2) through koffi writes into one fixed native buffer that a typed array views.
 */
import { koffi, libc } from './libc.js';

// include/uapi/linux/time.h
const CLOCK_MONOTONIC = 1;

export class MonotonicClock {
  private readonly buf = Buffer.allocUnsafeSlow(16); // struct timespec, its own backing store: the address never moves
  private readonly u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, 4);
  private readonly addr: number;
  private readonly fn: (clk: number, ts: number) => number;
  private readonly sec0: number;

  constructor() {
    this.addr = Number(koffi().address(this.buf));
    this.fn = libc().clockGettimeAt;
    this.fn(CLOCK_MONOTONIC, this.addr);
    this.sec0 = this.u32[0];
  }

  /** Reads CLOCK_MONOTONIC itself into `out[0]`, in ms: comparable across threads and clocks. */
  readAbsolute(out: Float64Array): void {
    this.fn(CLOCK_MONOTONIC, this.addr);
    out[0] = this.u32[0] * 1000 + this.u32[2] / 1e6;
  }

  /**
   * Reads the clock into `out[0]` as milliseconds since this clock was made (ns resolution). A Float64Array cell, not a
   * return value: a fractional number returned from a call V8 does not inline is boxed (an allocation per read).
   */
  read(out: Float64Array): void {
    this.fn(CLOCK_MONOTONIC, this.addr);
    // tv_sec's low word is enough: it would take 136 years of uptime to wrap.
    out[0] = (this.u32[0] - this.sec0) * 1000 + this.u32[2] / 1e6;
  }
}
