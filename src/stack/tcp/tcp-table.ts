/**
 * The connection table: reused `TcpConn` objects indexed by the low bits of their handles, the flow table that
 * finds them by tuple, the listening ports, and the end of a connection (`die` for the app, `free` for the table).
 */
import { EventKind, type EventQueue } from '../../api/events.js';
import { pseudoAddrSum } from '../../wire/index.js';
import { FlowTable } from '../flow-table.js';
import { TIMER_NONE, type TimerWheel } from '../timer-wheel.js';
import { HANDLE_INDEX_MASK, TcpConn, TcpState } from './tcp-conn.js';
import type { RecvBuffers } from './tcp-recv.js';
import { sqClear } from './tcp-send-queue.js';

/** RFC 6298 §2.1: the RTO before any RTT sample. */
export const INITIAL_RTO_US = 1_000_000;

export class Listener {
  synReceived = 0;
  constructor(readonly port: number, readonly backlog: number) {}
}

export class TcpTable {
  readonly flows: FlowTable;
  readonly listeners = new Map<number, Listener>();
  private readonly conns: TcpConn[] = [];
  private readonly freeIdx: number[] = [];

  constructor(
    readonly maxConns: number, private readonly wheel: TimerWheel, private readonly events: EventQueue,
    private readonly recv: RecvBuffers,
  ) {
    this.flows = new FlowTable(maxConns);
  }

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

  /** Connection objects made so far (live or not): indexes below this are valid for `at`. */
  get size(): number {
    return this.conns.length;
  }

  get count(): number {
    return this.conns.length - this.freeIdx.length;
  }

  /** A fresh connection registered under the tuple, or null (table full / tuple taken). */
  newConn(lip: number, lport: number, rip: number, rport: number): TcpConn | null {
    let c: TcpConn;
    if (this.freeIdx.length > 0) c = this.conns[this.freeIdx.pop()!];
    else if (this.conns.length < this.maxConns) { c = new TcpConn(this.conns.length); this.conns.push(c); }
    else return null;
    if (!this.flows.insert(lip, lport, rip, rport, c.index)) { this.freeIdx.push(c.index); return null; }
    reset(c);
    c.live = true;
    c.lip = lip; c.lport = lport; c.rip = rip; c.rport = rport;
    c.addrSum = pseudoAddrSum(lip, rip);
    return c;
  }

  /** Frees a connection: timers, buffers, table entry. Its handle stops working. */
  free(c: TcpConn): void {
    if (!c.live) return;
    c.live = false;
    this.wheel.cancel(c.tRtx); this.wheel.cancel(c.tDelack); this.wheel.cancel(c.tWait); this.wheel.cancel(c.tKeepalive);
    c.tRtx = c.tDelack = c.tWait = c.tKeepalive = TIMER_NONE;
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
        this.events.push(EventKind.Connected, c.handle, c.cookie, reason, c.lport, 0, 0, -1);
      } else {
        this.events.push(EventKind.Dead, c.handle, c.cookie, reason, 0, 0, 0, -1);
      }
    }
  }

  /** Buffers held by connections (received data), for mempool accounting. */
  get buffersHeld(): number {
    let n = 0;
    for (const c of this.conns) if (c.state !== TcpState.Closed) n += c.heldBufs + c.oooBufs;
    return n;
  }
}

/** A reused connection object back to the state of a new one (RFC 9293 §3.3.1's TCB, nothing known yet). */
function reset(c: TcpConn): void {
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
  c.nagle = false; c.keepalive = false; c.kaIdleMs = 0; c.kaHeardTick = 0; c.kaProbes = 0;
  c.tRtx = c.tDelack = c.tWait = c.tKeepalive = TIMER_NONE;
  c.ackPending = 0; c.ackNow = false;
}
