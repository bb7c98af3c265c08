/**
 * TCP keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4; `NetApi.setKeepAlive`) in virtual time: a stack facing a raw
 * peer (test/helpers/stack-harness.ts), so every probe's time and sequence number is exact; then two stacks probing
 * each other, and the allocation check of the echo path with keepalive and Nagle on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import { ApiError, DeathReason } from '../../src/api/codes.js';
import { EventKind } from '../../src/api/events.js';
import { TcpState } from '../../src/stack/tcp/tcp-conn.js';
import type { TcpConfig } from '../../src/stack/tcp/tcp-params.js';
import { echoBench } from '../helpers/stack-echo.js';
import {
  add32, Bench, conn, describe as show, F, pattern, PeerTcp, RawBench, type TcpInfo,
} from '../helpers/stack-harness.js';

const IDLE = 1000;
const INTERVAL = 500;
const PROBES = 3;
const CFG: TcpConfig = { keepaliveIntervalMs: INTERVAL, keepaliveProbes: PROBES };

/** A listener on 80 and an established, accepted connection from the raw peer (timestamps, SACK, window scale). */
function established(tcp: TcpConfig = CFG) {
  const rb = new RawBench({ tcp });
  assert.equal(rb.api.listen(80), 0);
  const peer = new PeerTcp(rb, 2000, 80);
  peer.handshake();
  const h = rb.rec.of(EventKind.Knock)[0].handle;
  rb.advance(100); // let the handshake's ACKs and window updates settle
  peer.absorb(rb.recv());
  return { rb, peer, h, c: conn(rb.s, h) };
}

/** Advances 1 ms at a time until the stack sends a segment on the connection; returns it (with its time). */
function nextSegment(rb: RawBench, peer: PeerTcp, maxMs: number): { seg: TcpInfo; t: number } | null {
  for (let ms = 0; ms < maxMs; ms++) {
    const out = rb.advance(1).filter((p) => p.tcp && p.tcp.dport === peer.sport);
    if (out.length > 0) {
      assert.equal(out.length, 1, `one segment at a time: ${out.map(show).join('; ')}`);
      return { seg: out[0].tcp!, t: out[0].t };
    }
  }
  return null;
}

/** Linux's keepalive probe: an ACK one below what the peer expects (SND.NXT − 1), no data. */
function assertProbe(s: TcpInfo, peer: PeerTcp): void {
  assert.equal(s.flags, F.ACK, 'a bare ACK');
  assert.equal(s.payload.length, 0, 'no data');
  assert.equal(s.seq, add32(peer.rcvNxt, -1), 'SEG.SEQ = SND.NXT − 1');
  assert.equal(s.ack, peer.sndNxt, 'SEG.ACK = RCV.NXT');
}

