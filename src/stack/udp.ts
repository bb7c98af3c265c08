/**
 * UDP (RFC 768): ports the app binds, datagrams up as `UdpRecv` events that point into their packet buffer (kept
 * until `recvDone`), datagrams down copied into a frame at once (UDP keeps nothing to retransmit).
 */
import { ApiError } from '../api/codes.js';
import { EventKind, type EventQueue } from '../api/events.js';
import { copyBytes } from '../wire/bytes.js';
import { emitUdp, IpProtocol, pseudoAddrSum, UDP_HEADER_LEN, type UdpView } from '../wire/index.js';
import type { IpInterface } from './ip-interface.js';

export class UdpCounters {
  datagramsIn = 0;
  datagramsOut = 0;
  noPort = 0;
}

export class Udp {
  readonly counters = new UdpCounters();
  private readonly bound = new Set<number>();
  /** 1 for a buffer the app holds from a UdpRecv event. */
  private readonly held: Uint8Array;
  private heldCount = 0;

  constructor(private readonly iface: IpInterface, private readonly events: EventQueue) {
    this.held = new Uint8Array(iface.pool.count);
  }

  bind(port: number): number {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return ApiError.Invalid;
    if (this.bound.has(port)) return ApiError.InUse;
    this.bound.add(port);
    return 0;
  }

  unbind(port: number): number {
    return this.bound.delete(port) ? 0 : ApiError.Invalid;
  }

  isBound(port: number): boolean {
    return this.bound.has(port);
  }

  /** Takes `id`. Returns false when no socket has the port (the caller answers with ICMP port unreachable). */
  input(id: number, v: UdpView, src: number): boolean {
    const port = v.dstPort;
    if (!this.bound.has(port)) { this.counters.noPort++; return false; }
    this.counters.datagramsIn++;
    this.held[id] = 1;
    this.heldCount++;
    this.events.push(EventKind.UdpRecv, port, 0, v.payloadOff, v.payloadLen, src, v.srcPort, id);
    return true;
  }

  /** The app is done with a UdpRecv event's data (`buf` from the event). */
  recvDone(buf: number): number {
    if (!Number.isInteger(buf) || buf < 0 || buf >= this.held.length || this.held[buf] !== 1) return ApiError.BadHandle;
    this.held[buf] = 0;
    this.heldCount--;
    this.iface.pool.free(buf);
    return 0;
  }

  /** Sends `data[off, off+len)` from local `port` to rip:rport. Returns len or an error (never fragments). */
  sendTo(port: number, rip: number, rport: number, data: Uint8Array, off: number, len: number): number {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(rport) || rport < 1 || rport > 65535) return ApiError.Invalid;
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > data.length) return ApiError.Invalid;
    if (len > this.iface.mtu - 28) return ApiError.Invalid;
    const iface = this.iface;
    const id = iface.allocFrame();
    if (id < 0) return ApiError.NoMemory;
    const b = iface.bytes;
    const at = iface.l4Offset(id);
    copyBytes(b, at + UDP_HEADER_LEN, data, off, len);
    const src = iface.sourceFor(rip | 0);
    emitUdp(b, at, port, rport, len, pseudoAddrSum(src, rip | 0));
    iface.sendIpv4(id, src, rip | 0, IpProtocol.Udp, UDP_HEADER_LEN + len);
    this.counters.datagramsOut++;
    return len;
  }

  get buffersHeld(): number {
    return this.heldCount;
  }

  /** Frees every buffer the app still holds (on shutdown). */
  releaseAll(): void {
    for (let id = 0; id < this.held.length; id++) if (this.held[id] === 1) { this.held[id] = 0; this.iface.pool.free(id); }
    this.heldCount = 0;
  }
}
