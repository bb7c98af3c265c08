/**
 * SYN cookies (RFC 4987 §3.6; the scheme of D. J. Bernstein and Linux's net/ipv4/syncookies.c): under a SYN flood the
 * listener keeps no state for a SYN; it answers with a SYN-ACK whose ISN encodes what it must remember, and rebuilds
 * the connection when the ACK of that ISN arrives (ourIsn = ack − 1, clientIsn = seq − 1).
 *
 * ## Bit layout of our ISN (int32)
 * ```
 *  31                                  8 7         3 2     0
 * +-------------------------------------+-----------+-------+
 * |  MAC: top 24 bits of HalfSipHash    |  t mod 32 |  mss  |
 * +-------------------------------------+-----------+-------+
 * ```
 * `t` is a coarse clock, ⌊nowMs / 64 000⌋ (64 s units; Linux counts minutes); `mss` indexes `SYN_COOKIE_MSS`.
 * The MAC is HalfSipHash-2-4 under a secret key of (localIp, remoteIp, localPort << 16 | remotePort, clientIsn, t,
 * mss index): it covers the full t and the MSS index, so flipping any bit of the cookie, or replaying it for another
 * 4-tuple or client ISN, fails except with probability 2^-24. `decode` rebuilds t from its low 5 bits as the latest
 * counter ≤ now with those bits and accepts t = now or now − 1 only: a cookie lives 64 … 128 s ("~2 minutes").
 *
 * ## Options through the timestamp (RFC 7323)
 * The MSS is the only option the ISN carries. When the client sent timestamps, the window-scale shift and
 * SACK-permitted ride in the low 5 bits of our TSval (`cookieTsval`) and come back in the ACK's TSecr
 * (`cookieWscale`, `cookieSackOk`), as Linux's cookie_init_timestamp does (it spends a sixth bit on ECN): bits 0–3
 * the shift (0–14, 15 = none), bit 4 SACK-permitted. Without timestamps the connection proceeds without window
 * scaling and SACK.
 *
 * All arguments and results are int32-compatible numbers (addresses, sequence numbers and timestamps as wire/ reads
 * them); nothing allocates per call. `nowMs` is any millisecond clock ≥ 0 (the same one for encode and decode), but
 * pass an integer below 2^31 — e.g. `Math.floor(clock.ms)`, ms since the stack started (24.8 days) — for the call to
 * be allocation-free: a fractional or Date.now()-sized number is not a V8 small integer and is boxed into a fresh heap
 * number when the call is not inlined (measured: ~15 scavenges per 1e6 encode + decode with Date.now()-sized values,
 * none with integers below 2^31; see src/wire/bytes.ts).
 */
import { hsiphash6, randomKey } from './halfsiphash.js';

/** The MSS values a cookie can carry (index 0 … 4): RFC 9293's default 536, then common path MTUs' MSS and jumbo. */
export const SYN_COOKIE_MSS: readonly number[] = Object.freeze([536, 1220, 1440, 1460, 8960]);

/** Length of the coarse clock's tick: 64 s. */
export const SYN_COOKIE_PERIOD_MS = 64_000;

const MSS_TAB = new Int32Array(SYN_COOKIE_MSS);
const MAC_MASK = ~0xff;
/** A cookie made at counter t is accepted while now − t ≤ MAX_AGE. */
const MAX_AGE = 1;

export class SynCookies {
  private readonly k0: number;
  private readonly k1: number;

  /** `key`: two HalfSipHash key words (default: random). */
  constructor(key: Uint32Array = randomKey()) {
    if (key.length < 2) throw new RangeError('SynCookies: key must have two 32-bit words');
    this.k0 = key[0]! | 0;
    this.k1 = key[1]! | 0;
  }

  /**
   * Our ISN for a SYN from (rip, rport) to (lip, lport) with sequence number `clientIsn` and MSS option `mss` (the
   * largest table value ≤ mss is encoded; 536 when smaller). `nowMs`: a millisecond clock ≥ 0 (see the header).
   */
  encode(
    lip: number, lport: number, rip: number, rport: number, clientIsn: number, mss: number, nowMs: number,
  ): number {
    let idx = MSS_TAB.length - 1;
    while (idx > 0 && MSS_TAB[idx]! > mss) idx--;
    const t = counter(nowMs);
    return (this.mac(lip, lport, rip, rport, clientIsn, t, idx) & MAC_MASK) | ((t & 31) << 3) | idx;
  }

  /**
   * Checks `ourIsn` (the ACK's acknowledgment number − 1) against the 4-tuple and `clientIsn` (the ACK's sequence
   * number − 1). Returns the MSS it encodes, or -1 when it is forged, tampered with, for another connection, from the
   * future or more than one 64 s period old.
   */
  decode(
    lip: number, lport: number, rip: number, rport: number, clientIsn: number, ourIsn: number, nowMs: number,
  ): number {
    const idx = ourIsn & 7;
    if (idx >= MSS_TAB.length) return -1;
    const now = counter(nowMs);
    const age = (now - (ourIsn >>> 3)) & 31;
    if (age > MAX_AGE) return -1;
    const mac = this.mac(lip, lport, rip, rport, clientIsn, now - age, idx);
    return ((mac ^ ourIsn) & MAC_MASK) === 0 ? MSS_TAB[idx]! : -1;
  }

  private mac(lip: number, lport: number, rip: number, rport: number, isn: number, t: number, idx: number): number {
    return hsiphash6(this.k0, this.k1, lip, rip, ((lport & 0xffff) << 16) | (rport & 0xffff), isn, t, idx);
  }
}

function counter(nowMs: number): number {
  return Math.floor(nowMs / SYN_COOKIE_PERIOD_MS) | 0;
}

/**
 * The TSval to send in a cookie SYN-ACK: `nowTsval` (int32 timestamp clock) with its low 5 bits replaced by the
 * window-scale shift (`wscale` 0 … 14, larger values are taken as 14 per RFC 7323 §2.3, -1 = the client sent none)
 * and SACK-permitted, rounded down by 32 ticks when that would put it ahead of the clock. Returns an int32.
 */
export function cookieTsval(nowTsval: number, wscale: number, sackOk: boolean): number {
  const ws = wscale < 0 ? 15 : wscale > 14 ? 14 : wscale;
  let ts = (nowTsval & ~31) | (sackOk ? 16 : 0) | ws;
  if (((ts - nowTsval) | 0) > 0) ts = (ts - 32) | 0;
  return ts;
}

/** The window-scale shift carried by `tsecr` (the ACK's TSecr echoing `cookieTsval`), or -1 for none. */
export function cookieWscale(tsecr: number): number {
  const ws = tsecr & 15;
  return ws === 15 ? -1 : ws;
}

/** Whether `tsecr` (echoing `cookieTsval`) carries SACK-permitted. */
export function cookieSackOk(tsecr: number): boolean {
  return (tsecr & 16) !== 0;
}
