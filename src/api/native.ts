/**
 * The native zero-copy API (IX's, in TypeScript): what an application gets from the dataplane.
 *
 * Calls down are methods that return a result code at once (api/codes.ts) — a bad handle, a closed connection or
 * a full send buffer is reported, never thrown; their packets are built in one batch at the loop's "calls" step.
 * Events up arrive as one `EventQueue` per loop iteration (api/events.ts), read in order by `App.onEvents`.
 *
 * Ownership: `recv` data lives in packet buffers until `recvDone(handle, n)` releases its first n bytes (in order);
 * bytes given to `sendv` belong to the stack until `sent` events have acknowledged them — the app must not
 * change them before. IPv4 addresses are int32 (`parseIpv4`, `formatIpv4`).
 *
 * This is the contract; stack/ implements it (`stack.api`).
 */
import type { EventQueue } from './events.js';

export interface NetApi {
  /** Bytes that Recv/UdpRecv offsets index (the packet buffers). */
  readonly bytes: Uint8Array;
  /** The interface's addresses (int32). */
  readonly addresses: Int32Array;
  /** Milliseconds since the stack started, as of this loop iteration. */
  readonly nowMs: number;

  listen(port: number, backlog?: number): number;
  unlisten(port: number): number;
  /** Returns the new connection's handle (or an error); its `connected` event carries `cookie` and the outcome. */
  connect(ip: number, port: number, cookie: number): number;
  accept(handle: number, cookie: number): number;
  reject(handle: number): number;
  /** Bytes taken (≤ len), or an error; `Again` when the send buffer is full (retry after `sent`). */
  sendv(handle: number, data: Uint8Array, off: number, len: number): number;
  recvDone(handle: number, len: number): number;
  /** Graceful close (FIN after the queued data); exactly one `dead` event follows, also for a connection not yet established. */
  close(handle: number): number;
  abort(handle: number): number;

  udpBind(port: number): number;
  udpUnbind(port: number): number;
  sendTo(port: number, ip: number, remotePort: number, data: Uint8Array, off: number, len: number): number;
  /** Gives back a UdpRecv event's buffer (the event's `buf`). */
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
}
