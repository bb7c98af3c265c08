/**
 * Fuzzing every parser with fast-check: random bytes and mutated valid frames (bit flips, truncation, length fields
 * rewritten, checksums re-fixed so the mutation reaches the deeper checks). Invariants:
 *  - no exception escapes; the result is a WireError value;
 *  - on Ok (and Fragment for IPv4) every offset/length the view reports lies inside [off, off + len);
 *  - nothing is read outside [off, off + len): the frame sits at the very end of a buffer exactly its size, and the
 *    buffer is wrapped in a Proxy that fails the test on any index outside the window.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EtherType, ipv4FillChecksum, IpProtocol, parseTcpOptions, TcpOptions, WireError, wr16,
} from '../../src/wire/index.js';
import { buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame, newViews } from '../helpers/wire-frames.js';

const ERRORS = new Set<number>(Object.values(WireError));
let badReads = 0;

/** A Uint8Array stand-in that counts reads of indexes outside [lo, hi). */
function guarded(b: Uint8Array, lo: number, hi: number): Uint8Array {
  return new Proxy(b, {
    get(t, p, r) {
      if (typeof p === 'string') {
        const i = Number(p);
        if (Number.isInteger(i) && (i < lo || i >= hi)) badReads++;
        if (Number.isInteger(i)) return t[i];
      }
      return Reflect.get(t, p, t) ?? Reflect.get(t, p, r);
    },
  });
}

/** Views that check checksums and views that do not, so mutated frames also reach the checks behind them. */
function views(verify: boolean) {
  const v = newViews();
  v.ip.verifyChecksum = v.icmp.verifyChecksum = v.udp.verifyChecksum = v.tcp.verifyChecksum = verify;
  return v;
}
const checked = views(true);
const unchecked = views(false);
const opts = new TcpOptions();

function within(what: string, o: number, l: number, lo: number, hi: number): void {
  assert.ok(Number.isInteger(o) && Number.isInteger(l) && l >= 0 && o >= lo && o + l <= hi, `${what}: [${o}, +${l}) outside [${lo}, ${hi})`);
}

function code(e: number): number {
  assert.ok(ERRORS.has(e), `not a WireError: ${e}`);
  return e;
}

/** The stack's receive path, layer by layer, asserting the invariants at each step; returns the deepest result. */
function parseChain(v: ReturnType<typeof views>, b: Uint8Array, off: number, len: number): number {
  const end = off + len;
  let e = code(v.eth.wrap(b, off, len));
  if (e !== WireError.Ok) return e;
  within('ethernet payload', v.eth.payloadOff, v.eth.payloadLen, off, end);
  const type = v.eth.etherType;
  if (type === EtherType.Arp) {
    e = code(v.arp.wrap(b, v.eth.payloadOff, v.eth.payloadLen));
    if (e === WireError.Ok) {
      within('arp', v.arp.off, 28, off, end);
      void v.arp.senderIp; void v.arp.targetIp; void v.arp.op;
    }
    return e;
  }
  if (type !== EtherType.Ipv4) return -1;
  e = code(v.ip.wrap(b, v.eth.payloadOff, v.eth.payloadLen));
  if (e !== WireError.Ok && e !== WireError.Fragment) return e;
  within('ipv4 payload', v.ip.payloadOff, v.ip.payloadLen, off + 14 + 20, end);
  assert.ok(v.ip.headerLen >= 20 && v.ip.headerLen <= 60);
  void v.ip.src; void v.ip.dst; void v.ip.fragOffset; void v.ip.addrSum;
  if (e === WireError.Fragment) return e;
  const po = v.ip.payloadOff, pl = v.ip.payloadLen;
  switch (v.ip.protocol) {
    case IpProtocol.Icmp:
      e = code(v.icmp.wrap(b, po, pl));
      if (e === WireError.Ok) {
        within('icmp data', v.icmp.dataOff, v.icmp.dataLen, po, po + pl);
        void v.icmp.type; void v.icmp.seq;
      }
      return e;
    case IpProtocol.Udp:
      e = code(v.udp.wrap(b, po, pl, v.ip.addrSum));
      if (e === WireError.Ok) {
        within('udp payload', v.udp.payloadOff, v.udp.payloadLen, po + 8, po + pl);
        void v.udp.srcPort; void v.udp.dstPort;
      }
      return e;
    case IpProtocol.Tcp:
      e = code(v.tcp.wrap(b, po, pl, v.ip.addrSum));
      if (e === WireError.Ok) {
        within('tcp payload', v.tcp.payloadOff, v.tcp.payloadLen, po + 20, po + pl);
        assert.ok(v.tcp.headerLen >= 20 && v.tcp.headerLen <= 60);
        assert.ok(v.tcp.options.sackBlocks <= 4 && v.tcp.options.windowScale <= 14);
        void v.tcp.seq; void v.tcp.ack; void v.tcp.flags; void v.tcp.segLen;
      }
      return e;
    default:
      return -1;
  }
}

