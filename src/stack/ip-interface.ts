/**
 * One device queue as an IPv4 host interface: Ethernet in and out, ARP (RFC 826), IPv4 addresses and the next hop,
 * the transmit staging ring. The protocols above (ICMP, UDP, TCP) hand it finished IPv4 payloads in pool buffers;
 * it adds the IPv4 and Ethernet headers, resolves the next hop, and queues the frame for the device.
 *
 * Frame layout in a pool buffer, from `pool.dataOffset(id)`: Ethernet header (14) · IPv4 header (20, no options on
 * output) · L4 header · data. `l4Offset(id)` is where a protocol writes its header.
 */
import type { Device } from '../driver/device.js';
import type { Mempool } from '../mem/mempool.js';
import { IxyError, UsageError } from '../util/errors.js';
import {
  ARP_LEN, ArpOp, ArpView, BROADCAST_MAC, copyMac, emitArp, emitEthernet, emitIpv4, ETH_HEADER_LEN, ETH_MIN_FRAME,
  EtherType, IPV4_DEFAULT_TTL, IPV4_HEADER_LEN, ZERO_MAC,
} from '../wire/index.js';
import { ArpCache, ArpHold } from './arp-cache.js';
import type { Clock } from './clock.js';

export const L4_OFFSET = ETH_HEADER_LEN + IPV4_HEADER_LEN;

export interface Ipv4Address {
  /** int32 (see wire/bytes.ts). */
  ip: number;
  prefix: number;
}

export interface IpInterfaceOptions {
  device: Device;
  queue?: number;
  addresses: Ipv4Address[];
  /** Next hop for destinations outside every address's subnet (0: none, such packets are dropped). */
  gateway?: number;
  /** IP MTU (default 1500; capped by the pool's data room). */
  mtu?: number;
  /** The interface's MAC (default: the device's; a TAP device's user side needs its own, see dataplane/stack-host.ts). */
  mac?: Uint8Array;
  /** Frames waiting for the device when its TX ring is full (default 4096). */
  txBacklog?: number;
}

/** Counters of the interface (plain fields: cheap to bump, read whenever). */
export class InterfaceCounters {
  rxFrames = 0;
  rxNotForUs = 0;
  rxBadFrames = 0;
  rxUnknownEtherType = 0;
  arpRequestsAnswered = 0;
  arpRequestsSent = 0;
  txFrames = 0;
  txQueueDrops = 0;
  txNoRoute = 0;
  txNoBuffer = 0;
}

export class IpInterface {
  readonly device: Device;
  readonly queue: number;
  readonly pool: Mempool;
  readonly bytes: Uint8Array;
  readonly mac: Uint8Array;
  readonly ips: Int32Array;
  readonly masks: Int32Array;
  readonly gateway: number;
  readonly mtu: number;
  readonly arp: ArpCache;
  readonly counters = new InterfaceCounters();
  private readonly clock: Clock;
  private readonly txIds: Uint32Array;
  private txCount = 0;
  private readonly arpView = new ArpView();
  private readonly arpOut: Uint32Array;
  private readonly arpRetryIps = new Int32Array(64);
  private ident = 1;

  constructor(opts: IpInterfaceOptions, clock: Clock) {
    if (opts.addresses.length === 0) throw new IxyError('an IP interface needs at least one address: use --ip A.B.C.D/N');
    this.device = opts.device;
    this.queue = opts.queue ?? 0;
    this.pool = opts.device.pool;
    this.bytes = this.pool.bytes;
    this.mac = opts.mac ? Uint8Array.from(opts.mac) : opts.device.macAddress();
    this.ips = Int32Array.from(opts.addresses, (a) => a.ip | 0);
    this.masks = Int32Array.from(opts.addresses, (a) => prefixMask(a.prefix));
    this.gateway = (opts.gateway ?? 0) | 0;
    const room = this.pool.dataRoom - ETH_HEADER_LEN;
    this.mtu = Math.min(opts.mtu ?? 1500, room);
    if (this.mtu < 576) throw new IxyError(`MTU ${this.mtu} is below IPv4's minimum of 576 (RFC 791): use a larger pool entry`);
    this.clock = clock;
    this.txIds = new Uint32Array(opts.txBacklog ?? 4096);
    this.arp = new ArpCache(this.pool);
    this.arpOut = new Uint32Array(this.pool.count);
  }

