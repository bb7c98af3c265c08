/**
 * TCP (RFC 9293) for one elastic thread: the connection table, the application's calls, segment output,
 * retransmission (RFC 6298), congestion control (RFC 5681 slow start / congestion avoidance, fast retransmit and
 * NewReno fast recovery per RFC 6582) and the timers. Segment arrival is in tcp-input.ts.
 *
 * Nothing here runs per packet that allocates: connections are reused objects, received data stays in its pool
 * buffers (tcp-recv.ts), data to send stays in the application's buffers (tcp-send-queue.ts), events go into the
 * EventQueue's typed arrays.
 *
 * Output is batched (IX): calls and arriving segments put a connection on the work list; `flush()` then builds
 * its segments once — new data, a FIN, or an ACK — so one ACK covers a whole batch of received segments and a
 * reply sent by the app in the same iteration carries it.
 */
import { ApiError, DeathReason } from '../../api/codes.js';
import { EventKind, type EventQueue } from '../../api/events.js';
import {
  emitTcp, emitTcpOptions, IpProtocol, pseudoAddrSum, TCP_HEADER_LEN, TCP_MAX_WINDOW_SCALE, TcpFlag, TcpOptions,
} from '../../wire/index.js';
import type { Clock } from '../clock.js';
import { FlowTable } from '../flow-table.js';
import { hsiphash4, randomKey } from '../halfsiphash.js';
import type { IpInterface } from '../ip-interface.js';
import { SynCookies } from '../syn-cookie.js';
import { ticksFromUs, TIMER_NONE, type TimerWheel } from '../timer-wheel.js';
import {
  HANDLE_INDEX_MASK, seqDiff, seqGt, seqLt, TcpConn, TcpState,
} from './tcp-conn.js';
import { RecvBuffers } from './tcp-recv.js';
import { sackClear, sackNextHole } from './tcp-sack.js';
import { sqCanPush, sqClear, sqCopyOut, sqPush } from './tcp-send-queue.js';

export interface TcpConfig {
  /** Connections (including TIME-WAIT) the table holds. Default 65536. */
  maxConnections?: number;
  /** Receive buffer per connection in bytes: the most data held for the app (the advertised window). Default 256 KiB. */
  rcvBuf?: number;
  /** Send queue per connection in bytes: the most unacknowledged data `sendv` accepts. Default 256 KiB. */
  sndBuf?: number;
  /** Lower bound of the retransmission timeout. RFC 6298 §2.4 says 1 s; Linux and IX use 200 ms. */
  minRtoMs?: number;
  /** Delayed-ACK timeout (RFC 9293 §3.8.6.3: below 500 ms). Default 40 ms as Linux. */
  delackMs?: number;
  /** TIME-WAIT duration (2 × MSL, RFC 9293 §3.4.2). Default 60 s as Linux. */
  timeWaitMs?: number;
  /** Retransmissions before a connection is given up (RFC 9293 §3.8.3 R2 ≥ 100 s). Default 15. */
  maxRetries?: number;
  /** SYN (and SYN-ACK) retransmissions before giving up (R2 for SYN ≥ 3 min would be RFC; Linux uses 6). */
  synRetries?: number;
  /** Initial congestion window in segments (RFC 6928). Default 10. */
  initialWindow?: number;
  /** Reuse a TIME-WAIT tuple for a new SYN (RFC 6191 with timestamps). Default true. */
}

/** Timer kinds in the stack's wheel (owner = connection index). */
export const TimerKind = { TcpRtx: 1, TcpDelack: 2, TcpWait: 3 } as const;

/** RFC 6298 §2: RTO ≤ 60 s is allowed as an upper bound. */
const MAX_RTO_US = 60_000_000;
/** RFC 6298 §2.1: the RTO before any RTT sample. */
const INITIAL_RTO_US = 1_000_000;
/** RFC 8985 §7.2: the probe timeout is 2·SRTT, at least 10 ms, plus the peer's worst delayed ACK when one segment is out. */
const MIN_PTO_US = 10_000;
const DELAYED_ACK_ALLOWANCE_US = 200_000;
/** RFC 5961 §7: challenge ACKs per second (Linux's default limit). */
const CHALLENGE_ACKS_PER_S = 1000;

