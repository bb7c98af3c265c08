/**
 * What every part of TCP shares: the configuration (as given, and resolved once into `TcpParams`), the counters and
 * the timer kinds in the stack's wheel.
 */
import { TCP_MAX_WINDOW_SCALE } from '../../wire/index.js';
import { durationTicks, ticksFromUs } from '../timer-wheel.js';
import { HANDLE_INDEX_MASK } from './tcp-conn.js';

export interface TcpConfig {
  /** Connections (including TIME-WAIT) the table holds. Default 65536. */
  maxConnections?: number;
  /** Receive buffer per connection in bytes: the most data held for the app (the advertised window). Default 256 KiB. */
  rcvBuf?: number;
  /** Send queue per connection in bytes: the most unacknowledged data `sendv` accepts. Default 256 KiB. */
  sndBuf?: number;
  /** Lower bound of the retransmission timeout. RFC 6298 §2.4 says 1 s; Linux and IX use 200 ms. */
  minRtoMs?: number;
  /** Delayed-ACK timeout (RFC 9293 §3.8.6.3: below 500 ms). Default 40 ms as Linux. */
  delackMs?: number;
  /** TIME-WAIT duration (2 × MSL, RFC 9293 §3.4.2). Default 60 s as Linux. */
  timeWaitMs?: number;
  /** Retransmissions before a connection is given up (RFC 9293 §3.8.3 R2 ≥ 100 s). Default 15. */
  maxRetries?: number;
  /** SYN (and SYN-ACK) retransmissions before giving up (R2 for SYN ≥ 3 min would be RFC; Linux uses 6). */
  synRetries?: number;
  /** Initial congestion window in segments (RFC 6928). Default 10. */
  initialWindow?: number;
  /**
   * Keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4), for connections that turn it on with `setKeepAlive`: the idle
   * time before the first probe when the call does not give one. Default 7 200 000 (2 h, Linux's tcp_keepalive_time).
   */
  keepaliveIdleMs?: number;
  /** Time between unanswered keepalive probes. Default 75 000 (Linux's tcp_keepalive_intvl). */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalive probes (≥ 1) before the connection dies with `DeathReason.TimedOut`. Default 9 (Linux's). */
  keepaliveProbes?: number;
}

/** A `TcpConfig` with its defaults applied and its durations in the units the code uses. */
export class TcpParams {
  readonly maxConns: number;
  readonly rcvBuf: number;
  readonly sndBuf: number;
  /** Our window scale (RFC 7323 §2.2): the smallest shift that lets the field say the whole receive buffer. */
  readonly rcvShift: number;
  readonly minRtoUs: number;
  readonly delackTicks: number;
  readonly timeWaitTicks: number;
  readonly maxRetries: number;
  readonly synRetries: number;
  readonly initialWindow: number;
  readonly keepaliveIdleMs: number;
  readonly keepaliveIntervalTicks: number;
  readonly keepaliveProbes: number;
  /** Our MSS (RFC 9293 §3.7.1): MTU − 40. */
  readonly ourMss: number;

  constructor(cfg: TcpConfig, mtu: number) {
    this.maxConns = Math.min(cfg.maxConnections ?? 65536, HANDLE_INDEX_MASK + 1);
    this.rcvBuf = cfg.rcvBuf ?? 256 * 1024;
    this.sndBuf = cfg.sndBuf ?? 256 * 1024;
    let shift = 0;
    while ((this.rcvBuf >> shift) > 0xffff && shift < TCP_MAX_WINDOW_SCALE) shift++;
    this.rcvShift = shift;
    this.minRtoUs = (cfg.minRtoMs ?? 200) * 1000;
    this.delackTicks = ticksFromUs((cfg.delackMs ?? 40) * 1000);
    this.timeWaitTicks = ticksFromUs((cfg.timeWaitMs ?? 60_000) * 1000);
    this.maxRetries = cfg.maxRetries ?? 15;
    this.synRetries = cfg.synRetries ?? 6;
    this.initialWindow = cfg.initialWindow ?? 10;
    this.keepaliveIdleMs = cfg.keepaliveIdleMs ?? 7_200_000;
    this.keepaliveIntervalTicks = durationTicks((cfg.keepaliveIntervalMs ?? 75_000) * 1000);
    this.keepaliveProbes = cfg.keepaliveProbes ?? 9;
    this.ourMss = mtu - 40;
  }
}

/** Timer kinds in the stack's wheel (owner = connection index). */
export const TimerKind = { TcpRtx: 1, TcpDelack: 2, TcpWait: 3, TcpKeepalive: 4 } as const;

export class TcpCounters {
  activeOpens = 0;
  passiveOpens = 0;
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesRejected = 0;
  segmentsIn = 0;
  segmentsOut = 0;
  retransmits = 0;
  fastRetransmits = 0;
  /** Connections given up after too many retransmissions. */
  timeouts = 0;
  /** Retransmission timer expirations (each resends from SND.UNA with cwnd = 1 MSS). */
  rtoExpirations = 0;
  /** Tail loss probes sent (RFC 8985 §7): the highest segment again, before the RTO. */
  lossProbes = 0;
  resetsIn = 0;
  resetsOut = 0;
  challengeAcks = 0;
  badSegments = 0;
  outOfWindow = 0;
  oooSegments = 0;
  oooDropped = 0;
  backlogDrops = 0;
  noBuffer = 0;
  pawsDropped = 0;
  windowProbes = 0;
  /** Keepalive probes sent (RFC 1122 §4.2.3.6). */
  keepaliveProbes = 0;
  /** Connections that died because their keepalive probes went unanswered. */
  keepaliveTimeouts = 0;
}