  /** Whether `ip` (int32) is one of ours. */
  isLocal(ip: number): boolean {
    const ips = this.ips;
    for (let i = 0; i < ips.length; i++) if (ips[i] === ip) return true;
    return false;
  }

  /** The address to send from when talking to `dst`: the one whose subnet holds it, else the first. */
  sourceFor(dst: number): number {
    const ips = this.ips, masks = this.masks;
    for (let i = 0; i < ips.length; i++) if (((ips[i] ^ dst) & masks[i]) === 0) return ips[i];
    return ips[0];
  }

  /** Offset in `bytes` where a protocol writes its header in buffer `id`. */
  l4Offset(id: number): number {
    return this.pool.dataOffset(id) + L4_OFFSET;
  }

  /** A buffer for an outgoing packet, or -1 (counted) when the pool is empty. */
  allocFrame(): number {
    const id = this.pool.alloc();
    if (id < 0) this.counters.txNoBuffer++;
    return id;
  }

  /**
   * Sends buffer `id` whose L4 header and data (`l4Len` bytes) are at `l4Offset(id)`: writes the IPv4 header
   * (DF set: we never fragment; RFC 1191 path MTU discovery needs it) and the Ethernet header, and queues the frame
   * once the next hop's MAC is known. Takes ownership of `id` in every case.
   */
  sendIpv4(id: number, src: number, dst: number, protocol: number, l4Len: number): void {
    const b = this.bytes;
    const off = this.pool.dataOffset(id);
    emitIpv4(b, off + ETH_HEADER_LEN, src, dst, protocol, l4Len, this.ident, IPV4_DEFAULT_TTL, true);
    this.ident = (this.ident + 1) & 0xffff;
    this.pool.len[id] = frameLen(L4_OFFSET + l4Len);
    this.sendToHost(id, dst);
  }

  /** Queues a complete frame (everything but the MACs) for IPv4 destination `dst` through ARP. */
  sendToHost(id: number, dst: number): void {
    const b = this.bytes;
    const off = this.pool.dataOffset(id);
    const hop = this.nextHop(dst);
    if (hop === 0) { this.counters.txNoRoute++; this.pool.free(id); return; }
    copyMac(b, off + 6, this.mac, 0);
    b[off + 12] = EtherType.Ipv4 >> 8;
    b[off + 13] = EtherType.Ipv4 & 0xff;
    if (hop === -1) { copyMac(b, off, BROADCAST_MAC, 0); this.queueFrame(id); return; }
    const e = this.arp.lookup(hop, this.clock.msInt);
    if (e >= 0) {
      copyMac(b, off, this.arp.macs, e * 6);
      this.queueFrame(id);
      return;
    }
    if (this.arp.hold(hop, id, this.clock.msInt) === ArpHold.SendRequest) this.sendArpRequest(hop);
  }

  /** Next-hop IPv4 address for `dst`: itself on a local subnet, else the gateway; 0 = no route; -1 = broadcast. */
  private nextHop(dst: number): number {
    if (dst === -1) return -1;
    const ips = this.ips, masks = this.masks;
    for (let i = 0; i < ips.length; i++) {
      if (((ips[i] ^ dst) & masks[i]) === 0) return (dst | masks[i]) === -1 && masks[i] !== -1 ? -1 : dst;
    }
    return this.gateway;
  }

  /** Puts a finished frame on the staging ring; dropped (counted) when the backlog is full. */
  queueFrame(id: number): void {
    if (this.txCount === this.txIds.length) { this.counters.txQueueDrops++; this.pool.free(id); return; }
    this.txIds[this.txCount++] = id;
  }

  /** Hands staged frames to the device; what its ring cannot take now stays staged, in order. */
  flushTx(): void {
    const n = this.txCount;
    if (n === 0) return;
    const sent = this.device.txBatch(this.queue, this.txIds, n);
    this.counters.txFrames += sent;
    if (sent < n) this.txIds.copyWithin(0, sent, n);
    this.txCount = n - sent;
  }

  get txPending(): number {
    return this.txCount;
  }