/** Every parser directly on the same bytes, as if they were its layer (most random input never gets past Ethernet). */
function parseEachLayer(v: ReturnType<typeof views>, b: Uint8Array, off: number, len: number): void {
  const end = off + len;
  if (code(v.arp.wrap(b, off, len)) === WireError.Ok) within('arp', off, 28, off, end);
  const e = code(v.ip.wrap(b, off, len));
  if (e === WireError.Ok || e === WireError.Fragment) within('ipv4', v.ip.payloadOff, v.ip.payloadLen, off, end);
  if (code(v.icmp.wrap(b, off, len)) === WireError.Ok) within('icmp', v.icmp.dataOff, v.icmp.dataLen, off, end);
  if (code(v.udp.wrap(b, off, len, 0x1234)) === WireError.Ok) within('udp', v.udp.payloadOff, v.udp.payloadLen, off, end);
  if (code(v.tcp.wrap(b, off, len, 0xfedc)) === WireError.Ok) within('tcp', v.tcp.payloadOff, v.tcp.payloadLen, off, end);
  code(parseTcpOptions(b, off, len < 40 ? len : 40, opts));
}

/**
 * Places `frame` at the end of a buffer exactly its size (after `pad` bytes) and runs every parser over it;
 * returns what the checksum-verifying chain made of it.
 */
function fuzzOne(frame: Uint8Array, pad: number): number {
  const raw = new Uint8Array(pad + frame.length);
  raw.fill(0xa5, 0, pad);
  raw.set(frame, pad);
  const b = guarded(raw, pad, raw.length);
  badReads = 0;
  const result = parseChain(checked, b, pad, frame.length);
  parseChain(unchecked, b, pad, frame.length);
  parseEachLayer(checked, b, pad, frame.length);
  parseEachLayer(unchecked, b, pad, frame.length);
  assert.equal(badReads, 0, 'a parser read outside its window');
  return result;
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const l3 = fc.record({ src: u32, dst: u32, ident: u16, ttl: fc.nat({ max: 255 }), df: fc.boolean() });
const tcpOpts = fc.record({
  hasMss: fc.boolean(), mss: u16, hasWindowScale: fc.boolean(), windowScale: fc.nat({ max: 14 }), sackPermitted: fc.boolean(),
  hasTimestamps: fc.boolean(), tsVal: u32, tsEcr: u32, sackBlocks: fc.nat({ max: 4 }),
}).map((r) => Object.assign(new TcpOptions(), r));
const payload = fc.uint8Array({ maxLength: 80 });

/** Valid frames of every kind the stack meets. */
const validFrame = fc.oneof(
  fc.tuple(l3, u16, u16, u32, u32, fc.nat({ max: 255 }), u16, tcpOpts, payload).map(([a, sport, dport, seq, ack, flags, window, opts, p]) =>
    buildTcpFrame({ ...a, sport, dport, seq, ack, flags, window, opts, payload: p })),
  fc.tuple(l3, u16, u16, payload).map(([a, s, d, p]) => buildUdpFrame(a, s, d, p)),
  fc.tuple(l3, u16, u16, payload).map(([a, i, s, p]) => buildIcmpEchoFrame(a, 8, i, s, p)),
  fc.tuple(fc.constantFrom(1, 2), u32, u32).map(([op, s, t]) => buildArpFrame(op, s, t)),
);

/** Offsets of length-like fields in an Ethernet/IPv4/L4 frame (IHL, total length, UDP length, TCP data offset, options). */
const FIELDS = [14, 16, 17, 20, 21, 34 + 4, 34 + 5, 34 + 12, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), bit: fc.constant(0) }),
  fc.record({ kind: fc.constant('field' as const), at: fc.nat(), bit: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('field16' as const), at: fc.nat(), bit: fc.nat({ max: 0xffff }) }),
);

