/**
 * Events up: the array of what happened in one iteration of the dataplane loop (IX's event condition array).
 * Struct of arrays, filled by the stack and read by the application in order; nothing is allocated per event.
 *
 * | kind       | handle      | cookie | a                  | b                    | c           | d           |
 * |------------|-------------|--------|--------------------|----------------------|-------------|-------------|
 * | Knock      | new conn    | -      | local port         | -                    | remote IPv4 | remote port |
 * | Connected  | conn or -1  | yours  | 0 or DeathReason   | local port           | -           | -           |
 * | Recv       | conn        | yours  | offset in `bytes`  | length (0 = peer FIN) | -           | -           |
 * | Sent       | conn        | yours  | bytes acknowledged | send room now        | -           | -           |
 * | Dead       | conn        | yours  | DeathReason        | -                    | -           | -           |
 * | UdpRecv    | local port  | -      | offset in `bytes`  | length               | remote IPv4 | remote port |
 *
 * Recv data stays valid (in its packet buffer) until the application calls `recvDone` for it; UdpRecv data until
 * `udpRecvDone(e)` with the event's `buf`. IPv4 addresses are int32 (print with `formatIpv4`).
 */
export const EventKind = { Knock: 1, Connected: 2, Recv: 3, Sent: 4, Dead: 5, UdpRecv: 6 } as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

export class EventQueue {
  count = 0;
  capacity: number;
  kind: Uint8Array;
  handle: Int32Array;
  cookie: Int32Array;
  a: Int32Array;
  b: Int32Array;
  c: Int32Array;
  d: Int32Array;
  /** UdpRecv: the packet buffer to give back with `udpRecvDone`. */
  buf: Int32Array;
  /** The bytes that Recv/UdpRecv offsets point into (the mempool's region). */
  bytes: Uint8Array;
  /** Times the arrays had to grow (a burst of more events than `capacity` in one iteration). */
  grown = 0;

  constructor(capacity: number, bytes: Uint8Array) {
    this.capacity = capacity;
    this.kind = new Uint8Array(capacity);
    this.handle = new Int32Array(capacity);
    this.cookie = new Int32Array(capacity);
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
    this.c = new Int32Array(capacity);
    this.d = new Int32Array(capacity);
    this.buf = new Int32Array(capacity);
    this.bytes = bytes;
  }

  push(kind: number, handle: number, cookie: number, a: number, b: number, c: number, d: number, buf: number): void {
    const i = this.count;
    if (i === this.capacity) this.grow();
    this.kind[i] = kind;
    this.handle[i] = handle;
    this.cookie[i] = cookie;
    this.a[i] = a;
    this.b[i] = b;
    this.c[i] = c;
    this.d[i] = d;
    this.buf[i] = buf;
    this.count = i + 1;
  }

  /** Never drops an event (a lost Recv would lose data): a rare burst doubles the arrays once. */
  private grow(): void {
    const n = this.capacity * 2;
    const g = <T extends Uint8Array | Int32Array>(old: T, fresh: T): T => { fresh.set(old); return fresh; };
    this.kind = g(this.kind, new Uint8Array(n));
    this.handle = g(this.handle, new Int32Array(n));
    this.cookie = g(this.cookie, new Int32Array(n));
    this.a = g(this.a, new Int32Array(n));
    this.b = g(this.b, new Int32Array(n));
    this.c = g(this.c, new Int32Array(n));
    this.d = g(this.d, new Int32Array(n));
    this.buf = g(this.buf, new Int32Array(n));
    this.capacity = n;
    this.grown++;
  }

  clear(): void {
    this.count = 0;
  }

  // The columns by name, per kind (the table above). One-line reads that V8 inlines: they cost what `ev.a[i]` costs.

  /** Recv, UdpRecv: where the data starts in `bytes`. */
  offset(i: number): number { return this.a[i]; }
  /** Recv (0: the peer's FIN), UdpRecv: bytes of data. */
  length(i: number): number { return this.b[i]; }
  /** Knock, UdpRecv: the remote IPv4 address (int32). */
  remoteIp(i: number): number { return this.c[i]; }
  /** Knock, UdpRecv: the remote port. */
  remotePort(i: number): number { return this.d[i]; }
  /** Knock: the port listened on; Connected: the port the connection was opened from; UdpRecv: the bound port. */
  localPort(i: number): number {
    const k = this.kind[i];
    return k === EventKind.UdpRecv ? this.handle[i] : k === EventKind.Connected ? this.b[i] : this.a[i];
  }
  /** Connected: 0, or why connecting failed; Dead: why the connection ended (DeathReason). */
  reason(i: number): number { return this.a[i]; }
  /** Sent: bytes the peer acknowledged. */
  acked(i: number): number { return this.a[i]; }
  /** Sent: bytes `sendv` would take now. */
  sendRoom(i: number): number { return this.b[i]; }
}
