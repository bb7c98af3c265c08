/**
 * Protocol-test bench for stack/: a virtual clock, a tapping Device (drop / hold / reorder / log / inject frames on
 * a memory-wire end), a raw peer that speaks frames built with wire/'s emit functions, a frame parser, and event
 * recorders. Nothing under src/ is changed: the virtual clock is the stacks' time source (StackOptions.time).
 */
import { ApiError } from '../../src/api/codes.js';
import { EventKind, type EventQueue } from '../../src/api/events.js';
import { NetApi } from '../../src/api/native.js';
import { ElasticThread } from '../../src/dataplane/elastic-thread.js';
import type { Device, DeviceStats } from '../../src/driver/device.js';
import { memoryWire, type MemoryEnd } from '../../src/driver/memory/memory-wire.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { parseIpv4 } from '../../src/stack/ip-interface.js';
import { Stack, type StackOptions } from '../../src/stack/stack.js';
import type { TcpConn } from '../../src/stack/tcp/tcp-conn.js';
import { VirtualTime } from '../../src/stack/clock.js';
import {
  ArpView, EtherType, ETH_HEADER_LEN, IcmpView, Ipv4View, IpProtocol, TcpOptions, TcpView, UdpView,
  emitArp, emitEthernet, emitIcmp, emitIpv4, emitTcp, emitTcpOptions, emitUdp, ipv4AddrSum, ipv4FillChecksum,
  ICMP_HEADER_LEN, IPV4_HEADER_LEN, TCP_HEADER_LEN, UDP_HEADER_LEN, sum16, pseudoSum, rd16,
} from '../../src/wire/index.js';
import { FnApp } from './stack-pair.js';

export const IP_A = parseIpv4('10.9.0.1');
export const IP_B = parseIpv4('10.9.0.2');
export const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 0x0a);
export const MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 0x0b);
export const BCAST = new Uint8Array(6).fill(0xff);

// ---- virtual time ----------------------------------------------------------------------------------------------

/** A clock the test moves by hand (`vt.ms`); every stack of a bench reads it (StackOptions.time). */
export { VirtualTime };

// ---- parsed frames -------------------------------------------------------------------------------------------

export interface TcpInfo {
  sport: number; dport: number; seq: number; ack: number; flags: number; window: number;
  /** unsigned */
  mss?: number; ws?: number; sackOk: boolean; tsVal?: number; tsEcr?: number; sack: Array<[number, number]>;
  payload: Uint8Array; checksumOk: boolean; optionBytes: number;
}
export interface Pkt {
  raw: Uint8Array;
  /** Virtual (or real) ms when the frame was seen. */
  t: number;
  dstMac: string; srcMac: string; ethType: number;
  arp?: { op: number; sha: string; spa: number; tha: string; tpa: number };
  ip?: { src: number; dst: number; proto: number; ttl: number; ident: number; df: boolean; headerOk: boolean; totalLen: number };
  icmp?: { type: number; code: number; rest: number; data: Uint8Array; checksumOk: boolean };
  udp?: { sport: number; dport: number; payload: Uint8Array; checksumOk: boolean };
  tcp?: TcpInfo;
}

const macStr = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
export const macString = (m: Uint8Array): string => macStr(m, 0);

