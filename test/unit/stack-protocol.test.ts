/**
 * Protocol-level tests of the stack (src/stack/): frames crafted with wire/'s emit functions go in, the stack's
 * answers are parsed and checked against the RFCs. Time is virtual (test/helpers/stack-harness.ts), so timers
 * (RTO, delayed ACK, persist, TIME-WAIT, ARP retries) are exact and instant.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, DeathReason } from '../../src/api/codes.js';
import { EventKind } from '../../src/api/events.js';
import { TcpState } from '../../src/stack/tcp/tcp-conn.js';
import { IcmpType, IcmpUnreachCode, IpProtocol, sum16 } from '../../src/wire/index.js';
import {
  add32, arpFrame, BCAST, Bench, conn, describe as show, F, fixIsn, icmpFrame, IP_A, IP_B, MAC_A, MAC_B, macString, pattern,
  PeerTcp, RawBench, Sender, tcpFrame, udpFrame, type Pkt,
} from '../helpers/stack-harness.js';

const IP_C = (IP_A & ~0xff) | 7; // on the subnet, nobody answers for it

describe('ARP', () => {
  test('a request for our address is answered (RFC 826), one for another address is not', () => {
    const rb = new RawBench();
    rb.autoArp = false;
    const out = rb.exchange(arpFrame({ op: 1, sha: MAC_B, spa: IP_B, tpa: IP_A }));
    const arp = rb.seen.filter((p) => p.arp);
    assert.equal(out.length, 0);
    assert.equal(arp.length, 1, 'one reply');
    const r = arp[0];
    assert.equal(r.dstMac, macString(MAC_B));
    assert.equal(r.srcMac, macString(MAC_A));
    assert.equal(r.raw.length, 60, 'padded to the Ethernet minimum');
    assert.deepEqual(r.arp, { op: 2, sha: macString(MAC_A), spa: IP_A, tha: macString(MAC_B), tpa: IP_B });
    assert.equal(rb.stack.iface.counters.arpRequestsAnswered, 1);
    rb.exchange(arpFrame({ op: 1, sha: MAC_B, spa: IP_B, tpa: IP_C }));
    assert.equal(rb.seen.filter((p) => p.arp).length, 1, 'no reply for an address that is not ours');
    assert.equal(rb.leak(), 0);
  });

  test('a frame to an unresolved address waits for the ARP reply, then goes out (RFC 1122 §2.3.2.2)', () => {
    const rb = new RawBench();
    rb.autoArp = false;
    assert.equal(rb.api.udpBind(4000), 0);
    for (let i = 0; i < 3; i++) assert.equal(rb.api.sendTo(4000, IP_B, 4001, Uint8Array.of(i, i, i), 0, 3), 3);
    rb.step(2);
    const first = rb.recv();
    assert.equal(first.length, 1, `only an ARP request: ${first.map(show).join('; ')}`);
    const req = first[0];
    assert.equal(req.dstMac, macString(BCAST));
    assert.deepEqual(req.arp, { op: 1, sha: macString(MAC_A), spa: IP_A, tha: '00:00:00:00:00:00', tpa: IP_B });
    assert.equal(rb.stack.iface.arp.queued(IP_B), 3, 'the datagrams are held');
    assert.equal(rb.leak(), 0, 'held frames are accounted for');
    rb.send(arpFrame({ op: 2, sha: MAC_B, spa: IP_B, tha: MAC_A, tpa: IP_A, dstMac: MAC_A }));
    rb.step(2);
    const out = rb.recv();
    assert.equal(out.length, 3);
    out.forEach((p, i) => {
      assert.equal(p.dstMac, macString(MAC_B));
      assert.ok(p.udp?.checksumOk);
      assert.deepEqual([...p.udp!.payload], [i, i, i], 'in the order they were sent');
    });
    assert.equal(rb.leak(), 0);
  });

  test('unanswered ARP: retried once a second, then given up and the held frames freed', () => {
    const rb = new RawBench();
    rb.autoArp = false;
    assert.equal(rb.api.udpBind(4000), 0);
    assert.equal(rb.api.sendTo(4000, IP_C, 9, Uint8Array.of(1), 0, 1), 1);
    rb.step(2);
    rb.recv();
    rb.advance(5000, 10);
    const reqs = rb.seen.filter((p) => p.arp?.op === 1 && p.arp.tpa === IP_C);
    assert.equal(reqs.length, 3, 'maxRequests = 3');
    assert.ok(reqs[1].t - reqs[0].t >= 1000 && reqs[2].t - reqs[1].t >= 1000, 'at most one request per second');
    assert.equal(rb.stack.iface.arp.queued(IP_C), 0);
    assert.equal(rb.stack.iface.arp.unresolvedDrops, 1);
    assert.equal(rb.s.pool.allocated, rb.s.dev.buffersInRings(), 'the held frame went back to the pool');
  });
});

describe('ICMP', () => {
  test('echo request → echo reply with the same identifier, sequence and data, valid checksums (RFC 792, RFC 1122 §3.2.2.6)', () => {
    const rb = new RawBench();
    for (const len of [0, 1, 56, 57, 1472]) {
      const data = pattern(len, len + 1);
      const rest = ((0x1234 << 16) | (len & 0xffff)) | 0;
      const out = rb.exchange(icmpFrame({ type: IcmpType.Echo, rest, data, ident: 99 }));
      assert.equal(out.length, 1, `one reply for ${len} bytes`);
      const p = out[0];
      assert.equal(p.dstMac, macString(MAC_B));
      assert.equal(p.ip!.src, IP_A);
      assert.equal(p.ip!.dst, IP_B);
      assert.ok(p.ip!.headerOk, 'IPv4 header checksum');
      assert.equal(p.ip!.totalLen, 20 + 8 + len);
      assert.equal(p.icmp!.type, IcmpType.EchoReply);
      assert.equal(p.icmp!.code, 0);
      assert.equal(p.icmp!.rest, rest, 'identifier and sequence number unchanged');
      assert.ok(p.icmp!.checksumOk, 'ICMP checksum');
      assert.deepEqual(p.icmp!.data, data);
    }
    assert.equal(rb.stack.counters.icmpEchoReplies, 5);
    assert.equal(rb.leak(), 0);
  });

  test('malformed ICMP is dropped: bad checksum, shorter than the header, echo replies and broadcasts not answered', () => {
    const rb = new RawBench();
    const bad = icmpFrame({ type: IcmpType.Echo, rest: 1, data: pattern(20) });
    bad[bad.length - 1] ^= 1;
    assert.equal(rb.exchange(bad).length, 0);
    const short = icmpFrame({ type: IcmpType.Echo, rest: 1, data: new Uint8Array(0) });
    // IPv4 total length cut to 20 + 4: an ICMP message of 4 bytes.
    short[16] = 0; short[17] = 24; short[24] = 0; short[25] = 0;
    const s = sum16(short, 14, 20, 0); const c = ~s & 0xffff; short[24] = c >> 8; short[25] = c & 0xff;
    assert.equal(rb.exchange(short.subarray(0, 14 + 24)).length, 0);
    assert.equal(rb.exchange(icmpFrame({ type: IcmpType.EchoReply, rest: 1, data: pattern(8) })).length, 0);
    assert.equal(rb.exchange(icmpFrame({ type: IcmpType.Echo, rest: 1, data: pattern(8), dst: -1, dstMac: BCAST })).length, 0);
    assert.equal(rb.stack.counters.badL4, 2);
    assert.equal(rb.stack.counters.icmpEchoReplies, 0);
    assert.equal(rb.leak(), 0);
  });
});

describe('UDP', () => {
  test('bind → UdpRecv event pointing into the packet buffer; the buffer is held until udpRecvDone; sendTo', () => {
    const rb = new RawBench();
    rb.rec.opts.udpRecvDone = false;
    assert.equal(rb.api.udpBind(7000), 0);
    assert.equal(rb.api.udpBind(7000), ApiError.InUse);
    const payload = pattern(300, 5);
    rb.exchange(udpFrame({ sport: 5555, dport: 7000, payload }));
    rb.exchange(udpFrame({ sport: 5556, dport: 7000, payload: pattern(3), zeroChecksum: true }));
    const evs = rb.rec.of(EventKind.UdpRecv);
    assert.equal(evs.length, 2, 'a zero checksum means "none" (RFC 768) and is accepted');
    const e = evs[0];
    assert.equal(e.handle, 7000);
    assert.equal(e.b, 300);
    assert.equal(e.c, IP_B);
    assert.equal(e.d, 5555);
    assert.deepEqual(e.data, payload);
    assert.deepEqual(rb.api.bytes.subarray(e.a, e.a + e.b), payload, 'data still in the buffer while held');
    assert.equal(rb.stack.udp.buffersHeld, 2);
    assert.equal(rb.leak(), 0);
    assert.equal(rb.api.udpRecvDone(e.buf), 0);
    assert.equal(rb.api.udpRecvDone(e.buf), ApiError.BadHandle, 'twice');
    assert.equal(rb.api.udpRecvDone(evs[1].buf), 0);
    assert.equal(rb.api.udpRecvDone(-1), ApiError.BadHandle);
    assert.equal(rb.stack.udp.buffersHeld, 0);
    const bad = udpFrame({ sport: 5555, dport: 7000, payload });
    bad[50] ^= 0x40;
    rb.exchange(bad);
    assert.equal(rb.rec.of(EventKind.UdpRecv).length, 2, 'a bad checksum is dropped');

    const reply = pattern(1472, 9);
    assert.equal(rb.api.sendTo(7000, IP_B, 5555, reply, 0, reply.length), reply.length);
    assert.equal(rb.api.sendTo(7000, IP_B, 5555, reply, 0, reply.length), reply.length);
    assert.equal(rb.api.sendTo(7000, IP_B, 5555, new Uint8Array(1473), 0, 1473), ApiError.Invalid, 'would need fragmentation');
    const out = rb.exchange(undefined, 4).filter((p) => p.udp);
    assert.equal(out.length, 2);
    for (const p of out) {
      assert.equal(p.udp!.sport, 7000);
      assert.equal(p.udp!.dport, 5555);
      assert.ok(p.udp!.checksumOk);
      assert.ok(p.ip!.headerOk);
      assert.ok(p.ip!.df, 'DF set');
      assert.deepEqual(p.udp!.payload, reply);
    }
    assert.equal(rb.leak(), 0);
  });

  test('a datagram to a closed port → ICMP port unreachable quoting the IP header and 8 bytes (RFC 792, RFC 1122 §3.2.2.1)', () => {
    const rb = new RawBench();
    const f = udpFrame({ sport: 5555, dport: 7001, payload: pattern(40) });
    const out = rb.exchange(f);
    assert.equal(out.length, 1);
    const p = out[0];
    assert.equal(p.ip!.proto, IpProtocol.Icmp);
    assert.equal(p.ip!.dst, IP_B);
    assert.equal(p.icmp!.type, IcmpType.DestUnreachable);
    assert.equal(p.icmp!.code, IcmpUnreachCode.Port);
    assert.ok(p.icmp!.checksumOk);
    assert.deepEqual(p.icmp!.data, f.subarray(14, 14 + 28), 'original header + first 8 bytes');
    // No ICMP error about a broadcast datagram (RFC 1122 §3.2.2).
    assert.equal(rb.exchange(udpFrame({ sport: 5555, dport: 7001, payload: pattern(4), dst: -1, dstMac: BCAST })).length, 0);
    assert.equal(rb.leak(), 0);
  });
});

// ---- TCP against a raw peer ------------------------------------------------------------------------------------

function rstInfo(pkts: Pkt[]): Pkt[] {
  return pkts.filter((p) => p.tcp && (p.tcp.flags & F.RST));
}

describe('TCP: closed port, handshake options', () => {
  test('RST for a closed port (RFC 9293 §3.10.7.1): <SEQ=SEG.ACK><RST> and <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>', () => {
    const rb = new RawBench();
    // No ACK bit: SYN (SEG.LEN 1).
    let out = rb.exchange(tcpFrame({ sport: 1111, dport: 80, seq: 0xfffffff0, flags: F.SYN, mss: 1460 }));
    assert.equal(out.length, 1);
    let t = out[0].tcp!;
    assert.equal(t.flags, F.RST | F.ACK);
    assert.equal(t.seq, 0);
    assert.equal(t.ack, 0xfffffff1);
    assert.equal([t.sport, t.dport].join(), '80,1111');
    assert.ok(t.checksumOk);
    // No ACK bit: data + FIN (SEG.LEN = 10 + 1), wrapping.
    out = rb.exchange(tcpFrame({ sport: 1111, dport: 80, seq: 0xfffffffa, flags: F.FIN | F.PSH, payload: pattern(10) }));
    t = out[0].tcp!;
    assert.equal(t.flags, F.RST | F.ACK);
    assert.equal(t.ack, 5, '0xfffffffa + 11 wraps to 5');
    // ACK bit: <SEQ=SEG.ACK><CTL=RST>.
    out = rb.exchange(tcpFrame({ sport: 1111, dport: 80, seq: 1000, ack: 0x87654321, flags: F.ACK | F.PSH, payload: pattern(5) }));
    t = out[0].tcp!;
    assert.equal(t.flags, F.RST);
    assert.equal(t.seq, 0x87654321);
    assert.equal(t.ack, 0);
    // A RST is never answered.
    assert.equal(rb.exchange(tcpFrame({ sport: 1111, dport: 80, seq: 1, flags: F.RST })).length, 0);
    assert.equal(rb.exchange(tcpFrame({ sport: 1111, dport: 80, seq: 1, ack: 5, flags: F.RST | F.ACK })).length, 0);
    assert.equal(rb.stack.tcp.counters.resetsOut, 3);
    assert.equal(rb.leak(), 0);
  });

  const offers: Array<[string, { mss?: number; ws?: number; sackOk?: boolean; ts?: boolean }]> = [
    ['everything', { mss: 1400, ws: 7, sackOk: true, ts: true }],
    ['MSS only', { mss: 1400 }],
    ['no options at all', {}],
    ['window scale only', { mss: 1400, ws: 2 }],
    ['SACK-permitted only', { mss: 1400, sackOk: true }],
    ['timestamps only', { mss: 1400, ts: true }],
  ];
  for (const [name, o] of offers) {
    test(`SYN-ACK options answer the SYN's (${name}): MSS always, WS/SACK-permitted/TS only when offered (RFC 7323 §1.3, RFC 2018 §2)`, () => {
      const rb = new RawBench();
      assert.equal(rb.api.listen(80), 0);
      const peer = new PeerTcp(rb, 2000, 80, o);
      const sa = peer.handshake().tcp!;
      assert.equal(sa.flags, F.SYN | F.ACK);
      assert.equal(sa.ack, add32(peer.iss, 1));
      assert.equal(sa.mss, 1460, 'our MSS: MTU 1500 − 40');
      assert.equal(sa.ws !== undefined, o.ws !== undefined, 'window scale');
      if (o.ws !== undefined) assert.equal(sa.ws, rb.stack.tcp.rcvShift);
      assert.equal(sa.sackOk, !!o.sackOk, 'SACK-permitted');
      assert.equal(sa.tsVal !== undefined, !!o.ts, 'timestamps');
      if (o.ts) assert.equal(sa.tsEcr, 5000, 'TSecr echoes the SYN\'s TSval');
      assert.ok(sa.window <= 0xffff);
      const knock = rb.rec.of(EventKind.Knock);
      assert.equal(knock.length, 1);
      assert.equal(knock[0].c, IP_B);
      assert.equal(knock[0].d, 2000);
      // The connection's segments: size ≤ the peer's MSS (minus 12 with timestamps), TS on every one iff negotiated.
      const c = conn(rb.s, knock[0].handle);
      assert.equal(c.tsOk, !!o.ts);
      assert.equal(c.sackOk, !!o.sackOk);
      assert.equal(c.wsOk, o.ws !== undefined);
      const data = pattern(8000, 3);
      assert.equal(rb.api.sendv(knock[0].handle, data, 0, data.length), data.length);
      rb.step(2);
      const segs = peer.mine(rb.recv());
      const peerMss = o.mss ?? 536;
      assert.ok(segs.length >= 2);
      for (const s of segs) {
        assert.ok(s.payload.length <= peerMss - (o.ts ? 12 : 0), `segment of ${s.payload.length} > effective MSS`);
        assert.equal(s.tsVal !== undefined, !!o.ts);
        assert.equal(s.mss, undefined, 'MSS only on SYNs');
        assert.ok(s.checksumOk);
      }
      if (o.ws !== undefined) assert.equal(segs[0].window << rb.stack.tcp.rcvShift, rb.stack.tcp.rcvBuf, 'scaled window');
      else assert.ok(segs[0].window <= 0xffff);
    });
  }

  test('the active opener\'s SYN offers MSS, WS, SACK-permitted and TS (TSecr 0); a SYN-ACK without options turns them off', () => {
    const rb = new RawBench();
    const h = rb.api.connect(IP_B, 80, 5);
    assert.ok(h >= 0);
    const out = rb.exchange();
    const syn = out[0].tcp!;
    assert.equal(syn.flags, F.SYN);
    assert.equal(syn.mss, 1460);
    assert.equal(syn.ws, rb.stack.tcp.rcvShift);
    assert.ok(syn.sackOk);
    assert.ok(syn.tsVal !== undefined);
    assert.equal(syn.tsEcr, 0);
    assert.equal(syn.ack, 0);
    const back = rb.exchange(tcpFrame({ sport: 80, dport: syn.sport, seq: 777, ack: add32(syn.seq, 1), flags: F.SYN | F.ACK, mss: 1000 }));
    const ack = back[0].tcp!;
    assert.equal(ack.flags, F.ACK);
    assert.equal(ack.ack, 778);
    assert.equal(ack.seq, add32(syn.seq, 1));
    assert.equal(ack.tsVal, undefined, 'no timestamps once the peer declined them');
    const ev = rb.rec.of(EventKind.Connected);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].a, 0);
    assert.equal(ev[0].cookie, 5);
    const c = conn(rb.s, h);
    assert.equal(c.state, TcpState.Established);
    assert.equal(c.mss, 1000);
    assert.equal(c.wsOk, false);
    assert.equal(c.sackOk, false);
  });
});

/** A listener on 80 and an established, accepted connection from the raw peer. */
function established(o: { mss?: number; ws?: number; sackOk?: boolean; ts?: boolean } = { mss: 1460, ws: 7, sackOk: true, ts: true }, tcp = {}) {
  const rb = new RawBench({ tcp });
  assert.equal(rb.api.listen(80), 0);
  const peer = new PeerTcp(rb, 2000, 80, o);
  peer.handshake();
  const k = rb.rec.of(EventKind.Knock);
  assert.equal(k.length, 1);
  const h = k[0].handle;
  return { rb, peer, h, c: conn(rb.s, h) };
}

