/**
 * The receive window we advertise (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, RFC 7323 §2.3 scaling): functions of a
 * connection and the configuration, so the calls (recvDone) and segment output decide alike.
 */
import { seqDiff, type TcpConn } from './tcp-conn.js';
import type { TcpParams } from './tcp-params.js';

/** Window we can offer now: receive buffer minus data held for the app and out of order. */
export function windowAvail(c: TcpConn, p: TcpParams): number {
  const a = p.rcvBuf - c.heldBytes - c.oooBytes;
  return a > 0 ? a : 0;
}

/** How far the right edge could move beyond what we advertised. */
export function windowGrowth(c: TcpConn, p: TcpParams): number {
  return windowAvail(c, p) - seqDiff(c.rcvAdv, c.rcvNxt);
}

/** The smallest increase worth announcing: min(half the buffer, 2 MSS) (RFC 9293 §3.8.6.2.2). */
export function windowUpdateThreshold(p: TcpParams): number {
  const half = p.rcvBuf >> 1;
  const two = p.ourMss * 2;
  return half < two ? half : two;
}

/** The window field for an outgoing segment; moves rcvAdv (never left, RFC 9293 §3.8.6.2.2). */
export function windowField(c: TcpConn, p: TcpParams): number {
  let avail = windowAvail(c, p);
  const most = 0xffff << c.rcvShift; // without window scaling the field says at most 65535 (RFC 7323 §2.3)
  if (avail > most) avail = most;
  const adv = seqDiff(c.rcvAdv, c.rcvNxt);
  if (avail > adv && (avail - adv >= windowUpdateThreshold(p) || adv <= 0 || avail === most || avail === p.rcvBuf)) {
    const w = avail >> c.rcvShift;
    c.rcvAdv = (c.rcvNxt + (w << c.rcvShift)) | 0;
    return w > 0xffff ? 0xffff : w;
  }
  const w = adv > 0 ? adv >> c.rcvShift : 0;
  return w > 0xffff ? 0xffff : w;
}