/** Parses a frame the way a test wants to read it (checksums reported, not enforced). */
export function parseFrame(raw: Uint8Array, t = 0): Pkt {
  const f = Uint8Array.from(raw);
  const p: Pkt = { raw: f, t, dstMac: macStr(f, 0), srcMac: macStr(f, 6), ethType: rd16(f, 12) };
  if (p.ethType === EtherType.Arp) {
    const v = new ArpView();
    if (v.wrap(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN) === 0) {
      p.arp = { op: v.op, sha: macStr(f, v.senderMacOff), spa: v.senderIp, tha: macStr(f, v.targetMacOff), tpa: v.targetIp };
    }
    return p;
  }
  if (p.ethType !== EtherType.Ipv4) return p;
  const ip = new Ipv4View();
  ip.verifyChecksum = false;
  const e = ip.wrap(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN);
  if (e !== 0 && e !== 6) return p;
  p.ip = {
    src: ip.src, dst: ip.dst, proto: ip.protocol, ttl: ip.ttl, ident: ip.ident, df: ip.dontFragment,
    headerOk: sum16(f, ETH_HEADER_LEN, ip.headerLen, 0) === 0xffff, totalLen: ip.totalLen,
  };
  const off = ip.payloadOff, len = ip.payloadLen;
  if (ip.protocol === IpProtocol.Icmp && len >= ICMP_HEADER_LEN) {
    const v = new IcmpView();
    v.verifyChecksum = false;
    v.wrap(f, off, len);
    p.icmp = { type: v.type, code: v.code, rest: v.restOfHeader, data: f.slice(v.dataOff, off + len), checksumOk: sum16(f, off, len, 0) === 0xffff };
  } else if (ip.protocol === IpProtocol.Udp) {
    const v = new UdpView();
    v.verifyChecksum = false;
    if (v.wrap(f, off, len, ip.addrSum) === 0) {
      const ulen = v.length;
      p.udp = {
        sport: v.srcPort, dport: v.dstPort, payload: f.slice(v.payloadOff, v.payloadOff + v.payloadLen),
        checksumOk: v.checksum === 0 || sum16(f, off, ulen, pseudoSum(ip.addrSum, IpProtocol.Udp, ulen)) === 0xffff,
      };
    }
  } else if (ip.protocol === IpProtocol.Tcp) {
    const v = new TcpView();
    v.verifyChecksum = false;
    if (v.wrap(f, off, len, ip.addrSum) === 0) {
      const o = v.options;
      const sack: Array<[number, number]> = [];
      for (let k = 0; k < o.sackBlocks; k++) sack.push([o.sackLeft[k] >>> 0, o.sackRight[k] >>> 0]);
      p.tcp = {
        sport: v.srcPort, dport: v.dstPort, seq: v.seq >>> 0, ack: v.ack >>> 0, flags: v.flags, window: v.window,
        mss: o.hasMss ? o.mss : undefined, ws: o.hasWindowScale ? o.windowScale : undefined, sackOk: o.sackPermitted,
        tsVal: o.hasTimestamps ? o.tsVal >>> 0 : undefined, tsEcr: o.hasTimestamps ? o.tsEcr >>> 0 : undefined, sack,
        payload: f.slice(v.payloadOff, v.payloadOff + v.payloadLen),
        checksumOk: sum16(f, off, len, pseudoSum(ip.addrSum, IpProtocol.Tcp, len)) === 0xffff,
        optionBytes: v.headerLen - TCP_HEADER_LEN,
      };
    }
  }
  return p;
}

export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 } as const;
export const u32 = (x: number): number => x >>> 0;
export const add32 = (a: number, n: number): number => (a + n) >>> 0;

export function describe(p: Pkt): string {
  if (p.arp) return `ARP op${p.arp.op} ${p.arp.spa >>> 0}->${p.arp.tpa >>> 0}`;
  if (p.tcp) {
    const t = p.tcp;
    const fl = ['F', 'S', 'R', 'P', '.', 'U'].filter((_, i) => (t.flags >> i) & 1).join('');
    return `TCP ${t.sport}>${t.dport} [${fl}] seq ${t.seq} ack ${t.ack} win ${t.window} len ${t.payload.length}` +
      (t.sack.length ? ` sack ${JSON.stringify(t.sack)}` : '') + (t.tsVal !== undefined ? ` ts ${t.tsVal}/${t.tsEcr}` : '');
  }
  if (p.udp) return `UDP ${p.udp.sport}>${p.udp.dport} len ${p.udp.payload.length}`;
  if (p.icmp) return `ICMP type ${p.icmp.type} code ${p.icmp.code}`;
  return `eth 0x${p.ethType.toString(16)} len ${p.raw.length}`;
}

// ---- frame builders (through wire/'s emit functions) ----------------------------------------------------------

export interface L2L3 { srcMac?: Uint8Array; dstMac?: Uint8Array; src?: number; dst?: number; ident?: number; ttl?: number }

function ipFrame(l: L2L3, proto: number, l4Len: number): { f: Uint8Array; l4: number } {
  const f = new Uint8Array(ETH_HEADER_LEN + IPV4_HEADER_LEN + l4Len);
  emitEthernet(f, 0, l.dstMac ?? MAC_A, 0, l.srcMac ?? MAC_B, 0, EtherType.Ipv4);
  emitIpv4(f, ETH_HEADER_LEN, l.src ?? IP_B, l.dst ?? IP_A, proto, l4Len, l.ident ?? 1, l.ttl ?? 64, true);
  return { f, l4: ETH_HEADER_LEN + IPV4_HEADER_LEN };
}

