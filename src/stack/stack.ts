/**
 * One TCP/IP stack instance: an interface (a device queue with IPv4 addresses), ICMP echo, UDP, TCP, the timer wheel
 * and the event array. `input(id)` takes a received frame and runs it through the layers to completion; nothing
 * here touches a device except through the interface's transmit staging ring.
 */
import { EventQueue } from '../api/events.js';
import type { NetApi } from '../api/native.js';
import {
  EthernetView, EtherType, ETH_HEADER_LEN, emitIcmp, ICMP_HEADER_LEN, IcmpType, IcmpUnreachCode, IcmpView, IpProtocol,
  Ipv4View, pseudoSum, rd16, TcpView, UdpView, WireError, copyMac,
} from '../wire/index.js';
import { RxFlag } from '../mem/mempool.js';
import { Clock, type TimeSource } from './clock.js';
import { IpInterface, type IpInterfaceOptions } from './ip-interface.js';
import { Ipv4Reassembler } from './ip-reassembly.js';
import { type PortFilter, type TcpConfig, Tcp, TimerKind } from './tcp/tcp.js';
import { tcpInput } from './tcp/tcp-input.js';
import { TICK_US, TimerWheel } from './timer-wheel.js';
import { Udp } from './udp.js';
import { StackNetApi } from './net-api.js';

export interface StackOptions extends IpInterfaceOptions {
  tcp?: TcpConfig;
  /** Where time comes from (default performance.now(); the dataplane passes an allocation-free monotonic clock). */
  time?: TimeSource;
  /** Accept frames for any destination MAC (the device is promiscuous). Default false. */
  promisc?: boolean;
  /** Which local ports outgoing connections may use (default: any); `--threads` passes its steering's choice. */
  portFilter?: PortFilter;
}

export class StackCounters {
  ipIn = 0;
  ipBad = 0;
  ipNotForUs = 0;
  fragments = 0;
  reassembled = 0;
  reassembledTooBig = 0;
  unknownProtocol = 0;
  icmpEchoReplies = 0;
  icmpUnreachSent = 0;
  icmpOther = 0;
  /** TCP/UDP/ICMP packets dropped as malformed, bad checksums included. */
  badL4 = 0;
  /** Of badL4: TCP/UDP/ICMP checksums that do not verify. */
  badChecksum = 0;
  /** TCP/UDP packets accepted without verifying their checksum: the kernel vouched for them, or left it partial (RxFlag). */
  checksumTrusted = 0;
}

const TCP_CHECKSUM_AT = 16;
const UDP_CHECKSUM_AT = 6;

/** ICMP errors we send per second at most (RFC 1812 §4.3.2.8 asks for a rate limit). */
const ICMP_ERRORS_PER_S = 100;

/**
 * Frames of other threads' flows (`--threads N`): `divert` takes a received frame away from this stack (handing it to
 * its owner), `intake` runs frames handed over by other threads through this stack; returns how many.
 */
export interface RxSteering {
  divert(stack: Stack, id: number): boolean;
  intake(stack: Stack, max: number): number;
}

/** Most frames one poll takes from the device. */
export const MAX_POLL_BATCH = 1024;

export class Stack {
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly events: EventQueue;
  readonly iface: IpInterface;
  readonly tcp: Tcp;
  readonly udp: Udp;
  readonly counters = new StackCounters();
  /** The native API on this stack: what its app calls. */
  readonly api: NetApi;
  readonly reassembler = new Ipv4Reassembler();
  private readonly promisc: boolean;
  private readonly eth = new EthernetView();
  private readonly ip = new Ipv4View();
  private readonly icmp = new IcmpView();
  private readonly udpView = new UdpView();
  private readonly tcpView = new TcpView();
  private lastSlowPollMs = 0;
  private icmpWindowStart = 0;
  private icmpCount = 0;

  private readonly rxIds = new Uint32Array(MAX_POLL_BATCH);

  constructor(opts: StackOptions) {
    this.clock = new Clock(opts.time);
    this.clock.update();
    this.iface = new IpInterface(opts, this.clock);
    this.events = new EventQueue(1024, this.iface.bytes);
    const onFire = (kind: number, owner: number, handle: number): void => {
      if (kind <= TimerKind.TcpKeepalive) this.tcp.onTimer(kind, owner, handle);
    };
    this.wheel = new TimerWheel(onFire, { capacity: 4 * (opts.tcp?.maxConnections ?? 65536), startTick: this.clock.tick });
    this.tcp = new Tcp(this.iface, this.clock, this.wheel, this.events, opts.tcp, opts.portFilter ?? null);
    this.udp = new Udp(this.iface, this.events);
    this.promisc = opts.promisc ?? false;
    this.api = new StackNetApi(this);
  }

