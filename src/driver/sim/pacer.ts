/**
 * When a MoonGen-like generator may put its next frames on the wire: a credit of frames that grows with time at
 * the set rate, capped at a burst. Below line rate the generator is paced like MoonGen's hardware rate control, which
 * never sends faster than the set rate: if the model thread was held up for longer than MAX_CATCHUP_MS (preempted,
 * collecting, its vCPU descheduled), the frames it missed are skipped, not sent in one burst that would queue behind
 * itself and show up as latency of the device under test. At line rate it catches up as far as the burst allows.
 *
 * Inputs that change every call come in typed arrays, and the result is a whole number, so that nothing is boxed
 * when V8 does not inline these calls.
 */
export const MAX_CATCHUP_MS = 0.01; // at 1 Mpps a catch-up of at most 10 frames
export const PACER_BURST = 64;

export class Pacer {
  private credit = 0;
  private last = 0;
  private rate = 0; // frames per ms
  private paced = false;
  /** Paced only: times the caller came back later than MAX_CATCHUP_MS, and the frames skipped for it. */
  stalls = 0;
  skipped = 0;

  /** Sets the rate (Mpps) and the line rate (Mpps) of the link; rate 0 stops. */
  setRate(mpps: number, lineMpps: number, clock: Float64Array): void {
    const r = Math.min(mpps, lineMpps);
    if (r * 1000 === this.rate && this.paced === mpps < lineMpps) return;
    if (this.rate === 0) this.last = clock[0];
    this.rate = r > 0 ? r * 1000 : 0;
    this.paced = mpps < lineMpps;
    if (this.rate === 0) this.credit = 0;
  }

  /** Frames due at the time in clock[0] (ms); take() the ones sent. */
  due(clock: Float64Array): number {
    const now = clock[0];
    let dt = now - this.last;
    this.last = now;
    if (this.rate === 0) return 0;
    if (this.paced && dt > MAX_CATCHUP_MS) {
      this.stalls++;
      this.skipped += Math.floor((dt - MAX_CATCHUP_MS) * this.rate);
      dt = MAX_CATCHUP_MS;
    }
    this.credit += dt * this.rate;
    if (this.credit > PACER_BURST) this.credit = PACER_BURST;
    return this.credit | 0;
  }

  take(n: number): void {
    this.credit -= n;
  }
}