export interface TcpSeg extends L2L3 {
  sport: number; dport: number; seq: number; ack?: number; flags: number; window?: number;
  mss?: number; ws?: number; sackOk?: boolean; ts?: [number, number]; sack?: Array<[number, number]>;
  payload?: Uint8Array;
}

export function tcpFrame(s: TcpSeg): Uint8Array {
  const o = new TcpOptions();
  if (s.mss !== undefined) { o.hasMss = true; o.mss = s.mss; }
  if (s.ws !== undefined) { o.hasWindowScale = true; o.windowScale = s.ws; }
  o.sackPermitted = s.sackOk ?? false;
  if (s.ts) { o.hasTimestamps = true; o.tsVal = s.ts[0] | 0; o.tsEcr = s.ts[1] | 0; }
  if (s.sack) { o.sackBlocks = s.sack.length; s.sack.forEach(([l, r], k) => { o.sackLeft[k] = l | 0; o.sackRight[k] = r | 0; }); }
  const scratch = new Uint8Array(40);
  const optLen = emitTcpOptions(scratch, 0, o);
  const payload = s.payload ?? new Uint8Array(0);
  const { f, l4 } = ipFrame(s, IpProtocol.Tcp, TCP_HEADER_LEN + optLen + payload.length);
  f.set(scratch.subarray(0, optLen), l4 + TCP_HEADER_LEN);
  f.set(payload, l4 + TCP_HEADER_LEN + optLen);
  emitTcp(f, l4, s.sport, s.dport, s.seq | 0, (s.ack ?? 0) | 0, s.flags, s.window ?? 65535, optLen, payload.length, ipv4AddrSum(f, ETH_HEADER_LEN));
  return f;
}

export function udpFrame(l: L2L3 & { sport: number; dport: number; payload: Uint8Array; zeroChecksum?: boolean }): Uint8Array {
  const { f, l4 } = ipFrame(l, IpProtocol.Udp, UDP_HEADER_LEN + l.payload.length);
  f.set(l.payload, l4 + UDP_HEADER_LEN);
  emitUdp(f, l4, l.sport, l.dport, l.payload.length, ipv4AddrSum(f, ETH_HEADER_LEN));
  if (l.zeroChecksum) { f[l4 + 6] = 0; f[l4 + 7] = 0; }
  return f;
}

export function icmpFrame(l: L2L3 & { type: number; code?: number; rest?: number; data: Uint8Array }): Uint8Array {
  const { f, l4 } = ipFrame(l, IpProtocol.Icmp, ICMP_HEADER_LEN + l.data.length);
  f.set(l.data, l4 + ICMP_HEADER_LEN);
  emitIcmp(f, l4, l.type, l.code ?? 0, l.rest ?? 0, l.data.length);
  return f;
}

export function arpFrame(a: { op: number; sha?: Uint8Array; spa: number; tha?: Uint8Array; tpa: number; dstMac?: Uint8Array; srcMac?: Uint8Array }): Uint8Array {
  const f = new Uint8Array(60);
  emitEthernet(f, 0, a.dstMac ?? BCAST, 0, a.srcMac ?? a.sha ?? MAC_B, 0, EtherType.Arp);
  emitArp(f, ETH_HEADER_LEN, a.op, a.sha ?? MAC_B, 0, a.spa, a.tha ?? new Uint8Array(6), 0, a.tpa);
  return f;
}

/** Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum of a frame after it was changed (best effort). */
export function fixChecksums(f: Uint8Array): void {
  if (f.length < ETH_HEADER_LEN + IPV4_HEADER_LEN || rd16(f, 12) !== EtherType.Ipv4) return;
  const ipOff = ETH_HEADER_LEN;
  const hlen = (f[ipOff] & 0x0f) << 2;
  if (hlen < IPV4_HEADER_LEN || ipOff + hlen > f.length) return;
  ipv4FillChecksum(f, ipOff);
  const total = rd16(f, ipOff + 2);
  const l4 = ipOff + hlen;
  const l4Len = Math.min(total, f.length - ipOff) - hlen;
  if (l4Len <= 0 || (rd16(f, ipOff + 6) & 0x3fff) !== 0) return;
  const addr = ipv4AddrSum(f, ipOff);
  const proto = f[ipOff + 9];
  if (proto === IpProtocol.Tcp && l4Len >= TCP_HEADER_LEN) {
    f[l4 + 16] = 0; f[l4 + 17] = 0;
    const c = ~sum16(f, l4, l4Len, pseudoSum(addr, IpProtocol.Tcp, l4Len)) & 0xffff;
    f[l4 + 16] = c >> 8; f[l4 + 17] = c & 0xff;
  } else if (proto === IpProtocol.Udp && l4Len >= UDP_HEADER_LEN) {
    const ulen = rd16(f, l4 + 4);
    if (ulen < UDP_HEADER_LEN || ulen > l4Len) return;
    f[l4 + 6] = 0; f[l4 + 7] = 0;
    const c = ~sum16(f, l4, ulen, pseudoSum(addr, IpProtocol.Udp, ulen)) & 0xffff;
    f[l4 + 6] = c >> 8; f[l4 + 7] = c & 0xff;
  } else if (proto === IpProtocol.Icmp && l4Len >= ICMP_HEADER_LEN) {
    f[l4 + 2] = 0; f[l4 + 3] = 0;
    const c = ~sum16(f, l4, l4Len, 0) & 0xffff;
    f[l4 + 2] = c >> 8; f[l4 + 3] = c & 0xff;
  }
}

// ---- a tapping device ------------------------------------------------------------------------------------------

export type Verdict = 'pass' | 'drop' | 'hold';

/**
 * Wraps a memory-wire end. Every frame the stack transmits goes through `filter` (pass / drop / hold); held frames
 * wait in `held` (in order) until `release()`. `injectRx` puts a crafted frame in front of the received ones.
 * `log` records parsed copies of transmitted frames while `record` is on.
 */
export class TapDevice implements Device {
  readonly driverName = 'tap-test';
  readonly rxQueues = 1;
  readonly txQueues = 1;
  filter: ((p: Pkt, index: number) => Verdict) | null = null;
  record = true;
  readonly log: Pkt[] = [];
  readonly held: number[] = [];
  private readonly injected: number[] = [];
  private txIndex = 0;
  private readonly scratch: Uint32Array;
  private readonly one = new Uint32Array(1);
  /** Time source for log timestamps. */
  now: () => number = () => 0;
  dropped = 0;

  constructor(readonly inner: MemoryEnd) {
    this.scratch = new Uint32Array(inner.ringSize);
  }

  get spec(): string { return this.inner.spec; }
  get ringSize(): number { return this.inner.ringSize; }
  get pool(): Mempool { return this.inner.pool; }

  rxBatch(q: number, ids: Uint32Array, max: number): number {
    let n = 0;
    while (n < max && this.injected.length > 0) ids[n++] = this.injected.shift()!;
    if (n < max) {
      const k = this.inner.rxBatch(q, this.scratch, max - n);
      for (let i = 0; i < k; i++) ids[n++] = this.scratch[i];
    }
    return n;
  }

  txBatch(q: number, ids: Uint32Array, n: number): number {
    const pool = this.inner.pool;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      let verdict: Verdict = 'pass';
      if (this.record || this.filter) {
        const off = pool.dataOffset(id);
        const p = parseFrame(pool.bytes.subarray(off, off + pool.len[id]), this.now());
        if (this.record) this.log.push(p);
        if (this.filter) verdict = this.filter(p, this.txIndex);
      }
      this.txIndex++;
      if (verdict === 'drop') { this.dropped++; pool.free(id); continue; }
      if (verdict === 'hold') { this.held.push(id); continue; }
      this.one[0] = id;
      this.inner.txBatch(q, this.one, 1);
    }
    return n;
  }

  /** Sends the held frames (all, or the first `count`) in order, or reversed. */
  release(opts: { reverse?: boolean; count?: number } = {}): number {
    const take = this.held.splice(0, opts.count ?? this.held.length);
    if (opts.reverse) take.reverse();
    for (const id of take) { this.one[0] = id; this.inner.txBatch(0, this.one, 1); }
    return take.length;
  }

  /** Frees the held frames (they are lost). */
  discardHeld(): void {
    for (const id of this.held.splice(0)) this.inner.pool.free(id);
  }

  /** Copies `frame` into a buffer of this end's pool; the next rxBatch returns it first. */
  injectRx(frame: Uint8Array): boolean {
    const pool = this.inner.pool;
    const id = pool.alloc();
    if (id < 0) return false;
    pool.bytes.set(frame, pool.dataOffset(id));
    pool.len[id] = frame.length;
    this.injected.push(id);
    return true;
  }

  readStats(into: DeviceStats): void { this.inner.readStats(into); }
  setPromisc(on: boolean): void { (this.inner as Device).setPromisc(on); }
  linkSpeedMbps(): number { return this.inner.linkSpeedMbps(); }
  macAddress(): Uint8Array { return this.inner.macAddress(); }
  buffersInRings(): number { return this.inner.buffersInRings() + this.held.length + this.injected.length; }
  close(): void { this.discardHeld(); for (const id of this.injected.splice(0)) this.inner.pool.free(id); this.inner.close(); }
}