export class TcpCounters {
  activeOpens = 0;
  passiveOpens = 0;
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesRejected = 0;
  segmentsIn = 0;
  segmentsOut = 0;
  retransmits = 0;
  fastRetransmits = 0;
  /** Connections given up after too many retransmissions. */
  timeouts = 0;
  /** Retransmission timer expirations (each resends from SND.UNA with cwnd = 1 MSS). */
  rtoExpirations = 0;
  /** Tail loss probes sent (RFC 8985 §7): the highest segment again, before the RTO. */
  lossProbes = 0;
  resetsIn = 0;
  resetsOut = 0;
  challengeAcks = 0;
  badSegments = 0;
  outOfWindow = 0;
  oooSegments = 0;
  oooDropped = 0;
  backlogDrops = 0;
  noBuffer = 0;
  pawsDropped = 0;
  windowProbes = 0;
}

export class Listener {
  synReceived = 0;
  constructor(readonly port: number, readonly backlog: number) {}
}

export class Tcp {
  readonly counters = new TcpCounters();
  readonly iface: IpInterface;
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly events: EventQueue;
  readonly recv: RecvBuffers;
  readonly flows: FlowTable;
  readonly listeners = new Map<number, Listener>();
  readonly cookies = new SynCookies();
  readonly rcvBuf: number;
  readonly sndBuf: number;
  readonly rcvShift: number;
  readonly minRtoUs: number;
  readonly delackTicks: number;
  readonly timeWaitTicks: number;
  readonly maxRetries: number;
  readonly synRetries: number;
  readonly initialWindow: number;
  /** Our MSS (RFC 9293 §3.7.1): MTU − 40. */
  readonly ourMss: number;
  /** Accepts a local port for an outgoing connection (RSS: the reply must reach this thread). */
  portFilter: ((lip: number, lport: number, rip: number, rport: number) => boolean) | null = null;
  /** Bound callback for RecvBuffers.pullInOrder, made once. */
  readonly deliverFn: (c: TcpConn, off: number, len: number) => void;

  private readonly conns: TcpConn[] = [];
  private readonly freeIdx: number[] = [];
  private readonly maxConns: number;
  private readonly work: Int32Array;
  private workCount = 0;
  private readonly opt = new TcpOptions();
  private readonly isnKey = randomKey();
  private nextPort: number;
  private challengeWindowStart = 0;
  private challengeCount = 0;

  constructor(iface: IpInterface, clock: Clock, wheel: TimerWheel, events: EventQueue, cfg: TcpConfig = {}) {
    this.iface = iface;
    this.clock = clock;
    this.wheel = wheel;
    this.events = events;
    this.maxConns = Math.min(cfg.maxConnections ?? 65536, HANDLE_INDEX_MASK + 1);
    this.rcvBuf = cfg.rcvBuf ?? 256 * 1024;
    this.sndBuf = cfg.sndBuf ?? 256 * 1024;
    let shift = 0;
    while ((this.rcvBuf >> shift) > 0xffff && shift < TCP_MAX_WINDOW_SCALE) shift++;
    this.rcvShift = shift;
    this.minRtoUs = (cfg.minRtoMs ?? 200) * 1000;
    this.delackTicks = ticksFromUs((cfg.delackMs ?? 40) * 1000);
    this.timeWaitTicks = ticksFromUs((cfg.timeWaitMs ?? 60_000) * 1000);
    this.maxRetries = cfg.maxRetries ?? 15;
    this.synRetries = cfg.synRetries ?? 6;
    this.initialWindow = cfg.initialWindow ?? 10;
    this.ourMss = iface.mtu - 40;
    this.recv = new RecvBuffers(iface.pool);
    this.flows = new FlowTable(this.maxConns);
    this.work = new Int32Array(this.maxConns);
    this.nextPort = 32768 + Math.floor(Math.random() * 28232);
    this.deliverFn = (c, off, len) => this.deliver(c, off, len);
  }

