/**
 * TCP segment arrival, RFC 9293 §3.10.7 step by step, with the RFC 5961 defences against blind RST, SYN and data
 * injection, RFC 7323 PAWS, SYN cookies (RFC 4987 §3.6) when a listener's SYN backlog is full, and RFC 6191
 * reuse of a TIME-WAIT tuple by a new SYN.
 *
 * Ownership: `tcpInput` takes the packet buffer. In-order and out-of-order data keep it (tcp-recv.ts); everything
 * else frees it before returning.
 */
import { DeathReason } from '../../api/codes.js';
import { EventKind, type EventQueue } from '../../api/events.js';
import { TCP_DEFAULT_MSS, TcpFlag, type TcpView } from '../../wire/index.js';
import type { Clock } from '../clock.js';
import { cookieSackOk, cookieTsval, cookieWscale, type SynCookies } from '../syn-cookie.js';
import { seqDiff, seqGe, seqGt, seqLe, seqLt, type TcpConn, TcpState } from './tcp-conn.js';
import { deflateOnPartialAck, enterRecovery, exitRecovery, growCwnd, initCwnd } from './tcp-congestion.js';
import type { TcpCounters, TcpParams } from './tcp-params.js';
import type { RecvBuffers } from './tcp-recv.js';
import { sackPrune, sackUpdate } from './tcp-sack.js';
import { sqRelease } from './tcp-send-queue.js';
import type { Listener } from './tcp-table.js';

/**
 * What segment arrival needs from the connection layer, and nothing more (implemented by `Tcp`, tcp.ts). Congestion
 * control state (tcp-congestion.ts), the SACK scoreboard and the send queue are functions of the connection alone
 * and are called directly.
 */
export interface TcpInputHost {
  readonly counters: TcpCounters;
  readonly params: Pick<TcpParams, 'rcvBuf' | 'rcvShift' | 'ourMss' | 'initialWindow'>;
  readonly clock: Readonly<Pick<Clock, 'msInt' | 'tsval' | 'tick'>>;
  readonly cookies: Pick<SynCookies, 'encode' | 'decode'>;
  readonly recv: Pick<RecvBuffers, 'append' | 'insertOoo' | 'pullInOrder'>;
  /** For `connected`, `knock` and the FIN's `recv`. */
  readonly events: Pick<EventQueue, 'push'>;
  /** `deliver`, bound once (for RecvBuffers.pullInOrder). */
  readonly deliverFn: (c: TcpConn, off: number, len: number) => void;

  // the table (tcp-table.ts)
  /** The connection registered under the tuple (TIME-WAIT included), or null. */
  lookup(lip: number, lport: number, rip: number, rport: number): TcpConn | null;
  listener(port: number): Listener | undefined;
  newConn(lip: number, lport: number, rip: number, rport: number): TcpConn | null;
  newIsn(c: TcpConn): number;
  die(c: TcpConn, reason: number): void;
  free(c: TcpConn): void;
  /** Gives a received frame's buffer back to the pool. */
  dropBuffer(id: number): void;
  /** New in-order data for the app (a `recv` event if it has the connection). */
  deliver(c: TcpConn, off: number, len: number): void;

  // output (tcp-output.ts, tcp-segment.ts)
  /** Output runs for `c` at the next flush (an ACK due, data the window lets out). */
  touch(c: TcpConn): void;
  retransmitFirst(c: TcpConn): void;
  retransmitHole(c: TcpConn): boolean;
  sendAck(c: TcpConn): void;
  sendSyn(c: TcpConn, ack: boolean): void;
  sendRst(lip: number, lport: number, rip: number, rport: number, seq: number, ack: number, withAck: boolean): void;
  sendCookieSynAck(
    lip: number, lport: number, rip: number, rport: number, isn: number, rcvNxt: number, wsOk: boolean, sackOk: boolean,
    tsOk: boolean, tsval: number, tsecr: number,
  ): void;
  challengeAck(c: TcpConn): void;

  // timers (tcp-rto.ts)
  armRtx(c: TcpConn): void;
  stopRtx(c: TcpConn): void;
  rttSample(c: TcpConn): void;
  enterTimeWait(c: TcpConn): void;
}

