/**
 * The ARP cache: IPv4 address → Ethernet address, with the packets waiting for an answer (RFC 826; RFC 1122 §2.3.2).
 *
 * ## What it does
 * - **Merge** (RFC 826 "Packet Reception"): `update` refreshes the entry of the sender's address if there is one
 *   (`create` false, the "merge flag" case) and creates one only when the packet was for us (`create` true).
 * - **Flushing** (RFC 1122 §2.3.2.1, the "timeout" option): an entry is trusted for `reachableMs` after the last
 *   `update`; then `lookup` misses, the next `hold` sends a fresh request, and any ARP packet from the host
 *   (`update`, create or not) makes it valid again. Expired entries stay as stale until their slot is needed (LRU) or
 *   they have been stale for another `reachableMs` (then `poll` frees them), so overheard traffic can refresh them.
 * - **Flood control** (RFC 1122 §2.3.2.1: "a mechanism to prevent ARP flooding … MUST be included", at most one
 *   request per second per destination recommended): at most one request per `retryMs` per address, at most
 *   `maxRequests` per resolution; after that `poll` gives up, frees the waiting packets and forgets the address.
 * - **Queueing** (RFC 1122 §2.3.2.2: "SHOULD save … at least one … packet … destined to the same unresolved IP
 *   address"): up to `maxPendingPerEntry` complete frames per address, sent in FIFO order on resolution. When the queue
 *   is full the *arriving* buffer is dropped (`ArpHold.Dropped`), so the caller always knows who owns it; the RFC's
 *   "(the latest)" would rather drop the oldest — with 16 saved packets the SHOULD's "at least one" is still met.
 *
 * ## Layout (struct of arrays, docs/hot-path.md)
 * `capacity` entries in typed arrays indexed by entry: address (int32, wire/bytes.ts says why), state, MAC (`macs`,
 * 6 bytes each, so the caller copies it into a frame header with `copyMac(frame, off, cache.macs, e * 6)`), deadlines
 * (Float64Array: millisecond clocks exceed 2^31), request count, pending-list head/tail/count. Lookup is a chained hash
 * (Int32Array buckets and chain links). Resolved entries sit on a doubly-linked LRU list, so replacement is O(1): the
 * victim is its tail (RFC 826 leaves replacement to the implementation). Entries waiting for a reply are never
 * evicted; when every entry waits, a new address cannot get one and its packet is dropped.
 *
 * Pending buffers form intrusive singly-linked FIFO lists through `link`, an Int32Array indexed by **buffer id**
 * (sized `pool.count`), so queueing a packet writes two integers. `link[id]` is `NOT_HELD` for a buffer the cache
 * does not hold, which catches holding one buffer twice.
 *
 * Nothing here allocates after construction. Times are plain millisecond numbers from the caller (no clock is read).
 */
import type { Mempool } from '../mem/mempool.js';
import { IxyError } from '../util/errors.js';

/** What `hold` did with the buffer. */
export const ArpHold = {
  /** Queued; the caller sends an ARP request for the address now (first packet, or the retry interval passed). */
  SendRequest: 0,
  /** Queued; a request is outstanding. */
  Queued: 1,
  /** Freed to the pool and counted in `queueDrops`: the address's queue is full, or no entry could be made. */
  Dropped: 2,
} as const;
export type ArpHold = (typeof ArpHold)[keyof typeof ArpHold];

export interface ArpCacheOptions {
  /** Number of entries (1 … 2^20). Default 256. */
  capacity?: number;
  /** How long a reply is trusted, in ms (RFC 1122 §2.3.2.1 timeout; Linux's base_reachable_time is 30 s). Default 60000. */
  reachableMs?: number;
  /** Minimum interval between requests for one address, in ms (RFC 1122 §2.3.2.1: 1 per second). Default 1000. */
  retryMs?: number;
  /** Requests sent for one resolution before giving up (1 … 255; Linux's mcast_solicit is 3). Default 3. */
  maxRequests?: number;
  /** Buffers queued per unresolved address (≥ 1; Linux queues 101 by default, per byte budget). Default 16. */
  maxPendingPerEntry?: number;
}