// ---- event recording ---------------------------------------------------------------------------------------------

export interface Ev {
  kind: number; handle: number; cookie: number; a: number; b: number; c: number; d: number; buf: number;
  data?: Uint8Array; t: number;
}

export interface RecorderOptions {
  /** Accept knocked connections with this cookie (default 1); null = leave them unaccepted. */
  acceptCookie?: number | null;
  /** Release Recv data at once (default true). */
  recvDone?: boolean;
  /** Give back UdpRecv buffers at once (default true). */
  udpRecvDone?: boolean;
  /** Called for every event after it was recorded (and before the automatic actions). */
  on?: (e: Ev, api: NetApi) => void;
}

export class Recorder {
  readonly events: Ev[] = [];
  /** Bytes received per connection handle, in order. */
  readonly streams = new Map<number, number[]>();
  readonly eof = new Set<number>();
  readonly dead = new Map<number, number>();
  constructor(public opts: RecorderOptions, private readonly now: () => number) {}

  handler = (ev: EventQueue, api: NetApi): void => {
    for (let i = 0; i < ev.count; i++) {
      const e: Ev = {
        kind: ev.kind[i], handle: ev.handle[i], cookie: ev.cookie[i], a: ev.a[i], b: ev.b[i], c: ev.c[i], d: ev.d[i],
        buf: ev.buf[i], t: this.now(),
      };
      if (e.kind === EventKind.Recv || e.kind === EventKind.UdpRecv) e.data = ev.bytes.slice(e.a, e.a + e.b);
      this.events.push(e);
      this.opts.on?.(e, api);
      switch (e.kind) {
        case EventKind.Knock:
          if (this.opts.acceptCookie !== null) {
            const r = api.accept(e.handle, this.opts.acceptCookie ?? 1);
            if (r !== 0 && r !== ApiError.BadHandle && r !== ApiError.Invalid) throw new Error(`accept: ${r}`);
          }
          break;
        case EventKind.Recv: {
          if (e.b === 0) { this.eof.add(e.handle); break; }
          let s = this.streams.get(e.handle);
          if (!s) { s = []; this.streams.set(e.handle, s); }
          for (const x of e.data!) s.push(x);
          if (this.opts.recvDone !== false) api.recvDone(e.handle, e.b);
          break;
        }
        case EventKind.UdpRecv:
          if (this.opts.udpRecvDone !== false) api.udpRecvDone(e.buf);
          break;
        case EventKind.Dead:
          this.dead.set(e.handle, e.a);
          break;
        case EventKind.Connected:
          if (e.a !== 0) this.dead.set(e.handle, e.a);
          break;
      }
    }
  };

  of(kind: number): Ev[] { return this.events.filter((e) => e.kind === kind); }
  stream(handle: number): Uint8Array { return Uint8Array.from(this.streams.get(handle) ?? []); }
}

// ---- one side: a stack on a tapped memory-wire end ----------------------------------------------------------

export interface TSide {
  stack: Stack;
  api: NetApi;
  app: FnApp;
  loop: ElasticThread;
  pool: Mempool;
  dev: TapDevice;
  rec: Recorder;
}

export interface BenchOptions {
  poolSize?: number;
  tcp?: StackOptions['tcp'];
  /** Per side, overrides `tcp`. */
  tcpA?: StackOptions['tcp'];
  tcpB?: StackOptions['tcp'];
  batch?: number;
  batchA?: number;
  batchB?: number;
  ringSize?: number;
  /** Real clock instead of the virtual one. */
  realClock?: boolean;
}