/** Timestamp option bytes taken from each segment's payload room when timestamps are on (RFC 7323 §3.2, 10 + 2 NOP). */
const TS_OPTION_ROOM = 12;
/** A peer's MSS below this is raised to it (Linux's TCP_MIN_MSS): an MSS of 0 would stall the connection for good. */
const MIN_PEER_MSS = 88;

export function tcpInput(tcp: TcpInputHost, id: number, v: TcpView, src: number, dst: number): void {
  tcp.counters.segmentsIn++;
  const lport = v.dstPort;
  const rport = v.srcPort;
  const c = tcp.lookup(dst, lport, src, rport);
  if (c === null) { noConnection(tcp, id, v, src, dst); return; }
  // RFC 1122 §4.2.3.6: any segment from the peer shows it is alive (tcp-keepalive.ts reads the tick when it fires).
  if (c.keepalive) { c.kaHeardTick = tcp.clock.tick; c.kaProbes = 0; }
  if (c.state === TcpState.SynSent) { synSent(tcp, c, id, v); return; }
  if (c.state === TcpState.TimeWait && (v.flags & (TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst)) === TcpFlag.Syn &&
    timeWaitReusable(c, v)) {
    tcp.free(c);
    noConnection(tcp, id, v, src, dst);
    return;
  }
  if (!synchronized(tcp, c, id, v)) tcp.dropBuffer(id);
}

/**
 * RFC 6191: a SYN may reopen a TIME-WAIT tuple when its timestamp is newer, or — as Linux also accepts
 * (tcp_timewait_state_process) — when its timestamp is not older (no PAWS reject: the same millisecond) and its ISN
 * is above the old connection's sequence space. Without timestamps, the ISN decides (RFC 9293 §3.10.7.4 note).
 */
function timeWaitReusable(c: TcpConn, v: TcpView): boolean {
  const o = v.options;
  if (c.tsOk && o.hasTimestamps) {
    if (seqGt(o.tsVal, c.tsRecent)) return true;
    return o.tsVal === c.tsRecent && seqGt(v.seq, c.rcvNxt);
  }
  return seqGt(v.seq, c.rcvNxt);
}

/** RFC 9293 §3.10.7.1 (CLOSED) and §3.10.7.2 (LISTEN). */
function noConnection(tcp: TcpInputHost, id: number, v: TcpView, src: number, dst: number): void {
  if (!listenOrReset(tcp, id, v, src, dst)) tcp.dropBuffer(id);
}