describe('TCP keepalive: probes (RFC 1122 §4.2.3.6)', () => {
  test('after idleMs without a segment, a probe with SEG.SEQ = SND.NXT − 1 and no data; the next after the interval', () => {
    const { rb, peer, h, c } = established();
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    const t0 = rb.vt.ms;
    const first = nextSegment(rb, peer, 2 * IDLE);
    assert.ok(first, 'a probe');
    assert.equal(first.t - t0, IDLE, `the first probe after exactly ${IDLE} ms`);
    assertProbe(first.seg, peer);
    assert.equal(c.sndNxt >>> 0, peer.rcvNxt, 'the probe took no sequence space');
    const second = nextSegment(rb, peer, 2 * INTERVAL);
    assert.ok(second);
    assert.equal(second.t - first.t, INTERVAL, 'unanswered: the next one an interval later');
    assertProbe(second.seg, peer);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 2);
  });

  test('a peer that answers every probe keeps the connection through many intervals; each probe comes idleMs after the answer', () => {
    const { rb, peer, h, c } = established();
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    let answeredAt = rb.vt.ms;
    for (let round = 0; round < 20; round++) {
      const p = nextSegment(rb, peer, 2 * IDLE);
      assert.ok(p, `probe ${round}`);
      assertProbe(p.seg, peer);
      assert.equal(p.t - answeredAt, IDLE, `probe ${round} ${IDLE} ms after the last segment from the peer`);
      rb.send(peer.seg({ flags: F.ACK })); // what a live peer answers (RFC 9293 §3.10.7.4)
      rb.step(1);
      answeredAt = rb.vt.ms;
    }
    assert.ok(rb.vt.ms > IDLE + PROBES * INTERVAL * 10, 'far beyond the time an unanswered run takes');
    assert.equal(c.state, TcpState.Established);
    assert.equal(rb.rec.of(EventKind.Dead).length, 0);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 20);
    assert.equal(rb.stack.tcp.counters.keepaliveTimeouts, 0);
    peer.data(pattern(10, 3));
    assert.deepEqual(rb.rec.stream(h), pattern(10, 3), 'still carries data');
  });

  test('a silent peer: after keepaliveProbes probes, RST and Dead(TimedOut) at exactly idle + probes × interval', () => {
    const { rb, peer, h, c } = established();
    const sndNxt = c.sndNxt >>> 0;
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    const t0 = rb.vt.ms;
    const out = rb.advance(IDLE + PROBES * INTERVAL + 100).filter((p) => p.tcp);
    const probes = out.filter((p) => p.tcp!.flags === F.ACK);
    assert.deepEqual(probes.map((p) => p.t - t0), [IDLE, IDLE + INTERVAL, IDLE + 2 * INTERVAL], out.map(show).join('; '));
    for (const p of probes) assertProbe(p.tcp!, peer);
    const dead = rb.rec.of(EventKind.Dead);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].handle, h);
    assert.equal(dead[0].a, DeathReason.TimedOut);
    assert.equal(dead[0].t - t0, IDLE + PROBES * INTERVAL, 'dead at idle + probes × interval');
    const rst = out.filter((p) => (p.tcp!.flags & F.RST) !== 0);
    assert.equal(rst.length, 1, 'a RST, as Linux sends');
    assert.equal(rst[0].t - t0, IDLE + PROBES * INTERVAL);
    assert.equal(rst[0].tcp!.seq, sndNxt, 'RST <SEQ=SND.NXT>');
    assert.equal(rb.stack.tcp.counters.keepaliveTimeouts, 1);
    assert.equal(rb.stack.tcp.connectionCount, 0);
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), ApiError.BadHandle);
    assert.equal(rb.leak(), 0);
  });

  test('any segment received restarts the idle time, also after probes went unanswered', () => {
    const { rb, peer, h } = established();
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    rb.advance(600);
    peer.absorb(peer.data(pattern(100, 1), F.ACK | F.PSH, 1));
    const heard = rb.vt.ms;
    let p1 = nextSegment(rb, peer, 2 * IDLE);
    if (p1 && p1.seg.seq === peer.rcvNxt) p1 = nextSegment(rb, peer, 2 * IDLE); // the data's (delayed) ACK first
    assert.ok(p1);
    assert.equal(p1.t - heard, IDLE, 'the probe counts from the data, not from the call');
    assertProbe(p1.seg, peer);
    // Two unanswered probes, then data from the peer (not an answer to a probe): the count starts over.
    const p2 = nextSegment(rb, peer, 2 * INTERVAL);
    assert.ok(p2 && p2.t - p1.t === INTERVAL);
    rb.advance(INTERVAL - 10);
    peer.data(pattern(10, 2), F.ACK | F.PSH, 1);
    const heard2 = rb.vt.ms;
    // Without the data the third probe would have gone 10 ms later and the connection died an interval after it.
    rb.advance(IDLE + INTERVAL / 2);
    assert.equal(rb.rec.of(EventKind.Dead).length, 0, 'alive: the count of unanswered probes started over');
    const probesAfter = rb.seen.filter((p) => p.t > heard2 && p.tcp?.flags === F.ACK && p.tcp.seq === add32(peer.rcvNxt, -1));
    assert.equal(probesAfter.length, 1);
    assert.equal(probesAfter[0].t - heard2, IDLE);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 3);
  });

  test('no probe while data is unacknowledged (the RTO watches the peer); after the ACK, a probe idleMs later', () => {
    const { rb, peer, h, c } = established({ ...CFG, maxRetries: 30 });
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    assert.equal(rb.api.sendv(h, pattern(200, 4), 0, 200), 200);
    const out = rb.advance(8000).filter((p) => p.tcp);
    assert.ok(out.length >= 4, `the data and its retransmissions: ${out.map(show).join('; ')}`);
    assert.ok(out.every((p) => p.tcp!.payload.length === 200), `only data went out: ${out.map(show).join('; ')}`);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 0);
    peer.absorb(out);
    rb.send(peer.seg({ flags: F.ACK }));
    rb.step(1);
    const acked = rb.vt.ms;
    assert.equal(c.sndUna, c.sndMax, 'all acknowledged');
    const p = nextSegment(rb, peer, 2 * IDLE);
    assert.ok(p);
    assert.equal(p.t - acked, IDLE);
    assertProbe(p.seg, peer);
  });

  test('setKeepAlive(false) stops probing; setKeepAlive(true, 0) keeps the idle time set before', () => {
    const { rb, peer, h, c } = established();
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), 0);
    rb.advance(IDLE / 2);
    assert.equal(rb.api.setKeepAlive(h, false, 0), 0);
    assert.equal(rb.stack.wheel.isPending(c.tKeepalive), false, 'the timer is cancelled');
    assert.equal(nextSegment(rb, peer, 10 * IDLE), null, 'no probe');
    assert.equal(rb.api.setKeepAlive(h, true, 0), 0);
    const t = rb.vt.ms;
    const p = nextSegment(rb, peer, 3 * IDLE);
    assert.ok(p);
    assert.equal(p.t - t, IDLE, 'idle time as set before, counted from turning it on again');
    // A new idle time with no probe out moves the next probe: counted from the same start.
    rb.send(peer.seg({ flags: F.ACK }));
    rb.step(1);
    const heard = rb.vt.ms;
    assert.equal(rb.api.setKeepAlive(h, true, 3 * IDLE), 0);
    const q = nextSegment(rb, peer, 5 * IDLE);
    assert.ok(q);
    assert.equal(q.t - heard, 3 * IDLE);
  });

  test('idleMs 0 on a connection never given one: TcpConfig.keepaliveIdleMs', () => {
    const { rb, peer, h } = established({ ...CFG, keepaliveIdleMs: 2500 });
    assert.equal(rb.api.setKeepAlive(h, true, 0), 0);
    const t = rb.vt.ms;
    const p = nextSegment(rb, peer, 5000);
    assert.ok(p);
    assert.equal(p.t - t, 2500);
  });

  test('the defaults are Linux\'s: 2 h idle, 75 s interval, 9 probes (Dead after 2 h + 675 s)', () => {
    const { rb, h } = established({});
    assert.equal(rb.api.setKeepAlive(h, true, 0), 0);
    const t0 = rb.vt.ms;
    rb.advance(7_200_000 - 1000, 1000);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 0);
    rb.advance(1000 + 8 * 75_000, 1000);
    assert.equal(rb.stack.tcp.counters.keepaliveProbes, 9);
    assert.equal(rb.rec.of(EventKind.Dead).length, 0);
    rb.advance(75_000, 1000);
    const d = rb.rec.of(EventKind.Dead);
    assert.equal(d.length, 1);
    assert.equal(d[0].a, DeathReason.TimedOut);
    assert.equal(d[0].t - t0, 7_200_000 + 9 * 75_000);
  });

  test('misuse: a stale handle, a non-boolean, idleMs negative or NaN, a connection not yet accepted', () => {
    const rb = new RawBench({ tcp: CFG });
    rb.rec.opts.acceptCookie = null;
    assert.equal(rb.api.listen(80), 0);
    const peer = new PeerTcp(rb, 2000, 80);
    peer.handshake();
    const h = rb.rec.of(EventKind.Knock)[0].handle;
    assert.equal(rb.api.setKeepAlive(h, true, IDLE), ApiError.Invalid, 'before accept');
    assert.equal(rb.api.accept(h, 1), 0);
    assert.equal(rb.api.setKeepAlive(h + (1 << 20), true, IDLE), ApiError.BadHandle);
    assert.equal(rb.api.setKeepAlive(-1, true, IDLE), ApiError.BadHandle);
    for (const idle of [-1, NaN, Infinity, 2 ** 31]) assert.equal(rb.api.setKeepAlive(h, true, idle), ApiError.Invalid, `idleMs ${idle}`);
    assert.equal(rb.api.setKeepAlive(h, 1 as unknown as boolean, IDLE), ApiError.Invalid);
    assert.equal(conn(rb.s, h).keepalive, false, 'nothing changed');
    assert.equal(rb.api.setKeepAlive(h, true, 0.5), 0, 'a fraction of a ms rounds up');
  });
});