describe('TCP: RFC 5961 and PAWS', () => {
  test('RST with SEQ = RCV.NXT resets the connection (dead: Reset)', () => {
    const { rb, peer, h } = established();
    peer.data(pattern(100));
    const out = rb.exchange(peer.seg({ flags: F.RST, ack: 0 }));
    assert.equal(out.length, 0, 'no answer to a RST');
    const d = rb.rec.of(EventKind.Dead);
    assert.equal(d.length, 1);
    assert.equal(d[0].handle, h);
    assert.equal(d[0].a, DeathReason.Reset);
    assert.equal(rb.stack.tcp.connOf(h), null);
    assert.equal(rb.stack.tcp.connectionCount, 0);
    assert.equal(rb.leak(), 0);
  });

  test('data then a RST in one batch: the Recv event still reads the data, though frames were built after the RST', () => {
    // X without timestamps: its data starts 54 bytes into the frame, so a 66-byte ACK (with timestamps) built in its
    // buffer would overwrite the first 12 bytes of it
    const { rb, peer, h } = established({ mss: 1460, ws: 7, sackOk: true, ts: false });
    const others = [2001, 2002, 2003].map((port) => { const p = new PeerTcp(rb, port, 80); p.handshake(); return p; });
    const data = pattern(1000, 31);
    rb.send(peer.seg({ flags: F.ACK | F.PSH, payload: data }));
    peer.sndNxt = add32(peer.sndNxt, data.length);
    rb.send(peer.seg({ flags: F.RST, ack: 0 }));
    // Then two full segments on each other connection: their ACKs take buffers at the end of the iteration (the pool
    // is LIFO: the last freed first) while the first connection's data is still unread.
    for (const o of others) {
      for (let k = 0; k < 2; k++) { rb.send(o.seg({ flags: F.ACK, payload: pattern(1000, k) })); o.sndNxt = add32(o.sndNxt, 1000); }
    }
    rb.step(1);
    assert.equal(rb.rec.of(EventKind.Dead).length, 1);
    assert.deepEqual(rb.rec.stream(h), data, 'the data as it arrived');
    rb.step(2);
    assert.equal(rb.leak(), 0, 'the dead connection\'s buffers are freed after the iteration');
  });

  test('RST in the window but not at RCV.NXT → challenge ACK, the connection survives (RFC 5961 §3.2)', () => {
    const { rb, peer, h, c } = established();
    for (const off of [1, 1000, 60000]) {
      const out = rb.exchange(peer.seg({ flags: F.RST, seq: add32(peer.sndNxt, off) }));
      const acks = peer.mine(out);
      assert.equal(acks.length, 1, `challenge ACK for +${off}`);
      assert.equal(acks[0].flags, F.ACK);
      assert.equal(acks[0].ack, peer.sndNxt, 'ACK = RCV.NXT');
      assert.equal(acks[0].seq, peer.rcvNxt, 'SEQ = SND.NXT');
    }
    assert.equal(rb.stack.tcp.counters.challengeAcks, 3);
    assert.equal(c.state, TcpState.Established);
    assert.equal(rb.rec.of(EventKind.Dead).length, 0);
    peer.data(pattern(10, 2));
    assert.deepEqual(rb.rec.stream(h), pattern(10, 2), 'still carries data');
  });

  test('RST outside the window is ignored silently', () => {
    const { rb, peer, c } = established();
    for (const seq of [add32(peer.sndNxt, -1), add32(peer.sndNxt, 0x40000000), add32(peer.sndNxt, 0x80000000)]) {
      assert.equal(rb.exchange(peer.seg({ flags: F.RST, seq })).length, 0);
      assert.equal(rb.exchange(peer.seg({ flags: F.RST | F.ACK, seq })).length, 0);
    }
    assert.equal(c.state, TcpState.Established);
    assert.equal(rb.stack.tcp.counters.challengeAcks, 0);
  });

  test('RST just beyond the advertised window (no window scaling, rcvBuf > 64 KiB) is ignored', () => {
    const { rb, peer, c } = established({ mss: 1460 });
    peer.data(pattern(100)); // the stack's first ACK announces its window
    const out = rb.exchange(peer.seg({ flags: F.RST, seq: add32(peer.sndNxt, 70000) }));
    assert.equal(out.length, 0, `answered: ${out.map(show).join('; ')} (rcvAdv − rcvNxt = ${(c.rcvAdv - c.rcvNxt) | 0})`);
  });

  test('data beyond the advertised window (no window scaling) is not accepted', () => {
    const { rb, peer, c } = established({ mss: 1460 });
    peer.data(pattern(100)); // the stack's first ACK announces its window
    const seq = add32(peer.sndNxt, 70000);
    rb.exchange(peer.seg({ flags: F.ACK, seq, payload: pattern(100) }));
    assert.equal(c.oooBufs, 0, 'a segment entirely outside the 65535-byte window was queued out of order');
  });

  test('SYN on an established connection → challenge ACK, the connection survives (RFC 5961 §4.2)', () => {
    const { rb, peer, h, c } = established();
    for (const seq of [peer.sndNxt, add32(peer.sndNxt, 5), add32(peer.iss, 0)]) {
      const out = peer.mine(rb.exchange(peer.seg({ flags: F.SYN, seq, mss: 1460, ack: 0 })));
      assert.equal(out.length, 1);
      assert.equal(out[0].flags, F.ACK);
      assert.equal(out[0].ack, peer.sndNxt);
      assert.equal(rstInfo(rb.seen).length, 0, 'never a RST');
    }
    assert.ok(rb.stack.tcp.counters.challengeAcks >= 2);
    assert.equal(c.state, TcpState.Established);
    peer.data(pattern(10, 4));
    assert.deepEqual(rb.rec.stream(h), pattern(10, 4));
  });

  test('data whose ACK is older than SND.UNA − MAX.SND.WND → challenge ACK, data dropped (RFC 5961 §5.2)', () => {
    const { rb, peer, h, c } = established({ mss: 1460, sackOk: true }); // no WS: MAX.SND.WND = 65535
    // Let the stack send and get 100 KB acknowledged so that SND.UNA − MAX.SND.WND is well past ISS.
    const data = pattern(100_000, 8);
    const s = new Sender(rb.api, h, data);
    rb.rec.opts.on = (e) => s.onSent(e);
    s.push();
    for (let i = 0; i < 200 && !s.done; i++) {
      const segs = rb.exchange(undefined, 1);
      peer.absorb(segs);
      if (segs.length) rb.send(peer.seg({ flags: F.ACK }));
    }
    assert.ok(s.done);
    const before = rb.stack.tcp.counters.challengeAcks;
    const old = add32(c.sndUna, -(c.maxSndWnd + 10));
    const out = peer.mine(rb.exchange(peer.seg({ flags: F.ACK | F.PSH, ack: old, payload: pattern(50) })));
    assert.equal(rb.stack.tcp.counters.challengeAcks, before + 1);
    assert.equal(out.length, 1);
    assert.equal(out[0].ack, peer.sndNxt, 'RCV.NXT unchanged');
    assert.equal(rb.rec.stream(h).length, 0, 'no data delivered');
    // Within the bound it is accepted.
    const ok = add32(c.sndUna, -(c.maxSndWnd - 10));
    rb.exchange(peer.seg({ flags: F.ACK | F.PSH, ack: ok, payload: pattern(50) }));
    assert.equal(rb.rec.stream(h).length, 50);
  });

  test('an ACK for data never sent (SEG.ACK > SND.NXT) → ACK, segment dropped (RFC 9293 §3.10.7.4)', () => {
    const { rb, peer, h } = established();
    const out = peer.mine(rb.exchange(peer.seg({ flags: F.ACK | F.PSH, ack: add32(peer.rcvNxt, 1000), payload: pattern(20) })));
    assert.equal(out.length, 1);
    assert.equal(out[0].ack, peer.sndNxt);
    assert.equal(rb.rec.stream(h).length, 0);
  });

  test('the first ACK after a passive open echoes the first data segment\'s TSval (RFC 7323 §4.3: Last.ACK.sent = RCV.NXT after the SYN-ACK)', () => {
    const { peer } = established();
    peer.ts = 10_000;
    const acks = peer.mine(peer.data(pattern(100, 1)));
    assert.equal(acks.length, 1);
    assert.equal(acks[0].tsEcr, 10_000, `TSecr ${acks[0].tsEcr} echoes the SYN's TSval (5000) instead`);
  });

  test('PAWS: a segment with a TSval older than TS.Recent is dropped and acknowledged (RFC 7323 §5.3)', () => {
    const { rb, peer, h } = established();
    peer.ts = 10_000;
    peer.data(pattern(50, 1));
    peer.data(pattern(50, 1)); // (TS.Recent follows from the second segment on: see the TSecr test below)
    assert.equal(rb.rec.stream(h).length, 100);
    peer.ts = 9_000;
    const out = peer.mine(peer.data(pattern(100, 2)));
    peer.sndNxt = add32(peer.sndNxt, -100);
    assert.equal(rb.stack.tcp.counters.pawsDropped, 1);
    assert.equal(out.length, 1, 'an ACK in reply');
    assert.equal(out[0].ack, peer.sndNxt);
    assert.equal(rb.rec.stream(h).length, 100, 'the old-timestamp data was dropped');
    peer.ts = 10_001;
    peer.data(pattern(100, 2));
    assert.equal(rb.rec.stream(h).length, 200);
    // TS.Recent tracks the newest: after a jump forward by 2^30, the old clock is in the past.
    rb.advance(50); // (TS.Recent only follows segments at Last.ACK.sent: let the delayed ACK go out)
    peer.ts = add32(10_001, 0x40000000);
    peer.data(pattern(1, 3));
    rb.advance(50);
    peer.ts = 10_002;
    peer.data(pattern(1, 3));
    peer.sndNxt = add32(peer.sndNxt, -1);
    assert.equal(rb.stack.tcp.counters.pawsDropped, 2);
    assert.equal(rb.rec.stream(h).length, 201);
    // A RST is not subject to PAWS.
    peer.ts = 1;
    rb.exchange(peer.seg({ flags: F.RST }));
    assert.equal(rb.rec.of(EventKind.Dead)[0]?.a, DeathReason.Reset);
  });
});