function makeSide(dev: TapDevice, ip: number, vt: VirtualTime, opts: BenchOptions, tcp: StackOptions['tcp'], batch: number | undefined): TSide {
  const stack = new Stack({ device: dev, addresses: [{ ip, prefix: 24 }], tcp, time: opts.realClock ? undefined : vt });
  dev.now = () => (opts.realClock ? performance.now() : vt.ms);
  const api = stack.api;
  const rec = new Recorder({}, () => vt.ms);
  const app = new FnApp(rec.handler);
  return { stack, api, app, loop: new ElasticThread(stack, app, { batch: batch ?? opts.batch ?? 64 }), pool: dev.pool, dev, rec };
}

function makePools(opts: BenchOptions): { wire: { a: MemoryEnd; b: MemoryEnd }; poolA: Mempool; poolB: Mempool } {
  const heap = new HeapDmaAllocator();
  const poolA = new Mempool(heap, { count: opts.poolSize ?? 4096 });
  const poolB = new Mempool(heap, { count: opts.poolSize ?? 4096 });
  return { wire: memoryWire(poolA, poolB, opts.ringSize ?? 1024), poolA, poolB };
}

/** Two stacks (A = 10.9.0.1, B = 10.9.0.2) on a memory wire with a tap on each end, one virtual clock. */
export class Bench {
  readonly vt = new VirtualTime();
  readonly a: TSide;
  readonly b: TSide;

  constructor(readonly opts: BenchOptions = {}) {
    const { wire } = makePools(opts);
    this.a = makeSide(new TapDevice(wire.a), IP_A, this.vt, opts, opts.tcpA ?? opts.tcp, opts.batchA);
    this.b = makeSide(new TapDevice(wire.b), IP_B, this.vt, opts, opts.tcpB ?? opts.tcp, opts.batchB);
  }

  /** One loop iteration on each side. */
  step(): void {
    this.a.loop.iterate();
    this.b.loop.iterate();
  }

  /** Iterates (time frozen) until `until()` holds; throws after maxIter. */
  pump(until: () => boolean, maxIter = 200_000): number {
    for (let i = 0; i < maxIter; i++) {
      if (until()) return i;
      this.step();
    }
    throw new Error(`condition not reached after ${maxIter} iterations (t = ${this.vt.ms} ms)`);
  }

  /** Iterates a few times with time frozen (lets queued frames settle). */
  settle(n = 8): void {
    for (let i = 0; i < n; i++) this.step();
  }

  /** Moves time forward by `ms` in steps of `stepMs`, iterating `perStep` times after each step; stops early on `until`. */
  advance(ms: number, stepMs = 1, until?: () => boolean, perStep = 2): boolean {
    const end = this.vt.ms + ms;
    while (this.vt.ms < end) {
      this.vt.ms = Math.min(end, this.vt.ms + stepMs);
      for (let i = 0; i < perStep; i++) this.step();
      if (until?.()) return true;
    }
    return until ? until() : false;
  }

  /** B listens on `port`, A connects; returns both handles once both sides have their events. */
  connect(port = 5001, cookie = 77): { ha: number; hb: number } {
    if (!this.b.stack.tcp.listeners.has(port)) assertOk(this.b.api.listen(port), 'listen');
    const ha = this.a.api.connect(IP_B, port, cookie);
    if (ha < 0) throw new Error(`connect: ${ha}`);
    let hb = -1;
    this.pump(() => {
      const k = this.b.rec.events.find((e) => e.kind === EventKind.Knock && e.a === port && !this.used.has(e.handle));
      if (k) hb = k.handle;
      return hb >= 0 && this.a.rec.events.some((e) => e.kind === EventKind.Connected && e.handle === ha);
    });
    this.used.add(hb);
    const c = this.a.rec.events.find((e) => e.kind === EventKind.Connected && e.handle === ha)!;
    if (c.a !== 0) throw new Error(`connect failed: reason ${c.a}`);
    return { ha, hb };
  }
  private readonly used = new Set<number>();

  /** Pool accounting of both sides: allocated minus (held by the stack + in rings), both 0 when nothing leaked. */
  leaks(): { a: number; b: number } {
    return { a: leak(this.a), b: leak(this.b) };
  }
}

export function leak(s: { pool: Mempool; stack: Stack; dev: Device }): number {
  return s.pool.allocated - (s.stack.buffersHeld + s.dev.buffersInRings());
}

export function assertOk(r: number, what: string): void {
  if (r < 0) throw new Error(`${what}: ${r}`);
}

