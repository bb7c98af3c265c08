/**
 * The round-trip estimate (RFC 6298) and the arming of a connection's timers in the stack's wheel: retransmission
 * or tail loss probe (RFC 8985 §7.2), persist, delayed ACK and TIME-WAIT. What happens when one fires is in
 * tcp-timers.ts.
 */
import { DeathReason } from '../../api/codes.js';
import type { Clock } from '../clock.js';
import { ticksFromUs, TIMER_NONE, type TimerWheel } from '../timer-wheel.js';
import { seqDiff, type TcpConn, TcpState } from './tcp-conn.js';
import { type TcpParams, TimerKind } from './tcp-params.js';
import type { TcpTable } from './tcp-table.js';

/** RFC 6298 §2: RTO ≤ 60 s is allowed as an upper bound. */
export const MAX_RTO_US = 60_000_000;
/** RFC 8985 §7.2: the probe timeout is 2·SRTT, at least 10 ms, plus the peer's worst delayed ACK when one segment is out. */
const MIN_PTO_US = 10_000;
const DELAYED_ACK_ALLOWANCE_US = 200_000;

export class Rto {
  constructor(
    private readonly p: TcpParams, private readonly clock: Clock, private readonly wheel: TimerWheel,
    private readonly table: TcpTable,
  ) {}

  armRtx(c: TcpConn): void {
    // RFC 8985 §7.2: with data in flight, a tail loss probe comes before the RTO. A lost tail (or the lost ACK of
    // a whole flight) then costs about two round trips instead of 200 ms or more. In fast recovery the probe resends
    // SND.UNA's segment: the retransmission itself was lost when nothing has moved for two round trips.
    if (c.sackOk && !c.probeOut && !c.finSent && !c.persist && c.retries === 0 && c.srtt > 0 &&
        (c.state === TcpState.Established || c.state === TcpState.CloseWait)) {
      let pto = 2 * c.srtt;
      if (seqDiff(c.sndMax, c.sndUna) <= c.mss) pto += DELAYED_ACK_ALLOWANCE_US; // one segment: the peer may delay its ACK
      if (pto < MIN_PTO_US) pto = MIN_PTO_US;
      if (pto < c.rto) {
        c.probeArmed = true;
        this.armTimer(c, Math.ceil(pto));
        return;
      }
    }
    c.probeArmed = false;
    this.armTimer(c, c.rto);
  }

  /** (Re)arms the retransmission timer `us` from now (also the persist timer and the RTO after a probe). */
  armTimer(c: TcpConn, us: number): void {
    const due = this.clock.tick + ticksFromUs(us) + 1;
    if (!this.wheel.reschedule(c.tRtx, due)) c.tRtx = this.wheel.add(due, TimerKind.TcpRtx, c.index);
  }

  stopRtx(c: TcpConn): void {
    this.wheel.cancel(c.tRtx);
    c.tRtx = TIMER_NONE;
  }

  rtxPending(c: TcpConn): boolean {
    return this.wheel.isPending(c.tRtx);
  }

  /** Starts the delayed-ACK timer unless it runs (RFC 9293 §3.8.6.3). */
  armDelack(c: TcpConn): void {
    if (c.tDelack === TIMER_NONE) c.tDelack = this.wheel.add(this.clock.tick + this.p.delackTicks, TimerKind.TcpDelack, c.index);
  }

  /** An ACK is leaving: the delayed-ACK timer has nothing left to do. */
  stopDelack(c: TcpConn): void {
    if (c.tDelack !== TIMER_NONE) { this.wheel.cancel(c.tDelack); c.tDelack = TIMER_NONE; }
  }

  /**
   * RFC 6298 §2.2–2.3: update SRTT/RTTVAR with the time since `c.rttStartUs` and recompute the RTO. It reads the
   * start from the connection rather than taking the sample as an argument: a fractional number passed to a call
   * V8 does not inline is boxed (an allocation per sample).
   */
  rttSample(c: TcpConn): void {
    let r = this.clock.us - c.rttStartUs;
    if (r < 1) r = 1;
    if (c.srtt === 0) { c.srtt = r; c.rttvar = r / 2; }
    else {
      const d = c.srtt > r ? c.srtt - r : r - c.srtt;
      c.rttvar = 0.75 * c.rttvar + 0.25 * d;
      c.srtt = 0.875 * c.srtt + 0.125 * r;
    }
    const v = 4 * c.rttvar;
    let rto = c.srtt + (v > 16 ? v : 16);
    if (rto < this.p.minRtoUs) rto = this.p.minRtoUs;
    if (rto > MAX_RTO_US) rto = MAX_RTO_US;
    // Whole µs: a fraction would make the field a double, boxed (allocated) each time it is passed to armTimer.
    c.rto = Math.ceil(rto);
  }

  /** Enter TIME-WAIT (RFC 9293 §3.10.7.4): the connection is over for the app; the tuple is kept for 2 MSL. */
  enterTimeWait(c: TcpConn): void {
    c.state = TcpState.TimeWait;
    this.stopRtx(c);
    this.wheel.cancel(c.tKeepalive); // nothing to keep alive in TIME-WAIT
    c.tKeepalive = TIMER_NONE;
    this.table.die(c, DeathReason.Closed);
    const due = this.clock.tick + this.p.timeWaitTicks;
    if (!this.wheel.reschedule(c.tWait, due)) c.tWait = this.wheel.add(due, TimerKind.TcpWait, c.index);
  }
}