describe('TCP keepalive: answering a peer\'s probe (RFC 9293 §3.10.7.4)', () => {
  const cases: Array<[string, number]> = [['no data (Linux\'s form)', 0], ['one byte of old data (BSD\'s form)', 1]];
  for (const [name, len] of cases) {
    test(`a probe at RCV.NXT − 1 with ${name} gets an ACK at once, and no data reaches the app`, () => {
      const { rb, peer, h, c } = established();
      peer.data(pattern(50, 5));
      rb.advance(100);
      peer.absorb(rb.recv());
      const before = rb.rec.stream(h).length;
      const out = peer.mine(rb.exchange(peer.seg({ flags: F.ACK, seq: add32(peer.sndNxt, -1), payload: pattern(len, 6) }), 1));
      assert.equal(out.length, 1, 'answered in the same iteration');
      assert.equal(out[0].flags, F.ACK);
      assert.equal(out[0].ack, peer.sndNxt, 'ACK = RCV.NXT');
      assert.equal(out[0].seq, peer.rcvNxt, 'SEQ = SND.NXT');
      assert.equal(out[0].payload.length, 0);
      assert.equal(rb.rec.stream(h).length, before, 'the probe\'s byte is old data, not delivered again');
      assert.equal(c.state, TcpState.Established);
    });
  }

  test('two stacks, both with keepalive: each answers the other\'s probes for an hour; cut the wire and both die TimedOut', () => {
    const tcp: TcpConfig = { keepaliveIntervalMs: 1000, keepaliveProbes: 3 };
    const bench = new Bench({ tcp });
    const { ha, hb } = bench.connect();
    assert.equal(bench.a.api.setKeepAlive(ha, true, 10_000), 0);
    assert.equal(bench.b.api.setKeepAlive(hb, true, 25_000), 0);
    bench.advance(3_600_000, 50);
    assert.equal(conn(bench.a, ha).state, TcpState.Established);
    assert.equal(conn(bench.b, hb).state, TcpState.Established);
    const probesA = bench.a.stack.tcp.counters.keepaliveProbes;
    assert.ok(probesA >= 300 && probesA <= 360, `A probes about every 10 s: ${probesA}`);
    // B hears A's probes (and its own probes' answers), so its 25 s never pass.
    assert.equal(bench.b.stack.tcp.counters.keepaliveProbes, 0);
    assert.equal(bench.a.stack.tcp.counters.keepaliveTimeouts + bench.b.stack.tcp.counters.keepaliveTimeouts, 0);
    bench.a.dev.filter = () => 'drop';
    bench.b.dev.filter = () => 'drop';
    bench.advance(60_000, 50);
    assert.equal(bench.a.rec.dead.get(ha), DeathReason.TimedOut);
    assert.equal(bench.b.rec.dead.get(hb), DeathReason.TimedOut);
    assert.deepEqual(bench.leaks(), { a: 0, b: 0 });
  });
});

