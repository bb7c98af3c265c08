/**
 * The native zero-copy API (IX's, in TypeScript): what an application gets from the dataplane.
 *
 * Calls down are methods that return a result code at once (api/codes.ts) — a bad handle, a closed connection or
 * a full send buffer is reported, never thrown; their packets are built in one batch after `App.onEvents` returns
 * (`Stack.flush`), so they leave in the iteration that delivered the events.
 * Events up arrive as one `EventQueue` per loop iteration (api/events.ts), read in order by `App.onEvents`.
 *
 * Ownership (docs/api-ownership.md has the whole table and the lifetime diagrams):
 *
 * ```
 * Recv(h, off, len)  ─▶ bytes[off, off+len) are the stack's, lent to the app ─▶ recvDone(h, n): first n bytes, in order
 * sendv(h, d, o, l)→t ─▶ d[o, o+t) referenced by the stack, app must not change ─▶ Sent(h, acked) events add up to t
 * UdpRecv(…, buf)     ─▶ the datagram's packet buffer is the stack's, lent ─▶ udpRecvDone(buf), any order
 * sendTo(…)           ─▶ copied into a frame before it returns
 * ```
 *
 * IPv4 addresses are int32 (`parseIpv4`, `formatIpv4`). This is the contract; stack/ implements it (`stack.api`).
 */
import type { EventQueue } from './events.js';

/**
 * The calls an app makes on its stack (`stack.api`). Each returns at once: a non-negative value (0, or the bytes
 * `sendv` took) or a negative `ApiError` code; nothing is thrown. The packets the calls ask for are built after
 * the app's `onEvents` returns and leave in the same loop iteration.
 *
 * Buffer ownership — received data is read in place, data to send is referenced, not copied:
 * - `Recv` data stays in its packet buffer, the stack's, until `recvDone` releases it, in arrival order; until then
 *   it counts against the receive window.
 * - Bytes given to `sendv` stay referenced by the stack until `Sent` events have acknowledged them; the app must
 *   not change them before (retransmissions read them again).
 * - A `UdpRecv` datagram's buffer stays out of the pool until `udpRecvDone(buf)`.
 * - When a connection ends the stack frees what it held for it, possibly in the same iteration as its last `Recv`.
 *
 * [Buffer ownership](../../docs/api-ownership.md) has the table and the lifetime diagrams.
 */
export interface NetApi {
  /** Bytes that Recv/UdpRecv offsets index (the packet buffers). */
  readonly bytes: Uint8Array;
  /** The interface's addresses (int32). */
  readonly addresses: Int32Array;
  /** Milliseconds since the stack started, as of this loop iteration. */
  readonly nowMs: number;

