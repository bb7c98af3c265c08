/**
 * The state of one TCP connection (RFC 9293 §3.3.1's TCB). One class, every field set in the constructor, so V8
 * keeps a single hidden class and every access is monomorphic. Objects are reused through a free list: a new
 * connection allocates nothing once the table has grown to its working size.
 *
 * Sequence numbers are int32 (wire/bytes.ts); compare with `seqLt(a, b)` etc. (RFC 1982 serial arithmetic).
 */
export const TcpState = {
  Closed: 0, Listen: 1, SynSent: 2, SynReceived: 3, Established: 4, FinWait1: 5, FinWait2: 6, CloseWait: 7,
  Closing: 8, LastAck: 9, TimeWait: 10,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

const STATE_NAMES = ['CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2',
  'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT'];
export function tcpStateName(s: number): string {
  return STATE_NAMES[s] ?? `state ${s}`;
}

export function seqLt(a: number, b: number): boolean { return ((a - b) | 0) < 0; }
export function seqLe(a: number, b: number): boolean { return ((a - b) | 0) <= 0; }
export function seqGt(a: number, b: number): boolean { return ((a - b) | 0) > 0; }
export function seqGe(a: number, b: number): boolean { return ((a - b) | 0) >= 0; }
/** b - a as a signed distance. */
export function seqDiff(b: number, a: number): number { return (b - a) | 0; }

/**
 * Entries of app buffers a connection's send queue starts with and may grow to (each `sendv` takes one, unless it
 * continues the previous one in the same array). Growing allocates, once per connection object (they are reused).
 */
export const SEND_QUEUE_INITIAL = 16;
export const SEND_QUEUE_MAX = 1024;

export class TcpConn {
  readonly index: number;
  /** Bumped when the connection is freed, so old handles stop matching. */
  gen = 0;
  state: number = TcpState.Closed;
  /** The application's number for this connection (from accept/connect), echoed in its events. */
  cookie = 0;
  /** Passive: the app has accepted it (before that, data waits and nothing is reported). Active: always true. */
  accepted = false;
  /** The app called close: no more sendv; a FIN follows the queued data. */
  finQueued = false;
  /** The app can no longer see this connection (dead reported, or it aborted/rejected). */
  released = false;
  /** The peer's FIN has been received in order. */
  finReceived = false;
  active = false;
  /** In use (between newConn and free). */
  live = false;
  /** Window scaling negotiated (both SYNs carried the option, RFC 7323 §2.2). */
  wsOk = false;
  /** Our FIN has been sent at least once; its sequence number. */
  finSent = false;
  finSeq = 0;

  lip = 0;
  lport = 0;
  rip = 0;
  rport = 0;
  /** Pseudo-header address sum, fixed for the flow. */
  addrSum = 0;
  /** Listening port this came from (passive), for its backlog count; -1 otherwise. */
  listenPort = -1;

  // Send side (RFC 9293 §3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (sndNxt goes back on a retransmission timeout; this does not). */
  sndMax = 0;
  /** Peer's window in bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Shift applied to the peer's window field (RFC 7323 §2.3), 0 when not negotiated. */
  sndShift = 0;
  /** Shift the peer applies to ours. */
  rcvShift = 0;
  /** Payload bytes per segment we send (peer's MSS, our MTU, minus the timestamp option when used). */
  mss = 536;
  tsOk = false;
  sackOk = false;
  tsRecent = 0;
  lastAckSent = 0;

  // Send queue: app buffers not yet acknowledged, in order (zero-copy: their bytes are copied straight into frames).
  sqRefs: (Uint8Array | null)[] = new Array<Uint8Array | null>(SEND_QUEUE_INITIAL).fill(null);
  sqOff = new Int32Array(SEND_QUEUE_INITIAL);
  sqLen = new Int32Array(SEND_QUEUE_INITIAL);
  /** Ring capacity (a power of two). */
  sqCap = SEND_QUEUE_INITIAL;
  sqHead = 0;
  sqCount = 0;
  /** Bytes in the send queue (acknowledged ones are removed): sequence space [sndUna, sndUna + sqBytes). */
  sqBytes = 0;
  /** Bytes newly acknowledged and not yet reported in a `sent` event. */
  ackedUnreported = 0;

  // Receive side.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised (never moved left: RFC 9293 §3.8.6.2.2). */
  rcvAdv = 0;
  /** Held in-order data: a list of pool buffers (tcp-recv.ts), bytes the app has not released with recvDone. */
  heldHead = -1;
  heldTail = -1;
  heldBytes = 0;
  heldBufs = 0;
  /** Out-of-order segments, sorted by sequence number. */
  oooHead = -1;
  oooBufs = 0;
  oooBytes = 0;
  /** Sequence number of the most recent out-of-order arrival (its SACK block goes first, RFC 2018 §4). */
  oooLast = 0;
  /** A FIN seen out of order: its sequence number, and whether there is one. */
  oooFin = false;
  oooFinSeq = 0;

  // Congestion control (RFC 5681, RFC 6582).
  cwnd = 0;
  ssthresh = 0x3fffffff;
  dupAcks = 0;
  /** Duplicate ACKs (1 or 2) that may each send one segment beyond cwnd (RFC 3042). */
  limitedTransmit = 0;
  inRecovery = false;
  recover = 0;
  bytesAcked = 0;
  /** SACK scoreboard (tcp-sack.ts): sorted disjoint ranges above SND.UNA the peer holds. */
  readonly sackL = new Int32Array(8);
  readonly sackR = new Int32Array(8);
  sackN = 0;
  /** Highest sequence number retransmitted in this recovery (RFC 6675 HighRxt); the hole found by sackNextHole. */
  highRxt = 0;
  holeSeq = 0;
  /** SND.MAX when the segment at SND.UNA was last retransmitted: SACKed data above it means that copy was lost. */
  rxtMark = 0;
  /** Bytes the last advancing ACK acknowledged (RFC 6582 §4.2's ACK heuristic after a timeout). */
  lastAdvance = 0;
  /** The retransmission timer is set for a tail loss probe (RFC 8985 §7), not for the RTO; a probe is out. */
  probeArmed = false;
  probeOut = false;

  // Retransmission (RFC 6298), in microseconds.
  srtt = 0;
  rttvar = 0;
  rto = 1_000_000;
  rttTiming = false;
  rttSeq = 0;
  rttStartUs = 0;
  retries = 0;
  /** The retransmission timer is a persist timer (zero window, data waiting); its current interval, µs. */
  persist = false;
  persistBackoff = 0;

  /** Nagle's algorithm (RFC 896, RFC 1122 §4.2.3.4): the app turned TCP_NODELAY off (`setNoDelay(h, false)`). */
  nagle = false;

  // Keepalive (RFC 1122 §4.2.3.6), tcp-keepalive.ts.
  keepalive = false;
  /** Idle time before the first probe, ms; 0: the configured default (`TcpConfig.keepaliveIdleMs`). */
  kaIdleMs = 0;
  /** Wheel tick of the last segment received while keepalive is on (or of turning it on). */
  kaHeardTick = 0;
  /** Probes sent since the last segment received. */
  kaProbes = 0;

  // Timers (handles into the wheel; 0 = none).
  tRtx = 0;
  tDelack = 0;
  tWait = 0;
  tKeepalive = 0;

  /** In-order segments received and not yet acknowledged. */
  ackPending = 0;
  /** Acknowledge without delay at the next flush. */
  ackNow = false;
  /** Queued on the stack's work list (flush runs output for it). */
  inWork = false;

  constructor(index: number) {
    this.index = index;
  }

  /** Handle the app holds: generation and index, below 2^30 (a small integer). */
  get handle(): number {
    return ((this.gen & 0x3ff) << 20) | this.index;
  }
}

export const HANDLE_INDEX_BITS = 20;
export const HANDLE_INDEX_MASK = (1 << HANDLE_INDEX_BITS) - 1;