  /**
   * One turn of the stack, the boundary a loop drives (smoltcp's `iface.poll`): hands the device frames it could not
   * take before, builds segments for calls made outside an iteration, reads the time, fires due timers, takes up to
   * `max` frames from the device queue through the layers and builds the segments they call for (ACKs). The turn's
   * events are then in `events` for the app; after the app has run, `flush()` sends what its calls produced.
   * Returns the frames received (0: idle).
   */
  poll(max: number, steering: RxSteering | null = null): number {
    const iface = this.iface;
    iface.flushTx();
    this.tcp.flush();
    this.timers();
    const ids = this.rxIds;
    let n = iface.device.rxBatch(iface.queue, ids, max < MAX_POLL_BATCH ? max : MAX_POLL_BATCH);
    if (steering === null) {
      for (let i = 0; i < n; i++) this.input(ids[i]);
    } else {
      for (let i = 0; i < n; i++) if (!steering.divert(this, ids[i])) this.input(ids[i]);
      n += steering.intake(this, max);
    }
    this.tcp.flush();
    return n;
  }

  /**
   * Builds the segments of the calls the app made while handling this turn's events and hands every staged frame to
   * the device: a reply leaves in the iteration that delivered its request (IX §4.2).
   */
  flush(): void {
    this.tcp.flush();
    this.iface.flushTx();
    this.tcp.releaseEnded();
  }

  /** Milliseconds until the stack needs a poll if no frame arrives (smoltcp's `poll_delay`): 0 with frames still to send. */
  pollDelay(): number {
    if (this.iface.txPending > 0) return 0;
    const ms = this.wheel.nextDue() * (TICK_US / 1000);
    return ms > 0 ? ms : 0;
  }

