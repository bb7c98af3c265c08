/**
 * What a connection sends, and when. Output is batched (IX): calls and arriving segments put a connection on the
 * work list (`touch`); `flush()` then decides once per connection — new data within the send window, a FIN, or an
 * ACK — so one ACK covers a whole batch of received segments and a reply sent by the app in the same iteration
 * carries it. Also the retransmissions of loss recovery (RFC 5681 §3.2, RFC 6582, RFC 6675 with tcp-sack.ts).
 */
import { EventKind, type EventQueue } from '../../api/events.js';
import { seqDiff, seqGt, type TcpConn, TcpState } from './tcp-conn.js';
import type { TcpCounters, TcpParams } from './tcp-params.js';
import type { Rto } from './tcp-rto.js';
import { sackNextHole } from './tcp-sack.js';
import type { TcpSegments } from './tcp-segment.js';
import type { TcpTable } from './tcp-table.js';

export class TcpOutput {
  private readonly work: Int32Array;
  private workCount = 0;

  constructor(
    private readonly p: TcpParams, private readonly counters: TcpCounters, private readonly table: TcpTable,
    private readonly events: EventQueue, private readonly seg: TcpSegments, private readonly rto: Rto,
  ) {
    this.work = new Int32Array(p.maxConns);
  }

  /** Puts `c` on the work list (output runs for it at the next flush). */
  touch(c: TcpConn): void {
    if (!c.inWork) { c.inWork = true; this.work[this.workCount++] = c.index; }
  }

  /** Runs output for every connection touched since the last flush; reports `sent` events. */
  flush(): void {
    for (let i = 0; i < this.workCount; i++) {
      const c = this.table.at(this.work[i]);
      c.inWork = false;
      if (c.state === TcpState.Closed) continue;
      if (c.ackedUnreported > 0) {
        if (!c.released && c.accepted) {
          this.events.push(EventKind.Sent, c.handle, c.cookie, c.ackedUnreported, this.p.sndBuf - c.sqBytes, 0, 0, -1);
        }
        c.ackedUnreported = 0;
      }
      this.output(c);
    }
    this.workCount = 0;
  }

  /** Sends what `c` may send now: data within min(cwnd, peer window), a FIN, or a due ACK. */
  output(c: TcpConn): void {
    const st = c.state;
    if (st === TcpState.SynSent || st === TcpState.SynReceived || st === TcpState.TimeWait || st === TcpState.Closed) {
      if (c.ackNow && st !== TcpState.SynSent && st !== TcpState.Closed) this.seg.sendAck(c);
      return;
    }
    let sent = false;
    const dataEnd = (c.sndUna + c.sqBytes) | 0;
    for (;;) {
      const unsent = seqDiff(dataEnd, c.sndNxt);
      const flight = seqDiff(c.sndNxt, c.sndUna);
      const cw = c.cwnd + c.limitedTransmit * c.mss;
      const wnd = c.sndWnd < cw ? c.sndWnd : cw;
      const room = wnd - flight;
      if (unsent > 0 && room > 0) {
        let len = unsent < c.mss ? unsent : c.mss;
        if (len > room) len = room;
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1) without Nagle: full segments, or everything queued, or half the
        // largest window the peer offered — or anything when nothing is in flight, since no ACK is coming to open
        // the window further (the override of rule (d); without it a receiver waiting for a whole message deadlocks).
        if (len < c.mss && len < unsent && len < (c.maxSndWnd >> 1) && flight > 0) break;
        // Nagle (RFC 896, RFC 1122 §4.2.3.4), when the app asked for it: less than a segment's worth waits while data
        // is unacknowledged. A FIN to follow lets the tail go (as Linux pushes at close).
        if (c.nagle && unsent < c.mss && flight > 0 && !c.finQueued) break;
        const fin = c.finQueued && len === unsent;
        if (fin) { c.finSent = true; c.finSeq = dataEnd; }
        this.seg.sendData(c, c.sndNxt, len, fin);
        c.sndNxt = (c.sndNxt + len + (fin ? 1 : 0)) | 0;
        if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
        sent = true;
        continue;
      }
      if (unsent === 0 && c.finQueued && c.sndNxt === dataEnd) {
        c.finSent = true;
        c.finSeq = dataEnd;
        this.seg.sendData(c, c.sndNxt, 0, true);
        c.sndNxt = (c.sndNxt + 1) | 0;
        if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
        sent = true;
      }
      break;
    }
    if (sent) {
      // Data left: the timer now guards it as a retransmission timer (a pending persist timer is re-armed as one).
      // A probe armed before the FIN went out becomes the RTO: no probe once the FIN is sent (Rto.armRtx), so a
      // connection about to close does not resend its tail just before the FIN's ACK frees it.
      if (c.persist) { c.persist = false; this.rto.armRtx(c); } else if (!this.rto.rtxPending(c) || (c.probeArmed && c.finSent)) this.rto.armRtx(c);
    } else if (c.ackNow) {
      this.seg.sendAck(c);
    } else if (c.ackPending > 0) {
      this.rto.armDelack(c);
    }
    // Zero window with data waiting and nothing in flight: probe when the timer fires (RFC 9293 §3.8.6.1).
    if (c.sndWnd === 0 && seqDiff(dataEnd, c.sndNxt) > 0 && c.sndNxt === c.sndUna && !this.rto.rtxPending(c)) {
      c.persist = true;
      c.persistBackoff = c.rto;
      this.rto.armTimer(c, c.persistBackoff);
    }
  }

  /** A segment-sized retransmission of the data at SND.UNA (fast retransmit, partial ACKs). */
  retransmitFirst(c: TcpConn): void {
    const dataEnd = (c.sndUna + c.sqBytes) | 0;
    const avail = seqDiff(dataEnd, c.sndUna);
    const len = avail < c.mss ? avail : c.mss;
    const fin = c.finSent && len === avail;
    if (len > 0 || fin) {
      this.counters.retransmits++;
      c.rttTiming = false;
      this.seg.sendData(c, c.sndUna, len, fin);
      const end = (c.sndUna + len) | 0;
      if (seqGt(end, c.highRxt)) c.highRxt = end;
      c.rxtMark = c.sndMax;
    }
  }

  /**
   * During recovery: resend the next hole the SACK scoreboard shows (tcp-sack.ts), or the segment at SND.UNA when the
   * peer sent no SACK information. Returns whether something was resent.
   */
  retransmitHole(c: TcpConn): boolean {
    if (!c.sackOk || c.sackN === 0) {
      if (seqGt(c.highRxt, c.sndUna)) return false; // NewReno: that segment is already on its way again
      this.retransmitFirst(c);
      return true;
    }
    const hole = sackNextHole(c);
    if (hole <= 0) return false;
    const len = hole < c.mss ? hole : c.mss;
    this.counters.retransmits++;
    c.rttTiming = false;
    this.seg.sendData(c, c.holeSeq, len, false);
    c.highRxt = (c.holeSeq + len) | 0;
    if (c.holeSeq === c.sndUna) c.rxtMark = c.sndMax;
    return true;
  }
}
