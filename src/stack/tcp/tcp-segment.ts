/**
 * Building and queuing single segments: data/FIN/ACK of a connection (options, send-queue bytes, window field,
 * checksum), SYN and SYN-ACK (also of a SYN cookie, with no connection), RST, and the rate-limited challenge ACK.
 * Which segments a connection sends, and when, is decided in tcp-output.ts and tcp-timers.ts.
 */
import {
  emitTcp, emitTcpOptions, IpProtocol, pseudoAddrSum, TCP_HEADER_LEN, TcpFlag, TcpOptions,
} from '../../wire/index.js';
import type { Clock } from '../clock.js';
import type { IpInterface } from '../ip-interface.js';
import { seqDiff, type TcpConn } from './tcp-conn.js';
import type { TcpCounters, TcpParams } from './tcp-params.js';
import type { RecvBuffers } from './tcp-recv.js';
import type { Rto } from './tcp-rto.js';
import { sqCopyOut } from './tcp-send-queue.js';
import { windowField } from './tcp-window.js';

/** RFC 5961 §7: challenge ACKs per second (Linux's default limit). */
const CHALLENGE_ACKS_PER_S = 1000;

export class TcpSegments {
  private readonly opt = new TcpOptions();
  private challengeWindowStart = 0;
  private challengeCount = 0;

  constructor(
    private readonly p: TcpParams, private readonly counters: TcpCounters, private readonly iface: IpInterface,
    private readonly clock: Clock, private readonly recv: RecvBuffers, private readonly rto: Rto,
  ) {}

  /** Builds and queues one segment of `c` at `seq` carrying `len` bytes from the send queue (and FIN). */
  sendData(c: TcpConn, seq: number, len: number, fin: boolean): boolean {
    const flags = TcpFlag.Ack | (len > 0 ? TcpFlag.Psh : 0) | (fin ? TcpFlag.Fin : 0);
    const ok = this.sendSegment(c, seq, flags, len);
    if (ok && len > 0 && !c.rttTiming && seq === c.sndMax) {
      // RFC 6298 §3 / Karn: time one new segment at a time, never a retransmission.
      c.rttTiming = true;
      c.rttSeq = (seq + len) | 0;
      c.rttStartUs = this.clock.us;
    }
    return ok;
  }

  sendAck(c: TcpConn): void {
    this.sendSegment(c, c.sndNxt, TcpFlag.Ack, 0);
  }

  /** One segment: options (timestamps, SACK blocks), data copied from the send queue, headers, checksum. */
  sendSegment(c: TcpConn, seq: number, flags: number, len: number): boolean {
    const iface = this.iface;
    const id = iface.allocFrame();
    if (id < 0) { this.counters.noBuffer++; return false; }
    const b = iface.bytes;
    const off = iface.l4Offset(id);
    const o = this.opt;
    o.clear();
    if (c.tsOk) { o.hasTimestamps = true; o.tsVal = this.clock.tsval; o.tsEcr = c.tsRecent; }
    if (c.sackOk && c.oooHead >= 0) o.sackBlocks = this.recv.sackBlocks(c, o.sackLeft, o.sackRight, c.tsOk ? 3 : 4);
    const optLen = emitTcpOptions(b, off + TCP_HEADER_LEN, o);
    if (len > 0) sqCopyOut(c, seqDiff(seq, c.sndUna), b, off + TCP_HEADER_LEN + optLen, len);
    const wnd = windowField(c, this.p);
    emitTcp(b, off, c.lport, c.rport, seq, c.rcvNxt, flags, wnd, optLen, len, c.addrSum);
    iface.sendIpv4(id, c.lip, c.rip, IpProtocol.Tcp, TCP_HEADER_LEN + optLen + len);
    this.counters.segmentsOut++;
    if ((flags & TcpFlag.Ack) !== 0) {
      c.lastAckSent = c.rcvNxt;
      c.ackPending = 0;
      c.ackNow = false;
      this.rto.stopDelack(c);
    }
    return true;
  }