describe('TCP: SYN cookies (RFC 4987 §3.6)', () => {
  test('backlog full: the second SYN gets a cookie SYN-ACK and no state; its ACK creates the connection (knock) and data flows', () => {
    const rb = new RawBench();
    assert.equal(rb.api.listen(80, 1), 0);
    const p1 = new PeerTcp(rb, 3001, 80);
    const sa1 = peerMine(p1, rb.exchange(p1.seg({ flags: F.SYN, mss: 1460, ws: 7, sackOk: true, ack: 0 })));
    assert.equal(sa1.length, 1);
    assert.equal(rb.stack.tcp.connectionCount, 1);
    assert.equal(rb.stack.tcp.listeners.get(80)!.synReceived, 1);
    // Second SYN (its ISN wraps past 2^32 right after the SYN).
    const p2 = new PeerTcp(rb, 3002, 80, { mss: 1400, ws: 5, sackOk: true, ts: true }, 0xffffffff);
    const out = peerMine(p2, rb.exchange(p2.seg({ flags: F.SYN, mss: 1400, ws: 5, sackOk: true, ack: 0 })));
    assert.equal(out.length, 1);
    const sa = out[0];
    assert.equal(sa.flags, F.SYN | F.ACK);
    assert.equal(sa.ack, 0, '0xffffffff + 1');
    assert.equal(sa.mss, 1460);
    assert.equal(sa.ws, rb.stack.tcp.rcvShift, 'window scale offered back (it rides in the timestamp)');
    assert.ok(sa.sackOk);
    assert.equal(sa.tsEcr, 5000);
    assert.equal(rb.stack.tcp.counters.synCookiesSent, 1);
    assert.equal(rb.stack.tcp.connectionCount, 1, 'no state for the cookie SYN');
    p2.acceptSynAck({ tcp: sa } as Pkt);
    rb.exchange(p2.seg({ flags: F.ACK }));
    const k = rb.rec.of(EventKind.Knock);
    assert.equal(k.length, 1);
    assert.equal(k[0].d, 3002);
    assert.equal(rb.stack.tcp.counters.synCookiesAccepted, 1);
    const c = conn(rb.s, k[0].handle);
    assert.equal(c.state, TcpState.Established);
    assert.ok(c.tsOk && c.sackOk && c.wsOk);
    assert.equal(c.sndShift, 5);
    assert.equal(c.mss, 1220 - 12, 'MSS 1400 rounded down to the cookie table (1220), minus the timestamp option');
    // Data both ways.
    p2.data(pattern(3000, 6));
    assert.deepEqual(rb.rec.stream(k[0].handle), pattern(3000, 6));
    const back = pattern(5000, 7);
    assert.equal(rb.api.sendv(k[0].handle, back, 0, back.length), back.length);
    const got = p2.absorb(rb.exchange(undefined, 2));
    assert.deepEqual(Buffer.concat(got), Buffer.from(back));
    assert.equal(rb.leak(), 0);
  });

  test('a cookie connection without timestamps has no window scaling and no SACK', () => {
    const rb = new RawBench();
    assert.equal(rb.api.listen(80, 1), 0);
    const p1 = new PeerTcp(rb, 3001, 80);
    rb.exchange(p1.seg({ flags: F.SYN, mss: 1460, ack: 0 }));
    const p2 = new PeerTcp(rb, 3002, 80, { mss: 1460, ws: 5, sackOk: true });
    const sa = peerMine(p2, rb.exchange(p2.seg({ flags: F.SYN, mss: 1460, ws: 5, sackOk: true, ack: 0 })))[0];
    assert.equal(sa.ws, undefined);
    assert.equal(sa.sackOk, false);
    assert.equal(sa.tsVal, undefined);
    p2.acceptSynAck({ tcp: sa } as Pkt);
    rb.exchange(p2.seg({ flags: F.ACK }));
    const k = rb.rec.of(EventKind.Knock);
    assert.equal(k.length, 1);
    const c = conn(rb.s, k[0].handle);
    assert.ok(!c.wsOk && !c.sackOk && !c.tsOk);
    assert.equal(c.mss, 1460);
  });

  test('a forged ACK (wrong cookie) → RST <SEQ=SEG.ACK>, no connection', () => {
    const rb = new RawBench();
    assert.equal(rb.api.listen(80, 1), 0);
    const p1 = new PeerTcp(rb, 3001, 80);
    rb.exchange(p1.seg({ flags: F.SYN, mss: 1460, ack: 0 }));
    const p2 = new PeerTcp(rb, 3002, 80);
    const sa = peerMine(p2, rb.exchange(p2.seg({ flags: F.SYN, mss: 1460, ws: 7, sackOk: true, ack: 0 })))[0];
    p2.acceptSynAck({ tcp: sa } as Pkt);
    for (const bad of [add32(p2.rcvNxt, 0x100), add32(p2.rcvNxt, 1), add32(p2.rcvNxt, 0x80000000)]) {
      const out = peerMine(p2, rb.exchange(p2.seg({ flags: F.ACK, ack: bad })));
      assert.equal(out.length, 1);
      assert.equal(out[0].flags, F.RST);
      assert.equal(out[0].seq, bad);
    }
    // Right cookie, wrong client sequence number (the cookie covers it).
    const out = peerMine(p2, rb.exchange(p2.seg({ flags: F.ACK, seq: add32(p2.sndNxt, 1) })));
    assert.equal(out[0]?.flags, F.RST);
    assert.equal(rb.stack.tcp.counters.synCookiesRejected, 4);
    assert.equal(rb.rec.of(EventKind.Knock).length, 0);
    assert.equal(rb.stack.tcp.connectionCount, 1);
    // And a bare ACK out of nowhere to the listener is reset the same way.
    const stray = peerMine(p2, rb.exchange(tcpFrame({ sport: 3999, dport: 80, seq: 5, ack: 12345, flags: F.ACK })));
    assert.equal(stray.length, 0, 'not for p2');
    assert.equal(rb.seen.filter((p) => p.tcp?.dport === 3999 && p.tcp.flags === F.RST && p.tcp.seq === 12345).length, 1);
  });
});