/** Returns true when the buffer was kept (data on the ACK that completed a SYN-cookie handshake). */
function listenOrReset(tcp: TcpInputHost, id: number, v: TcpView, src: number, dst: number): boolean {
  const flags = v.flags;
  const lport = v.dstPort;
  const rport = v.srcPort;
  const listener = tcp.listener(lport);
  if ((flags & TcpFlag.Rst) !== 0) return false;
  if (listener === undefined) {
    // Closed port: RST (seq = SEG.ACK if ACK, else RST+ACK acknowledging the segment).
    if ((flags & TcpFlag.Ack) !== 0) tcp.sendRst(dst, lport, src, rport, v.ack, 0, false);
    else tcp.sendRst(dst, lport, src, rport, 0, (v.seq + v.segLen) | 0, true);
    return false;
  }
  if ((flags & TcpFlag.Ack) !== 0) {
    if ((flags & TcpFlag.Syn) === 0) {
      const c = cookieAck(tcp, v, src, dst);
      // The completing ACK may carry data (and a FIN): process it as the new connection's first segment.
      if (c !== null) return synchronized(tcp, c, id, v);
    }
    tcp.sendRst(dst, lport, src, rport, v.ack, 0, false);
    return false;
  }
  if ((flags & TcpFlag.Syn) === 0) return false;
  const o = v.options;
  const peerMss = o.hasMss ? o.mss : TCP_DEFAULT_MSS;
  if (listener.synReceived >= listener.backlog) {
    // Backlog full: answer statelessly with a SYN cookie instead of dropping (RFC 4987 §3.6).
    tcp.counters.backlogDrops++;
    const mss = peerMss < tcp.params.ourMss ? (peerMss < MIN_PEER_MSS ? MIN_PEER_MSS : peerMss) : tcp.params.ourMss;
    const isn = tcp.cookies.encode(dst, lport, src, rport, v.seq, mss, tcp.clock.msInt);
    const ts = o.hasTimestamps;
    const tsval = ts ? cookieTsval(tcp.clock.tsval, o.hasWindowScale ? o.windowScale : -1, o.sackPermitted) : 0;
    tcp.sendCookieSynAck(dst, lport, src, rport, isn, (v.seq + 1) | 0, ts && o.hasWindowScale, ts && o.sackPermitted, ts,
      tsval, o.tsVal);
    return false;
  }
  const c = tcp.newConn(dst, lport, src, rport);
  if (c === null) { tcp.counters.backlogDrops++; return false; }
  tcp.counters.passiveOpens++;
  c.state = TcpState.SynReceived;
  c.listenPort = lport;
  listener.synReceived++;
  c.irs = v.seq;
  c.rcvNxt = (v.seq + 1) | 0;
  negotiate(tcp, c, v, peerMss);
  c.sndWnd = v.window; // a SYN's window is never scaled (RFC 7323 §2.2)
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = v.seq;
  c.iss = tcp.newIsn(c);
  c.sndUna = c.iss;
  c.sndNxt = c.sndMax = (c.iss + 1) | 0;
  c.recover = c.iss; // RFC 6582 §3.2 step 1
  c.rcvAdv = (c.rcvNxt + (tcp.params.rcvBuf > 0xffff ? 0xffff : tcp.params.rcvBuf)) | 0;
  tcp.sendSyn(c, true);
  tcp.armRtx(c);
  return false;
}

/** Options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2). */
function negotiate(tcp: TcpInputHost, c: TcpConn, v: TcpView, peerMss: number): void {
  const o = v.options;
  c.wsOk = o.hasWindowScale;
  c.sndShift = c.wsOk ? o.windowScale : 0;
  c.rcvShift = c.wsOk ? tcp.params.rcvShift : 0;
  c.sackOk = o.sackPermitted;
  c.tsOk = o.hasTimestamps;
  if (c.tsOk) c.tsRecent = o.tsVal;
  let mss = peerMss < tcp.params.ourMss ? peerMss : tcp.params.ourMss;
  if (mss < MIN_PEER_MSS) mss = MIN_PEER_MSS;
  c.mss = mss - (c.tsOk ? TS_OPTION_ROOM : 0);
}

/** The ACK completing a handshake we answered with a SYN cookie: rebuild the connection from the cookie. */
function cookieAck(tcp: TcpInputHost, v: TcpView, src: number, dst: number): TcpConn | null {
  const lport = v.dstPort, rport = v.srcPort;
  const ourIsn = (v.ack - 1) | 0;
  const clientIsn = (v.seq - 1) | 0;
  const mss = tcp.cookies.decode(dst, lport, src, rport, clientIsn, ourIsn, tcp.clock.msInt);
  if (mss < 0) { tcp.counters.synCookiesRejected++; return null; }
  const c = tcp.newConn(dst, lport, src, rport);
  if (c === null) return null;
  tcp.counters.synCookiesAccepted++;
  tcp.counters.passiveOpens++;
  const o = v.options;
  c.irs = clientIsn;
  c.rcvNxt = v.seq;
  c.iss = ourIsn;
  c.sndUna = c.sndNxt = c.sndMax = v.ack;
  c.recover = ourIsn;
  c.tsOk = o.hasTimestamps;
  const ws = c.tsOk ? cookieWscale(o.tsEcr) : -1;
  c.wsOk = ws >= 0;
  c.sndShift = c.wsOk ? ws : 0;
  c.rcvShift = c.wsOk ? tcp.params.rcvShift : 0;
  c.sackOk = c.tsOk && cookieSackOk(o.tsEcr);
  if (c.tsOk) c.tsRecent = o.tsVal;
  c.mss = mss - (c.tsOk ? TS_OPTION_ROOM : 0);
  c.sndWnd = v.window << c.sndShift;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = v.seq;
  c.sndWl2 = v.ack;
  c.rcvAdv = (c.rcvNxt + (tcp.params.rcvBuf > 0xffff ? 0xffff : tcp.params.rcvBuf)) | 0;
  establish(tcp, c);
  return c;
}