function mutate(f0: Uint8Array, ms: Array<{ kind: string; at: number; bit: number }>, fixIp: boolean): Uint8Array {
  let f = f0.slice();
  for (const m of ms) {
    if (f.length === 0) break;
    if (m.kind === 'flip') f[m.at % f.length] ^= 1 << m.bit;
    else if (m.kind === 'truncate') f = f.slice(0, m.at % (f.length + 1));
    else {
      const at = FIELDS[m.at % FIELDS.length];
      if (m.kind === 'field' && at < f.length) f[at] = m.bit;
      else if (at + 1 < f.length) wr16(f, at, m.bit);
    }
  }
  // Re-fix the IPv4 header checksum so that the mutation is seen by the layers behind it.
  if (fixIp && f.length >= 34 && f[12] === 8 && f[13] === 0 && (f[14] & 0x0f) >= 5 && 14 + (f[14] & 0x0f) * 4 <= f.length) ipv4FillChecksum(f, 14);
  return f;
}

describe('wire: fuzzing (fast-check)', () => {
  test('random bytes into every parser', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat({ max: 3 }), (f, pad) => { fuzzOne(f, pad); }), { numRuns: 3000 });
  });

  test('random bytes behind a valid Ethernet + IPv4 prefix', () => {
    fc.assert(fc.property(validFrame, fc.uint8Array({ maxLength: 80 }), fc.nat({ max: 3 }), (v, tail, pad) => {
      const f = new Uint8Array(Math.min(v.length, 34) + tail.length);
      f.set(v.subarray(0, 34));
      f.set(tail, Math.min(v.length, 34));
      void fuzzOne(mutate(f, [], true), pad);
    }), { numRuns: 2000 });
  });

  test('valid frames parse Ok at the end of an exact-size buffer', () => {
    fc.assert(fc.property(validFrame, fc.nat({ max: 3 }), (f, pad) => {
      assert.equal(fuzzOne(f, pad), WireError.Ok);
    }), { numRuns: 500 });
  });

  test('mutated frames: bit flips, truncation, length fields rewritten', () => {
    const reached = new Array<number>(16).fill(0);
    fc.assert(fc.property(validFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.nat({ max: 3 }),
      (f, ms, fix, pad) => { reached[fuzzOne(mutate(f, ms, fix), pad) + 1]++; }), { numRuns: 5000 });
    // The mutations must reach the checks they aim at, not just fail early.
    for (const e of [WireError.Ok, WireError.TooShort, WireError.BadIhl, WireError.BadTotalLength, WireError.BadChecksum,
      WireError.Fragment, WireError.BadDataOffset, WireError.BadLength]) assert.ok(reached[e + 1] > 0, `never saw ${e}`);
  });

  test('TCP option areas: random kinds and lengths', () => {
    const area = fc.array(fc.oneof(
      fc.constantFrom([0], [1], [2, 4, 5, 0xb4], [3, 3, 7], [4, 2], [8, 10, 1, 2, 3, 4, 5, 6, 7, 8]),
      fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 45 })).map(([k, l]) => [k, l]),
      fc.array(fc.nat({ max: 255 }), { maxLength: 12 }),
    ), { maxLength: 10 }).map((parts) => Uint8Array.from(parts.flat().slice(0, 40)));
    fc.assert(fc.property(area, fc.nat({ max: 3 }), (a, pad) => {
      const raw = new Uint8Array(pad + a.length);
      raw.set(a, pad);
      badReads = 0;
      const e = code(parseTcpOptions(guarded(raw, pad, raw.length), pad, a.length, opts));
      assert.equal(badReads, 0);
      if (e === WireError.Ok) assert.ok(opts.sackBlocks <= 4 && opts.windowScale <= 14);
      else assert.equal(e, WireError.BadOptionLength);
    }), { numRuns: 5000 });
  });

  test('the guard itself catches a read past the end', () => {
    const b = guarded(new Uint8Array(4), 0, 4);
    badReads = 0;
    void b[4];
    assert.equal(badReads, 1);
  });
});