function peerMine(p: PeerTcp, pkts: Pkt[]) {
  return p.mine(pkts);
}

describe('TCP: loss recovery (two stacks, virtual time)', () => {
  const fastRetransmit = (iss: number) => () => {
    // The receiver takes one frame per iteration, so each out-of-order segment gets its own duplicate ACK (§4.2).
    const bench = new Bench({ batchB: 1 });
    fixIsn(bench.a.stack, iss);
    const { ha, hb } = bench.connect();
    let n = 0;
    let lost = -1;
    bench.a.dev.filter = (p) => {
      if (lost < 0 && p.tcp && p.tcp.payload.length > 0 && n++ === 5) { lost = p.tcp.seq; return 'drop'; }
      return 'pass';
    };
    const data = pattern(300_000, 11);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    // Up to 150 ms of virtual time: enough for a delayed ACK of the last odd segment (40 ms), not for an RTO (200 ms).
    bench.settle(5000);
    assert.ok(s.done || bench.advance(150, 1, () => s.done), 'the transfer finished before any RTO could fire');
    const ca = conn(bench.a, ha);
    assert.deepEqual(bench.b.rec.stream(hb), data);
    assert.equal(ca.state, TcpState.Established);
    assert.equal(bench.a.stack.tcp.counters.rtoExpirations, 0);
    assert.equal(bench.a.stack.tcp.counters.fastRetransmits, 1);
    assert.equal(bench.a.stack.tcp.counters.retransmits, 1, 'only that segment was resent');
    assert.equal(bench.a.stack.tcp.counters.timeouts, 0);
    const sentLost = bench.a.dev.log.filter((p) => p.tcp?.seq === lost && p.tcp.payload.length > 0);
    assert.equal(sentLost.length, 2, 'the lost segment went out twice');
    const dups = bench.b.dev.log.filter((p) => p.tcp && p.tcp.ack === lost && p.tcp.payload.length === 0);
    assert.ok(dups.length >= 4, `ACK + ≥3 duplicates, got ${dups.length}`);
    assert.ok(dups.slice(1).every((p) => p.tcp!.sack.length >= 1 && p.tcp!.sack[0][0] !== lost), 'duplicate ACKs carry SACK blocks above the hole');
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  };
  test('one data segment dropped → duplicate ACKs with SACK → exactly one fast retransmit, data intact (RFC 5681 §3.2)', fastRetransmit(0x10000000));
  test('fast retransmit also works when the ISS is in the upper half of sequence space (RFC 6582 §3.2: recover starts at ISS)', () => {
    // Without the fast retransmit only an RTO (200 ms) could recover, and the test allows 150 ms.
    fastRetransmit(0x90000000)();
  });

  test('batched receive: every out-of-order segment gets an immediate duplicate ACK (RFC 5681 §4.2), not one per batch', () => {
    const bench = new Bench();
    const { ha } = bench.connect();
    let n = 0;
    let lost = -1;
    bench.a.dev.filter = (p) => {
      if (lost < 0 && p.tcp && p.tcp.payload.length > 0 && n++ === 2) { lost = p.tcp.seq; return 'drop'; }
      return 'pass';
    };
    const data = pattern(10 * 1448, 12);
    assert.equal(bench.a.api.sendv(ha, data, 0, data.length), data.length);
    bench.settle(2);
    const dups = bench.b.dev.log.filter((p) => p.tcp && p.tcp.ack === lost && p.tcp.payload.length === 0);
    assert.ok(dups.length >= 7, `7 segments after the hole, ${dups.length} ACKs for the hole`);
  });

  test('RTO: the wire is cut → retransmissions with exponential backoff (RFC 6298 §5.5); after restoring, data intact', () => {
    const bench = new Bench();
    const { ha, hb } = bench.connect();
    const ca = conn(bench.a, ha);
    assert.equal(ca.rto, 200_000, 'min RTO after a tiny RTT sample');
    bench.a.dev.filter = () => 'drop';
    bench.b.dev.filter = () => 'drop';
    const data = pattern(100_000, 13);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    bench.step();
    const t0 = bench.vt.ms;
    const firstSeq = add32(ca.iss, 1);
    bench.advance(12_800, 1, undefined, 1);
    const resends = bench.a.dev.log.filter((p) => p.tcp?.seq === firstSeq && p.tcp.payload.length > 0).map((p) => p.t);
    assert.equal(resends[0], t0);
    const gaps = resends.slice(1).map((t, i) => t - resends[i]);
    // First a tail loss probe (RFC 8985 §7: the highest segment after max(2·SRTT, 10 ms)), then the RTO, timed from
    // the probe, doubling each time.
    assert.deepEqual(gaps.map((g) => Math.round(g / 10) * 10), [210, 400, 800, 1600, 3200, 6400], `gaps ${gaps}`);
    assert.equal(bench.a.stack.tcp.counters.lossProbes, 1);
    assert.equal(bench.a.stack.tcp.counters.retransmits, 7, 'six timeouts and the probe');
    assert.equal(ca.rto, 12_800_000);
    assert.equal(bench.b.rec.stream(hb).length, 0);
    bench.a.dev.filter = null;
    bench.b.dev.filter = null;
    assert.ok(bench.advance(60_000, 10, () => s.done), 'the transfer finishes after the wire is back');
    assert.deepEqual(bench.b.rec.stream(hb), data);
    assert.ok(ca.rto < 1_000_000, `RTO ${ca.rto} µs recomputed from a fresh sample`);
    assert.equal(ca.retries, 0);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('a probe armed before the FIN went out becomes the RTO; the tail is resent from SND.UNA, intact, with the FIN', () => {
    const bench = new Bench();
    const { ha, hb } = bench.connect();
    const data = pattern(3000, 21);
    // The data leaves (arming the tail loss probe), then the FIN in a segment of its own; all of it is lost.
    bench.a.dev.filter = () => 'drop';
    assert.equal(bench.a.api.sendv(ha, data, 0, data.length), data.length);
    bench.a.loop.iterate();
    assert.equal(bench.a.api.close(ha), 0);
    bench.a.loop.iterate();
    const ca = conn(bench.a, ha);
    assert.ok(bench.advance(1000, 1, () => bench.a.stack.tcp.counters.retransmits > 0), 'a retransmission');
    assert.equal(bench.a.stack.tcp.counters.lossProbes, 0, 'no probe once the FIN is out');
    assert.equal(bench.a.stack.tcp.counters.rtoExpirations, 1);
    const rxt = bench.a.dev.log.at(-1)!.tcp!;
    assert.equal(rxt.seq, ca.sndUna >>> 0, 'from SND.UNA');
    assert.deepEqual(rxt.payload, data.subarray(0, rxt.payload.length));
    bench.a.dev.filter = null;
    assert.ok(bench.advance(5000, 1, () => bench.b.rec.stream(hb).length === data.length && bench.b.rec.events.some((e) => e.kind === EventKind.Recv && e.handle === hb && e.b === 0)));
    assert.deepEqual(bench.b.rec.stream(hb), data);
  });

  test('give-up after maxRetries: dead with DeathReason.TimedOut, a last RST', () => {
    const bench = new Bench({ tcpA: { maxRetries: 3 } });
    const { ha } = bench.connect();
    bench.a.dev.filter = () => 'drop';
    assert.equal(bench.a.api.sendv(ha, pattern(1000), 0, 1000), 1000);
    bench.step();
    const t0 = bench.vt.ms;
    assert.ok(bench.advance(10_000, 5, () => bench.a.rec.dead.has(ha)));
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.TimedOut);
    const elapsed = bench.vt.ms - t0;
    assert.ok(elapsed >= 3000 && elapsed <= 3030, `200 + 400 + 800 + 1600 ms, got ${elapsed}`);
    assert.equal(bench.a.stack.tcp.counters.retransmits, 3);
    assert.equal(bench.a.stack.tcp.counters.timeouts, 1);
    const last = bench.a.dev.log[bench.a.dev.log.length - 1];
    assert.equal(last.tcp?.flags, F.RST | F.ACK);
    assert.equal(bench.a.stack.tcp.connectionCount, 0);
    assert.equal(bench.a.api.sendv(ha, pattern(1), 0, 1), ApiError.BadHandle);
    assert.equal(bench.leaks().a, 0);
  });

  test('a SYN nobody answers: retried synRetries times (1 s, 2 s, 4 s), then connected with TimedOut', () => {
    const bench = new Bench({ tcpA: { synRetries: 2 } });
    bench.a.dev.filter = () => 'drop';
    const h = bench.a.api.connect(IP_B, 5001, 3);
    const t0 = bench.vt.ms;
    assert.ok(bench.advance(20_000, 10, () => bench.a.rec.events.some((e) => e.kind === EventKind.Connected)));
    const ev = bench.a.rec.of(EventKind.Connected)[0];
    assert.equal(ev.handle, h);
    assert.equal(ev.a, DeathReason.TimedOut);
    assert.equal(ev.cookie, 3);
    assert.ok(bench.vt.ms - t0 >= 7000 && bench.vt.ms - t0 <= 7040, `${bench.vt.ms - t0} ms`);
    assert.equal(bench.a.stack.tcp.connectionCount, 0);
    assert.equal(bench.leaks().a, 0);
  });
});

describe('TCP: flow control and ACK policy', () => {
  test('zero window: the sender stops at the window, probes with backoff, resumes after recvDone; data intact', () => {
    const RB = 10 * 1448; // ten full segments fill it exactly
    const bench = new Bench({ tcpB: { rcvBuf: RB } });
    bench.b.rec.opts.recvDone = false;
    const { ha, hb } = bench.connect();
    const data = pattern(64 * 1024, 14);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    bench.settle(20);
    const cb = conn(bench.b, hb);
    const ca = conn(bench.a, ha);
    assert.equal(cb.heldBytes, RB, 'the receive buffer is full');
    assert.equal(ca.sndWnd, 0);
    const edge = add32(ca.iss, 1 + RB);
    const beyond = () => bench.a.dev.log.filter((p) => p.tcp && p.tcp.payload.length > 0 && ((p.tcp.seq - edge) | 0) >= 0);
    assert.equal(beyond().length, 0, 'nothing sent beyond the window');
    const sentBefore = bench.a.dev.log.length;
    bench.advance(20_000, 5);
    // Probes as Linux sends them: an ACK one below SND.UNA, no data, so the receiver answers with its window.
    const probes = bench.a.dev.log.slice(sentBefore).filter((p) => p.tcp && p.tcp.payload.length === 0 && p.tcp.seq === (add32(edge, -1) >>> 0));
    assert.ok(probes.length >= 3, `probes: ${probes.length}`);
    assert.equal(beyond().length, 0, 'still nothing sent beyond the window');
    const gaps = probes.slice(1).map((p, i) => p.t - probes[i].t);
    assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]), `probe intervals grow: ${gaps}`);
    assert.equal(cb.heldBytes, RB, 'the receive buffer is still full');
    assert.equal(ca.state, TcpState.Established);
    // The app reads: the window opens and the rest arrives.
    bench.b.rec.opts.recvDone = true;
    assert.equal(bench.b.api.recvDone(hb, cb.heldBytes), 0);
    assert.ok(bench.advance(70_000, 5, () => s.done));
    assert.deepEqual(bench.b.rec.stream(hb), data);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('when a zero window opens, sending resumes at once (not after the backed-off RTO)', () => {
    const RB = 10 * 1448;
    const bench = new Bench({ tcpB: { rcvBuf: RB } });
    bench.b.rec.opts.recvDone = false;
    const { ha, hb } = bench.connect();
    const data = pattern(64 * 1024, 14);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    bench.settle(20);
    bench.advance(20_000, 5);
    bench.b.rec.opts.recvDone = true;
    assert.equal(bench.b.api.recvDone(hb, conn(bench.b, hb).heldBytes), 0);
    const t0 = bench.vt.ms;
    const n0 = bench.b.rec.stream(hb).length;
    bench.advance(100, 1);
    assert.ok(bench.b.rec.stream(hb).length > n0, `nothing new within 100 ms of the window update (A: cwnd ${conn(bench.a, ha).cwnd}, in flight ${(conn(bench.a, ha).sndNxt - conn(bench.a, ha).sndUna) | 0}, RTO ${conn(bench.a, ha).rto} µs); t0 ${t0}`);
  });

  test('a zero window kept closed for long, with the receiver answering every probe, does not kill the connection (RFC 1122 §4.2.2.17)', () => {
    const bench = new Bench({ tcpA: { maxRetries: 4 }, tcpB: { rcvBuf: 10 * 1448 } });
    bench.b.rec.opts.recvDone = false;
    const { ha, hb } = bench.connect();
    const data = pattern(64 * 1024, 14);
    assert.ok(bench.a.api.sendv(ha, data, 0, data.length) > 0);
    bench.settle(20);
    bench.advance(300_000, 50);
    assert.equal(bench.a.rec.dead.get(ha), undefined, `dead: reason ${bench.a.rec.dead.get(ha)}`);
    assert.ok(bench.b.stack.tcp.connOf(hb));
  });

  test('zero-window probes are not taken for duplicate ACKs (no fast retransmit into a closed window)', () => {
    const bench = new Bench({ tcpB: { rcvBuf: 10 * 1448 } });
    bench.b.rec.opts.recvDone = false;
    const { ha } = bench.connect();
    const data = pattern(64 * 1024, 14);
    assert.ok(bench.a.api.sendv(ha, data, 0, data.length) > 0);
    bench.settle(20);
    bench.advance(60_000, 10);
    assert.equal(bench.a.stack.tcp.counters.fastRetransmits, 0);
    const ca = conn(bench.a, ha);
    const edge = add32(ca.iss, 1 + 10 * 1448);
    const big = bench.a.dev.log.filter((p) => p.tcp && p.tcp.payload.length > 1 && ((p.tcp.seq - edge) | 0) >= 0);
    assert.equal(big.length, 0, 'no full segment into the zero window');
  });

  test('delayed ACK: one small segment is acknowledged after the delayed-ACK timeout, two full segments at once (RFC 9293 §3.8.6.3)', () => {
    const { rb, peer } = established({ mss: 1460, ws: 7, sackOk: true, ts: true }, { delackMs: 40 });
    rb.rec.opts.recvDone = false;
    peer.data(pattern(100)); // settles the window announcement after the handshake
    rb.advance(100);
    let out = peer.mine(peer.data(pattern(100)));
    assert.equal(out.length, 0, 'not acknowledged at once');
    const t0 = rb.vt.ms;
    const later = rb.advance(100, 1).filter((p) => p.tcp);
    assert.equal(later.length, 1);
    assert.equal(later[0].tcp!.ack, peer.sndNxt);
    const dt = later[0].t - t0;
    assert.ok(dt >= 39 && dt <= 42, `ACK after ${dt} ms`);
    // Two full-sized segments arriving together: ACK without delay.
    const mss = conn(rb.s, rb.rec.of(EventKind.Knock)[0].handle).mss;
    const f1 = peer.seg({ flags: F.ACK, payload: pattern(mss, 1) });
    peer.sndNxt = add32(peer.sndNxt, mss);
    const f2 = peer.seg({ flags: F.ACK, payload: pattern(mss, 2) });
    peer.sndNxt = add32(peer.sndNxt, mss);
    rb.send(f1);
    rb.send(f2);
    rb.step(1);
    out = peer.mine(rb.recv());
    assert.equal(out.length, 1, 'one ACK for both, in the same iteration');
    assert.equal(out[0].ack, peer.sndNxt);
    // Full segments in separate iterations: the second one is acknowledged at once.
    peer.data(pattern(mss, 3), F.ACK, 1);
    out = peer.mine(peer.data(pattern(mss, 4), F.ACK, 1));
    assert.equal(out.length, 1);
    assert.equal(out[0].ack, peer.sndNxt);
  });

  test('out-of-order arrival → immediate ACKs with SACK blocks, the latest block first (RFC 2018 §4); data in order', () => {
    const { rb, peer, h } = established();
    const base = peer.sndNxt;
    const all = pattern(4000, 15);
    const at = (off: number, len: number) =>
      peer.mine(rb.exchange(peer.seg({ flags: F.ACK, seq: add32(base, off), payload: all.subarray(off, off + len) }), 1));
    let a = at(1000, 500);
    assert.equal(a.length, 1);
    assert.equal(a[0].ack, base);
    assert.deepEqual(a[0].sack, [[add32(base, 1000), add32(base, 1500)]]);
    a = at(2000, 500);
    assert.deepEqual(a[0].sack, [[add32(base, 2000), add32(base, 2500)], [add32(base, 1000), add32(base, 1500)]]);
    a = at(3000, 500);
    assert.deepEqual(a[0].sack[0], [add32(base, 3000), add32(base, 3500)]);
    assert.deepEqual(a[0].sack.slice(1).sort((x, y) => x[0] - y[0]), [[add32(base, 1000), add32(base, 1500)], [add32(base, 2000), add32(base, 2500)]]);
    a = at(1500, 500); // joins two blocks
    assert.equal(a[0].sack[0][0], add32(base, 1000));
    assert.equal(a[0].sack[0][1], add32(base, 2500));
    assert.equal(a[0].sack.length, 2);
    assert.equal(rb.rec.stream(h).length, 0);
    a = at(0, 1000); // fills the first hole: ACK at once, up to the next hole
    assert.equal(a.length, 1);
    assert.equal(a[0].ack, add32(base, 2500));
    assert.deepEqual(a[0].sack, [[add32(base, 3000), add32(base, 3500)]]);
    a = at(2500, 500);
    assert.equal(a[0].ack, add32(base, 3500));
    assert.deepEqual(a[0].sack, []);
    at(3500, 500);
    assert.deepEqual(rb.rec.stream(h), all);
    // Three holes: three blocks fit next to the timestamp option.
    const b2 = add32(base, 4000);
    for (let k = 0; k < 3; k++) a = peer.mine(rb.exchange(peer.seg({ flags: F.ACK, seq: add32(b2, 200 * k + 100), payload: pattern(50) }), 1));
    assert.equal(a[0].sack.length, 3);
    assert.deepEqual(a[0].sack[0], [add32(b2, 500), add32(b2, 550)]);
  });

  test('more out-of-order runs than fit: the first SACK block is still the one holding the latest segment (RFC 2018 §4 MUST)', () => {
    const { rb, peer } = established();
    const b2 = peer.sndNxt;
    let a: ReturnType<typeof peer.mine> = [];
    for (let k = 0; k < 5; k++) a = peer.mine(rb.exchange(peer.seg({ flags: F.ACK, seq: add32(b2, 200 * k + 100), payload: pattern(50) }), 1));
    assert.equal(a[0].sack.length, 3, 'three blocks next to the timestamp option');
    assert.deepEqual(a[0].sack[0], [add32(b2, 900), add32(b2, 950)], `first block ${a[0].sack[0]}`);
  });

  test('no SACK blocks when the peer did not send SACK-permitted', () => {
    const { rb, peer } = established({ mss: 1460, ws: 7, ts: true });
    const a = peer.mine(rb.exchange(peer.seg({ flags: F.ACK, seq: add32(peer.sndNxt, 1000), payload: pattern(100) }), 1));
    assert.equal(a.length, 1);
    assert.deepEqual(a[0].sack, []);
  });
});

