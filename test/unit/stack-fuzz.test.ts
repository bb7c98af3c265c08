/**
 * Fuzzing the whole stack with fast-check: random bytes and valid frames (ARP, ICMP, UDP, TCP — to a listener, a
 * closed port, a live connection and a "victim" connection — and IPv4 fragments) built with wire/'s emit functions,
 * then mutated (bit flips, truncation, bytes and 16-bit fields overwritten, garbage TCP options, bytes appended),
 * with checksums fixed up most of the time so the mutations get past them. Each frame goes into `stack.input` of
 * stack A, which has a listener, a bound UDP port and two connections with stack B. After every frame: no exception,
 * and the mempools balance (allocated = buffers the stack holds + buffers in device rings) on both sides. After the
 * run: timers run for 3 s of virtual time, the live connection still carries 40 KB each way byte-exact, and a
 * shutdown returns every buffer.
 *
 * The victim connection gets everything, valid-looking or not; it may die or be corrupted (blind in-window injection
 * is what TCP accepts). The live connection is protected from the few frames that may legitimately change its byte
 * stream (an acceptable segment with ACK, a RST at exactly RCV.NXT), and ARP frames claiming B's address are not
 * sent (ARP spoofing legitimately breaks the path): everything else reaches it, including in-window RSTs/SYNs,
 * PAWS-old segments and out-of-window data with garbage options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventKind } from '../../src/api/events.js';
import type { TcpConn } from '../../src/stack/tcp/tcp-conn.js';
import {
  emitEthernet, emitIpv4, emitTcp, emitTcpOptions, EthernetView, EtherType, ETH_HEADER_LEN, ipv4AddrSum, Ipv4View,
  IpProtocol, IPV4_HEADER_LEN, TCP_HEADER_LEN, TcpOptions, TcpView, WireError, ArpView, EtherType as ET,
} from '../../src/wire/index.js';
import {
  arpFrame, Bench, BCAST, conn, fixChecksums, icmpFrame, IP_A, IP_B, leak, MAC_A, MAC_B, pattern, Sender, udpFrame,
} from '../helpers/stack-harness.js';

const IP_C = (IP_A & ~0xff) | 7;
const IP_FAR = (8 << 24) | 8; // off-subnet, no gateway: no route
const MAC_C = Uint8Array.of(2, 0, 0, 0, 0, 0x77);

// ---- frame specs (plain data, so fast-check can shrink them) -----------------------------------------------------

const u8 = fc.nat({ max: 255 });
const u16 = fc.nat({ max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const srcIp = fc.constantFrom(IP_B, IP_C, IP_FAR, IP_A, -1);
const dstIp = fc.constantFrom(IP_A, IP_A, IP_A, IP_B, -1, (IP_A & ~0xff) | 255);
const dstMac = fc.constantFrom(MAC_A, MAC_A, MAC_A, BCAST, MAC_B);
const smallPayload = fc.uint8Array({ maxLength: 64 });

const tcpOpts = fc.oneof(
  fc.record({
    kind: fc.constant('opts' as const),
    hasMss: fc.boolean(), mss: fc.oneof(u16, fc.constantFrom(0, 1, 12, 13, 536)), hasWindowScale: fc.boolean(),
    windowScale: fc.nat({ max: 255 }), sackPermitted: fc.boolean(), hasTimestamps: fc.boolean(), tsVal: u32, tsEcr: u32,
    sackBlocks: fc.nat({ max: 4 }), sackEdges: fc.array(u32, { minLength: 8, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
);
type OptSpec = typeof tcpOpts extends fc.Arbitrary<infer T> ? T : never;

/** Offsets relative to the connection's own numbers, so segments land in and around the windows. */
const relSeq = fc.oneof(fc.constantFrom(0, 1, -1, 100, 1000, -1000, 65535, 70000, -70000, 0x40000000, -0x80000000), fc.integer({ min: -300_000, max: 300_000 }), u32);
const tcpFlags = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0x10, 0x18, 0x11, 0x19) },
  { weight: 2, arbitrary: fc.constantFrom(0x02, 0x12, 0x04, 0x14, 0x01, 0x00, 0x03, 0x06, 0x17, 0xff) },
  { weight: 1, arbitrary: u8 },
);
/** Mostly in and around a connection's receive window. */
const connSeq = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -3000, max: 70_000 }) }, { weight: 1, arbitrary: relSeq });
const connAck = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 0, -1, -500, 1) }, { weight: 1, arbitrary: relSeq });
const connOpts = fc.oneof({ weight: 3, arbitrary: tcpOpts.filter((o) => o.kind === 'opts') }, { weight: 1, arbitrary: tcpOpts });