  /** ARP input (RFC 826 "Packet Reception"). Takes ownership of `id`. */
  arpInput(id: number, off: number, len: number): void {
    const b = this.bytes;
    const v = this.arpView;
    if (v.wrap(b, off, len) !== 0) { this.counters.rxBadFrames++; this.pool.free(id); return; }
    const spa = v.senderIp;
    const forUs = this.isLocal(v.targetIp);
    // RFC 826: merge the sender into the table if present; add it only when the packet is for us.
    if (spa !== 0) {
      const waiting = this.arp.update(spa, b, v.senderMacOff, this.clock.msInt, forUs);
      if (waiting > 0) this.releasePending(spa);
    }
    if (forUs && v.op === ArpOp.Request) {
      const tpa = v.targetIp;
      v.toReply(this.mac, 0, tpa);
      emitEthernet(b, off - ETH_HEADER_LEN, b, v.targetMacOff, this.mac, 0, EtherType.Arp);
      this.pool.len[id] = ETH_MIN_FRAME;
      this.counters.arpRequestsAnswered++;
      this.queueFrame(id);
      return;
    }
    this.pool.free(id);
  }

  private releasePending(ip: number): void {
    const out = this.arpOut;
    const n = this.arp.takePending(out, 0);
    const e = this.arp.lookup(ip, this.clock.msInt);
    for (let i = 0; i < n; i++) {
      const id = out[i];
      if (e < 0) { this.pool.free(id); continue; }
      copyMac(this.bytes, this.pool.dataOffset(id), this.arp.macs, e * 6);
      this.queueFrame(id);
    }
  }

  /** ARP retries and give-ups; called from the loop's timer step. */
  pollArp(): void {
    const n = this.arp.poll(this.clock.msInt, this.arpRetryIps);
    for (let i = 0; i < n; i++) this.sendArpRequest(this.arpRetryIps[i]);
  }

  private sendArpRequest(ip: number): void {
    const id = this.allocFrame();
    if (id < 0) return;
    const b = this.bytes;
    const off = this.pool.dataOffset(id);
    emitEthernet(b, off, BROADCAST_MAC, 0, this.mac, 0, EtherType.Arp);
    emitArp(b, off + ETH_HEADER_LEN, ArpOp.Request, this.mac, 0, this.sourceFor(ip), ZERO_MAC, 0, ip);
    b.fill(0, off + ETH_HEADER_LEN + ARP_LEN, off + ETH_MIN_FRAME);
    this.pool.len[id] = ETH_MIN_FRAME;
    this.counters.arpRequestsSent++;
    this.queueFrame(id);
  }

  /** Frees staged and ARP-held frames (on close). */
  drop(): void {
    this.pool.freeBatch(this.txIds, 0, this.txCount);
    this.txCount = 0;
    this.arp.clear();
  }

  /** Buffers this interface holds (staged + waiting for ARP), for mempool accounting. */
  get buffersHeld(): number {
    return this.txCount + this.arp.pendingBuffers;
  }
}

/** Ethernet frames are at least 60 bytes before the FCS; shorter ones are padded (zeros not required by 802.3). */
function frameLen(len: number): number {
  return len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
}

export function prefixMask(prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new UsageError(`prefix length /${prefix} is invalid: use 0..32`);
  return prefix === 0 ? 0 : (-1 << (32 - prefix)) | 0;
}

/** Parses `A.B.C.D` to int32, or throws a one-line IxyError naming `what`. */
export function parseIpv4(text: string, what = 'address'): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m || m.slice(1).some((p) => Number(p) > 255)) throw new UsageError(`'${text}' is not an IPv4 ${what}: use A.B.C.D`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) | 0;
}

/** Parses `A.B.C.D/N`. */
export function parseIpv4Cidr(text: string): Ipv4Address {
  const slash = text.indexOf('/');
  if (slash < 0) throw new UsageError(`'${text}' has no prefix length: use A.B.C.D/N, e.g. 10.0.0.2/24`);
  const prefix = Number(text.slice(slash + 1));
  if (!/^\d{1,2}$/.test(text.slice(slash + 1)) || prefix > 32) throw new UsageError(`'${text}' has a bad prefix length: use /0 to /32`);
  return { ip: parseIpv4(text.slice(0, slash)), prefix };
}

export function formatIpv4(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}