  // ---- connection table -------------------------------------------------------------------------------------

  /** The live connection a handle names, or null (stale, released, or never valid). */
  connOf(handle: number): TcpConn | null {
    if (!Number.isInteger(handle) || handle < 0) return null;
    const c = this.conns[handle & HANDLE_INDEX_MASK];
    if (c === undefined || c.handle !== handle || c.state === TcpState.Closed || c.released) return null;
    return c;
  }

  /** Connection at table index `i` (timers and the work list name connections by index). */
  at(i: number): TcpConn {
    return this.conns[i];
  }

  get connectionCount(): number {
    return this.conns.length - this.freeIdx.length;
  }

  /** A fresh connection registered under the tuple, or null (table full / tuple taken). */
  newConn(lip: number, lport: number, rip: number, rport: number): TcpConn | null {
    let c: TcpConn;
    if (this.freeIdx.length > 0) c = this.conns[this.freeIdx.pop()!];
    else if (this.conns.length < this.maxConns) { c = new TcpConn(this.conns.length); this.conns.push(c); }
    else return null;
    if (!this.flows.insert(lip, lport, rip, rport, c.index)) { this.freeIdx.push(c.index); return null; }
    this.reset(c);
    c.live = true;
    c.lip = lip; c.lport = lport; c.rip = rip; c.rport = rport;
    c.addrSum = pseudoAddrSum(lip, rip);
    return c;
  }

  private reset(c: TcpConn): void {
    c.state = TcpState.Closed;
    c.cookie = 0; c.accepted = false; c.finQueued = false; c.released = false; c.finReceived = false; c.active = false;
    c.listenPort = -1; c.wsOk = false; c.finSent = false; c.finSeq = 0;
    c.sndUna = c.sndNxt = c.sndMax = c.sndWnd = c.sndWl1 = c.sndWl2 = c.maxSndWnd = 0;
    c.sndShift = 0; c.rcvShift = 0; c.mss = 536; c.tsOk = false; c.sackOk = false; c.tsRecent = 0; c.lastAckSent = 0;
    c.ackedUnreported = 0;
    c.rcvNxt = c.rcvAdv = 0;
    c.oooLast = 0; c.oooFin = false; c.oooFinSeq = 0;
    c.cwnd = 0; c.ssthresh = 0x3fffffff; c.dupAcks = 0; c.limitedTransmit = 0; c.inRecovery = false; c.recover = 0; c.bytesAcked = 0;
    c.sackN = 0; c.highRxt = 0; c.holeSeq = 0; c.rxtMark = 0; c.lastAdvance = 0; c.probeArmed = false; c.probeOut = false;
    c.srtt = 0; c.rttvar = 0; c.rto = INITIAL_RTO_US; c.rttTiming = false; c.retries = 0; c.persist = false;
    c.persistBackoff = 0;
    c.tRtx = c.tDelack = c.tWait = TIMER_NONE;
    c.ackPending = 0; c.ackNow = false;
  }

  /** Frees a connection: timers, buffers, table entry. Its handle stops working. */
  free(c: TcpConn): void {
    if (!c.live) return;
    c.live = false;
    this.wheel.cancel(c.tRtx); this.wheel.cancel(c.tDelack); this.wheel.cancel(c.tWait);
    c.tRtx = c.tDelack = c.tWait = TIMER_NONE;
    if (c.state === TcpState.SynReceived && c.listenPort >= 0) {
      const l = this.listeners.get(c.listenPort);
      if (l !== undefined && l.synReceived > 0) l.synReceived--;
    }
    this.flows.remove(c.lip, c.lport, c.rip, c.rport);
    this.recv.freeAll(c);
    sqClear(c);
    c.state = TcpState.Closed;
    c.gen = (c.gen + 1) & 0x3ff;
    this.freeIdx.push(c.index);
  }