/** SYN-RECEIVED → ESTABLISHED for a passive open: the app hears a knock. */
function establish(tcp: TcpInputHost, c: TcpConn): void {
  if (c.listenPort >= 0) {
    const l = tcp.listener(c.listenPort);
    if (l !== undefined && l.synReceived > 0) l.synReceived--;
    c.listenPort = -1;
  }
  c.state = TcpState.Established;
  initCwnd(c, tcp.params.initialWindow);
  c.retries = 0;
  tcp.stopRtx(c);
  // A simultaneous open (RFC 9293 §3.5 figure 7) went through SYN-RECEIVED too; its app asked with connect.
  if (c.active) tcp.events.push(EventKind.Connected, c.handle, c.cookie, 0, c.lport, 0, 0, -1);
  else tcp.events.push(EventKind.Knock, c.handle, 0, c.lport, 0, c.rip, c.rport, -1);
}

/** RFC 9293 §3.10.7.3 (SYN-SENT). */
function synSent(tcp: TcpInputHost, c: TcpConn, id: number, v: TcpView): void {
  tcp.dropBuffer(id);
  const flags = v.flags;
  const ack = v.ack;
  const hasAck = (flags & TcpFlag.Ack) !== 0;
  if (hasAck && (seqLe(ack, c.iss) || seqGt(ack, c.sndMax))) {
    if ((flags & TcpFlag.Rst) === 0) tcp.sendRst(c.lip, c.lport, c.rip, c.rport, ack, 0, false);
    return;
  }
  if ((flags & TcpFlag.Rst) !== 0) {
    if (hasAck) { tcp.counters.resetsIn++; tcp.die(c, DeathReason.Refused); tcp.free(c); }
    return;
  }
  if ((flags & TcpFlag.Syn) === 0) return;
  c.irs = v.seq;
  c.rcvNxt = (v.seq + 1) | 0;
  negotiate(tcp, c, v, v.options.hasMss ? v.options.mss : TCP_DEFAULT_MSS);
  c.rcvAdv = (c.rcvNxt + (tcp.params.rcvBuf > 0xffff ? 0xffff : tcp.params.rcvBuf)) | 0; // what our SYN offered
  if (!hasAck) {
    // Simultaneous open: answer with a SYN-ACK from SYN-RECEIVED.
    c.state = TcpState.SynReceived;
    c.sndWnd = v.window;
    c.sndWl1 = v.seq;
    tcp.sendSyn(c, true);
    return;
  }
  if (c.retries === 0) tcp.rttSample(c);
  c.rttTiming = false;
  c.sndUna = ack;
  c.sndWnd = v.window;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = v.seq;
  c.sndWl2 = ack;
  c.state = TcpState.Established;
  initCwnd(c, tcp.params.initialWindow);
  c.retries = 0;
  tcp.stopRtx(c);
  tcp.events.push(EventKind.Connected, c.handle, c.cookie, 0, c.lport, 0, 0, -1);
  c.ackNow = true;
  tcp.touch(c);
}

/**
 * RFC 9293 §3.10.7.4 for every synchronized state (and SYN-RECEIVED). Returns true when the buffer was kept.
 */