describe('TCP: sender silly-window avoidance', () => {
  test('a window smaller than a segment is filled after the override timeout when more data waits (RFC 9293 §3.8.6.2.1 (d)): no deadlock with a receiver that reads whole messages', () => {
    // B reads only whole 16 KiB messages (it holds the data until the message is complete); A sends two messages.
    const MSG = 16384;
    const bench = new Bench({ tcpB: { rcvBuf: MSG } });
    bench.b.rec.opts.recvDone = false;
    const { ha, hb } = bench.connect();
    let released = 0;
    bench.b.rec.opts.on = (e, api) => {
      if (e.kind !== EventKind.Recv || e.b === 0) return;
      const have = bench.b.rec.stream(hb).length + e.b - released; // (this event is not in the stream yet)
      if (have >= MSG) { assert.equal(api.recvDone(hb, MSG), 0); released += MSG; }
    };
    const data = pattern(2 * MSG, 16);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    assert.ok(bench.advance(30_000, 10, () => s.done), `stuck: B holds ${conn(bench.b, hb).heldBytes} bytes, A's window ${conn(bench.a, ha).sndWnd}`);
  });
});

describe('TCP: a peer MSS too small to carry data', () => {
  for (const [name, o] of [['MSS option 0', { mss: 0 }], ['MSS option 8 with timestamps', { mss: 8, ts: true }]] as const) {
    test(`${name}: the connection still sends its data (the MSS is clamped to a minimum), or is refused — never wedged`, () => {
      const rb = new RawBench();
      assert.equal(rb.api.listen(80), 0);
      const peer = new PeerTcp(rb, 2000, 80, o);
      peer.handshake();
      const k = rb.rec.of(EventKind.Knock);
      assert.equal(k.length, 1);
      const c = conn(rb.s, k[0].handle);
      const data = pattern(3000);
      assert.equal(rb.api.sendv(k[0].handle, data, 0, data.length), 3000);
      const out = rb.advance(5000, 10);
      const sent = peer.mine(out).reduce((n, t) => n + t.payload.length, 0);
      assert.ok(sent > 0 || rb.rec.dead.has(k[0].handle), `wedged: mss ${c.mss}, cwnd ${c.cwnd}, nothing sent in 5 s, no timer (${rb.stack.wheel.size} pending)`);
    });
  }
});