/** The TCP connection object behind a handle (for white-box checks of state and counters). */
export function conn(s: TSide | { stack: Stack }, handle: number): TcpConn {
  const c = s.stack.tcp.connOf(handle);
  if (c === null) throw new Error(`no connection for handle ${handle}`);
  return c;
}

/** Sends `data` on a connection as the send buffer allows, again after every `sent` event, until all is taken. */
export class Sender {
  off = 0;
  acked = 0;
  constructor(readonly api: NetApi, readonly handle: number, readonly data: Uint8Array, readonly closeAfter = false) {}
  push(): void {
    while (this.off < this.data.length) {
      const n = this.api.sendv(this.handle, this.data, this.off, this.data.length - this.off);
      if (n <= 0) break;
      this.off += n;
    }
    if (this.closeAfter && this.off === this.data.length && !this.closed) { this.closed = true; this.api.close(this.handle); }
  }
  private closed = false;
  onSent(e: Ev): void {
    if (e.kind === EventKind.Sent && e.handle === this.handle) { this.acked += e.a; this.push(); }
  }
  get done(): boolean { return this.acked === this.data.length; }
}

/** Deterministic bytes (a pattern that makes misplaced data obvious). */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff; }
  return out;
}

// ---- a single stack facing a raw peer --------------------------------------------------------------------------

/**
 * One stack (A, 10.9.0.1, MAC …0a) on a memory wire whose other end is driven by hand: the test writes frames
 * (`send`) and reads what the stack transmitted (`recv`). ARP requests for the peer (10.9.0.2, MAC …0b) are
 * answered automatically unless `autoArp` is off.
 */
export class RawBench {
  readonly vt = new VirtualTime();
  readonly s: TSide;
  readonly peer: MemoryEnd;
  autoArp = true;
  /** Every frame the stack sent, parsed, in order (ARP answered automatically included). */
  readonly seen: Pkt[] = [];
  private readonly ids: Uint32Array;

  constructor(opts: BenchOptions = {}) {
    const { wire } = makePools(opts);
    this.s = makeSide(new TapDevice(wire.a), IP_A, this.vt, opts, opts.tcpA ?? opts.tcp, opts.batchA);
    this.s.dev.record = false;
    this.peer = wire.b;
    this.ids = new Uint32Array(wire.b.ringSize);
  }

  get api(): NetApi { return this.s.api; }
  get stack(): Stack { return this.s.stack; }
  get rec(): Recorder { return this.s.rec; }

  /** Puts a frame on the wire towards the stack (not processed until the next `step`). */
  send(frame: Uint8Array): void {
    const pool = this.peer.pool;
    const id = pool.alloc();
    if (id < 0) throw new Error('peer pool empty');
    pool.bytes.set(frame, pool.dataOffset(id));
    pool.len[id] = frame.length;
    this.ids[0] = id;
    this.peer.txBatch(0, this.ids, 1);
  }

  /** Runs the stack's loop `n` times. */
  step(n = 2): void {
    for (let i = 0; i < n; i++) this.s.loop.iterate();
  }

  /** Frames the stack transmitted since the last call (ARP requests for the peer answered if autoArp). */
  recv(): Pkt[] {
    const out: Pkt[] = [];
    for (;;) {
      const n = this.peer.rxBatch(0, this.ids, this.ids.length);
      if (n === 0) break;
      const pool = this.peer.pool;
      for (let i = 0; i < n; i++) {
        const id = this.ids[i];
        const off = pool.dataOffset(id);
        const p = parseFrame(pool.bytes.subarray(off, off + pool.len[id]), this.vt.ms);
        pool.free(id);
        out.push(p);
        this.seen.push(p);
        if (this.autoArp && p.arp && p.arp.op === 1 && p.arp.tpa === IP_B) {
          this.send(arpFrame({ op: 2, sha: MAC_B, spa: IP_B, tha: MAC_A, tpa: p.arp.spa, dstMac: MAC_A }));
        }
      }
    }
    return out;
  }

  /** Sends a frame, runs the loop, returns what came back (ARP handled, so a reply that needed ARP is included). */
  exchange(frame?: Uint8Array, rounds = 3): Pkt[] {
    if (frame) this.send(frame);
    const out: Pkt[] = [];
    for (let r = 0; r < rounds; r++) {
      this.step(1);
      out.push(...this.recv());
    }
    return out.filter((p) => !p.arp);
  }

