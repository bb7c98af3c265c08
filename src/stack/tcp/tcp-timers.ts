/**
 * What happens when a connection's timer fires (armed in tcp-rto.ts): the delayed ACK goes out, TIME-WAIT ends, a
 * tail loss probe is sent (RFC 8985 §7.3), a zero window is probed (RFC 9293 §3.8.6.1), or the retransmission timer
 * expires (RFC 6298 §5). The keepalive timer's work is in tcp-keepalive.ts.
 */
import { DeathReason } from '../../api/codes.js';
import { TcpFlag } from '../../wire/index.js';
import { TIMER_NONE } from '../timer-wheel.js';
import { seqDiff, type TcpConn, TcpState } from './tcp-conn.js';
import { cwndAfterTimeout } from './tcp-congestion.js';
import type { Keepalive } from './tcp-keepalive.js';
import type { TcpOutput } from './tcp-output.js';
import { type TcpCounters, type TcpParams, TimerKind } from './tcp-params.js';
import { MAX_RTO_US, type Rto } from './tcp-rto.js';
import { sackClear } from './tcp-sack.js';
import type { TcpSegments } from './tcp-segment.js';
import type { TcpTable } from './tcp-table.js';

export class TcpTimers {
  constructor(
    private readonly p: TcpParams, private readonly counters: TcpCounters, private readonly table: TcpTable,
    private readonly rto: Rto, private readonly seg: TcpSegments, private readonly out: TcpOutput,
    private readonly keepalive: Keepalive,
  ) {}

  /** The wheel's callback for TCP timers. */
  onTimer(kind: number, index: number, handle: number): void {
    const c = this.table.at(index);
    if (c === undefined || c.state === TcpState.Closed) return;
    if (kind === TimerKind.TcpDelack) {
      if (c.tDelack !== handle) return;
      c.tDelack = TIMER_NONE;
      if (c.ackPending > 0) { c.ackNow = true; this.out.touch(c); }
    } else if (kind === TimerKind.TcpWait) {
      if (c.tWait !== handle) return;
      c.tWait = TIMER_NONE;
      this.table.free(c);
    } else if (kind === TimerKind.TcpKeepalive) {
      if (c.tKeepalive !== handle) return;
      c.tKeepalive = TIMER_NONE;
      this.keepalive.fire(c);
    } else if (kind === TimerKind.TcpRtx) {
      if (c.tRtx !== handle) return;
      c.tRtx = TIMER_NONE;
      if (c.probeArmed && !c.persist) this.lossProbe(c);
      else this.retransmitTimeout(c);
    }
  }

  /**
   * RFC 8985 §7.3: the probe timer fired: resend the highest segment (its ACK, or SACK, tells what is missing) —
   * in fast recovery the segment at SND.UNA — then wait for the RTO.
   */
  private lossProbe(c: TcpConn): void {
    c.probeArmed = false;
    const flight = seqDiff(c.sndMax, c.sndUna);
    if (flight > 0) {
      c.probeOut = true;
      this.counters.lossProbes++;
      if (c.inRecovery) {
        c.highRxt = c.sndUna;
        this.out.retransmitFirst(c);
      } else {
        // The FIN takes a sequence number but no byte of the send queue: the probe resends the last data (at most a
        // segment) and the FIN with it when the FIN is outstanding.
        const fin = c.finSent && c.sndMax === ((c.finSeq + 1) | 0);
        const data = fin ? flight - 1 : flight;
        const len = data < c.mss ? data : c.mss;
        this.counters.retransmits++;
        c.rttTiming = false;
        this.seg.sendData(c, (c.sndMax - len - (fin ? 1 : 0)) | 0, len, fin);
      }
    }
    this.rto.armTimer(c, c.rto);
  }

  /** RFC 6298 §5.4–5.7 and RFC 5681 §3.1 (eq. 4): back off, collapse cwnd, resend from SND.UNA. */
  private retransmitTimeout(c: TcpConn): void {
    if (c.persist) { this.persistTimeout(c); return; }
    const syn = c.state === TcpState.SynSent || c.state === TcpState.SynReceived;
    c.retries++;
    if (c.retries > (syn ? this.p.synRetries : this.p.maxRetries)) { this.giveUp(c); return; }
    this.counters.retransmits++;
    this.counters.rtoExpirations++;
    c.rto = c.rto * 2 > MAX_RTO_US ? MAX_RTO_US : c.rto * 2;
    c.rttTiming = false;
    if (syn) {
      if (c.state === TcpState.SynSent) this.seg.sendSyn(c, false); else this.seg.sendSyn(c, true);
      this.rto.armRtx(c);
      return;
    }
    cwndAfterTimeout(c);
    c.sndNxt = c.sndUna;
    c.highRxt = c.sndUna;
    sackClear(c); // RFC 6675 §5.1: after a timeout the receiver may have reneged; start over
    this.out.output(c);
    if (!this.rto.rtxPending(c)) this.rto.armRtx(c);
  }

  /**
   * Zero-window probe (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): a segment the receiver must answer with its current
   * window — as Linux does, an ACK one below SND.UNA, so no sequence space is used and nothing needs retransmitting.
   * The connection stays open as long as probes are answered; unanswered ones count as retries.
   */
  private persistTimeout(c: TcpConn): void {
    const dataEnd = (c.sndUna + c.sqBytes) | 0;
    if (c.sndWnd !== 0 || seqDiff(dataEnd, c.sndNxt) <= 0) { c.persist = false; this.out.touch(c); return; }
    if (++c.retries > this.p.maxRetries) { this.giveUp(c); return; }
    this.counters.windowProbes++;
    this.seg.sendSegment(c, (c.sndUna - 1) | 0, TcpFlag.Ack, 0);
    c.persistBackoff = c.persistBackoff * 2 > MAX_RTO_US ? MAX_RTO_US : c.persistBackoff * 2;
    this.rto.armTimer(c, c.persistBackoff);
  }

  /** Too many retransmissions (RFC 9293 §3.8.3 R2): RST (none for our own unanswered SYN), `dead`, gone. */
  private giveUp(c: TcpConn): void {
    this.counters.timeouts++;
    if (c.state !== TcpState.SynSent) this.seg.sendRstFor(c);
    this.table.die(c, DeathReason.TimedOut);
    this.table.free(c);
  }
}
