/**
 * TCP (RFC 9293) for one elastic thread: the `Tcp` the stack holds. It builds the parts and takes the application's
 * calls; segment arrival (tcp-input.ts) reaches the parts through it, as the `TcpInputHost` it implements.
 *
 * The parts: tcp-params.ts (configuration, counters), tcp-table.ts (connections, handles, listeners), tcp-output.ts
 * (the work list, the send window, loss-recovery resends), tcp-segment.ts (building segments), tcp-window.ts (the
 * receive window), tcp-rto.ts (RTT estimate, arming timers), tcp-timers.ts (timers firing), tcp-keepalive.ts
 * (keepalive probes), tcp-congestion.ts (cwnd and ssthresh), tcp-recv.ts and tcp-send-queue.ts (the data),
 * tcp-sack.ts (the SACK scoreboard).
 *
 * Nothing here runs per packet that allocates: connections are reused objects, received data stays in its pool
 * buffers (tcp-recv.ts), data to send stays in the application's buffers (tcp-send-queue.ts), events go into the
 * EventQueue's typed arrays.
 */
import { ApiError, DeathReason } from '../../api/codes.js';
import { EventKind, type EventQueue } from '../../api/events.js';
import type { Clock } from '../clock.js';
import { hsiphash4, randomKey } from '../halfsiphash.js';
import type { IpInterface } from '../ip-interface.js';
import { SynCookies } from '../syn-cookie.js';
import type { TimerWheel } from '../timer-wheel.js';
import { type TcpConn, TcpState } from './tcp-conn.js';
import type { TcpInputHost } from './tcp-input.js';
import { Keepalive, KEEPALIVE_MAX_IDLE_MS } from './tcp-keepalive.js';
import { TcpOutput } from './tcp-output.js';
import { type TcpConfig, TcpCounters, TcpParams } from './tcp-params.js';
import { RecvBuffers } from './tcp-recv.js';
import { Rto } from './tcp-rto.js';
import { TcpSegments } from './tcp-segment.js';
import { sqCanPush, sqPush } from './tcp-send-queue.js';
import { Listener, TcpTable } from './tcp-table.js';
import { TcpTimers } from './tcp-timers.js';
import { windowAvail, windowGrowth, windowUpdateThreshold } from './tcp-window.js';

export { type TcpConfig, TcpCounters, TimerKind } from './tcp-params.js';

/**
 * Whether an outgoing connection may use local port `lport` toward `rip:rport` (addresses as int32). With several
 * threads, a port is usable only if the device steers the reply to this thread (dataplane/steering.ts).
 */
export type PortFilter = (lip: number, lport: number, rip: number, rport: number) => boolean;
export { Listener } from './tcp-table.js';

export class Tcp implements TcpInputHost {
  readonly counters = new TcpCounters();
  readonly params: TcpParams;
  readonly clock: Clock;
  readonly events: EventQueue;
  readonly recv: RecvBuffers;
  readonly cookies = new SynCookies();
  /** Accepts a local port for an outgoing connection (RSS: the reply must reach this thread). */
  readonly portFilter: PortFilter | null;
  /** Bound callback for RecvBuffers.pullInOrder, made once. */
  readonly deliverFn: (c: TcpConn, off: number, len: number) => void;

  private readonly iface: IpInterface;
  private readonly table: TcpTable;
  private readonly rto: Rto;
  private readonly seg: TcpSegments;
  private readonly out: TcpOutput;
  private readonly timers: TcpTimers;
  private readonly keepalive: Keepalive;
  private readonly isnKey = randomKey();
  private nextPort: number;

  constructor(iface: IpInterface, clock: Clock, wheel: TimerWheel, events: EventQueue, cfg: TcpConfig = {}, portFilter: PortFilter | null = null) {
    this.portFilter = portFilter;
    const p = new TcpParams(cfg, iface.mtu);
    this.params = p;
    this.iface = iface;
    this.clock = clock;
    this.events = events;
    this.recv = new RecvBuffers(iface.pool);
    this.table = new TcpTable(p.maxConns, wheel, events, this.recv);
    this.rto = new Rto(p, clock, wheel, this.table);
    this.seg = new TcpSegments(p, this.counters, iface, clock, this.recv, this.rto);
    this.out = new TcpOutput(p, this.counters, this.table, events, this.seg, this.rto);
    this.keepalive = new Keepalive(p, this.counters, clock, wheel, this.seg, this.table);
    this.timers = new TcpTimers(p, this.counters, this.table, this.rto, this.seg, this.out, this.keepalive);
    this.nextPort = 32768 + Math.floor(Math.random() * 28232);
    this.deliverFn = (c, off, len) => this.deliver(c, off, len);
  }

  get rcvBuf(): number { return this.params.rcvBuf; }
  get sndBuf(): number { return this.params.sndBuf; }
  /** Our window scale (RFC 7323 §2.2). */
  get rcvShift(): number { return this.params.rcvShift; }
  /** Our MSS (RFC 9293 §3.7.1): MTU − 40. */
  get ourMss(): number { return this.params.ourMss; }
  get listeners(): ReadonlyMap<number, Listener> { return this.table.listeners; }

