/**
 * Congestion control state of a connection: slow start and congestion avoidance (RFC 5681 §3.1, RFC 3465 byte
 * counting), the initial window (RFC 6928), and the cwnd/ssthresh side of fast retransmit and NewReno fast recovery
 * (RFC 5681 §3.2, RFC 6582 §3.2) and of a retransmission timeout. Functions of the connection alone: which segment
 * goes out again is decided by the callers (tcp-output.ts, tcp-input.ts, tcp-timers.ts).
 */
import { seqDiff, type TcpConn } from './tcp-conn.js';

/** Initial congestion window (RFC 6928 with the RFC 5681 §3.1 rule for a lost SYN). */
export function initCwnd(c: TcpConn, initialWindow: number): void {
  c.cwnd = (c.retries > 0 ? 1 : initialWindow) * c.mss;
}

/** Slow start and congestion avoidance for `acked` new bytes (RFC 5681 §3.1, RFC 3465 byte counting, L = 1 SMSS). */
export function growCwnd(c: TcpConn, acked: number): void {
  if (c.cwnd < c.ssthresh) {
    c.cwnd += acked < c.mss ? acked : c.mss;
  } else {
    c.bytesAcked += acked;
    if (c.bytesAcked >= c.cwnd) { c.bytesAcked -= c.cwnd; c.cwnd += c.mss; }
  }
  if (c.cwnd > 0x3fffffff) c.cwnd = 0x3fffffff;
}

/** RFC 5681 §3.1 equation (4): ssthresh = max(FlightSize / 2, 2·SMSS). */
function halveSsthresh(c: TcpConn): void {
  const half = seqDiff(c.sndMax, c.sndUna) >> 1;
  c.ssthresh = half > 2 * c.mss ? half : 2 * c.mss;
}

/** A retransmission timeout (RFC 5681 §3.1): cwnd = 1 SMSS, recovery over; `recover` = SND.MAX (RFC 6582 §3.2 step 1). */
export function cwndAfterTimeout(c: TcpConn): void {
  halveSsthresh(c);
  c.cwnd = c.mss;
  c.inRecovery = false;
  c.dupAcks = 0;
  c.limitedTransmit = 0;
  c.recover = c.sndMax;
}

/**
 * The third duplicate ACK (RFC 5681 §3.2 steps 2–4, RFC 6582 §3.2 step 2): halve, remember `recover`, inflate by the
 * three segments that have left the network. The caller then resends the segment at SND.UNA.
 */
export function enterRecovery(c: TcpConn): void {
  halveSsthresh(c);
  c.recover = c.sndMax;
  c.inRecovery = true;
  c.limitedTransmit = 0;
  c.highRxt = c.sndUna;
  c.cwnd = c.ssthresh + 3 * c.mss;
}

/** RFC 6582 §3.2 step 3: a full acknowledgment ends recovery; cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). */
export function exitRecovery(c: TcpConn): void {
  const flight = seqDiff(c.sndMax, c.sndUna);
  const deflated = (flight > c.mss ? flight : c.mss) + c.mss;
  c.cwnd = c.ssthresh < deflated ? c.ssthresh : deflated;
  c.inRecovery = false;
}

/** RFC 6582 §3.2 step 4: a partial acknowledgment deflates cwnd by what it acknowledged, then adds back one SMSS. */
export function deflateOnPartialAck(c: TcpConn, acked: number): void {
  c.cwnd -= acked;
  if (acked >= c.mss) c.cwnd += c.mss;
  if (c.cwnd < c.mss) c.cwnd = c.mss;
}