function synchronized(tcp: TcpInputHost, c: TcpConn, id: number, v: TcpView): boolean {
  const flags = v.flags;
  const o = v.options;
  let seq = v.seq;
  const segLen = v.segLen;

  // RFC 7323 §5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate.
  if (c.tsOk && o.hasTimestamps && (flags & TcpFlag.Rst) === 0 && seqLt(o.tsVal, c.tsRecent)) {
    tcp.counters.pawsDropped++;
    c.ackNow = true;
    tcp.touch(c);
    return false;
  }

  // First: sequence number acceptability.
  const wnd = seqDiff(c.rcvAdv, c.rcvNxt) > 0 ? seqDiff(c.rcvAdv, c.rcvNxt) : 0;
  const off0 = seqDiff(seq, c.rcvNxt);
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? off0 === 0 : off0 >= 0 && off0 < wnd;
  else if (wnd === 0) acceptable = false;
  else {
    const offEnd = (off0 + segLen - 1) | 0;
    acceptable = (off0 >= 0 && off0 < wnd) || (offEnd >= 0 && offEnd < wnd);
  }
  // A zero-window probe at RCV.NXT still carries a valid ACK (RFC 9293 §3.10.7.4 "special allowance").
  const probe = !acceptable && wnd === 0 && off0 === 0;
  if (!acceptable && !probe) {
    if ((flags & TcpFlag.Rst) === 0) {
      tcp.counters.outOfWindow++;
      c.ackNow = true;
      tcp.touch(c);
    }
    return false;
  }

  // Second: RST (RFC 5961 §3.2: only an exact RCV.NXT match resets; in-window others get a challenge ACK).
  if ((flags & TcpFlag.Rst) !== 0) {
    if (seq !== c.rcvNxt) { tcp.challengeAck(c); return false; }
    tcp.counters.resetsIn++;
    if (c.state === TcpState.SynReceived && c.listenPort >= 0) { c.released = true; tcp.free(c); return false; }
    tcp.die(c, c.state === TcpState.TimeWait ? DeathReason.Closed : DeathReason.Reset);
    tcp.free(c);
    return false;
  }

  // Fourth: SYN in a synchronized state (RFC 5961 §4.2: challenge ACK, never a reset).
  if ((flags & TcpFlag.Syn) !== 0) {
    if (c.state === TcpState.SynReceived && seq === c.irs) {
      tcp.sendSyn(c, true); // our SYN-ACK was lost: the peer retransmitted its SYN
      return false;
    }
    tcp.challengeAck(c);
    return false;
  }

  // Fifth: ACK.
  if ((flags & TcpFlag.Ack) === 0) return false;
  const ack = v.ack;
  if (c.state === TcpState.SynReceived) {
    if (seqLt(c.sndUna, ack) && seqLe(ack, c.sndMax)) {
      c.sndUna = ack;
      c.sndWnd = v.window << c.sndShift;
      c.maxSndWnd = c.sndWnd;
      c.sndWl1 = seq;
      c.sndWl2 = ack;
      if (c.retries === 0 && c.rttStartUs > 0) tcp.rttSample(c);
      establish(tcp, c);
    } else {
      tcp.sendRst(c.lip, c.lport, c.rip, c.rport, ack, 0, false);
      return false;
    }
  }
  if (seqGt(ack, c.sndMax)) { c.ackNow = true; tcp.touch(c); return false; }
  if (ackTooOld(c, ack)) { tcp.challengeAck(c); return false; }
  processAck(tcp, c, v, seq, ack, segLen);
  if (c.state === TcpState.Closed) return false;

  // Timestamps: remember the peer's clock for our echo (RFC 7323 §4.3, the "Last.ACK.sent" rule).
  if (c.tsOk && o.hasTimestamps && seqLe(seq, c.lastAckSent) && seqGe((seq + segLen) | 0, c.lastAckSent)) {
    c.tsRecent = o.tsVal;
  }

  // Sixth/seventh: data.
  let kept = false;
  let len = v.payloadLen;
  let dataOff = v.payloadOff;
  let fin = (flags & TcpFlag.Fin) !== 0;
  const st = c.state;
  if (st === TcpState.Established || st === TcpState.FinWait1 || st === TcpState.FinWait2) {
    if (seqLt(seq, c.rcvNxt)) {
      const skip = seqDiff(c.rcvNxt, seq);
      if (skip >= len) { len = 0; } else { len -= skip; dataOff += skip; }
      seq = c.rcvNxt;
      if (len === 0) c.ackNow = true; // an old duplicate: tell the peer where we are
    }
    const room = seqDiff(c.rcvAdv, seq) > 0 ? seqDiff(c.rcvAdv, seq) : 0;
    if (len > room) { len = room; fin = false; }
    if (len > 0) {
      if (seq === c.rcvNxt) {
        const at = tcp.recv.append(c, id, dataOff, len);
        kept = true;
        c.rcvNxt = (c.rcvNxt + len) | 0;
        tcp.deliver(c, at, len);
        if (c.oooHead >= 0) {
          c.rcvNxt = tcp.recv.pullInOrder(c, c.rcvNxt, tcp.deliverFn);
          c.ackNow = true; // RFC 5681 §4.2: acknowledge at once when a hole is filled
        }
        c.ackPending++;
        if (c.ackPending >= 2) c.ackNow = true; // at least every second full segment (RFC 9293 §3.8.6.3)
        if (c.oooFin && c.oooFinSeq === c.rcvNxt) { c.oooFin = false; fin = true; seq = (c.rcvNxt - len) | 0; }
      } else {
        tcp.counters.oooSegments++;
        if (tcp.recv.insertOoo(c, id, dataOff, len, seq)) kept = true;
        else tcp.counters.oooDropped++;
        if (fin) { c.oooFin = true; c.oooFinSeq = (seq + len) | 0; fin = false; }
        // RFC 5681 §4.2: a duplicate ACK (with SACK blocks) at once for every out-of-order segment, not one per
        // batch — the sender's fast retransmit counts them.
        tcp.sendAck(c);
      }
      tcp.touch(c);
    } else if (probe) {
      c.ackNow = true;
      tcp.touch(c);
    }
  } else if (v.payloadLen > 0) {
    c.ackNow = true; // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN; ignore data
    tcp.touch(c);
  }

  // Eighth: FIN, once everything before it has arrived.
  if (fin && ((seq + len) | 0) === c.rcvNxt && !c.finReceived) finArrived(tcp, c);
  else if (fin && c.state === TcpState.TimeWait) { c.ackNow = true; tcp.touch(c); tcp.enterTimeWait(c); }
  return kept;
}

