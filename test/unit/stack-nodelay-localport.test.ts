/**
 * `NetApi.setNoDelay` (Nagle's algorithm, RFC 896 / RFC 1122 §4.2.3.4) and `connect(…, localPort)`, in virtual time
 * against a raw peer (test/helpers/stack-harness.ts): frames on the wire are counted, ports read from the SYN.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, DeathReason } from '../../src/api/codes.js';
import { EventKind } from '../../src/api/events.js';
import { TcpState } from '../../src/stack/tcp/tcp-conn.js';
import {
  add32, Bench, conn, describe as show, F, IP_B, pattern, PeerTcp, RawBench, tcpFrame, type TcpInfo,
} from '../helpers/stack-harness.js';

/** A listener on 80 and an established, accepted connection from the raw peer; MSS 1448 (1460 − timestamps). */
function established() {
  const rb = new RawBench();
  assert.equal(rb.api.listen(80), 0);
  const peer = new PeerTcp(rb, 2000, 80);
  peer.handshake();
  const h = rb.rec.of(EventKind.Knock)[0].handle;
  rb.advance(100);
  peer.absorb(rb.recv());
  return { rb, peer, h, c: conn(rb.s, h) };
}

/** The stack's data segments (payload > 0) among what it sends in `rounds` iterations, time frozen. */
function dataOut(rb: RawBench, peer: PeerTcp, rounds = 3): TcpInfo[] {
  const pkts = rb.exchange(undefined, rounds);
  peer.absorb(pkts); // the peer's RCV.NXT follows what it got
  return peer.mine(pkts).filter((s) => s.payload.length > 0);
}

/** The peer acknowledges everything it has (one ACK) and returns the stack's data segments that follow. */
function ackAll(rb: RawBench, peer: PeerTcp): TcpInfo[] {
  const pkts = rb.exchange(peer.seg({ flags: F.ACK }), 3);
  peer.absorb(pkts);
  return peer.mine(pkts).filter((s) => s.payload.length > 0);
}

describe('setNoDelay: Nagle\'s algorithm (RFC 896, RFC 1122 §4.2.3.4)', () => {
  test('default (no delay): two small writes leave at once, the second while the first is unacknowledged', () => {
    const { rb, peer, h } = established();
    const data = pattern(300, 1);
    assert.equal(rb.api.sendv(h, data, 0, 100), 100);
    assert.equal(dataOut(rb, peer).length, 1);
    assert.equal(rb.api.sendv(h, data, 100, 100), 100);
    const second = dataOut(rb, peer);
    assert.equal(second.length, 1, 'the second write is on the wire before any ACK');
    assert.equal(second[0].payload.length, 100);
    // The same when asked for explicitly (Node's socket.setNoDelay(true)).
    assert.equal(rb.api.setNoDelay(h, true), 0);
    assert.equal(rb.api.sendv(h, data, 200, 100), 100);
    assert.equal(dataOut(rb, peer).length, 1, 'a third, still nothing acknowledged');
  });

  test('noDelay false: a small write waits while data is unacknowledged; the ACK releases what gathered, in one segment', () => {
    const { rb, peer, h } = established();
    assert.equal(rb.api.setNoDelay(h, false), 0);
    const data = pattern(300, 2);
    assert.equal(rb.api.sendv(h, data, 0, 100), 100);
    const first = dataOut(rb, peer);
    assert.equal(first.length, 1, 'nothing unacknowledged: the first small segment goes at once');
    assert.equal(rb.api.sendv(h, data, 100, 100), 100);
    assert.equal(dataOut(rb, peer).length, 0, 'held: the first is unacknowledged');
    assert.equal(rb.api.sendv(h, data, 200, 100), 100);
    assert.equal(rb.advance(30).filter((p) => p.tcp && p.tcp.payload.length > 0).length, 0, 'still held 30 ms later');
    const after = ackAll(rb, peer);
    assert.equal(after.length, 1, 'one segment once the first is acknowledged');
    assert.deepEqual(after[0].payload, data.subarray(100, 300), 'both held writes together');
    assert.equal(rb.seen.filter((p) => p.tcp && p.tcp.payload.length > 0).length, 2, 'two data frames on the wire in all');
  });

  test('noDelay false: a full segment\'s worth leaves at once; only the sub-MSS tail waits', () => {
    const { rb, peer, h, c } = established();
    assert.equal(c.mss, 1448);
    assert.equal(rb.api.setNoDelay(h, false), 0);
    const data = pattern(3000, 3);
    assert.equal(rb.api.sendv(h, data, 0, 100), 100);
    assert.equal(dataOut(rb, peer).length, 1);
    assert.equal(rb.api.sendv(h, data, 100, 2000), 2000);
    const full = dataOut(rb, peer);
    assert.deepEqual(full.map((s) => s.payload.length), [1448], 'a full segment, though data is unacknowledged');
    const tail = ackAll(rb, peer);
    assert.deepEqual(tail.map((s) => s.payload.length), [552], 'the tail after the ACK');
  });

  test('setNoDelay(true) sends what Nagle held; close() lets a held tail go with the FIN', () => {
    const { rb, peer, h } = established();
    assert.equal(rb.api.setNoDelay(h, false), 0);
    const data = pattern(300, 4);
    assert.equal(rb.api.sendv(h, data, 0, 100), 100);
    dataOut(rb, peer);
    assert.equal(rb.api.sendv(h, data, 100, 100), 100);
    assert.equal(dataOut(rb, peer).length, 0);
    assert.equal(rb.api.setNoDelay(h, true), 0);
    assert.equal(dataOut(rb, peer).length, 1, 'released at once');
    assert.equal(rb.api.setNoDelay(h, false), 0);
    assert.equal(rb.api.sendv(h, data, 200, 100), 100);
    assert.equal(rb.api.close(h), 0);
    const out = peer.mine(rb.exchange(undefined, 3));
    assert.equal(out.length, 1, out.map((s) => `${s.flags} ${s.payload.length}`).join('; '));
    assert.equal(out[0].payload.length, 100);
    assert.ok((out[0].flags & F.FIN) !== 0, 'the tail and the FIN, without waiting for the ACK');
  });

  test('misuse: a stale handle, a non-boolean', () => {
    const { rb, h } = established();
    assert.equal(rb.api.setNoDelay(h + (1 << 20), false), ApiError.BadHandle);
    assert.equal(rb.api.setNoDelay(h, 0 as unknown as boolean), ApiError.Invalid);
    assert.equal(conn(rb.s, h).nagle, false);
  });
});