  // ---- the connection table ------------------------------------------------------------------------------------

  /** The live connection a handle names, or null (stale, released, or never valid). */
  connOf(handle: number): TcpConn | null { return this.table.connOf(handle); }
  /** Connection at table index `i` (timers and the work list name connections by index). */
  at(i: number): TcpConn { return this.table.at(i); }
  get connectionCount(): number { return this.table.count; }
  /** Buffers held by connections (received data), for mempool accounting. */
  get buffersHeld(): number { return this.table.buffersHeld + this.recv.endedBuffers; }
  /** Frees the received data of connections that ended, once the app has seen the events pointing into it. */
  releaseEnded(): void { this.recv.releaseEnded(); }

  // ---- calls (the application's side; each returns a result code, see api/codes.ts) --------------------------

  listen(port: number, backlog = 128): number {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !(backlog >= 1)) return ApiError.Invalid;
    if (this.table.listeners.has(port)) return ApiError.InUse;
    this.table.listeners.set(port, new Listener(port, backlog));
    return 0;
  }

  unlisten(port: number): number {
    return this.table.listeners.delete(port) ? 0 : ApiError.Invalid;
  }

  /**
   * Active open (RFC 9293 §3.10.1) from an ephemeral port, or from `localPort` when given (the steering's port
   * filter does not apply to it). Returns the handle; the `connected` event tells the outcome.
   */
  connect(rip: number, rport: number, cookie: number, localPort?: number): number {
    if (!validPort(rport) || !Number.isInteger(rip)) return ApiError.Invalid;
    if (localPort !== undefined && !validPort(localPort)) return ApiError.Invalid;
    rip |= 0;
    const lip = this.iface.sourceFor(rip);
    const idx = localPort === undefined ? this.openEphemeral(lip, rip, rport) : this.openFrom(lip, localPort, rip, rport);
    if (idx < 0) return idx;
    const c = this.table.at(idx);
    this.counters.activeOpens++;
    c.active = true;
    c.accepted = true;
    c.cookie = cookie | 0;
    c.state = TcpState.SynSent;
    c.iss = this.newIsn(c);
    c.sndUna = c.iss;
    c.sndNxt = c.sndMax = (c.iss + 1) | 0;
    c.recover = c.iss; // RFC 6582 §3.2 step 1
    c.rcvShift = this.params.rcvShift;
    this.seg.sendSyn(c, false);
    this.rto.armRtx(c);
    return c.handle;
  }

  /** A new connection from an ephemeral port (Linux's range, 32768–60999): its table index, or an error. */
  private openEphemeral(lip: number, rip: number, rport: number): number {
    for (let tries = 0; tries < 28232; tries++) {
      const lport = this.nextPort;
      this.nextPort = lport === 60999 ? 32768 : lport + 1;
      if (this.table.listeners.has(lport) || this.table.flows.lookup(lip, lport, rip, rport) >= 0) continue;
      if (this.portFilter !== null && !this.portFilter(lip, lport, rip, rport)) continue;
      const c = this.table.newConn(lip, lport, rip, rport);
      if (c !== null) return c.index;
      if (this.table.count >= this.params.maxConns) return ApiError.NoMemory;
    }
    return ApiError.InUse;
  }

  /** A new connection from exactly `lport`: not a listening port, not a tuple in use (TIME-WAIT included). */
  private openFrom(lip: number, lport: number, rip: number, rport: number): number {
    if (this.table.listeners.has(lport) || this.table.flows.lookup(lip, lport, rip, rport) >= 0) return ApiError.InUse;
    const c = this.table.newConn(lip, lport, rip, rport);
    return c === null ? ApiError.NoMemory : c.index;
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
    const room = this.params.sndBuf - c.sqBytes;
    if (room <= 0 || !sqCanPush(c, data, off)) return ApiError.Again;
    const n = len < room ? len : room;
    sqPush(c, data, off, n);
    this.out.touch(c);
    return n;
  }

  /** The app is done with `len` bytes of received data (in order): their buffers go back, the window opens. */
  recvDone(handle: number, len: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (!Number.isInteger(len) || len < 0) return ApiError.Invalid;
    if (len > c.heldBytes) return ApiError.Overrun;
    if (len === 0) return 0;
    const p = this.params;
    const before = windowAvail(c, p);
    this.recv.consume(c, len);
    // RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): announce only a worthwhile increase.
    const grow = windowAvail(c, p) - before;
    if (grow > 0 && windowGrowth(c, p) >= windowUpdateThreshold(p)) { c.ackNow = true; this.out.touch(c); }
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
        this.seg.sendRstFor(c);
        c.released = true;
        this.events.push(EventKind.Dead, c.handle, c.cookie, DeathReason.Closed, 0, 0, 0, -1);
        this.table.free(c);
        return 0;
      case TcpState.SynReceived: case TcpState.Established: c.state = TcpState.FinWait1; break;
      case TcpState.CloseWait: c.state = TcpState.LastAck; break;
      default: return ApiError.Closed;
    }
    c.finQueued = true;
    this.out.touch(c);
    return 0;
  }

  /** Abortive close: RST now; the handle is gone when this returns (no `dead` event). */
  abort(handle: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (c.state !== TcpState.SynSent) this.seg.sendRstFor(c);
    c.released = true;
    this.table.free(c);
    return 0;
  }

  /**
   * Keepalive on or off (RFC 1122 §4.2.3.6): after `idleMs` without a segment from the peer (0: keep the current
   * idle time, initially `TcpConfig.keepaliveIdleMs`), probes every keepaliveIntervalMs; keepaliveProbes unanswered
   * ones end the connection (`dead`, TimedOut).
   */
  setKeepAlive(handle: number, enable: boolean, idleMs: number): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (typeof enable !== 'boolean' || !(idleMs >= 0 && idleMs <= KEEPALIVE_MAX_IDLE_MS)) return ApiError.Invalid;
    if (!c.accepted) return ApiError.Invalid;
    if (enable) this.keepalive.start(c, idleMs); else this.keepalive.stop(c);
    return 0;
  }

  /** Nagle's algorithm off (`noDelay`, the default) or on (RFC 896, RFC 1122 §4.2.3.4; tcp-output.ts). */
  setNoDelay(handle: number, noDelay: boolean): number {
    const c = this.connOf(handle);
    if (c === null) return ApiError.BadHandle;
    if (typeof noDelay !== 'boolean' || !c.accepted) return ApiError.Invalid;
    c.nagle = !noDelay;
    if (noDelay) this.out.touch(c); // what Nagle held back leaves at the next flush, as with Linux's TCP_NODELAY
    return 0;
  }

  /** Drops every connection with a RST (stack shutdown). */
  shutdown(): void {
    for (let i = 0; i < this.table.size; i++) {
      const c = this.table.at(i);
      if (c.state === TcpState.Closed) continue;
      if (c.state !== TcpState.TimeWait && c.state !== TcpState.SynSent) this.seg.sendRstFor(c);
      c.released = true;
      this.table.free(c);
    }
  }

  /** Builds the segments of every connection touched since the last flush (tcp-output.ts); reports `sent` events. */
  flush(): void { this.out.flush(); }

  /** The wheel's callback for TCP timers (tcp-timers.ts). */
  onTimer(kind: number, index: number, handle: number): void { this.timers.onTimer(kind, index, handle); }

  /** RFC 6528: ISN = M + F(tuple, secret), M a 4 µs clock. */
  newIsn(c: TcpConn): number {
    const k = this.isnKey;
    return (hsiphash4(k[0], k[1], c.lip, (c.lport << 16) | c.rport, c.rip, k[2]) + Math.floor(this.clock.us / 4)) | 0;
  }

  // ---- TcpInputHost: what segment arrival uses (tcp-input.ts) ---------------------------------------------------

  lookup(lip: number, lport: number, rip: number, rport: number): TcpConn | null {
    const idx = this.table.flows.lookup(lip, lport, rip, rport);
    return idx < 0 ? null : this.table.at(idx);
  }
  listener(port: number): Listener | undefined { return this.table.listeners.get(port); }
  newConn(lip: number, lport: number, rip: number, rport: number): TcpConn | null {
    return this.table.newConn(lip, lport, rip, rport);
  }
  free(c: TcpConn): void { this.table.free(c); }
  die(c: TcpConn, reason: number): void { this.table.die(c, reason); }
  dropBuffer(id: number): void { this.iface.pool.free(id); }
  /** New in-order data at `off` in the pool's bytes: report it (if the app has the connection). */
  deliver(c: TcpConn, off: number, len: number): void {
    if (c.accepted && !c.released) this.events.push(EventKind.Recv, c.handle, c.cookie, off, len, 0, 0, -1);
  }
  touch(c: TcpConn): void { this.out.touch(c); }
  retransmitFirst(c: TcpConn): void { this.out.retransmitFirst(c); }
  retransmitHole(c: TcpConn): boolean { return this.out.retransmitHole(c); }
  sendAck(c: TcpConn): void { this.seg.sendAck(c); }
  sendSyn(c: TcpConn, ack: boolean): void { this.seg.sendSyn(c, ack); }
  sendRst(lip: number, lport: number, rip: number, rport: number, seq: number, ack: number, withAck: boolean): void {
    this.seg.sendRst(lip, lport, rip, rport, seq, ack, withAck);
  }
  sendCookieSynAck(
    lip: number, lport: number, rip: number, rport: number, isn: number, rcvNxt: number, wsOk: boolean, sackOk: boolean,
    tsOk: boolean, tsval: number, tsecr: number,
  ): void {
    this.seg.sendCookieSynAck(lip, lport, rip, rport, isn, rcvNxt, wsOk, sackOk, tsOk, tsval, tsecr);
  }
  challengeAck(c: TcpConn): void { this.seg.challengeAck(c); }
  armRtx(c: TcpConn): void { this.rto.armRtx(c); }
  stopRtx(c: TcpConn): void { this.rto.stopRtx(c); }
  rttSample(c: TcpConn): void { this.rto.rttSample(c); }
  enterTimeWait(c: TcpConn): void { this.rto.enterTimeWait(c); }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}