describe('TCP keepalive and Nagle: the per-packet path', () => {
  test('echo with keepalive (1 s) and Nagle on both sides: 1e5 round trips on a warm connection cause no collection', (t) => {
    const e = echoBench({ keepaliveMs: 1000, nagle: true });
    const { a, b } = e.pair;
    for (let w = 0; w < 10; w++) e.run(20_000);
    // As test/unit/stack-alloc.test.ts measures it: up to three windows, one must see no collection.
    const outcomes: string[] = [];
    let clean = false;
    for (let attempt = 0; attempt < 3 && !clean; attempt++) {
      const profiler = new v8.GCProfiler();
      const before = v8.getHeapStatistics().used_heap_size;
      profiler.start();
      e.run(100_000);
      const grew = v8.getHeapStatistics().used_heap_size - before;
      const gcs = profiler.stop().statistics.length;
      outcomes.push(`${gcs} collections, heap ${grew >= 0 ? '+' : ''}${grew} B`);
      clean = gcs === 0 && grew < 1 << 20;
    }
    t.diagnostic(outcomes.join('; '));
    assert.ok(clean, `the echo path with keepalive and Nagle allocates: ${outcomes.join('; ')}`);
    const [ca, cb] = [a.stack.tcp.connOf(e.handles()[0])!, b.stack.tcp.connOf(e.handles()[1])!];
    assert.ok(ca.keepalive && cb.keepalive && ca.nagle && cb.nagle, 'both options on');
    assert.equal(a.stack.tcp.counters.keepaliveProbes + b.stack.tcp.counters.keepaliveProbes, 0, 'busy: no probe');
  });
});