  /** SYN (active open) or SYN-ACK (passive), with the options RFC 9293 §3.7.1 / RFC 7323 / RFC 2018 allow. */
  sendSyn(c: TcpConn, ack: boolean): void {
    if (c.retries === 0) c.rttStartUs = this.clock.us; // the handshake's RTT is the first sample (RFC 6298 §2.2)
    if (ack) c.lastAckSent = c.rcvNxt; // RFC 7323 §4.3: the SYN-ACK is our first ACK
    // On a SYN-ACK only what the peer offered (RFC 7323 §1.3, RFC 2018 §2).
    const ts = !ack || c.tsOk;
    this.emitSyn(c.lip, c.lport, c.rip, c.rport, c.iss, ack ? c.rcvNxt : 0, ack, !ack || c.wsOk, !ack || c.sackOk, ts,
      this.clock.tsval, ack ? c.tsRecent : 0);
  }

  /**
   * The SYN-ACK of a SYN cookie (RFC 4987 §3.6): no connection exists; the options we could not store travel in
   * the ISN (MSS) and in our timestamp (window scale, SACK-permitted).
   */
  sendCookieSynAck(
    lip: number, lport: number, rip: number, rport: number, isn: number, rcvNxt: number, wsOk: boolean, sackOk: boolean,
    tsOk: boolean, tsval: number, tsecr: number,
  ): void {
    this.emitSyn(lip, lport, rip, rport, isn, rcvNxt, true, wsOk, sackOk, tsOk, tsval, tsecr);
    this.counters.synCookiesSent++;
  }

  private emitSyn(
    lip: number, lport: number, rip: number, rport: number, isn: number, ack: number, withAck: boolean, ws: boolean,
    sack: boolean, ts: boolean, tsval: number, tsecr: number,
  ): void {
    const iface = this.iface;
    const id = iface.allocFrame();
    if (id < 0) { this.counters.noBuffer++; return; }
    const b = iface.bytes;
    const off = iface.l4Offset(id);
    const o = this.opt;
    o.clear();
    o.hasMss = true;
    o.mss = this.p.ourMss;
    if (ws) { o.hasWindowScale = true; o.windowScale = this.p.rcvShift; }
    o.sackPermitted = sack;
    if (ts) { o.hasTimestamps = true; o.tsVal = tsval; o.tsEcr = tsecr; }
    const optLen = emitTcpOptions(b, off + TCP_HEADER_LEN, o);
    const rcvBuf = this.p.rcvBuf;
    const wnd = rcvBuf > 0xffff ? 0xffff : rcvBuf; // RFC 7323 §2.2: a SYN's window is never scaled
    emitTcp(b, off, lport, rport, isn, ack, TcpFlag.Syn | (withAck ? TcpFlag.Ack : 0), wnd, optLen, 0, pseudoAddrSum(lip, rip));
    iface.sendIpv4(id, lip, rip, IpProtocol.Tcp, TCP_HEADER_LEN + optLen);
    this.counters.segmentsOut++;
  }

  /** RST for a connection we are dropping (RFC 9293 §3.10.7.4: seq = SND.NXT). */
  sendRstFor(c: TcpConn): void {
    this.sendRst(c.lip, c.lport, c.rip, c.rport, c.sndNxt, c.rcvNxt, true);
  }

  /** A bare RST (or RST+ACK) segment; also used for segments that match no connection (RFC 9293 §3.10.7.1). */
  sendRst(lip: number, lport: number, rip: number, rport: number, seq: number, ack: number, withAck: boolean): void {
    const iface = this.iface;
    const id = iface.allocFrame();
    if (id < 0) { this.counters.noBuffer++; return; }
    const off = iface.l4Offset(id);
    emitTcp(iface.bytes, off, lport, rport, seq, withAck ? ack : 0, TcpFlag.Rst | (withAck ? TcpFlag.Ack : 0), 0, 0, 0,
      pseudoAddrSum(lip, rip));
    iface.sendIpv4(id, lip, rip, IpProtocol.Tcp, TCP_HEADER_LEN);
    this.counters.resetsOut++;
    this.counters.segmentsOut++;
  }

  /** RFC 5961 §3.2/§4.2/§5.2 challenge ACK, rate-limited (§7). */
  challengeAck(c: TcpConn): void {
    const now = this.clock.ms;
    if (now - this.challengeWindowStart >= 1000) { this.challengeWindowStart = now; this.challengeCount = 0; }
    if (this.challengeCount >= CHALLENGE_ACKS_PER_S) return;
    this.challengeCount++;
    this.counters.challengeAcks++;
    this.sendAck(c);
  }
}