  listen(port: number, backlog?: number): number;
  unlisten(port: number): number;
  /**
   * Active open (RFC 9293 §3.10.1). Returns the new connection's handle (or an error); its `connected` event carries
   * `cookie` and the outcome.
   *
   * The local port is an ephemeral one (32768–60999) unless `localPort` (1–65535, else `Invalid`) names it: then
   * exactly that port is used, and `InUse` is returned when a listener holds it or the 4-tuple is taken (a live
   * connection or one in TIME-WAIT). With several threads an ephemeral port is chosen so that the peer's replies
   * reach this thread (the steering's port filter: the RSS hash, or the thread's share of the ports); an explicit
   * `localPort` is not checked against it, so its replies may arrive at another thread, which has no such
   * connection and resets it.
   */
  connect(ip: number, port: number, cookie: number, localPort?: number): number;
  accept(handle: number, cookie: number): number;
  reject(handle: number): number;
  /**
   * Queues `data[off, off+len)` for sending without copying it. Returns the bytes taken (t ≤ len), or an error;
   * `Again` when the send buffer is full (retry after `Sent`). The stack references `data[off, off+t)` until `Sent`
   * events have acknowledged those t bytes: the app must not change them before.
   */
  sendv(handle: number, data: Uint8Array, off: number, len: number): number;
  /**
   * Releases the first `len` bytes of received data not yet released on this connection (in arrival order, across
   * `Recv` events; part of an event is fine): their buffers go back to the pool and the window reopens.
   * `Overrun` if that is more than was delivered.
   */
  recvDone(handle: number, len: number): number;
  /** Graceful close (FIN after the queued data); exactly one `dead` event follows, also for a connection not yet established. */
  close(handle: number): number;
  abort(handle: number): number;
  /**
   * TCP keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4), off by default. With `enable`, once the connection has
   * received nothing for `idleMs` it sends a probe — SEG.SEQ = SND.NXT − 1 and no data, as Linux does — which a live
   * peer answers with an ACK (RFC 9293 §3.10.7.4); then one every `TcpConfig.keepaliveIntervalMs` (75 s) while they
   * go unanswered, and after `TcpConfig.keepaliveProbes` (9) unanswered probes the connection is reset (RST, as
   * Linux does) and dies as any timed-out connection: a `dead` event with `DeathReason.TimedOut`. Any segment
   * received restarts the idle time. No probe goes out while data or a FIN is unacknowledged: the retransmission
   * timer watches the peer then (RFC 9293 §3.8.3).
   *
   * `idleMs` (≥ 0, fractions round up): 0 keeps the connection's current idle time, which starts as
   * `TcpConfig.keepaliveIdleMs` (2 h) — Node's `setKeepAlive(true, 0)`. Idle time counts from the last segment
   * received while keepalive was on, or from the call when it was off. `enable` false stops probing (the idle time
   * is kept). Returns 0, `BadHandle`, or `Invalid` (a non-boolean `enable`, `idleMs` out of range, a knocked
   * connection not yet accepted).
   */
  setKeepAlive(handle: number, enable: boolean, idleMs: number): number;
  /**
   * Nagle's algorithm (RFC 896; RFC 9293 §3.7.4, RFC 1122 §4.2.3.4) off (`noDelay` true, the default: every
   * segment leaves at once, as with TCP_NODELAY) or on (`noDelay` false): while sent data is unacknowledged, queued
   * data smaller than a segment (MSS) waits until everything sent is acknowledged or a full segment's worth has
   * gathered; `close` lets the tail go with the FIN. Turning it off sends what it held at once. Returns 0,
   * `BadHandle`, or `Invalid` (a non-boolean `noDelay`, a knocked connection not yet accepted).
   */
  setNoDelay(handle: number, noDelay: boolean): number;

  udpBind(port: number): number;
  udpUnbind(port: number): number;
  /** Copies `data[off, off+len)` into a datagram at once (the bytes are the app's again when it returns); ≤ MTU − 28. */
  sendTo(port: number, ip: number, remotePort: number, data: Uint8Array, off: number, len: number): number;
  /** Gives back a UdpRecv event's buffer (the event's `buf`), in any order; until then its data stays readable. */
  udpRecvDone(buf: number): number;
}

/** An application on the dataplane: it sees each iteration's events and answers with calls. */
export interface App {
  /** Called once when the dataplane is up, before the first packet. */
  start(api: NetApi): void;
  /** Called with the iteration's events (only when there are some). */
  onEvents(ev: EventQueue, api: NetApi): void;
  /** True when the app has nothing more to do (the loop stops). */
  readonly finished: boolean;
  /**
   * Set (in `onEvents`) to make the loop return to Node's event loop after this iteration, so that the promise jobs,
   * `process.nextTick` callbacks and stream events its events caused run now rather than at the end of the slice
   * (up to 1 ms later). The loop clears it. Apps that do all their work in `onEvents` leave it unset.
   */
  yieldNow?: boolean;
  /**
   * False: the loop's own timers do not keep Node's process alive (they are unref'd); the app holds the process by
   * other means when it should (ixy.ts/net: a timer ref'd while a server or socket is, as `node:net`'s handles are).
   * Absent means true.
   */
  readonly refed?: boolean;
}
