import { TICK_US } from './timer-wheel.js';

/**
 * Where a stack's time comes from: writes monotonic milliseconds (fractional) into `cell[0]`. A cell, not a return
 * value: a fractional number returned from a call V8 does not inline is boxed, an allocation per read. The dataplane
 * passes CLOCK_MONOTONIC read without allocating (sys/monotonic-clock.ts); tests pass virtual time.
 */
export interface TimeSource {
  read(cell: Float64Array): void;
}

/** performance.now(): what a stack uses when it is given no time source (it allocates a number per read). */
export const performanceTime: TimeSource = { read(cell) { cell[0] = performance.now(); } };

/** Time a test moves by hand (`ms`); one can drive several stacks. */
export class VirtualTime implements TimeSource {
  constructor(public ms = 1000) {}
  read(cell: Float64Array): void { cell[0] = this.ms; }
}

/**
 * The dataplane's notion of now, read once per loop iteration (IX reads the TSC once per batch): every packet of a
 * batch sees the same instant, and no layer calls a clock on its own. Fields, not getters returning new numbers,
 * so reading them allocates nothing.
 */
export class Clock {
  /** Microseconds since the stack started. */
  us = 0;
  /** Milliseconds since the stack started (fractional). */
  ms = 0;
  /** Whole milliseconds since the stack started: a small integer, so passing it never boxes (≤ 24.8 days). */
  msInt = 0;
  /** 16 µs timer-wheel ticks since the stack started. */
  tick = 0;
  /** TCP timestamp clock (RFC 7323 §5.4: 1 ms per tick), int32 wrapping. */
  tsval = 0;
  private readonly cell = new Float64Array(1);

  constructor(private readonly source: TimeSource = performanceTime) {}

  update(): void {
    this.source.read(this.cell);
    const ms = this.cell[0];
    this.ms = ms;
    this.us = ms * 1000;
    this.msInt = Math.floor(ms) | 0;
    this.tick = Math.floor(this.us / TICK_US);
    this.tsval = (Math.floor(ms) + TSVAL_OFFSET) | 0;
  }
}

/** Start TSval away from zero so a peer that treats 0 as "no timestamp" is never confused. */
const TSVAL_OFFSET = 0x1000;