describe('connect(ip, port, cookie, localPort)', () => {
  test('the SYN leaves from exactly the port asked, and the connection completes on it', () => {
    const rb = new RawBench();
    const h = rb.api.connect(IP_B, 80, 5, 4321);
    assert.ok(h >= 0, `connect: ${h}`);
    const syn = rb.exchange()[0].tcp!;
    assert.equal(syn.flags, F.SYN);
    assert.equal(syn.sport, 4321);
    assert.equal(syn.dport, 80);
    const back = rb.exchange(tcpFrame({ sport: 80, dport: 4321, seq: 777, ack: add32(syn.seq, 1), flags: F.SYN | F.ACK, mss: 1460 }));
    assert.equal(back[0].tcp!.sport, 4321);
    const ev = rb.rec.of(EventKind.Connected);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].a, 0);
    assert.equal(ev[0].b, 4321, 'the connected event names the local port');
    assert.equal(conn(rb.s, h).state, TcpState.Established);
  });

  test('InUse for a listening port and for a tuple in use; another remote port or address is fine', () => {
    const rb = new RawBench();
    assert.equal(rb.api.listen(5555), 0);
    assert.equal(rb.api.connect(IP_B, 80, 1, 5555), ApiError.InUse, 'a listener holds it');
    const h = rb.api.connect(IP_B, 80, 1, 4000);
    assert.ok(h >= 0);
    assert.equal(rb.api.connect(IP_B, 80, 2, 4000), ApiError.InUse, 'the same 4-tuple');
    assert.ok(rb.api.connect(IP_B, 81, 3, 4000) >= 0, 'another remote port');
    assert.ok(rb.api.connect((IP_B + 1) | 0, 80, 4, 4000) >= 0, 'another remote address');
    assert.equal(rb.stack.tcp.connectionCount, 3);
  });

  test('Invalid out of 1..65535; an explicit port is skipped by the ephemeral choice; the port filter does not apply to it', () => {
    const rb = new RawBench();
    for (const bad of [0, -1, 65536, 1.5, NaN]) assert.equal(rb.api.connect(IP_B, 80, 1, bad), ApiError.Invalid, `localPort ${bad}`);
    assert.equal(rb.stack.tcp.connectionCount, 0);
    assert.ok(rb.api.connect(IP_B, 80, 1, 40000) >= 0);
    (rb.stack.tcp as unknown as { nextPort: number }).nextPort = 40000;
    const h = rb.api.connect(IP_B, 80, 2);
    assert.equal(conn(rb.s, h).lport, 40001, 'the ephemeral choice passes over the explicit connection\'s tuple');
    // With several threads the steering's filter picks ephemeral ports; an explicit port is taken as it is.
    (rb.stack.tcp as unknown as { portFilter: () => boolean }).portFilter = () => false;
    assert.equal(rb.api.connect(IP_B, 81, 3), ApiError.InUse, 'no ephemeral port passes this filter');
    const e = rb.api.connect(IP_B, 81, 4, 40002);
    assert.ok(e >= 0);
    assert.equal(conn(rb.s, e).lport, 40002);
  });

  test('a tuple in TIME-WAIT is InUse until TIME-WAIT ends (two stacks)', () => {
    const bench = new Bench({ tcpA: { timeWaitMs: 2000 } });
    assert.equal(bench.b.api.listen(5001), 0);
    const ha = bench.a.api.connect(IP_B, 5001, 9, 7000);
    assert.ok(ha >= 0);
    bench.pump(() => bench.a.rec.of(EventKind.Connected).length === 1 && bench.b.rec.of(EventKind.Knock).length === 1);
    const hb = bench.b.rec.of(EventKind.Knock)[0].handle;
    assert.equal(bench.b.rec.of(EventKind.Knock)[0].d, 7000, 'the server sees the port asked for');
    assert.equal(bench.a.api.close(ha), 0);
    bench.pump(() => bench.b.rec.eof.has(hb));
    assert.equal(bench.b.api.close(hb), 0);
    bench.pump(() => bench.a.rec.dead.has(ha) && bench.b.rec.dead.has(hb));
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.Closed);
    assert.equal(bench.a.api.connect(IP_B, 5001, 10, 7000), ApiError.InUse, 'the active closer holds the tuple in TIME-WAIT');
    bench.advance(2100, 10);
    assert.equal(bench.a.stack.tcp.connectionCount, 0);
    const again = bench.a.api.connect(IP_B, 5001, 11, 7000);
    assert.ok(again >= 0, `after TIME-WAIT: ${again}`);
    bench.pump(() => bench.a.rec.of(EventKind.Connected).length === 2);
    assert.equal(bench.a.rec.of(EventKind.Connected)[1].a, 0, `connected: ${bench.a.dev.log.map(show).slice(-4).join('; ')}`);
  });
});