  /** Moves virtual time forward in steps, collecting what the stack sends. */
  advance(ms: number, stepMs = 1): Pkt[] {
    const out: Pkt[] = [];
    const end = this.vt.ms + ms;
    while (this.vt.ms < end) {
      this.vt.ms = Math.min(end, this.vt.ms + stepMs);
      this.step(1);
      out.push(...this.recv());
    }
    return out.filter((p) => !p.arp);
  }

  leak(): number {
    return leak(this.s);
  }
}

/**
 * The raw peer's end of one TCP connection: builds segments with the right ports, sequence and acknowledgment
 * numbers, and tracks what the stack sent.
 */
export class PeerTcp {
  iss: number;
  sndNxt: number;
  rcvNxt = 0;
  ts: number | null;
  tsRecent = 0;
  /** Whether the handshake negotiated these (set from the SYN-ACK / SYN). */
  tsOk = false;
  constructor(
    readonly rb: RawBench, readonly sport: number, readonly dport: number,
    readonly synOpts: { mss?: number; ws?: number; sackOk?: boolean; ts?: boolean } = { mss: 1460, ws: 7, sackOk: true, ts: true },
    iss = 0x10000000,
  ) {
    this.iss = iss >>> 0;
    this.sndNxt = this.iss;
    this.ts = synOpts.ts ? 5000 : null;
  }

  seg(s: Partial<TcpSeg> & { flags: number }): Uint8Array {
    const tsOpt: [number, number] | undefined = (this.tsOk || (s.flags & F.SYN) !== 0) && this.ts !== null ? [this.ts, this.tsRecent] : undefined;
    return tcpFrame({ sport: this.sport, dport: this.dport, seq: this.sndNxt, ack: this.rcvNxt, window: 65535, ts: tsOpt, ...s });
  }

  /** Peer SYN → stack SYN-ACK → peer ACK. Returns the SYN-ACK. */
  handshake(): Pkt {
    const o = this.synOpts;
    const out = this.rb.exchange(this.seg({ flags: F.SYN, mss: o.mss, ws: o.ws, sackOk: o.sackOk, ack: 0 }));
    const sa = out.find((p) => p.tcp && p.tcp.dport === this.sport && (p.tcp.flags & (F.SYN | F.ACK)) === (F.SYN | F.ACK));
    if (!sa) throw new Error(`no SYN-ACK: ${out.map(describe).join('; ')}`);
    this.acceptSynAck(sa);
    this.rb.exchange(this.seg({ flags: F.ACK }));
    return sa;
  }

  acceptSynAck(sa: Pkt): void {
    const t = sa.tcp!;
    this.rcvNxt = add32(t.seq, 1);
    this.sndNxt = add32(this.iss, 1);
    this.tsOk = t.tsVal !== undefined && this.ts !== null;
    if (t.tsVal !== undefined) this.tsRecent = t.tsVal;
  }

  /** Sends data at sndNxt (advancing it) and returns what the stack answered. */
  data(payload: Uint8Array, flags = F.ACK | F.PSH, rounds = 3): Pkt[] {
    const f = this.seg({ flags, payload });
    this.sndNxt = add32(this.sndNxt, payload.length + ((flags & F.FIN) ? 1 : 0));
    return this.rb.exchange(f, rounds);
  }

  /** Takes in-order data of the stack's segments (advances rcvNxt) and updates tsRecent. */
  absorb(pkts: Pkt[]): Uint8Array[] {
    const got: Uint8Array[] = [];
    for (const p of pkts) {
      const t = p.tcp;
      if (!t || t.dport !== this.sport) continue;
      if (t.tsVal !== undefined) this.tsRecent = t.tsVal;
      if (t.payload.length > 0 && t.seq === this.rcvNxt) { got.push(t.payload); this.rcvNxt = add32(this.rcvNxt, t.payload.length); }
      if ((t.flags & F.FIN) && add32(t.seq, t.payload.length) === this.rcvNxt) this.rcvNxt = add32(this.rcvNxt, 1);
    }
    return got;
  }

  /** Stack segments of this connection among `pkts`. */
  mine(pkts: Pkt[]): TcpInfo[] {
    return pkts.filter((p) => p.tcp && p.tcp.dport === this.sport && p.tcp.sport === this.dport).map((p) => p.tcp!);
  }
}

/** Makes every ISN `stack` chooses from now on `isn` (crafting sequence numbers near a wrap, or in a given half). */
export function fixIsn(stack: Stack, isn: number): void {
  stack.tcp.newIsn = () => isn | 0;
}