  /** Takes a received frame (a pool buffer id whose length is in pool.len) through Ethernet/ARP/IPv4/L4. */
  input(id: number): void {
    const iface = this.iface;
    const pool = iface.pool;
    const b = iface.bytes;
    const off = pool.dataOffset(id);
    const len = pool.len[id];
    iface.counters.rxFrames++;
    const eth = this.eth;
    if (eth.wrap(b, off, len) !== WireError.Ok) { iface.counters.rxBadFrames++; pool.free(id); return; }
    if (!this.promisc && !eth.dstIsMulticast() && !eth.dstEquals(iface.mac, 0)) {
      iface.counters.rxNotForUs++;
      pool.free(id);
      return;
    }
    const type = eth.etherType;
    if (type === EtherType.Arp) { iface.arpInput(id, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN); return; }
    if (type !== EtherType.Ipv4) { iface.counters.rxUnknownEtherType++; pool.free(id); return; }
    this.ipInput(id, b, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
  }

  private ipInput(id: number, b: Uint8Array, ipOff: number, ipLen: number): void {
    const pool = this.iface.pool;
    const ip = this.ip;
    const err = ip.wrap(b, ipOff, ipLen);
    if (err === WireError.Fragment) { this.fragment(id, b, ipOff); return; }
    if (err !== WireError.Ok) { this.counters.ipBad++; pool.free(id); return; }
    this.counters.ipIn++;
    const dst = ip.dst;
    if (!this.iface.isLocal(dst) && dst !== -1) { this.counters.ipNotForUs++; pool.free(id); return; }
    const src = ip.src;
    const l4Off = ip.payloadOff;
    const l4Len = ip.payloadLen;
    switch (ip.protocol) {
      case IpProtocol.Tcp: {
        const t = this.tcpView;
        if (dst === -1) { this.counters.badL4++; pool.free(id); return; }
        if (this.l4Wrap(t, id, b, l4Off, l4Len, IpProtocol.Tcp, TCP_CHECKSUM_AT) !== WireError.Ok) { pool.free(id); return; }
        tcpInput(this.tcp, id, t, src, dst);
        return;
      }
      case IpProtocol.Udp: {
        const u = this.udpView;
        if (this.l4Wrap(u, id, b, l4Off, l4Len, IpProtocol.Udp, UDP_CHECKSUM_AT) !== WireError.Ok) { pool.free(id); return; }
        if (!this.udp.input(id, u, src)) {
          if (dst !== -1) this.icmpError(b, ipOff, IcmpType.DestUnreachable, IcmpUnreachCode.Port, src, dst);
          pool.free(id);
        }
        return;
      }
      case IpProtocol.Icmp: {
        const m = this.icmp;
        const e = m.wrap(b, l4Off, l4Len);
        if (e !== WireError.Ok) { this.countBadL4(e); pool.free(id); return; }
        if (m.type === IcmpType.Echo && dst !== -1) { this.echoReply(id, b, ipOff); return; }
        this.counters.icmpOther++;
        pool.free(id);
        return;
      }
      default:
        this.counters.unknownProtocol++;
        if (dst !== -1) this.icmpError(b, ipOff, IcmpType.DestUnreachable, IcmpUnreachCode.Protocol, src, dst);
        pool.free(id);
    }
  }

  /**
   * Wraps a TCP or UDP view, checking the checksum as the device's RxFlag bits allow: not at all when the kernel
   * vouched for the frame; on a local kernel's frames, a field holding just the pseudo-header sum is what its TX
   * checksum offload left (Linux __tcp_v4_send_check / udp4_hwcsum: check = ~csum_tcpudp_magic(…, 0)) and is accepted.
   */
  private l4Wrap(v: TcpView | UdpView, id: number, b: Uint8Array, off: number, len: number, proto: number, csumAt: number): number {
    const flags = this.iface.pool.rxFlags[id];
    const addrSum = this.ip.addrSum;
    v.verifyChecksum = (flags & RxFlag.L4ChecksumGood) === 0;
    let e = v.wrap(b, off, len, addrSum);
    if (e === WireError.BadChecksum && (flags & RxFlag.L4ChecksumMaybePartial) !== 0 &&
      rd16(b, off + csumAt) === pseudoSum(addrSum, proto, len)) {
      v.verifyChecksum = false;
      e = v.wrap(b, off, len, addrSum);
      if (e === WireError.Ok) this.counters.checksumTrusted++;
    } else if (e === WireError.Ok && (flags & RxFlag.L4ChecksumGood) !== 0) this.counters.checksumTrusted++;
    if (e !== WireError.Ok) this.countBadL4(e);
    return e;
  }

  private countBadL4(e: number): void {
    this.counters.badL4++;
    if (e === WireError.BadChecksum) this.counters.badChecksum++;
  }

  /** RFC 792 echo reply, built in the request's own buffer (RFC 1122 §3.2.2.6: same data, identifier, sequence). */
  private echoReply(id: number, b: Uint8Array, ipOff: number): void {
    const ip = this.ip;
    ip.swapAddresses();
    ip.setTtl(64);
    this.icmp.echoToReply();
    const off = ipOff - ETH_HEADER_LEN;
    copyMac(b, off, b, off + 6);
    copyMac(b, off + 6, this.iface.mac, 0);
    this.iface.pool.len[id] = ETH_HEADER_LEN + ip.totalLen < 60 ? 60 : ETH_HEADER_LEN + ip.totalLen;
    this.counters.icmpEchoReplies++;
    this.iface.queueFrame(id);
  }

  /** An ICMP error quoting the offending header and 8 bytes (RFC 792), rate-limited. */
  private icmpError(b: Uint8Array, ipOff: number, type: number, code: number, src: number, dst: number): void {
    const now = this.clock.ms;
    if (now - this.icmpWindowStart >= 1000) { this.icmpWindowStart = now; this.icmpCount = 0; }
    if (this.icmpCount >= ICMP_ERRORS_PER_S) return;
    const iface = this.iface;
    const id = iface.allocFrame();
    if (id < 0) return;
    this.icmpCount++;
    const hlen = (b[ipOff] & 0x0f) << 2;
    const avail = this.ip.totalLen;
    const quote = hlen + 8 < avail ? hlen + 8 : avail;
    const at = iface.l4Offset(id);
    b.copyWithin(at + ICMP_HEADER_LEN, ipOff, ipOff + quote);
    emitIcmp(b, at, type, code, 0, quote);
    iface.sendIpv4(id, dst, src, IpProtocol.Icmp, ICMP_HEADER_LEN + quote);
    this.counters.icmpUnreachSent++;
  }

  /** A fragment: reassemble (RFC 791 §3.2); a complete datagram that fits one buffer goes through ipInput again. */
  private fragment(id: number, b: Uint8Array, ipOff: number): void {
    const pool = this.iface.pool;
    this.counters.fragments++;
    const slot = this.reassembler.input(b, ipOff, this.clock.msInt);
    if (slot < 0) { pool.free(id); return; }
    const dgram = this.reassembler.datagramBytes(slot);
    const dlen = this.reassembler.datagramLen(slot);
    if (ETH_HEADER_LEN + dlen > pool.dataRoom) { this.counters.reassembledTooBig++; pool.free(id); return; }
    this.counters.reassembled++;
    // Reuse the fragment's buffer: its Ethernet header stays, the whole datagram replaces the fragment.
    for (let i = 0; i < dlen; i++) b[ipOff + i] = dgram[i];
    pool.len[id] = ETH_HEADER_LEN + dlen;
    this.ipInput(id, b, ipOff, dlen);
  }

  /** Reads the clock and fires due timers (TCP), ARP retries and reassembly timeouts. */
  timers(): void {
    this.clock.update();
    this.wheel.advance(this.clock.tick);
    const now = this.clock.ms;
    if (now - this.lastSlowPollMs >= 100) {
      this.lastSlowPollMs = now;
      this.iface.pollArp();
      this.reassembler.expire(this.clock.msInt);
    }
  }

  /** Buffers the stack holds right now (for mempool accounting: with the device's, they must add up to `allocated`). */
  get buffersHeld(): number {
    return this.iface.buffersHeld + this.tcp.buffersHeld + this.udp.buffersHeld;
  }

  /** Resets every connection and frees every buffer the stack holds. */
  shutdown(): void {
    this.tcp.shutdown();
    this.tcp.releaseEnded();
    this.iface.flushTx();
    this.udp.releaseAll();
    this.iface.drop();
  }
}