  /** The connection is over for the app: report `dead` once (unless the app already let go of it). */
  die(c: TcpConn, reason: number): void {
    if (!c.released) {
      c.released = true;
      if (c.ackedUnreported > 0 && c.accepted) {
        // Data acknowledged by the same segment that ended the connection: report it before `dead`.
        this.events.push(EventKind.Sent, c.handle, c.cookie, c.ackedUnreported, 0, 0, 0, -1);
        c.ackedUnreported = 0;
      }
      if (c.active && c.state === TcpState.SynSent) {
        this.events.push(EventKind.Connected, c.handle, c.cookie, reason, 0, 0, 0, -1);
      } else {
        this.events.push(EventKind.Dead, c.handle, c.cookie, reason, 0, 0, 0, -1);
      }
    }
  }

  // ---- calls (the application's side; each returns a result code, see api/codes.ts) --------------------------

  listen(port: number, backlog = 128): number {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !(backlog >= 1)) return ApiError.Invalid;
    if (this.listeners.has(port)) return ApiError.InUse;
    this.listeners.set(port, new Listener(port, backlog));
    return 0;
  }

  unlisten(port: number): number {
    return this.listeners.delete(port) ? 0 : ApiError.Invalid;
  }

  /** Active open (RFC 9293 §3.10.1). Returns the handle; the `connected` event tells the outcome. */
  connect(rip: number, rport: number, cookie: number): number {
    if (!Number.isInteger(rport) || rport < 1 || rport > 65535 || !Number.isInteger(rip)) return ApiError.Invalid;
    rip |= 0;
    const lip = this.iface.sourceFor(rip);
    let c: TcpConn | null = null;
    for (let tries = 0; tries < 28232 && c === null; tries++) {
      const lport = this.nextPort;
      this.nextPort = lport === 60999 ? 32768 : lport + 1;
      if (this.listeners.has(lport) || this.flows.lookup(lip, lport, rip, rport) >= 0) continue;
      if (this.portFilter !== null && !this.portFilter(lip, lport, rip, rport)) continue;
      c = this.newConn(lip, lport, rip, rport);
      if (c === null && this.connectionCount >= this.maxConns) return ApiError.NoMemory;
    }
    if (c === null) return ApiError.InUse;
    this.counters.activeOpens++;
    c.active = true;
    c.accepted = true;
    c.cookie = cookie | 0;
    c.state = TcpState.SynSent;
    c.iss = this.newIsn(c);
    c.sndUna = c.iss;
    c.sndNxt = c.sndMax = (c.iss + 1) | 0;
    c.recover = c.iss; // RFC 6582 §3.2 step 1
    c.rcvShift = this.rcvShift;
    this.sendSyn(c, false);
    this.armRtx(c);
    return c.handle;
  }

  accept(handle: number, cookie: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (c.accepted) return ApiError.Invalid;
    c.accepted = true;
    c.cookie = cookie | 0;
    // Data (and a FIN) that arrived before the app took the connection is reported now.
    for (let id = c.heldHead; id >= 0; id = this.recv.next[id]) {
      this.events.push(EventKind.Recv, c.handle, c.cookie, this.recv.off[id], this.recv.len[id], 0, 0, -1);
    }
    if (c.finReceived) this.events.push(EventKind.Recv, c.handle, c.cookie, 0, 0, 0, 0, -1);
    return 0;
  }

  /** Refuses a knocked connection: RST, and the handle is gone. */
  reject(handle: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (c.accepted) return ApiError.Invalid;
    return this.abort(handle);
  }

  /**
   * Queues `data[off, off+len)` to send. Returns the bytes taken (up to the send buffer's room; 0 < taken ≤ len) or
   * an error; the app must leave those bytes untouched until `sent` events have acknowledged them.
   */
  sendv(handle: number, data: Uint8Array, off: number, len: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > data.length) return ApiError.Invalid;
    if (c.finQueued || !(c.state === TcpState.Established || c.state === TcpState.CloseWait)) return ApiError.Closed;
    if (!c.accepted) return ApiError.Invalid;
    if (len === 0) return 0;
    const room = this.sndBuf - c.sqBytes;
    if (room <= 0 || !sqCanPush(c, data, off)) return ApiError.Again;
    const n = len < room ? len : room;
    sqPush(c, data, off, n);
    this.touch(c);
    return n;
  }

  /** The app is done with `len` bytes of received data (in order): their buffers go back, the window opens. */
  recvDone(handle: number, len: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (!Number.isInteger(len) || len < 0) return ApiError.Invalid;
    if (len > c.heldBytes) return ApiError.Overrun;
    if (len === 0) return 0;
    const before = this.windowAvail(c);
    this.recv.consume(c, len);
    // RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): announce only a worthwhile increase.
    const grow = this.windowAvail(c) - before;
    if (grow > 0 && this.windowGrowth(c) >= this.windowUpdateThreshold(c)) { c.ackNow = true; this.touch(c); }
    return 0;
  }

  /** Graceful close (RFC 9293 §3.10.4): a FIN follows the queued data; receiving continues until the peer's FIN. */
  close(handle: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (c.finQueued) return ApiError.Closed;
    if (!c.accepted) return ApiError.Invalid;
    switch (c.state) {
      case TcpState.SynSent:
        // Not connected yet: nothing to flush. The app still gets its one `dead` per close(), as for any other state.
        this.sendRstFor(c);
        c.released = true;
        this.events.push(EventKind.Dead, c.handle, c.cookie, DeathReason.Closed, 0, 0, 0, -1);
        this.free(c);
        return 0;
      case TcpState.SynReceived: case TcpState.Established: c.state = TcpState.FinWait1; break;
      case TcpState.CloseWait: c.state = TcpState.LastAck; break;
      default: return ApiError.Closed;
    }
    c.finQueued = true;
    this.touch(c);
    return 0;
  }

  /** Abortive close: RST now; the handle is gone when this returns (no `dead` event). */
  abort(handle: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (c.state !== TcpState.SynSent) this.sendRstFor(c);
    c.released = true;
    this.free(c);
    return 0;
  }

  /** Drops every connection with a RST (stack shutdown). */
  shutdown(): void {
    for (const c of this.conns) {
      if (c.state === TcpState.Closed) continue;
      if (c.state !== TcpState.TimeWait && c.state !== TcpState.SynSent) this.sendRstFor(c);
      c.released = true;
      this.free(c);
    }
  }

  /** Buffers held by connections (received data), for mempool accounting. */
  get buffersHeld(): number {
    let n = 0;
    for (const c of this.conns) if (c.state !== TcpState.Closed) n += c.heldBufs + c.oooBufs;
    return n;
  }

  // ---- the work list and output ------------------------------------------------------------------------------

  /** Puts `c` on the work list (output runs for it at the next flush). */
  touch(c: TcpConn): void {
    if (!c.inWork) { c.inWork = true; this.work[this.workCount++] = c.index; }
  }

  /** Runs output for every connection touched since the last flush; reports `sent` events. */
  flush(): void {
    for (let i = 0; i < this.workCount; i++) {
      const c = this.conns[this.work[i]];
      c.inWork = false;
      if (c.state === TcpState.Closed) continue;
      if (c.ackedUnreported > 0) {
        if (!c.released && c.accepted) {
          this.events.push(EventKind.Sent, c.handle, c.cookie, c.ackedUnreported, this.sndBuf - c.sqBytes, 0, 0, -1);
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
      if (c.ackNow && st !== TcpState.SynSent && st !== TcpState.Closed) this.sendAck(c);
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
        const fin = c.finQueued && len === unsent;
        if (fin) { c.finSent = true; c.finSeq = dataEnd; }
        this.sendData(c, c.sndNxt, len, fin);
        c.sndNxt = (c.sndNxt + len + (fin ? 1 : 0)) | 0;
        if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
        sent = true;
        continue;
      }
      if (unsent === 0 && c.finQueued && c.sndNxt === dataEnd) {
        c.finSent = true;
        c.finSeq = dataEnd;
        this.sendData(c, c.sndNxt, 0, true);
        c.sndNxt = (c.sndNxt + 1) | 0;
        if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
        sent = true;
      }
      break;
    }
    if (sent) {
      // Data left: the timer now guards it as a retransmission timer (a pending persist timer is re-armed as one).
      if (c.persist) { c.persist = false; this.armRtx(c); } else if (!this.wheel.isPending(c.tRtx)) this.armRtx(c);
    } else if (c.ackNow) {
      this.sendAck(c);
    } else if (c.ackPending > 0 && c.tDelack === TIMER_NONE) {
      c.tDelack = this.wheel.add(this.clock.tick + this.delackTicks, TimerKind.TcpDelack, c.index);
    }
    // Zero window with data waiting and nothing in flight: probe when the timer fires (RFC 9293 §3.8.6.1).
    if (c.sndWnd === 0 && seqDiff(dataEnd, c.sndNxt) > 0 && c.sndNxt === c.sndUna && !this.wheel.isPending(c.tRtx)) {
      c.persist = true;
      c.persistBackoff = c.rto;
      this.armTimer(c, c.persistBackoff);
    }
  }

  /** Window we can offer now: receive buffer minus data held for the app and out of order. */
  windowAvail(c: TcpConn): number {
    const a = this.rcvBuf - c.heldBytes - c.oooBytes;
    return a > 0 ? a : 0;
  }

  /** How far the right edge could move beyond what we advertised. */
  private windowGrowth(c: TcpConn): number {
    return this.windowAvail(c) - seqDiff(c.rcvAdv, c.rcvNxt);
  }

  private windowUpdateThreshold(c: TcpConn): number {
    const half = this.rcvBuf >> 1;
    const two = this.ourMss * 2;
    return half < two ? half : two;
  }

  /** The window field for an outgoing segment; moves rcvAdv (never left, RFC 9293 §3.8.6.2.2). */
  private windowField(c: TcpConn): number {
    let avail = this.windowAvail(c);
    const most = 0xffff << c.rcvShift; // without window scaling the field says at most 65535 (RFC 7323 §2.3)
    if (avail > most) avail = most;
    const adv = seqDiff(c.rcvAdv, c.rcvNxt);
    if (avail > adv && (avail - adv >= this.windowUpdateThreshold(c) || adv <= 0 || avail === most || avail === this.rcvBuf)) {
      const w = avail >> c.rcvShift;
      c.rcvAdv = (c.rcvNxt + (w << c.rcvShift)) | 0;
      return w > 0xffff ? 0xffff : w;
    }
    const w = adv > 0 ? adv >> c.rcvShift : 0;
    return w > 0xffff ? 0xffff : w;
  }

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
    const wnd = this.windowField(c);
    emitTcp(b, off, c.lport, c.rport, seq, c.rcvNxt, flags, wnd, optLen, len, c.addrSum);
    iface.sendIpv4(id, c.lip, c.rip, IpProtocol.Tcp, TCP_HEADER_LEN + optLen + len);
    this.counters.segmentsOut++;
    if ((flags & TcpFlag.Ack) !== 0) {
      c.lastAckSent = c.rcvNxt;
      c.ackPending = 0;
      c.ackNow = false;
      if (c.tDelack !== TIMER_NONE) { this.wheel.cancel(c.tDelack); c.tDelack = TIMER_NONE; }
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
    o.mss = this.ourMss;
    if (ws) { o.hasWindowScale = true; o.windowScale = this.rcvShift; }
    o.sackPermitted = sack;
    if (ts) { o.hasTimestamps = true; o.tsVal = tsval; o.tsEcr = tsecr; }
    const optLen = emitTcpOptions(b, off + TCP_HEADER_LEN, o);
    const wnd = this.rcvBuf > 0xffff ? 0xffff : this.rcvBuf; // RFC 7323 §2.2: a SYN's window is never scaled
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

  /** RFC 6528: ISN = M + F(tuple, secret), M a 4 µs clock. */
  newIsn(c: TcpConn): number {
    const k = this.isnKey;
    return (hsiphash4(k[0], k[1], c.lip, (c.lport << 16) | c.rport, c.rip, k[2]) + Math.floor(this.clock.us / 4)) | 0;
  }

  // ---- receive-side helpers used by tcp-input.ts ---------------------------------------------------------------

  /** New in-order data at `off` in the pool's bytes: report it (if the app has the connection) and ACK it. */
  deliver(c: TcpConn, off: number, len: number): void {
    if (c.accepted && !c.released) this.events.push(EventKind.Recv, c.handle, c.cookie, off, len, 0, 0, -1);
  }

  // ---- retransmission and timers -------------------------------------------------------------------------------

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
        this.retransmitFirst(c);
      } else {
        const len = flight < c.mss ? flight : c.mss;
        this.counters.retransmits++;
        c.rttTiming = false;
        this.sendData(c, (c.sndMax - len) | 0, len, false);
      }
    }
    this.armTimer(c, c.rto);
  }

  private armTimer(c: TcpConn, us: number): void {
    const due = this.clock.tick + ticksFromUs(us) + 1;
    if (!this.wheel.reschedule(c.tRtx, due)) c.tRtx = this.wheel.add(due, TimerKind.TcpRtx, c.index);
  }

  stopRtx(c: TcpConn): void {
    this.wheel.cancel(c.tRtx);
    c.tRtx = TIMER_NONE;
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
    if (rto < this.minRtoUs) rto = this.minRtoUs;
    if (rto > MAX_RTO_US) rto = MAX_RTO_US;
    // Whole µs: a fraction would make the field a double, boxed (allocated) each time it is passed to armTimer.
    c.rto = Math.ceil(rto);
  }

  /** The wheel's callback for TCP timers. */
  onTimer(kind: number, index: number, handle: number): void {
    const c = this.conns[index];
    if (c === undefined || c.state === TcpState.Closed) return;
    if (kind === TimerKind.TcpDelack) {
      if (c.tDelack !== handle) return;
      c.tDelack = TIMER_NONE;
      if (c.ackPending > 0) { c.ackNow = true; this.touch(c); }
    } else if (kind === TimerKind.TcpWait) {
      if (c.tWait !== handle) return;
      c.tWait = TIMER_NONE;
      this.free(c);
    } else if (kind === TimerKind.TcpRtx) {
      if (c.tRtx !== handle) return;
      c.tRtx = TIMER_NONE;
      if (c.probeArmed && !c.persist) this.lossProbe(c);
      else this.retransmitTimeout(c);
    }
  }

  /** RFC 6298 §5.4–5.7 and RFC 5681 §3.1 (eq. 4): back off, collapse cwnd, resend from SND.UNA. */
  private retransmitTimeout(c: TcpConn): void {
    if (c.persist) {
      // Zero-window probe (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): a segment the receiver must answer with its current
      // window — as Linux does, an ACK one below SND.UNA, so no sequence space is used and nothing needs
      // retransmitting. The connection stays open as long as probes are answered; unanswered ones count as retries.
      const dataEnd = (c.sndUna + c.sqBytes) | 0;
      if (c.sndWnd !== 0 || seqDiff(dataEnd, c.sndNxt) <= 0) { c.persist = false; this.touch(c); return; }
      if (++c.retries > this.maxRetries) {
        this.counters.timeouts++;
        this.sendRstFor(c);
        this.die(c, DeathReason.TimedOut);
        this.free(c);
        return;
      }
      this.counters.windowProbes++;
      this.sendSegment(c, (c.sndUna - 1) | 0, TcpFlag.Ack, 0);
      c.persistBackoff = c.persistBackoff * 2 > MAX_RTO_US ? MAX_RTO_US : c.persistBackoff * 2;
      this.armTimer(c, c.persistBackoff);
      return;
    }
    const syn = c.state === TcpState.SynSent || c.state === TcpState.SynReceived;
    c.retries++;
    if (c.retries > (syn ? this.synRetries : this.maxRetries)) {
      this.counters.timeouts++;
      if (c.state !== TcpState.SynSent) this.sendRstFor(c);
      this.die(c, DeathReason.TimedOut);
      this.free(c);
      return;
    }
    this.counters.retransmits++;
    this.counters.rtoExpirations++;
    c.rto = c.rto * 2 > MAX_RTO_US ? MAX_RTO_US : c.rto * 2;
    c.rttTiming = false;
    if (syn) {
      if (c.state === TcpState.SynSent) this.sendSyn(c, false); else this.sendSyn(c, true);
      this.armRtx(c);
      return;
    }
    const flight = seqDiff(c.sndMax, c.sndUna);
    const half = flight >> 1;
    c.ssthresh = half > 2 * c.mss ? half : 2 * c.mss;
    c.cwnd = c.mss;
    c.inRecovery = false;
    c.dupAcks = 0;
    c.limitedTransmit = 0;
    c.recover = c.sndMax;
    c.sndNxt = c.sndUna;
    c.highRxt = c.sndUna;
    sackClear(c); // RFC 6675 §5.1: after a timeout the receiver may have reneged; start over
    this.output(c);
    if (!this.wheel.isPending(c.tRtx)) this.armRtx(c);
  }

  /** Enter TIME-WAIT (RFC 9293 §3.10.7.4): the connection is over for the app; the tuple is kept for 2 MSL. */
  enterTimeWait(c: TcpConn): void {
    c.state = TcpState.TimeWait;
    this.stopRtx(c);
    this.die(c, DeathReason.Closed);
    const due = this.clock.tick + this.timeWaitTicks;
    if (!this.wheel.reschedule(c.tWait, due)) c.tWait = this.wheel.add(due, TimerKind.TcpWait, c.index);
  }

  /** Slow start and congestion avoidance for `acked` new bytes (RFC 5681 §3.1, RFC 3465 byte counting, L = 1 SMSS). */
  growCwnd(c: TcpConn, acked: number): void {
    if (c.cwnd < c.ssthresh) {
      c.cwnd += acked < c.mss ? acked : c.mss;
    } else {
      c.bytesAcked += acked;
      if (c.bytesAcked >= c.cwnd) { c.bytesAcked -= c.cwnd; c.cwnd += c.mss; }
    }
    if (c.cwnd > 0x3fffffff) c.cwnd = 0x3fffffff;
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
      this.sendData(c, c.sndUna, len, fin);
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
    this.sendData(c, c.holeSeq, len, false);
    c.highRxt = (c.holeSeq + len) | 0;
    if (c.holeSeq === c.sndUna) c.rxtMark = c.sndMax;
    return true;
  }

  /** Initial congestion window (RFC 6928 with the RFC 5681 §3.1 rule for a lost SYN). */
  initCwnd(c: TcpConn): void {
    c.cwnd = (c.retries > 0 ? 1 : this.initialWindow) * c.mss;
  }

  /** Whether a challenge-ACK state check applies: used by tcp-input. */
  seqInWindow(c: TcpConn, seq: number): boolean {
    const wnd = seqDiff(c.rcvAdv, c.rcvNxt);
    return seqDiff(seq, c.rcvNxt) >= 0 && seqDiff(seq, c.rcvNxt) < (wnd > 0 ? wnd : 1);
  }

  /** Ours to compare with RFC 5961 §5.2's bound. */
  ackTooOld(c: TcpConn, ack: number): boolean {
    return seqLt(ack, (c.sndUna - c.maxSndWnd) | 0);
  }
}