const FREE = 0;
/** A request is outstanding; the pending list holds ≥ 1 buffer. */
const INCOMPLETE = 1;
/** The MAC is known (valid until `expires`, stale after); the pending list is empty; the entry is on the LRU list. */
const RESOLVED = 2;

const NIL = -1;
const NOT_HELD = -2;
const HASH_MUL = 0x9e3779b1 | 0; // 2^32 / golden ratio (Fibonacci hashing)

export class ArpCache {
  readonly capacity: number;
  readonly reachableMs: number;
  readonly retryMs: number;
  readonly maxRequests: number;
  readonly maxPendingPerEntry: number;
  /** Ethernet address of entry e at `macs[e * 6 … e * 6 + 5]` (valid while `lookup` returns e). */
  readonly macs: Uint8Array;

  /** ARP requests the cache asked the caller to send (`ArpHold.SendRequest` results plus `poll` retries). */
  requestsNeeded = 0;
  /** Buffers freed because their address did not answer `maxRequests` requests. */
  unresolvedDrops = 0;
  /** Addresses given up on (no reply to `maxRequests` requests), and the last of them. */
  unresolvedAddresses = 0;
  lastUnresolvedIp = 0;
  /** Buffers `hold` dropped: the address's queue was full, or every entry was waiting for a reply. */
  queueDrops = 0;
  /** Entries in use (waiting or resolved, stale included). */
  entries = 0;
  /** Resolved entries replaced to make room for another address. */
  evictions = 0;
  /** Buffers the cache holds (queued, or handed over by `update` and not yet taken): they count as allocated in the pool. */
  pendingBuffers = 0;

  private readonly pool: Mempool;
  private readonly ips: Int32Array;
  private readonly state: Uint8Array;
  private readonly requests: Uint8Array;
  /** RESOLVED: valid until this time. */
  private readonly expires: Float64Array;
  /** INCOMPLETE: when the last request was asked for. */
  private readonly lastRequest: Float64Array;
  private readonly pendHead: Int32Array;
  private readonly pendTail: Int32Array;
  private readonly pendCount: Int32Array;
  /** By buffer id: the next buffer in its list, NIL at the end, NOT_HELD when the cache does not hold it. */
  private readonly link: Int32Array;
  private readonly buckets: Int32Array;
  private readonly chain: Int32Array;
  private readonly hashShift: number;
  private readonly lruPrev: Int32Array;
  private readonly lruNext: Int32Array;
  private lruHead = NIL; // most recently used
  private lruTail = NIL;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  /** Buffers handed over by `update`, waiting for `takePending` (FIFO). */
  private takeHead = NIL;
  private takeTail = NIL;

