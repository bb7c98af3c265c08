/**
 * Flow steering between shared-nothing elastic threads (IX §4.2: each thread owns one queue of each device and the
 * flows that arrive on it). The device decides where a frame arrives; this decides what a thread does with a frame
 * that belongs elsewhere, and which ephemeral ports its own connections may use.
 *
 * Two modes, by what the thread can know about the device's queue choice:
 * - `rss`: the device hashes with a known Toeplitz key and redirection table (the simulated 82599). An active open
 *   takes only a local port for which the hash of the *reply* picks this thread's queue, as IX does; replies then
 *   arrive where their connection lives.
 * - `partition`: the kernel chooses the queue (veth, TAP) with a hash no one outside can compute — for a Linux TCP
 *   socket it is even a random number per socket. Each thread takes the ephemeral ports p with
 *   (p − 32768) mod N = its index, and a thread that receives a segment for another thread's port hands a copy to
 *   that thread through a mailbox. Passive flows stay where their SYN arrived: the kernel keeps a flow on one queue.
 *
 * In both modes ARP is seen by every thread: each keeps its own ARP cache, and a reply arrives on one queue only.
 */
import type { RxSteering, Stack } from '../stack/stack.js';
import type { PortFilter } from '../stack/tcp/tcp.js';
import { rssQueue, Toeplitz } from '../util/toeplitz.js';
import { Mailbox } from './mailbox.js';

export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

export type SteeringMode = 'rss' | 'partition';

export interface SteeringConfig {
  thread: number;
  threads: number;
  mode: SteeringMode;
  /** Mailboxes from each thread to this one ([thread] unused). */
  inboxes: (SharedArrayBuffer | null)[];
  /** Mailboxes from this thread to each one ([thread] unused). */
  outboxes: (SharedArrayBuffer | null)[];
  /** rss: the device's key and redirection table, and the queue this thread serves. */
  rssKey?: Uint8Array;
  reta?: Uint8Array;
  queue?: number;
}

export class SteeringCounters {
  /** Frames handed to another thread (TCP for its ports) or copied to all (ARP). */
  handedOff = 0;
  arpShared = 0;
  /** Frames other threads handed to this one. */
  received = 0;
  /** Frames lost on the way: a mailbox full, or no free buffer here. */
  dropped = 0;
}

export class Steering implements RxSteering {
  readonly counters = new SteeringCounters();
  readonly thread: number;
  readonly threads: number;
  private readonly inboxes: (Mailbox | null)[];
  private readonly outboxes: (Mailbox | null)[];
  private readonly toeplitz: Toeplitz | null;
  private readonly reta: Uint8Array | null;
  private readonly queue: number;
  /** For the stack's options (`portFilter`): the ports whose replies reach this thread. Made once. */
  readonly portFilter: PortFilter;

  constructor(c: SteeringConfig) {
    if (!Number.isInteger(c.threads) || c.threads < 1 || c.thread < 0 || c.thread >= c.threads) throw new RangeError(`thread ${c.thread} of ${c.threads}`);
    this.thread = c.thread;
    this.threads = c.threads;
    this.inboxes = c.inboxes.map((b, i) => (b !== null && i !== c.thread ? new Mailbox(b) : null));
    this.outboxes = c.outboxes.map((b, i) => (b !== null && i !== c.thread ? new Mailbox(b) : null));
    if (c.mode === 'rss') {
      if (!c.reta || c.queue === undefined) throw new RangeError('rss steering needs the redirection table and the queue');
      this.toeplitz = new Toeplitz(c.rssKey);
      this.reta = c.reta;
      this.queue = c.queue;
    } else {
      this.toeplitz = null;
      this.reta = null;
      this.queue = c.thread;
    }
    this.portFilter = (lip, lport, rip, rport) => this.portIsMine(lip, lport, rip, rport);
  }

  /** Whether this thread may open a connection from local port `lport` (the reply will reach it). */
  portIsMine(lip: number, lport: number, rip: number, rport: number): boolean {
    if (this.toeplitz !== null) {
      // The reply travels rip:rport → lip:lport; the NIC hashes its source and destination in that order.
      return rssQueue(this.toeplitz.hashIpv4TcpI32(rip, lip, rport, lport), this.reta!) === this.queue;
    }
    return (lport - EPHEMERAL_FIRST) % this.threads === this.thread;
  }

  /**
   * Looks at a received frame before the stack does. Returns true when the frame went to another thread (and its
   * buffer back to the pool); false when this thread's stack should take it (ARP: after copies went to the others).
   */
  divert(stack: Stack, id: number): boolean {
    if (this.threads === 1) return false;
    const pool = stack.iface.pool;
    const b = stack.iface.bytes;
    const off = pool.dataOffset(id);
    const len = pool.len[id];
    if (len < 14) return false;
    const type = (b[off + 12] << 8) | b[off + 13];
    if (type === 0x0806) { // ARP
      for (let t = 0; t < this.threads; t++) {
        const box = this.outboxes[t];
        if (box === null) continue;
        if (box.push(b, off, len)) this.counters.arpShared++;
        else this.counters.dropped++;
      }
      return false;
    }
    if (this.toeplitz !== null || type !== 0x0800 || len < 14 + 20 + 4) return false;
    const ip = off + 14;
    if (b[ip + 9] !== 6 || ((b[ip + 6] & 0x3f) | b[ip + 7]) !== 0) return false; // TCP, not a fragment
    const tcp = ip + (b[ip] & 0x0f) * 4;
    if (tcp + 4 > off + len) return false;
    const dport = (b[tcp + 2] << 8) | b[tcp + 3];
    if (dport < EPHEMERAL_FIRST || dport > EPHEMERAL_LAST || stack.tcp.listeners.has(dport)) return false;
    const owner = (dport - EPHEMERAL_FIRST) % this.threads;
    if (owner === this.thread) return false;
    const box = this.outboxes[owner];
    if (box !== null && box.push(b, off, len)) this.counters.handedOff++;
    else this.counters.dropped++;
    pool.free(id);
    return true;
  }

  /** Takes up to `max` frames other threads handed here through the stack; returns how many. */
  intake(stack: Stack, max: number): number {
    if (this.threads === 1) return 0;
    const pool = stack.iface.pool;
    const b = stack.iface.bytes;
    let n = 0;
    for (let t = 0; t < this.threads && n < max; t++) {
      const box = this.inboxes[t];
      if (box === null) continue;
      while (n < max && box.pending() > 0) {
        const id = pool.alloc();
        if (id < 0) { this.counters.dropped++; return n; }
        const len = box.pop(b, pool.dataOffset(id), pool.dataRoom);
        if (len < 0) { pool.free(id); break; }
        pool.len[id] = len;
        this.counters.received++;
        n++;
        stack.input(id);
      }
    }
    return n;
  }
}
