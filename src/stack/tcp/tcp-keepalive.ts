/**
 * TCP keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4), for connections whose app turned it on (`setKeepAlive`).
 *
 * One wheel timer per such connection, and nothing per packet beyond segment arrival noting the tick it heard the
 * peer (tcp-input.ts, only when keepalive is on). The timer does not follow every segment: when it fires it looks at
 * when the peer was last heard and sleeps again for the rest of the idle time (as Linux's tcp_keepalive_timer does).
 * Probes are Linux's form: SEG.SEQ = SND.NXT − 1 and no data, which the peer's acceptability test rejects and
 * answers with an ACK (RFC 9293 §3.10.7.4). While data or a FIN is outstanding the retransmission timer watches the
 * peer instead, and no probe is sent.
 */
import { DeathReason } from '../../api/codes.js';
import { TcpFlag } from '../../wire/index.js';
import type { Clock } from '../clock.js';
import { durationTicks, TIMER_NONE, type TimerWheel } from '../timer-wheel.js';
import { type TcpConn, TcpState } from './tcp-conn.js';
import { type TcpCounters, type TcpParams, TimerKind } from './tcp-params.js';
import type { TcpSegments } from './tcp-segment.js';
import type { TcpTable } from './tcp-table.js';

/** The longest idle time `setKeepAlive` takes, ms (2^31 − 1: a small integer, ~24.8 days). */
export const KEEPALIVE_MAX_IDLE_MS = 0x7fffffff;

export class Keepalive {
  constructor(
    private readonly p: TcpParams, private readonly counters: TcpCounters, private readonly clock: Clock,
    private readonly wheel: TimerWheel, private readonly seg: TcpSegments, private readonly table: TcpTable,
  ) {}

  /**
   * Turns keepalive on (or changes its idle time; `idleMs` 0 keeps the connection's current one). Idle time counts
   * from the last segment received since keepalive was on, or from now when it was off.
   */
  start(c: TcpConn, idleMs: number): void {
    if (idleMs > 0) c.kaIdleMs = Math.ceil(idleMs);
    if (!c.keepalive) {
      c.keepalive = true;
      c.kaHeardTick = this.clock.tick;
      c.kaProbes = 0;
    }
    // With probes out the interval timer runs on; otherwise the (possibly new) idle time sets the next probe.
    if (c.kaProbes === 0) this.arm(c, c.kaHeardTick + this.idleTicks(c));
  }

  stop(c: TcpConn): void {
    c.keepalive = false;
    c.kaProbes = 0;
    this.cancel(c);
  }

  cancel(c: TcpConn): void {
    this.wheel.cancel(c.tKeepalive);
    c.tKeepalive = TIMER_NONE;
  }

  /** The timer fired (its handle already cleared): wait on, probe, or give up. */
  fire(c: TcpConn): void {
    if (!c.keepalive || c.state === TcpState.TimeWait) return;
    const now = this.clock.tick;
    // Unacknowledged or unsent data, a SYN or a FIN in flight: the RTO (or the persist timer) covers the peer.
    if (c.sndMax !== c.sndUna || c.sqBytes > 0) { this.arm(c, now + this.idleTicks(c)); return; }
    if (c.kaProbes === 0) {
      const due = c.kaHeardTick + this.idleTicks(c);
      if (due > now) { this.arm(c, due); return; } // heard from the peer since the timer was set
    }
    if (c.kaProbes >= this.p.keepaliveProbes) { this.timeOut(c); return; }
    c.kaProbes++;
    this.counters.keepaliveProbes++;
    this.seg.sendSegment(c, (c.sndNxt - 1) | 0, TcpFlag.Ack, 0);
    this.arm(c, now + this.p.keepaliveIntervalTicks);
  }

  /** RFC 1122 §4.2.3.6: the peer is gone. As Linux does, a RST in case it is only unreachable one way. */
  private timeOut(c: TcpConn): void {
    this.counters.keepaliveTimeouts++;
    this.seg.sendRstFor(c);
    this.table.die(c, DeathReason.TimedOut);
    this.table.free(c);
  }

  private idleTicks(c: TcpConn): number {
    return durationTicks((c.kaIdleMs > 0 ? c.kaIdleMs : this.p.keepaliveIdleMs) * 1000);
  }

  private arm(c: TcpConn, due: number): void {
    if (!this.wheel.reschedule(c.tKeepalive, due)) c.tKeepalive = this.wheel.add(due, TimerKind.TcpKeepalive, c.index);
  }
}