const base = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 1600 }) }),
  fc.record({ kind: fc.constant('arp' as const), op: fc.constantFrom(1, 2, 3), spa: fc.constantFrom(IP_C, IP_FAR, 0, IP_A, IP_B), tpa: fc.constantFrom(IP_A, IP_C, IP_B), dst: dstMac }),
  fc.record({ kind: fc.constant('icmp' as const), type: fc.constantFrom(8, 8, 0, 3, 11, 5, 13), code: u8, rest: u32, data: fc.uint8Array({ maxLength: 200 }), src: srcIp, dst: dstIp, dstMac }),
  fc.record({ kind: fc.constant('udp' as const), sport: u16, dport: fc.constantFrom(53, 53, 54, 0), data: fc.uint8Array({ maxLength: 200 }), src: srcIp, dst: dstIp, dstMac }),
  fc.record({ kind: fc.constant('syn' as const), sport: u16, seq: u32, flags: fc.constantFrom(0x02, 0x02, 0x02, 0x03, 0x06, 0x12, 0x42), opts: tcpOpts, src: fc.constantFrom(IP_C, IP_C, IP_B, IP_FAR), window: u16, data: smallPayload }),
  fc.record({ kind: fc.constant('tcp-any' as const), sport: u16, dport: fc.constantFrom(80, 81, 5001, 0), seq: u32, ack: u32, flags: tcpFlags, opts: tcpOpts, src: srcIp, window: u16, data: smallPayload }),
  fc.record({ kind: fc.constant('live' as const), seq: relSeq, ack: relSeq, flags: tcpFlags, opts: tcpOpts, window: u16, data: smallPayload, tsRel: fc.constantFrom(-1000, -1, 0, 1, 1000, 0x40000000) }),
  fc.record({ kind: fc.constant('victim' as const), pick: fc.nat({ max: 7 }), seq: connSeq, ack: connAck, flags: tcpFlags, opts: connOpts, window: u16, data: fc.uint8Array({ maxLength: 1400 }), tsRel: fc.constantFrom(-1000, -1, 0, 1, 1000, 5, 50) }),
  fc.record({ kind: fc.constant('complete' as const), pick: fc.nat({ max: 7 }), cookie: fc.boolean(), flags: fc.constantFrom(0x10, 0x18, 0x11, 0x10), opts: tcpOpts, window: u16, data: smallPayload }),
  fc.record({ kind: fc.constant('fragpair' as const), icmp: fc.boolean(), split8: fc.nat({ max: 40 }), reverse: fc.boolean(), id: fc.nat({ max: 3 }), data: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
  fc.record({ kind: fc.constant('frag' as const), proto: fc.constantFrom(IpProtocol.Udp, IpProtocol.Tcp, IpProtocol.Icmp, 99), id: fc.nat({ max: 3 }), off8: fc.nat({ max: 200 }), mf: fc.boolean(), data: fc.uint8Array({ maxLength: 600 }), src: fc.constantFrom(IP_C, IP_B, IP_FAR) }),
  fc.record({ kind: fc.constant('ipopts' as const), ihl: fc.integer({ min: 0, max: 15 }), proto: fc.constantFrom(IpProtocol.Udp, IpProtocol.Icmp, IpProtocol.Tcp, 0, 99, 255), data: fc.uint8Array({ maxLength: 100 }) }),
);
type BaseSpec = typeof base extends fc.Arbitrary<infer T> ? T : never;

/** What the builder may use from the run: A's connections and the SYN-ACKs A sent (for completing handshakes). */
interface Ctx { live: TcpConn; others: () => TcpConn[]; synAcks: Array<{ sport: number; dport: number; dst: number; seq: number; ack: number; tsVal?: number }> }

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), v: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), v: fc.constant(0) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), v: u8 }),
  fc.record({ kind: fc.constant('field16' as const), at: fc.constantFrom(14 + 2, 14 + 6, 34 + 4, 34 + 12, 34 + 14, 14 + 0), v: u16 }),
  fc.record({ kind: fc.constant('append' as const), at: fc.nat({ max: 64 }), v: u8 }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
const frameSpec = fc.record({
  base,
  mutations: fc.oneof({ weight: 2, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
  fix: fc.nat({ max: 9 }), // 0..6: fix checksums after mutating
  advanceMs: fc.constantFrom(0, 0, 0, 1, 40, 250),
});
type FrameSpec = typeof frameSpec extends fc.Arbitrary<infer T> ? T : never;

// ---- building ----------------------------------------------------------------------------------------------------

function optionBytes(o: OptSpec): Uint8Array {
  if (o.kind === 'raw') {
    const n = o.bytes.length & ~3;
    return o.bytes.slice(0, n);
  }
  const t = new TcpOptions();
  t.hasMss = o.hasMss; t.mss = o.mss; t.hasWindowScale = o.hasWindowScale; t.windowScale = o.windowScale;
  t.sackPermitted = o.sackPermitted; t.hasTimestamps = o.hasTimestamps; t.tsVal = o.tsVal | 0; t.tsEcr = o.tsEcr | 0;
  t.sackBlocks = o.sackBlocks;
  for (let k = 0; k < 4; k++) { t.sackLeft[k] = o.sackEdges[2 * k] | 0; t.sackRight[k] = o.sackEdges[2 * k + 1] | 0; }
  const b = new Uint8Array(40);
  return b.slice(0, emitTcpOptions(b, 0, t));
}

function tcpRaw(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, window: number, opts: Uint8Array, data: Uint8Array, mac = MAC_A): Uint8Array {
  const l4Len = TCP_HEADER_LEN + opts.length + data.length;
  const f = new Uint8Array(ETH_HEADER_LEN + IPV4_HEADER_LEN + l4Len);
  emitEthernet(f, 0, mac, 0, MAC_B, 0, EtherType.Ipv4);
  emitIpv4(f, ETH_HEADER_LEN, src, dst, IpProtocol.Tcp, l4Len, 7, 64, true);
  const l4 = ETH_HEADER_LEN + IPV4_HEADER_LEN;
  f.set(opts, l4 + TCP_HEADER_LEN);
  f.set(data, l4 + TCP_HEADER_LEN + opts.length);
  emitTcp(f, l4, sport, dport, seq | 0, ack | 0, flags, window, opts.length, data.length, ipv4AddrSum(f, ETH_HEADER_LEN));
  return f;
}

/** Segment for connection `c` of stack A (as seen from B): numbers relative to A's state. */
function connSegment(c: TcpConn, s: Extract<BaseSpec, { kind: 'live' | 'victim' }>): Uint8Array {
  if (c.state === 3 /* SYN-RECEIVED: the numbers are the handshake's */ && s.kind === 'victim') {
    return tcpRaw(c.rip, c.lip, c.rport, c.lport, (c.rcvNxt + s.seq) | 0, (c.sndUna + 1 + s.ack) | 0, s.flags, s.window, optionBytes(s.opts), s.data);
  }
  let opts = optionBytes(s.opts);
  if (s.opts.kind === 'opts' && s.opts.hasTimestamps) {
    // Timestamps near TS.Recent, so PAWS and the TS.Recent update are exercised.
    const t = { ...s.opts, tsVal: (c.tsRecent + s.tsRel) >>> 0 };
    opts = optionBytes(t);
  }
  return tcpRaw(c.rip, c.lip, c.rport, c.lport, (c.rcvNxt + s.seq) | 0, (c.sndUna + s.ack) | 0, s.flags, s.window, opts, s.data);
}

function buildBase(s: BaseSpec, ctx: Ctx): Uint8Array[] {
  const live = ctx.live;
  switch (s.kind) {
    case 'victim': {
      const o = ctx.others();
      return [o.length ? connSegment(o[s.pick % o.length], s) : connSegment(live, { ...s, seq: s.seq | 0x40000000 })];
    }
    case 'complete': {
      // The ACK that completes a handshake A answered (a SYN-RECEIVED connection, or a cookie SYN-ACK).
      const pend = s.cookie ? ctx.synAcks : ctx.synAcks.filter((x) => ctx.others().some((c) => c.state === 3 && c.rport === x.dport && c.rip === x.dst));
      if (pend.length === 0) return [];
      const x = pend[s.pick % pend.length];
      let opts = optionBytes(s.opts);
      if (s.opts.kind === 'opts' && s.opts.hasTimestamps && x.tsVal !== undefined) opts = optionBytes({ ...s.opts, tsEcr: x.tsVal });
      return [tcpRaw(x.dst, IP_A, x.dport, x.sport, x.ack, (x.seq + 1) | 0, s.flags, s.window, opts, s.data)];
    }
    case 'fragpair': {
      const whole = s.icmp
        ? icmpFrame({ type: 8, rest: 0x10002, data: s.data, src: IP_C, ident: 0x5000 + s.id })
        : udpFrame({ sport: 999, dport: 53, payload: s.data, src: IP_C, ident: 0x5000 + s.id });
      const body = whole.subarray(ETH_HEADER_LEN + IPV4_HEADER_LEN);
      const cut = Math.min(8 * Math.max(1, s.split8), (body.length - 1) & ~7);
      if (cut <= 0) return [whole];
      const part = (from: number, to: number, mf: boolean): Uint8Array => {
        const f = new Uint8Array(ETH_HEADER_LEN + IPV4_HEADER_LEN + (to - from));
        emitEthernet(f, 0, MAC_A, 0, MAC_B, 0, EtherType.Ipv4);
        emitIpv4(f, ETH_HEADER_LEN, IP_C, IP_A, s.icmp ? IpProtocol.Icmp : IpProtocol.Udp, to - from, 0x5000 + s.id, 64, false);
        f[ETH_HEADER_LEN + 6] = (mf ? 0x20 : 0) | ((from >> 3) >> 8);
        f[ETH_HEADER_LEN + 7] = (from >> 3) & 0xff;
        fixChecksums(f);
        f.set(body.subarray(from, to), ETH_HEADER_LEN + IPV4_HEADER_LEN);
        return f;
      };
      const ps = [part(0, cut, true), part(cut, body.length, false)];
      return s.reverse ? ps.reverse() : ps;
    }
    default: return [buildOne(s, live)];
  }
}

function buildOne(s: Exclude<BaseSpec, { kind: 'victim' | 'complete' | 'fragpair' }>, live: TcpConn): Uint8Array {
  switch (s.kind) {
    case 'random': return s.bytes;
    case 'arp': return arpFrame({ op: s.op, sha: Uint8Array.of(2, 0, 0, 0, 0, 0x77), spa: s.spa, tpa: s.tpa, dstMac: s.dst });
    case 'icmp': return icmpFrame({ type: s.type, code: s.code, rest: s.rest | 0, data: s.data, src: s.src, dst: s.dst, dstMac: s.dstMac });
    case 'udp': return udpFrame({ sport: s.sport, dport: s.dport, payload: s.data, src: s.src, dst: s.dst, dstMac: s.dstMac });
    case 'syn': return tcpRaw(s.src, IP_A, s.sport, 80, s.seq, 0, s.flags, s.window, optionBytes(s.opts), s.data);
    case 'tcp-any': return tcpRaw(s.src, IP_A, s.sport, s.dport, s.seq, s.ack, s.flags, s.window, optionBytes(s.opts), s.data);
    case 'live': return connSegment(live, s);
    case 'frag': {
      const f = new Uint8Array(ETH_HEADER_LEN + IPV4_HEADER_LEN + s.data.length);
      emitEthernet(f, 0, MAC_A, 0, MAC_B, 0, EtherType.Ipv4);
      emitIpv4(f, ETH_HEADER_LEN, s.src, IP_A, s.proto, s.data.length, 0x4000 + s.id, 64, false);
      f[ETH_HEADER_LEN + 6] = (s.mf ? 0x20 : 0) | (s.off8 >> 8);
      f[ETH_HEADER_LEN + 7] = s.off8 & 0xff;
      f.set(s.data, ETH_HEADER_LEN + IPV4_HEADER_LEN);
      return f;
    }
    case 'ipopts': {
      const hl = Math.max(s.ihl, 0) * 4;
      const f = new Uint8Array(ETH_HEADER_LEN + Math.max(hl, 20) + s.data.length);
      emitEthernet(f, 0, MAC_A, 0, MAC_B, 0, EtherType.Ipv4);
      emitIpv4(f, ETH_HEADER_LEN, IP_B, IP_A, s.proto, f.length - ETH_HEADER_LEN - 20, 9, 64, true);
      f[ETH_HEADER_LEN] = 0x40 | s.ihl;
      f.set(s.data, ETH_HEADER_LEN + Math.max(hl, 20));
      return f;
    }
  }
}

function mutate(f0: Uint8Array, ms: Mutation[], fix: boolean): Uint8Array {
  let f = Uint8Array.from(f0);
  for (const m of ms) {
    if (f.length === 0 && m.kind !== 'append') continue;
    switch (m.kind) {
      case 'flip': f[m.at % f.length] ^= 1 << m.v; break;
      case 'truncate': f = f.slice(0, m.at % f.length); break;
      case 'byte': f[m.at % f.length] = m.v; break;
      case 'field16': if (m.at + 1 < f.length) { f[m.at] = m.v >> 8; f[m.at + 1] = m.v & 0xff; } break;
      case 'append': { const g = new Uint8Array(f.length + m.at); g.set(f); g.fill(m.v, f.length); f = g; break; }
    }
  }
  if (fix) fixChecksums(f);
  return f;
}

// ---- the guard for the live connection ----------------------------------------------------------------------------

const gEth = new EthernetView(), gIp = new Ipv4View(), gTcp = new TcpView(), gArp = new ArpView();

/** Whether `f`, as the stack will parse it, may legitimately change the live connection's byte stream or path. */
function wouldDisturbLive(f: Uint8Array, live: TcpConn): boolean {
  if (gEth.wrap(f, 0, f.length) !== WireError.Ok) return false;
  const type = gEth.etherType;
  if (type === ET.Arp) {
    return gArp.wrap(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN) === WireError.Ok && gArp.senderIp === IP_B;
  }
  if (type !== ET.Ipv4) return false;
  const e = gIp.wrap(f, ETH_HEADER_LEN, f.length - ETH_HEADER_LEN);
  if (e === WireError.Fragment) return gIp.src === IP_B && gIp.protocol === IpProtocol.Tcp; // could reassemble into one
  if (e !== WireError.Ok || gIp.protocol !== IpProtocol.Tcp || gIp.src !== IP_B || gIp.dst !== IP_A) return false;
  if (gTcp.wrap(f, gIp.payloadOff, gIp.payloadLen, gIp.addrSum) !== WireError.Ok) return false;
  if (gTcp.dstPort !== live.lport || gTcp.srcPort !== live.rport) return false;
  const flags = gTcp.flags;
  const o = gTcp.options;
  if (live.tsOk && o.hasTimestamps && (flags & 0x04) === 0 && ((o.tsVal - live.tsRecent) | 0) < 0) return false; // PAWS
  const wnd = Math.max(0, (live.rcvAdv - live.rcvNxt) | 0);
  const off0 = (gTcp.seq - live.rcvNxt) | 0;
  const segLen = gTcp.segLen;
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? off0 === 0 : off0 >= 0 && off0 < wnd;
  else if (wnd === 0) acceptable = false;
  else { const end = (off0 + segLen - 1) | 0; acceptable = (off0 >= 0 && off0 < wnd) || (end >= 0 && end < wnd); }
  const probe = !acceptable && wnd === 0 && off0 === 0;
  if (!acceptable && !probe) return false; // → an ACK
  if (flags & 0x04) return off0 === 0; // RST: resets only at RCV.NXT, else a challenge ACK
  if (flags & 0x02) return false; // SYN: challenge ACK
  if ((flags & 0x10) === 0) return false; // no ACK: dropped
  return true;
}

// ---- the run ----------------------------------------------------------------------------------------------------

interface RunStats { frames: number; skipped: number; victimDied: number; knocks: number }
const totals: RunStats = { frames: 0, skipped: 0, victimDied: 0, knocks: 0 };
const coverage: Record<string, number> = {};

function runOnce(specs: FrameSpec[]): void {
  const bench = new Bench({ poolSize: 2048, tcp: { maxConnections: 128, timeWaitMs: 1000 } });
  const { a, b } = bench;
  a.dev.record = false;
  b.dev.record = false;
  assert.equal(a.api.listen(80, 2), 0);
  assert.equal(a.api.udpBind(53), 0);
  // The live connection and the victim, both B → A:80, accepted by A; some data first so the state is not fresh.
  const hbLive = b.api.connect(IP_A, 80, 1);
  const hbVictim = b.api.connect(IP_A, 80, 2);
  bench.pump(() => a.rec.of(EventKind.Knock).length === 2 && b.rec.of(EventKind.Connected).length === 2);
  const knocks = a.rec.of(EventKind.Knock);
  const byPort = (h: number) => knocks.find((k) => k.d === conn(b, h).lport)!.handle;
  const haLive = byPort(hbLive), haVictim = byPort(hbVictim);
  const warm = pattern(10_000, 31);
  b.api.sendv(hbLive, warm, 0, warm.length);
  a.api.sendv(haLive, warm, 0, warm.length);
  b.api.sendv(hbVictim, warm, 0, 3000);
  bench.advance(200, 5);
  assert.equal(a.rec.stream(haLive).length, 10_000);
  assert.equal(b.rec.stream(hbLive).length, 10_000);
  const live = conn(a, haLive);
  const check = (where: string): void => {
    assert.equal(leak(a), 0, `A's pool does not balance ${where}`);
    assert.equal(leak(b), 0, `B's pool does not balance ${where}`);
  };
  check('before');

  const others = (): TcpConn[] => {
    const out: TcpConn[] = [];
    for (let i = 0; a.stack.tcp.at(i) !== undefined; i++) { const c = a.stack.tcp.at(i); if (c.live && c !== live) out.push(c); }
    return out;
  };
  const ctx: Ctx = { live, others, synAcks: [] };
  a.dev.record = false;
  a.dev.filter = (p) => {
    const t = p.tcp;
    if (t && (t.flags & 0x12) === 0x12 && p.ip) ctx.synAcks.push({ sport: t.sport, dport: t.dport, dst: p.ip.dst, seq: t.seq | 0, ack: t.ack | 0, tsVal: t.tsVal });
    return 'pass';
  };
  // IP_C resolves to a MAC nobody on the wire has: A's answers to it are sent (and logged) and B ignores them.
  const arpC = arpFrame({ op: 2, sha: MAC_C, spa: IP_C, tha: MAC_A, tpa: IP_A, dstMac: MAC_A });
  const idC = a.pool.alloc();
  a.pool.bytes.set(arpC, a.pool.dataOffset(idC));
  a.pool.len[idC] = arpC.length;
  a.stack.input(idC);
  // Connections the fuzz manages to open are accepted (Recorder) and given data to send.
  a.rec.opts.on = (e, api) => { if (e.kind === EventKind.Knock) { api.accept(e.handle, 9); api.sendv(e.handle, warm, 0, 5000); } };

  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    const built = buildBase(s.base, ctx);
    for (let j = 0; j < built.length; j++) {
      const f = j === built.length - 1 ? mutate(built[j], s.mutations, s.fix <= 6) : built[j];
      totals.frames++;
      if (f.length > a.pool.dataRoom || wouldDisturbLive(f, live)) { totals.skipped++; continue; }
      const id = a.pool.alloc();
      assert.ok(id >= 0, 'A\'s pool ran dry');
      a.pool.bytes.set(f, a.pool.dataOffset(id));
      a.pool.len[id] = f.length;
      a.stack.input(id);
    }
    if (s.advanceMs > 0) bench.vt.ms += s.advanceMs;
    bench.step();
    bench.step();
    check(`after frame ${i} (${s.base.kind})`);
  }
  assert.ok(a.stack.tcp.connOf(haLive), 'the live connection is still there');
  bench.advance(3000, 10);
  check('after 3 s of timers');
  if (!a.stack.tcp.connOf(haVictim)) totals.victimDied++;
  const tc = a.stack.tcp.counters, sc = a.stack.counters;
  const add = (k: string, n: number) => { coverage[k] = (coverage[k] ?? 0) + n; };
  add('segmentsIn', tc.segmentsIn); add('challengeAcks', tc.challengeAcks); add('outOfWindow', tc.outOfWindow);
  add('oooSegments', tc.oooSegments); add('pawsDropped', tc.pawsDropped); add('passiveOpens', tc.passiveOpens - 2);
  add('synCookiesSent', tc.synCookiesSent); add('synCookiesRejected', tc.synCookiesRejected); add('resetsIn', tc.resetsIn);
  add('resetsOut', tc.resetsOut); add('retransmits', tc.retransmits); add('fragments', sc.fragments); add('reassembled', sc.reassembled);
  add('icmpEchoReplies', sc.icmpEchoReplies); add('icmpUnreachSent', sc.icmpUnreachSent); add('badL4', sc.badL4); add('ipBad', sc.ipBad);
  add('udpIn', a.stack.udp.counters.datagramsIn); add('arpAnswered', a.stack.iface.counters.arpRequestsAnswered);
  add('unknownProtocol', sc.unknownProtocol); add('rxNotForUs', a.stack.iface.counters.rxNotForUs);
  totals.knocks += a.rec.of(EventKind.Knock).length - 2;

  // The live connection still works, byte-exact, both ways.
  const ra = a.rec.stream(haLive).length, rb = b.rec.stream(hbLive).length;
  const da = pattern(40_000, 41), db = pattern(40_000, 42);
  const sa = new Sender(a.api, haLive, da), sb = new Sender(b.api, hbLive, db);
  a.dev.filter = null;
  a.rec.opts.on = (e) => sa.onSent(e);
  b.rec.opts.on = (e) => sb.onSent(e);
  sa.push();
  sb.push();
  assert.ok(bench.advance(60_000, 5, () => sa.done && sb.done), `live transfer stuck: A→B ${sa.acked}, B→A ${sb.acked}`);
  assert.deepEqual(b.rec.stream(hbLive).subarray(rb), da, 'A → B after the fuzz');
  assert.deepEqual(a.rec.stream(haLive).subarray(ra), db, 'B → A after the fuzz');
  assert.equal(a.rec.stream(haLive).length - ra, db.length);
  check('after the live transfer');

  // Shutdown returns every buffer.
  a.stack.shutdown();
  b.stack.shutdown();
  a.dev.close();
  b.dev.close();
  assert.equal(a.pool.allocated, 0, 'A: buffers left after shutdown');
  assert.equal(b.pool.allocated, 0, 'B: buffers left after shutdown');
}

test('stack fuzz: mutated frames into a stack with a listener and live connections — no exception, pools balance, the live connection survives', (t) => {
  fc.assert(fc.property(fc.array(frameSpec, { minLength: 1, maxLength: 40, size: 'medium' }), (specs) => { runOnce(specs); }), {
    numRuns: Number(process.env.STACK_FUZZ_RUNS ?? 300),
    seed: process.env.STACK_FUZZ_SEED !== undefined ? Number(process.env.STACK_FUZZ_SEED) : undefined,
  });
  t.diagnostic(`totals ${JSON.stringify(totals)}`);
  t.diagnostic(`coverage ${JSON.stringify(coverage)}`);
  // The generators reach the paths they are meant for.
  assert.ok(totals.frames > 1000, `${totals.frames} frames`);
  assert.ok(totals.knocks > 0, 'no fuzz handshake completed');
  for (const k of ['synCookiesSent', 'challengeAcks', 'outOfWindow', 'oooSegments', 'pawsDropped', 'passiveOpens', 'resetsIn', 'resetsOut', 'reassembled', 'icmpEchoReplies', 'icmpUnreachSent', 'udpIn', 'arpAnswered', 'badL4', 'ipBad']) {
    assert.ok((coverage[k] ?? 0) > 0, `no run reached ${k}`);
  }
  assert.ok(totals.skipped < totals.frames / 5, `${totals.skipped} of ${totals.frames} frames skipped by the live guard`);
});

test('stack fuzz: random bytes only (any length up to the buffer), straight into stack.input', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 1906 }), { minLength: 1, maxLength: 40 }), (frames) => {
    runOnce(frames.map((bytes) => ({ base: { kind: 'random' as const, bytes }, mutations: [], fix: 9, advanceMs: 0 })));
  }), { numRuns: 50 });
});