  constructor(pool: Mempool, opts: ArpCacheOptions = {}) {
    const capacity = opts.capacity ?? 256;
    const reachableMs = opts.reachableMs ?? 60_000;
    const retryMs = opts.retryMs ?? 1000;
    const maxRequests = opts.maxRequests ?? 3;
    const maxPending = opts.maxPendingPerEntry ?? 16;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new RangeError(`ArpCache: capacity ${capacity} is not an integer in 1 … 2^20`);
    }
    if (!(reachableMs > 0 && reachableMs < Infinity)) throw new RangeError(`ArpCache: reachableMs ${reachableMs} must be > 0`);
    if (!(retryMs >= 0 && retryMs < Infinity)) throw new RangeError(`ArpCache: retryMs ${retryMs} must be ≥ 0`);
    if (!Number.isInteger(maxRequests) || maxRequests < 1 || maxRequests > 255) {
      throw new RangeError(`ArpCache: maxRequests ${maxRequests} is not an integer in 1 … 255`);
    }
    if (!Number.isInteger(maxPending) || maxPending < 1) {
      throw new RangeError(`ArpCache: maxPendingPerEntry ${maxPending} is not an integer ≥ 1`);
    }
    this.pool = pool;
    this.capacity = capacity;
    this.reachableMs = reachableMs;
    this.retryMs = retryMs;
    this.maxRequests = maxRequests;
    this.maxPendingPerEntry = maxPending;
    this.macs = new Uint8Array(capacity * 6);
    this.ips = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.requests = new Uint8Array(capacity);
    this.expires = new Float64Array(capacity);
    this.lastRequest = new Float64Array(capacity);
    this.pendHead = new Int32Array(capacity).fill(NIL);
    this.pendTail = new Int32Array(capacity).fill(NIL);
    this.pendCount = new Int32Array(capacity);
    this.link = new Int32Array(pool.count).fill(NOT_HELD);
    let bits = 1;
    while (1 << bits < 2 * capacity) bits++; // load factor ≤ 1/2
    this.buckets = new Int32Array(1 << bits).fill(NIL);
    this.hashShift = 32 - bits;
    this.chain = new Int32Array(capacity).fill(NIL);
    this.lruPrev = new Int32Array(capacity).fill(NIL);
    this.lruNext = new Int32Array(capacity).fill(NIL);
    this.freeStack = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeStack[i] = capacity - 1 - i; // entry 0 first
    this.freeTop = capacity;
  }

  /** The entry holding `ip` with a MAC that is resolved and not expired (its MAC at `macs[e * 6]`), else -1. */
  lookup(ip: number, nowMs: number): number {
    const e = this.find(ip);
    if (e < 0 || this.state[e] !== RESOLVED || nowMs >= this.expires[e]) return -1;
    if (this.lruHead !== e) {
      this.lruRemove(e);
      this.lruPush(e);
    }
    return e;
  }

  /**
   * Records `ip` → `mac[macOff … macOff + 5]` from an ARP packet's sender fields (RFC 826 merge): refreshes an existing
   * entry (waiting, valid or stale); creates one only with `create` (the packet's target address is ours). Returns
   * the number of buffers that were waiting for this address; take them with `takePending` (FIFO order), fill in the
   * MAC and transmit them. Returns 0 when the address is unknown and `create` is false, or when no entry is free and
   * none can be replaced (every entry waits for a reply).
   */
  update(ip: number, mac: Uint8Array, macOff: number, nowMs: number, create: boolean): number {
    let e = this.find(ip);
    if (e < 0) {
      if (!create) return 0;
      e = this.allocEntry(ip);
      if (e < 0) return 0;
    } else if (this.state[e] === RESOLVED) {
      this.lruRemove(e);
    }
    const m = e * 6;
    const macs = this.macs;
    macs[m] = mac[macOff];
    macs[m + 1] = mac[macOff + 1];
    macs[m + 2] = mac[macOff + 2];
    macs[m + 3] = mac[macOff + 3];
    macs[m + 4] = mac[macOff + 4];
    macs[m + 5] = mac[macOff + 5];
    this.state[e] = RESOLVED;
    this.expires[e] = nowMs + this.reachableMs;
    this.requests[e] = 0;
    this.lruPush(e);
    const n = this.pendCount[e];
    if (n === 0) return 0;
    // Hand the list over: appended to any buffers not yet taken, so nothing is lost if the caller calls update twice.
    const h = this.pendHead[e];
    if (this.takeTail === NIL) this.takeHead = h; else this.link[this.takeTail] = h;
    this.takeTail = this.pendTail[e];
    this.pendHead[e] = NIL;
    this.pendTail[e] = NIL;
    this.pendCount[e] = 0;
    return n;
  }

  /**
   * Moves the buffers handed over by the last `update` into `out[start …]`, oldest first; returns how many (limited by
   * the room in `out`: call again until it returns 0). The caller owns them afterwards.
   */
  takePending(out: Uint32Array, start: number): number {
    const link = this.link;
    let b = this.takeHead;
    let i = start;
    const end = out.length;
    while (b !== NIL && i < end) {
      out[i++] = b;
      const next = link[b];
      link[b] = NOT_HELD;
      b = next;
    }
    this.takeHead = b;
    if (b === NIL) this.takeTail = NIL;
    const n = i - start;
    this.pendingBuffers -= n;
    return n;
  }

  /**
   * Queues buffer `bufferId` (a complete frame waiting for the destination MAC of `ip`; call after `lookup` missed) and
   * says whether to send an ARP request now (see `ArpHold`). On a resolved entry (stale, or valid but the caller wants
   * it re-checked) resolution starts again. Throws `IxyError` for a buffer the cache already holds or not in the pool.
   */
  hold(ip: number, bufferId: number, nowMs: number): ArpHold {
    if (this.link[bufferId] !== NOT_HELD) this.badHold(bufferId);
    let e = this.find(ip);
    if (e < 0) {
      e = this.allocEntry(ip);
      if (e < 0) return this.drop(bufferId);
      this.startResolution(e, nowMs);
    } else if (this.state[e] === RESOLVED) {
      this.lruRemove(e);
      this.startResolution(e, nowMs);
    } else {
      if (this.pendCount[e] >= this.maxPendingPerEntry) return this.drop(bufferId);
      this.enqueue(e, bufferId);
      if (this.requests[e] < this.maxRequests && nowMs - this.lastRequest[e] >= this.retryMs) {
        this.requests[e]++;
        this.lastRequest[e] = nowMs;
        this.requestsNeeded++;
        return ArpHold.SendRequest;
      }
      return ArpHold.Queued;
    }
    this.enqueue(e, bufferId);
    return ArpHold.SendRequest;
  }

  /**
   * Timer work, O(capacity): writes to `outIps` the addresses whose request is due for a retry (the caller sends one
   * request each) and returns how many; addresses left over when `outIps` is full are retried at the next call.
   * An address that got `maxRequests` requests and no reply for `retryMs` after the last one is given up: its buffers
   * are freed (`unresolvedDrops`) and the entry becomes free. Resolved entries stale for another `reachableMs` are freed.
   */
  poll(nowMs: number, outIps: Int32Array): number {
    let n = 0;
    const state = this.state;
    for (let e = 0; e < this.capacity; e++) {
      const s = state[e];
      if (s === INCOMPLETE) {
        if (nowMs - this.lastRequest[e] < this.retryMs) continue;
        if (this.requests[e] >= this.maxRequests) {
          this.unresolvedDrops += this.freeList(this.pendHead[e]);
          this.unresolvedAddresses++;
          this.lastUnresolvedIp = this.ips[e];
          this.pendHead[e] = NIL;
          this.pendTail[e] = NIL;
          this.pendCount[e] = 0;
          this.releaseEntry(e);
          continue;
        }
        if (n >= outIps.length) continue;
        outIps[n++] = this.ips[e];
        this.requests[e]++;
        this.lastRequest[e] = nowMs;
        this.requestsNeeded++;
      } else if (s === RESOLVED && nowMs - this.expires[e] >= this.reachableMs) {
        this.lruRemove(e);
        this.releaseEntry(e);
      }
    }
    return n;
  }

  /** Buffers queued for `ip` (0 when it has no waiting entry). */
  queued(ip: number): number {
    const e = this.find(ip);
    return e < 0 ? 0 : this.pendCount[e];
  }

  /** Frees every buffer the cache holds (queued or not yet taken) to the pool and empties the cache. Counters stay. */
  clear(): void {
    for (let e = 0; e < this.capacity; e++) {
      const s = this.state[e];
      if (s === FREE) continue;
      if (s === INCOMPLETE) {
        this.freeList(this.pendHead[e]);
        this.pendHead[e] = NIL;
        this.pendTail[e] = NIL;
        this.pendCount[e] = 0;
      } else {
        this.lruRemove(e);
      }
      this.releaseEntry(e);
    }
    this.freeList(this.takeHead);
    this.takeHead = NIL;
    this.takeTail = NIL;
  }

  // ---- internals ----

  private find(ip: number): number {
    let e = this.buckets[Math.imul(ip, HASH_MUL) >>> this.hashShift];
    const ips = this.ips;
    while (e !== NIL && ips[e] !== ip) e = this.chain[e];
    return e;
  }

  /** A free entry keyed by `ip` (state FREE, in the hash): from the free stack, else the LRU resolved entry; or NIL. */
  private allocEntry(ip: number): number {
    if (this.freeTop === 0) {
      const victim = this.lruTail;
      if (victim === NIL) return NIL;
      this.lruRemove(victim);
      this.releaseEntry(victim);
      this.evictions++;
    }
    const e = this.freeStack[--this.freeTop];
    this.ips[e] = ip;
    const h = Math.imul(ip, HASH_MUL) >>> this.hashShift;
    this.chain[e] = this.buckets[h];
    this.buckets[h] = e;
    this.entries++;
    return e;
  }

  /** Takes entry e (off the LRU list, no pending buffers) out of the hash and back to the free stack. */
  private releaseEntry(e: number): void {
    const h = Math.imul(this.ips[e], HASH_MUL) >>> this.hashShift;
    let p = this.buckets[h];
    if (p === e) {
      this.buckets[h] = this.chain[e];
    } else {
      while (this.chain[p] !== e) p = this.chain[p];
      this.chain[p] = this.chain[e];
    }
    this.chain[e] = NIL;
    this.state[e] = FREE;
    this.requests[e] = 0;
    this.freeStack[this.freeTop++] = e;
    this.entries--;
  }

  private startResolution(e: number, nowMs: number): void {
    this.state[e] = INCOMPLETE;
    this.requests[e] = 1;
    this.lastRequest[e] = nowMs;
    this.requestsNeeded++;
  }

  private enqueue(e: number, id: number): void {
    this.link[id] = NIL;
    const t = this.pendTail[e];
    if (t === NIL) this.pendHead[e] = id; else this.link[t] = id;
    this.pendTail[e] = id;
    this.pendCount[e]++;
    this.pendingBuffers++;
  }

  private drop(id: number): ArpHold {
    this.pool.free(id);
    this.queueDrops++;
    return ArpHold.Dropped;
  }

  /** Frees the list starting at buffer `b` to the pool; returns how many. */
  private freeList(b: number): number {
    const link = this.link;
    let n = 0;
    while (b !== NIL) {
      const next = link[b];
      link[b] = NOT_HELD;
      this.pool.free(b);
      b = next;
      n++;
    }
    this.pendingBuffers -= n;
    return n;
  }

  private lruPush(e: number): void {
    const h = this.lruHead;
    this.lruPrev[e] = NIL;
    this.lruNext[e] = h;
    if (h === NIL) this.lruTail = e; else this.lruPrev[h] = e;
    this.lruHead = e;
  }

  private lruRemove(e: number): void {
    const p = this.lruPrev[e];
    const n = this.lruNext[e];
    if (p === NIL) this.lruHead = n; else this.lruNext[p] = n;
    if (n === NIL) this.lruTail = p; else this.lruPrev[n] = p;
    this.lruPrev[e] = NIL;
    this.lruNext[e] = NIL;
  }

  private badHold(id: number): never {
    if (!Number.isInteger(id) || id < 0 || id >= this.link.length) {
      throw new IxyError(`ArpCache.hold: buffer id ${id} does not belong to the mempool (0..${this.link.length - 1})`);
    }
    throw new IxyError(`ArpCache.hold: buffer ${id} is already held by the ARP cache: the caller lost track of its ownership`);
  }
}