/** §3.10.7.4 fifth step for ESTABLISHED and later: advance SND.UNA, congestion control, window update. */
function processAck(tcp: TcpInputHost, c: TcpConn, v: TcpView, seq: number, ack: number, segLen: number): void {
  const wndField = v.window << c.sndShift;
  if (c.sackOk && v.options.sackBlocks > 0) sackUpdate(c, v.options);
  if (seqGt(ack, c.sndUna)) {
    const acked = seqDiff(ack, c.sndUna);
    const dataAcked = acked < c.sqBytes ? acked : c.sqBytes;
    if (c.rttTiming && seqGe(ack, c.rttSeq)) {
      c.rttTiming = false;
      tcp.rttSample(c);
    }
    if (dataAcked > 0) {
      sqRelease(c, dataAcked);
      c.ackedUnreported += dataAcked;
    }
    c.sndUna = ack;
    c.lastAdvance = acked;
    c.probeOut = false;
    if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
    if (c.sackN > 0) sackPrune(c);
    c.retries = 0;
    if (c.inRecovery) {
      if (seqGe(ack, c.recover)) {
        exitRecovery(c); // RFC 6582 §3.2 step 3: full acknowledgment ends recovery
      } else {
        // Partial acknowledgment: resend the next hole, deflate by what was acked (RFC 6582 §3.2 step 4).
        if (seqLt(c.highRxt, c.sndUna)) c.highRxt = c.sndUna;
        tcp.retransmitHole(c);
        deflateOnPartialAck(c, acked);
      }
    } else {
      growCwnd(c, dataAcked);
    }
    c.dupAcks = 0;
    c.limitedTransmit = 0;
    if (c.sndUna === c.sndMax) tcp.stopRtx(c); else tcp.armRtx(c);
    tcp.touch(c);
  } else if (ack === c.sndUna && segLen === 0 && c.sndMax !== c.sndUna && (wndField === c.sndWnd || v.options.sackBlocks > 0)) {
    // A duplicate ACK: RFC 5681 §2's definition, or (RFC 6675 §2) one carrying SACK information even though the
    // window moved — a Linux receiver opens its window a little with every ACK while it holds out-of-order data.
    c.dupAcks++;
    if (c.dupAcks < 3 && !c.inRecovery) {
      // Limited transmit (RFC 3042): a new segment for each of the first two duplicate ACKs keeps the ACK clock going.
      c.limitedTransmit = c.dupAcks;
      tcp.touch(c);
    }
    // After a timeout (ack ≤ recover) duplicates may only echo our go-back-N resends of data the peer had; RFC 6582
    // §4.2's heuristic tells a new loss apart: more than one segment allowed out and the last advance ≤ 4 segments.
    // `recover` is SND.MAX at the time (RFC 6582's "highest sequence number transmitted" + 1): an ACK equal to it
    // covers everything that was out then.
    const afterTimeout = seqLt(ack, c.recover);
    if (c.dupAcks === 3 && !c.inRecovery && (!afterTimeout || (c.cwnd > c.mss && c.lastAdvance <= 4 * c.mss))) {
      // Fast retransmit (RFC 5681 §3.2 steps 2–4; RFC 6582 §3.2 step 2 for `recover`).
      tcp.counters.fastRetransmits++;
      enterRecovery(c);
      tcp.retransmitFirst(c);
      tcp.armRtx(c);
    } else if (c.inRecovery) {
      c.cwnd += c.mss; // each further duplicate: a segment has left the network (step 5)
      if (c.sackOk) {
        // The peer holds data we sent after our last resend of SND.UNA's segment, but not that segment: the resend
        // was lost too (RFC 6675 cannot see this; RACK's rule, by sequence). Resend it rather than wait for the RTO.
        if (c.sackN > 0 && seqGt(c.sackR[c.sackN - 1], c.rxtMark) && seqGt(c.highRxt, c.sndUna)) c.highRxt = c.sndUna;
        tcp.retransmitHole(c); // the next hole goes out at once
      }
      tcp.touch(c);
    }
  }
  // Window update (RFC 9293 §3.10.7.4: only from a newer segment, WL1/WL2).
  if (seqLt(c.sndWl1, seq) || (c.sndWl1 === seq && seqLe(c.sndWl2, ack))) {
    const opened = wndField > c.sndWnd;
    c.sndWnd = wndField;
    c.sndWl1 = seq;
    c.sndWl2 = ack;
    if (wndField > c.maxSndWnd) c.maxSndWnd = wndField;
    if (opened) tcp.touch(c);
  }
  if (c.persist) c.retries = 0; // the peer answers our probes: keep waiting (RFC 1122 §4.2.2.17)

  const finAcked = c.finSent && seqGt(c.sndUna, c.finSeq);
  switch (c.state) {
    case TcpState.FinWait1:
      if (finAcked) c.state = TcpState.FinWait2;
      break;
    case TcpState.Closing:
      if (finAcked) tcp.enterTimeWait(c);
      break;
    case TcpState.LastAck:
      if (finAcked) { tcp.die(c, DeathReason.Closed); tcp.free(c); }
      break;
    default:
      break;
  }
}

/** The peer's FIN, in order (RFC 9293 §3.10.7.4 eighth step). */
function finArrived(tcp: TcpInputHost, c: TcpConn): void {
  c.rcvNxt = (c.rcvNxt + 1) | 0;
  c.finReceived = true;
  c.ackNow = true;
  tcp.touch(c);
  if (c.accepted && !c.released) tcp.events.push(EventKind.Recv, c.handle, c.cookie, 0, 0, 0, 0, -1);
  switch (c.state) {
    case TcpState.SynReceived:
    case TcpState.Established:
      c.state = TcpState.CloseWait;
      break;
    case TcpState.FinWait1:
      if (c.finSent && seqGt(c.sndUna, c.finSeq)) tcp.enterTimeWait(c);
      else c.state = TcpState.Closing;
      break;
    case TcpState.FinWait2:
      tcp.enterTimeWait(c);
      break;
    default:
      break;
  }
}

/** RFC 5961 §5.2: an ACK below SND.UNA − MAX.SND.WND is too old to be acceptable (it draws a challenge ACK). */
function ackTooOld(c: TcpConn, ack: number): boolean {
  return seqLt(ack, (c.sndUna - c.maxSndWnd) | 0);
}
