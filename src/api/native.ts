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
 */
import type { EventQueue } from './events.js';
import type { Stack } from '../stack/stack.js';

export class NetApi {
  constructor(private readonly stack: Stack) {}

  /** Bytes that Recv/UdpRecv offsets index (the packet buffers). */
  get bytes(): Uint8Array { return this.stack.iface.bytes; }
  /** The interface's addresses (int32). */
  get addresses(): Int32Array { return this.stack.iface.ips; }
  /** Milliseconds since the stack started, as of this loop iteration. */
  get nowMs(): number { return this.stack.clock.ms; }

  listen(port: number, backlog = 128): number { return this.stack.tcp.listen(port, backlog); }
  unlisten(port: number): number { return this.stack.tcp.unlisten(port); }
  /** Returns the new connection's handle (or an error); its `connected` event carries `cookie` and the outcome. */
  connect(ip: number, port: number, cookie: number): number { return this.stack.tcp.connect(ip, port, cookie); }
  accept(handle: number, cookie: number): number { return this.stack.tcp.accept(handle, cookie); }
  reject(handle: number): number { return this.stack.tcp.reject(handle); }
  /** Bytes taken (≤ len), or an error; `Again` when the send buffer is full (retry after `sent`). */
  sendv(handle: number, data: Uint8Array, off: number, len: number): number { return this.stack.tcp.sendv(handle, data, off, len); }
  recvDone(handle: number, len: number): number { return this.stack.tcp.recvDone(handle, len); }
  /** Graceful close (FIN after the queued data); exactly one `dead` event follows, also for a connection not yet established. */
  close(handle: number): number { return this.stack.tcp.close(handle); }
  abort(handle: number): number { return this.stack.tcp.abort(handle); }

  udpBind(port: number): number { return this.stack.udp.bind(port); }
  udpUnbind(port: number): number { return this.stack.udp.unbind(port); }
  sendTo(port: number, ip: number, remotePort: number, data: Uint8Array, off: number, len: number): number {
    return this.stack.udp.sendTo(port, ip, remotePort, data, off, len);
  }
  /** Gives back a UdpRecv event's buffer (the event's `buf`). */
  udpRecvDone(buf: number): number { return this.stack.udp.recvDone(buf); }
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
