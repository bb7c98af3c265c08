/**
 * The latency floor of a busy-polling thread, from the gaps it saw (GapLog): a frame that arrives t µs into a gap of
 * D µs waits D − t µs; with frames arriving at a constant rate, the fraction that waits more than x µs is
 * Σ max(0, D − x) ÷ T (T the probed time in µs), whatever the rate. The floor percentile q is the x at which that
 * fraction is 1 − q. Used by bench/host-stalls.ts and bench/fwd-sim.ts; a pure function, tested in test/unit/gap-log.
 */
import type { GapList } from '../src/util/gap-log.js';

const BUCKETS_US = [5, 10, 20, 50, 100, 200, 500, 1000, 5000];

export interface CpuStalls {
  cpu: number;
  seconds: number;
  /** Gaps per second, per bucket: `${lo}-${hi}` µs (the last is open). */
  perSecondByUs: Record<string, number>;
  /** Share of the time lost in the logged gaps (those above the GapLog's threshold). */
  lostFraction: number;
  maxUs: number;
  /** What the guest kernel saw of it: times it took the CPU from the thread, and ms the thread waited runnable. */
  guestPreemptions: number;
  guestWaitMs: number;
  /** A ring's worth of arrivals (µs): a longer gap drops the frames after its first windowUs (null: no limit). */
  windowUs: number | null;
  /** Latency floor of a zero-cost poller on this CPU (µs), frames arriving all the time: p99, p99.9, p99.99. */
  floorP99Us: number;
  floorP999Us: number;
  floorP9999Us: number;
  /**
   * The same with the frames made by a generator on `generatorCpu`, which makes none while its own CPU is taken
   * (as the simulated NIC's tester): only the parts of this CPU's gaps during which the other CPU ran count.
   */
  generatorCpu?: number;
  jointFloorP99Us?: number;
  jointFloorP999Us?: number;
  jointFloorP9999Us?: number;
}

/** Length (µs) of [a, b] (ms) during which the generator was not in one of its gaps. */
function runningUs(gen: GapList, a: number, b: number): number {
  if (b <= a) return 0;
  let len = (b - a) * 1000;
  let lo = 0;
  let hi = gen.n;
  while (lo < hi) { // first gap that ends after a
    const mid = (lo + hi) >> 1;
    if (gen.endMs[mid] <= a) lo = mid + 1; else hi = mid;
  }
  for (let i = lo; i < gen.n; i++) {
    const s = gen.endMs[i] - gen.durUs[i] / 1000;
    if (s >= b) break;
    len -= (Math.min(b, gen.endMs[i]) - Math.max(a, s)) * 1000;
  }
  return Math.max(0, len);
}

/**
 * x such that the frames waiting more than x µs make up `share` of all: a frame that arrives t µs into a gap of
 * D µs waits D − t. With `gen`, frames arrive only while the generator's CPU runs. Only the first `windowUs` of a
 * gap's arrivals (a ring's worth at the offered rate) are kept to wait; the ring is full for the rest.
 */
function floorUs(g: GapList, totalUs: number, share: number, gen: GapList | null, windowUs: number): number {
  let genLostUs = 0;
  if (gen) for (let i = 0; i < gen.n; i++) genLostUs += gen.durUs[i];
  const excess = (x: number): number => {
    let s = 0;
    for (let i = 0; i < g.n; i++) {
      // arrivals in [start, end − x] wait longer than x; of those, only the first windowUs fit in the ring (later
      // ones are dropped, not late)
      const late = Math.min(g.durUs[i] - x, windowUs);
      if (late <= 0) continue;
      if (!gen) { s += late; continue; }
      const startMs = g.endMs[i] - g.durUs[i] / 1000;
      s += runningUs(gen, startMs, startMs + late / 1000);
    }
    return s;
  };
  const budget = share * (totalUs - genLostUs);
  if (excess(0) <= budget) return 0;
  let lo = 0;
  let hi = 1;
  while (excess(hi) > budget) hi *= 2;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (excess(mid) > budget) lo = mid; else hi = mid;
  }
  return hi;
}

export function summarise(
  cpu: number, seconds: number, g: GapList, guest: { preemptions: number; waitMs: number }, gen?: { cpu: number; gaps: GapList }, windowUs = Infinity,
): CpuStalls {
  const perSecondByUs: Record<string, number> = {};
  for (let b = 0; b < BUCKETS_US.length; b++) {
    const lo = BUCKETS_US[b];
    const hi = BUCKETS_US[b + 1];
    let c = 0;
    for (let i = 0; i < g.n; i++) if (g.durUs[i] >= lo && (hi === undefined || g.durUs[i] < hi)) c++;
    perSecondByUs[hi === undefined ? `${lo}+` : `${lo}-${hi}`] = Math.round((c / seconds) * 10) / 10;
  }
  let lost = 0;
  let max = 0;
  for (let i = 0; i < g.n; i++) {
    lost += g.durUs[i];
    if (g.durUs[i] > max) max = g.durUs[i];
  }
  const totalUs = seconds * 1e6;
  const out: CpuStalls = {
    cpu, seconds, perSecondByUs, lostFraction: lost / totalUs, maxUs: max, guestPreemptions: guest.preemptions, guestWaitMs: guest.waitMs,
    floorP99Us: floorUs(g, totalUs, 0.01, null, windowUs), floorP999Us: floorUs(g, totalUs, 0.001, null, windowUs),
    floorP9999Us: floorUs(g, totalUs, 0.0001, null, windowUs), windowUs: Number.isFinite(windowUs) ? windowUs : null,
  };
  if (gen) {
    out.generatorCpu = gen.cpu;
    out.jointFloorP99Us = floorUs(g, totalUs, 0.01, gen.gaps, windowUs);
    out.jointFloorP999Us = floorUs(g, totalUs, 0.001, gen.gaps, windowUs);
    out.jointFloorP9999Us = floorUs(g, totalUs, 0.0001, gen.gaps, windowUs);
  }
  return out;
}