describe('TCP: closing', () => {
  test('TIME-WAIT on the active closer (dead: Closed at once, the tuple kept for timeWaitMs), none on the passive side', () => {
    const bench = new Bench({ tcp: { timeWaitMs: 500 } });
    const { ha, hb } = bench.connect();
    bench.b.rec.opts.on = (e, api) => { if (e.kind === EventKind.Recv && e.b === 0) api.close(e.handle); };
    const ca = conn(bench.a, ha);
    assert.equal(bench.a.api.close(ha), 0);
    bench.pump(() => bench.a.rec.dead.has(ha) && bench.b.rec.dead.has(hb));
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.Closed);
    assert.equal(bench.b.rec.dead.get(hb), DeathReason.Closed);
    assert.ok(bench.b.rec.eof.has(hb) && bench.a.rec.eof.has(ha), 'both saw the other\'s FIN');
    assert.equal(ca.state, TcpState.TimeWait);
    assert.equal(bench.a.stack.tcp.connectionCount, 1, 'A keeps the tuple');
    assert.equal(bench.b.stack.tcp.connectionCount, 0, 'B (LAST-ACK) is gone');
    assert.equal(bench.a.api.sendv(ha, pattern(1), 0, 1), ApiError.BadHandle, 'the handle is gone for the app');
    const t0 = bench.vt.ms;
    bench.advance(490, 5);
    assert.equal(bench.a.stack.tcp.connectionCount, 1);
    assert.ok(bench.advance(100, 1, () => bench.a.stack.tcp.connectionCount === 0));
    assert.ok(bench.vt.ms - t0 >= 500 && bench.vt.ms - t0 <= 502, `expired after ${bench.vt.ms - t0} ms`);
    assert.equal(bench.a.rec.dead.size, 1, 'dead reported once');
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('in TIME-WAIT a retransmitted FIN is acknowledged again; a new SYN with a newer timestamp reopens the tuple (RFC 6191)', () => {
    const rb = new RawBench({ tcp: { timeWaitMs: 1000 } });
    assert.equal(rb.api.listen(80), 0);
    const peer = new PeerTcp(rb, 2000, 80);
    peer.handshake();
    const h = rb.rec.of(EventKind.Knock)[0].handle;
    assert.equal(rb.api.close(h), 0);
    const fin = peer.mine(rb.exchange());
    assert.equal(fin.length, 1);
    assert.equal(fin[0].flags & F.FIN, F.FIN);
    peer.absorb(rb.seen);
    peer.ts! += 10;
    let out = peer.mine(peer.data(new Uint8Array(0), F.FIN | F.ACK));
    assert.equal(out.length, 1, 'ACK of our FIN');
    assert.equal(out[0].ack, peer.sndNxt);
    const c = rb.stack.tcp.at(0);
    assert.equal(c.state, TcpState.TimeWait);
    assert.equal(rb.rec.dead.get(h), DeathReason.Closed);
    // The peer did not get the ACK: it sends its FIN again.
    peer.sndNxt = add32(peer.sndNxt, -1);
    peer.ts! += 10;
    out = peer.mine(peer.data(new Uint8Array(0), F.FIN | F.ACK));
    assert.equal(out.length, 1, 'the retransmitted FIN is acknowledged');
    assert.equal(out[0].flags, F.ACK);
    assert.equal(out[0].ack, peer.sndNxt);
    // A new incarnation: SYN with a larger timestamp on the same tuple.
    const p2 = new PeerTcp(rb, 2000, 80, { mss: 1460, ts: true, sackOk: true, ws: 7 }, add32(peer.sndNxt, 100_000));
    p2.ts = peer.ts! + 100;
    const sa = p2.handshake();
    assert.equal(sa.tcp!.flags, F.SYN | F.ACK);
    assert.equal(rb.rec.of(EventKind.Knock).length, 2);
    assert.equal(rb.stack.tcp.connectionCount, 1);
    assert.equal(rb.leak(), 0);
  });

  test('in TIME-WAIT a SYN with the same timestamp (same millisecond) reopens the tuple only with a higher ISN, as Linux', () => {
    for (const higher of [true, false]) {
      const rb = new RawBench({ tcp: { timeWaitMs: 1000 } });
      assert.equal(rb.api.listen(80), 0);
      const peer = new PeerTcp(rb, 2000, 80);
      peer.handshake();
      const h = rb.rec.of(EventKind.Knock)[0].handle;
      assert.equal(rb.api.close(h), 0);
      peer.mine(rb.exchange());
      peer.absorb(rb.seen);
      peer.mine(peer.data(new Uint8Array(0), F.FIN | F.ACK));
      assert.equal(rb.stack.tcp.at(0).state, TcpState.TimeWait);
      // wrk reuses a port within the millisecond: the timestamp is equal, only the ISN says it is a new connection
      const isn = add32(peer.sndNxt, higher ? 100_000 : -100_000);
      const p2 = new PeerTcp(rb, 2000, 80, { mss: 1460, ts: true, sackOk: true, ws: 7 }, isn);
      p2.ts = peer.ts;
      const out = p2.mine(rb.exchange(p2.seg({ flags: F.SYN, mss: 1460, ws: 7, sackOk: true, ack: 0 })));
      assert.equal(out.length, 1, `${higher}: one reply`);
      if (higher) assert.equal(out[0].flags, F.SYN | F.ACK, 'a higher ISN reopens the tuple');
      else assert.equal(out[0].flags, F.ACK, 'a lower ISN gets the TIME-WAIT ACK (RFC 9293 §3.10.7.4)');
    }
  });

  test('simultaneous close: both FIN-WAIT-1 → CLOSING → TIME-WAIT, both dead: Closed, both expire', () => {
    const bench = new Bench({ tcp: { timeWaitMs: 300 } });
    const { ha, hb } = bench.connect();
    assert.equal(bench.a.api.close(ha), 0);
    assert.equal(bench.b.api.close(hb), 0);
    bench.pump(() => bench.a.rec.dead.has(ha) && bench.b.rec.dead.has(hb));
    const ca = bench.a.stack.tcp.at(ha & 0xfffff), cb = bench.b.stack.tcp.at(hb & 0xfffff);
    assert.equal(ca.state, TcpState.TimeWait);
    assert.equal(cb.state, TcpState.TimeWait);
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.Closed);
    assert.equal(bench.b.rec.dead.get(hb), DeathReason.Closed);
    // Each side sent exactly one FIN (no retransmission needed) and each FIN crossed the other.
    const finsA = bench.a.dev.log.filter((p) => p.tcp && (p.tcp.flags & F.FIN));
    const finsB = bench.b.dev.log.filter((p) => p.tcp && (p.tcp.flags & F.FIN));
    assert.equal(finsA.length, 1);
    assert.equal(finsB.length, 1);
    assert.ok(((finsB[0].tcp!.ack - finsA[0].tcp!.seq) | 0) <= 0, 'B\'s FIN does not acknowledge A\'s (they crossed)');
    assert.ok(bench.advance(400, 5, () => bench.a.stack.tcp.connectionCount === 0 && bench.b.stack.tcp.connectionCount === 0));
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('close with data still queued: all data arrives, then the FIN (EOF after the last byte)', () => {
    const bench = new Bench();
    const { ha, hb } = bench.connect();
    const data = pattern(200_000, 17);
    assert.equal(bench.a.api.sendv(ha, data, 0, data.length), data.length);
    assert.equal(bench.a.api.close(ha), 0);
    assert.equal(bench.a.api.sendv(ha, data, 0, 1), ApiError.Closed, 'sendv after close');
    assert.equal(bench.a.api.close(ha), ApiError.Closed, 'close twice');
    bench.pump(() => bench.b.rec.eof.has(hb));
    assert.deepEqual(bench.b.rec.stream(hb), data);
    const evs = bench.b.rec.events.filter((e) => e.kind === EventKind.Recv && e.handle === hb);
    assert.equal(evs[evs.length - 1].b, 0, 'EOF is the last Recv event');
    const fin = bench.a.dev.log.filter((p) => p.tcp && (p.tcp.flags & F.FIN));
    assert.equal(fin[0].tcp!.seq + fin[0].tcp!.payload.length, add32(conn(bench.b, hb).irs, 1 + data.length), 'FIN right after the last byte');
    // B answers and closes; A's sent events cover every byte.
    bench.b.api.close(hb);
    bench.pump(() => bench.a.rec.dead.has(ha) && bench.b.rec.dead.has(hb));
    assert.equal(bench.a.rec.of(EventKind.Sent).reduce((n, e) => n + e.a, 0), data.length);
  });

  test('abort → RST <SEQ=SND.NXT>; the peer sees dead: Reset; no event for the aborting app', () => {
    const bench = new Bench();
    const { ha, hb } = bench.connect();
    bench.a.api.sendv(ha, pattern(5000), 0, 5000);
    bench.settle();
    const ca = conn(bench.a, ha);
    const nxt = ca.sndNxt >>> 0;
    assert.equal(bench.a.api.abort(ha), 0);
    assert.equal(bench.a.api.abort(ha), ApiError.BadHandle);
    bench.settle();
    const rst = bench.a.dev.log.filter((p) => p.tcp && (p.tcp.flags & F.RST));
    assert.equal(rst.length, 1);
    assert.equal(rst[0].tcp!.seq, nxt);
    assert.equal(bench.b.rec.dead.get(hb), DeathReason.Reset);
    assert.equal(bench.a.rec.dead.size, 0);
    assert.equal(bench.a.stack.tcp.connectionCount, 0);
    assert.equal(bench.b.stack.tcp.connectionCount, 0);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('reject → RST and no connection; the client sees dead: Reset', () => {
    const bench = new Bench();
    bench.b.rec.opts.acceptCookie = null;
    bench.b.rec.opts.on = (e, api) => { if (e.kind === EventKind.Knock) assert.equal(api.reject(e.handle), 0); };
    assert.equal(bench.b.api.listen(5001), 0);
    const ha = bench.a.api.connect(IP_B, 5001, 9);
    bench.pump(() => bench.a.rec.dead.has(ha));
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.Reset);
    assert.equal(bench.b.stack.tcp.connectionCount, 0);
    assert.equal(bench.a.stack.tcp.connectionCount, 0);
    assert.equal(bench.b.dev.log.filter((p) => p.tcp && (p.tcp.flags & F.RST)).length, 1);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });
});

describe('TCP: API misuse is reported, never thrown', () => {
  test('error codes', () => {
    const bench = new Bench();
    const { a, b } = bench;
    bench.b.rec.opts.recvDone = false;
    bench.b.rec.opts.acceptCookie = null;
    assert.equal(b.api.listen(5001), 0);
    assert.equal(b.api.listen(5001), ApiError.InUse);
    assert.equal(b.api.listen(0), ApiError.Invalid);
    assert.equal(b.api.listen(70000), ApiError.Invalid);
    assert.equal(b.api.unlisten(5002), ApiError.Invalid);
    assert.equal(a.api.connect(IP_B, 0, 1), ApiError.Invalid);
    assert.equal(a.api.connect(IP_B, 1.5, 1), ApiError.Invalid);
    const ha = a.api.connect(IP_B, 5001, 1);
    assert.equal(a.api.sendv(ha, pattern(10), 0, 10), ApiError.Closed, 'sendv before the connection is established');
    bench.pump(() => b.rec.of(EventKind.Knock).length === 1 && a.rec.of(EventKind.Connected).length === 1);
    const hb = b.rec.of(EventKind.Knock)[0].handle;
    assert.equal(b.api.sendv(hb, pattern(10), 0, 10), ApiError.Invalid, 'sendv before accept');
    assert.equal(b.api.close(hb), ApiError.Invalid, 'close before accept');
    assert.equal(b.api.accept(hb, 5), 0);
    assert.equal(b.api.accept(hb, 5), ApiError.Invalid, 'accept twice');
    assert.equal(b.api.reject(hb), ApiError.Invalid, 'reject after accept');
    for (const bad of [-1, 12345, 1 << 20, 0.5, NaN, hb + (1 << 20)]) {
      assert.equal(a.api.sendv(bad, pattern(1), 0, 1), ApiError.BadHandle, `sendv(${bad})`);
      assert.equal(a.api.recvDone(bad, 1), ApiError.BadHandle);
      assert.equal(a.api.close(bad), ApiError.BadHandle);
      assert.equal(a.api.abort(bad), ApiError.BadHandle);
      assert.equal(a.api.accept(bad, 1), ApiError.BadHandle);
    }
    const buf = pattern(100);
    assert.equal(a.api.sendv(ha, buf, 90, 20), ApiError.Invalid, 'past the end of the buffer');
    assert.equal(a.api.sendv(ha, buf, -1, 2), ApiError.Invalid);
    assert.equal(a.api.sendv(ha, buf, 0, 0), 0);
    assert.equal(a.api.sendv(ha, buf, 0, 100), 100);
    bench.pump(() => b.rec.stream(hb).length === 100);
    assert.equal(b.api.recvDone(hb, 101), ApiError.Overrun, 'more than held');
    assert.equal(b.api.recvDone(hb, -1), ApiError.Invalid);
    assert.equal(b.api.recvDone(hb, 60), 0);
    assert.equal(b.api.recvDone(hb, 41), ApiError.Overrun);
    assert.equal(b.api.recvDone(hb, 40), 0);
    assert.equal(b.api.recvDone(hb, 0), 0);
    // The send buffer takes at most sndBuf; the rest is Again until acknowledged.
    const big = new Uint8Array(300 * 1024);
    const room = 256 * 1024 - conn(a, ha).sqBytes;
    assert.equal(a.api.sendv(ha, big, 0, big.length), room, 'up to the send buffer');
    assert.equal(a.api.sendv(ha, big, room, 10), ApiError.Again, 'full');
    assert.equal(a.api.close(ha), 0);
    assert.equal(a.api.sendv(ha, buf, 0, 1), ApiError.Closed, 'sendv after close');
    assert.equal(a.api.close(ha), ApiError.Closed);
    // UDP.
    assert.equal(a.api.udpBind(0), ApiError.Invalid);
    assert.equal(a.api.udpBind(53), 0);
    assert.equal(a.api.udpBind(53), ApiError.InUse);
    assert.equal(a.api.udpUnbind(54), ApiError.Invalid);
    assert.equal(a.api.sendTo(53, IP_B, 0, buf, 0, 1), ApiError.Invalid);
    assert.equal(a.api.sendTo(53, IP_B, 9, buf, 50, 51), ApiError.Invalid);
    assert.equal(a.api.udpRecvDone(3), ApiError.BadHandle);
  });
});

describe('TCP: sequence number wrap-around and simultaneous open', () => {
  test('both ISNs just below 2^32: 1 MiB each way across the wrap, close — bytes equal', () => {
    const bench = new Bench();
    fixIsn(bench.a.stack, 0xffffff00);
    fixIsn(bench.b.stack, 0xfffff000);
    const { ha, hb } = bench.connect();
    assert.equal(conn(bench.a, ha).iss >>> 0, 0xffffff00);
    assert.equal(conn(bench.b, hb).iss >>> 0, 0xfffff000);
    const da = pattern(1 << 20, 21), db = pattern(1 << 20, 22);
    const sa = new Sender(bench.a.api, ha, da, true), sb = new Sender(bench.b.api, hb, db, true);
    bench.a.rec.opts.on = (e) => sa.onSent(e);
    bench.b.rec.opts.on = (e) => sb.onSent(e);
    sa.push();
    sb.push();
    bench.pump(() => bench.a.rec.dead.has(ha) && bench.b.rec.dead.has(hb));
    assert.deepEqual(bench.b.rec.stream(hb), da);
    assert.deepEqual(bench.a.rec.stream(ha), db);
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.Closed);
    assert.equal(bench.b.rec.dead.get(hb), DeathReason.Closed);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('wrap with loss: a segment lost across the wrap point is recovered (fast retransmit, SACK, RTO all in serial arithmetic)', () => {
    const bench = new Bench({ batchB: 1 });
    fixIsn(bench.a.stack, 0xffffe000);
    const { ha, hb } = bench.connect();
    let dropped = 0;
    bench.a.dev.filter = (p) => {
      // Drop the segment that straddles or follows 2^32, and one a bit later, once each.
      const t = p.tcp;
      if (t && t.payload.length > 0 && dropped < 2 && ((t.seq >>> 0) < 0x10000) && ((t.seq + t.payload.length) >>> 0) > (dropped === 0 ? 0 : 0x2000)) { dropped++; return 'drop'; }
      return 'pass';
    };
    const data = pattern(400_000, 23);
    const s = new Sender(bench.a.api, ha, data);
    bench.a.rec.opts.on = (e) => s.onSent(e);
    s.push();
    assert.ok(bench.advance(20_000, 1, () => s.done));
    assert.equal(dropped, 2);
    assert.deepEqual(bench.b.rec.stream(hb), data);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });

  test('simultaneous open (RFC 9293 §3.5 figure 7): both sides end ESTABLISHED and each app gets its connected event', () => {
    const bench = new Bench();
    (bench.a.stack.tcp as unknown as { nextPort: number }).nextPort = 40000;
    (bench.b.stack.tcp as unknown as { nextPort: number }).nextPort = 40001;
    const ha = bench.a.api.connect(IP_B, 40001, 11);
    const hb = bench.b.api.connect(IP_A, 40000, 12);
    assert.ok(ha >= 0 && hb >= 0);
    bench.advance(5000, 5, () => conn(bench.a, ha).state === TcpState.Established && conn(bench.b, hb).state === TcpState.Established);
    assert.equal(conn(bench.a, ha).state, TcpState.Established);
    assert.equal(conn(bench.b, hb).state, TcpState.Established);
    const evA = bench.a.rec.events.filter((e) => e.handle === ha).map((e) => e.kind);
    const evB = bench.b.rec.events.filter((e) => e.handle === hb).map((e) => e.kind);
    assert.deepEqual([evA, evB], [[EventKind.Connected], [EventKind.Connected]], `events: A ${evA}, B ${evB} (Knock = 1, Connected = 2)`);
  });
});
