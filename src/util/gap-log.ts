/**
 * A log of the times a spinning loop did not run — its thread preempted, interrupted, or descheduled by the
 * hypervisor, or one pass of the loop taking that long — kept in shared memory so that another thread can read
 * it, and written without allocating. Times are CLOCK_MONOTONIC in ms (MonotonicClock reading + originMs), so the
 * logs of different threads can be laid over each other.
 *
 * Layout (Float64): [count, then (end ms, length µs) per gap, in time order]. The log fills up and then stops.
 */
export const GAP_LOG_HEADER = 1;

/** The gaps one thread saw, in time order: gap i ended at endMs[i] and lasted durUs[i] µs. */
export interface GapList { n: number; endMs: Float64Array; durUs: Float64Array }

export class GapLog {
  private readonly f: Float64Array;
  private readonly cap: number;

  /** `minUs`: shorter gaps are not logged. */
  constructor(readonly buffer: SharedArrayBuffer, private readonly minUs = 5) {
    this.f = new Float64Array(buffer);
    this.cap = (this.f.length - GAP_LOG_HEADER) >> 1;
  }

  static create(maxGaps: number): GapLog {
    return new GapLog(new SharedArrayBuffer(8 * (GAP_LOG_HEADER + 2 * maxGaps)));
  }

  /**
   * One pass of the loop: `t[0]` is the time now, `t[1]` the time of the previous pass (ms); logs the gap if it is
   * long enough, then moves `t[0]` to `t[1]`. The times travel in a typed array, not as arguments: a fractional
   * number passed to a call V8 does not inline is boxed, an allocation per pass.
   */
  sample(t: Float64Array): void {
    const durUs = (t[0] - t[1]) * 1000;
    t[1] = t[0];
    if (durUs < this.minUs) return;
    const f = this.f;
    const n = f[0];
    if (n >= this.cap) return;
    f[GAP_LOG_HEADER + 2 * n] = t[0];
    f[GAP_LOG_HEADER + 2 * n + 1] = durUs;
    f[0] = n + 1;
  }

  /** The gaps that ended within [fromMs, toMs] (all when not given): a copy, for analysis off the hot path. */
  read(fromMs = -Infinity, toMs = Infinity): GapList {
    const f = this.f;
    const n = f[0];
    const end: number[] = [];
    const dur: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = f[GAP_LOG_HEADER + 2 * i];
      if (e < fromMs || e > toMs) continue;
      end.push(e);
      dur.push(f[GAP_LOG_HEADER + 2 * i + 1]);
    }
    return { n: end.length, endMs: Float64Array.from(end), durUs: Float64Array.from(dur) };
  }
}
