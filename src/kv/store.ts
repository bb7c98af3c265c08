/**
 * The item store of `ixy kv`: memcached's data model in one ArrayBuffer, with no object per item. Nothing here
 * knows about the network; the text protocol (kv/text-protocol.ts) and tests drive it.
 *
 * Layout. The memory limit (`memoryBytes`, `-m`) is cut into pages of `pageSize` bytes (1 MiB, or the item size
 * limit if that is larger); the arena is exactly those pages, so the store never holds more item memory than the
 * limit. A page belongs to one slab class, whose chunks are all one size: 96 bytes, then ×`growthFactor` (1.25,
 * rounded up to 8) up to the page size, as memcached's classes grow. An item lives in one chunk of the smallest class
 * that holds it, and is addressed by its *ref*: the chunk's byte offset / 8 (an int32 for arenas up to 16 GiB).
 * Its 48-byte header is twelve 32-bit words read through an Int32Array over the same buffer, then the key, then the
 * value followed by "\r\n" (as memcached stores it, so a GET sends value and terminator with one `sendv`):
 *
 *   word 0 LRU next (toward the tail) · 1 LRU prev · 2 hash chain next · 3 exptime · 4 time (last store or access)
 *   5 client flags · 6 CAS low · 7 CAS high · 8 nbytes (value + 2) · 9 nkey | class << 8 | state << 16
 *   10 pins (references held by sends in flight) · 11 the key's hash
 *
 * Times are whole seconds relative to `processStarted` (memcached's rel_time_t), exptime 0 is "never".
 * CAS uniques are 64-bit, kept and compared as two uint32 halves (no BigInt).
 *
 * The hash table is an Int32Array of bucket heads (a power of two, doubled when the items outnumber the buckets by
 * 3/2; chains through word 2), keys are compared as bytes.
 *
 * Eviction is LRU per slab class, as memcached's: each class keeps a doubly linked list (words 0–1), a hit moves
 * the item to the head. When a class needs a chunk and has none free and no page is left, it looks at the last 5
 * items of its own LRU: the first unpinned expired or flushed one is reclaimed, else the first unpinned one is
 * evicted. A class that cannot free a chunk that way (no items of its own, or its tail all pinned) takes a whole
 * page from another class (evicting the items on it), as memcached's slab rebalancer would; only when no page can
 * be moved does a store fail with "out of memory".
 *
 * Pins: an item whose bytes are being sent (a GET reply referenced by `sendv` until the peer acknowledges it) is
 * pinned. A pinned item is never evicted, moved or changed in place: an overwrite links a new item and unlinks the
 * old one, whose chunk is freed when the last pin goes (memcached's refcounts); an incr/decr on a pinned item
 * makes a new item instead of writing in place.
 */
import { add64, num, parseU64, sub64Floor, writeU64 } from './numbers.js';

export const HEADER = 48;
/** memcached's largest key. */
export const KEY_MAX = 250;
/** Relative times this large or smaller are offsets from now; larger ones are unix times (memcached REALTIME_MAXDELTA). */
export const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;

const W_NEXT = 0;
const W_PREV = 1;
const W_HNEXT = 2;
const W_EXP = 3;
const W_TIME = 4;
const W_FLAGS = 5;
const W_CASLO = 6;
const W_CASHI = 7;
const W_NBYTES = 8;
const W_META = 9;
const W_PINS = 10;
const W_HASH = 11;

const S_LINKED = 1;
const S_FREE = 2;
const S_FETCHED = 4;

/** Storage commands. */
export const StoreMode = { Set: 1, Add: 2, Replace: 3, Append: 4, Prepend: 5, Cas: 6 } as const;
/** What a storage command did (the reply line). */
export const StoreResult = { Stored: 0, NotStored: 1, Exists: 2, NotFound: 3 } as const;
/** Why `alloc` gave no item. */
export const AllocError = { TooLarge: -1, NoMemory: -2 } as const;
/** incr/decr failures (a non-negative result is the length of the new value). */
export const DeltaError = { NotFound: -1, NonNumeric: -2, NoMemory: -3 } as const;

/** Counters of the whole store (memcached's `stats` names), cumulative; indexes into `KvStore.counters`. */
export const C = {
  getHits: 0, getMisses: 1, getExpired: 2, getFlushed: 3, deleteHits: 4, deleteMisses: 5, incrHits: 6, incrMisses: 7,
  decrHits: 8, decrMisses: 9, casHits: 10, casMisses: 11, casBadval: 12, touchHits: 13, touchMisses: 14, totalItems: 15,
  evictions: 16, reclaimed: 17, expiredUnfetched: 18, evictedUnfetched: 19, outOfMemory: 20, tooLarge: 21, pagesMoved: 22,
  cmdSet: 23, cmdFlush: 24, cmdTouch: 25, cmdGet: 26,
} as const;
const COUNTERS = 27;
/** Per-class counters; indexes into `KvStore.classCounters` (class × CLASS_COUNTERS + index). */
export const CC = {
  getHits: 0, cmdSet: 1, deleteHits: 2, incrHits: 3, decrHits: 4, casHits: 5, casBadval: 6, touchHits: 7,
  evicted: 8, evictedNonzero: 9, evictedTime: 10, outOfMemory: 11, reclaimed: 12, expiredUnfetched: 13, evictedUnfetched: 14,
} as const;
const CLASS_COUNTERS = 15;

export interface KvStoreOptions {
  /** Item memory in bytes (`-m` MiB × 2^20): the pages, which never exceed it. */
  memoryBytes: number;
  /** Largest item, memcached's accounting (`-I`, default 1 MiB). */
  itemSizeMax?: number;
  /** Chunk size growth factor between slab classes (memcached `-f`, default 1.25). */
  growthFactor?: number;
  /** Page size (default max(1 MiB, itemSizeMax)); every class carves its chunks from whole pages. */
  pageSize?: number;
  /** Initial hash table size as a power of two (default 16, as memcached). */
  hashPower?: number;
  /** The unix time (seconds) the store starts at (default: now). */
  unixTime?: number;
}

export class KvStore {
  /** The arena: every item's header, key and value. */
  readonly bytes: Uint8Array;
  private readonly w: Int32Array;
  readonly pageSize: number;
  readonly pages: number;
  readonly itemSizeMax: number;
  readonly memoryBytes: number;
  readonly growthFactor: number;
  /** Chunk size per class (index 1..classes). */
  readonly chunkSize: Int32Array;
  readonly perPage: Int32Array;
  readonly classes: number;
  private readonly classOf: Uint8Array;
  private readonly pageClass: Uint8Array;
  private pagesUsed = 0;
  private readonly freeHead: Int32Array;
  readonly freeChunks: Int32Array;
  readonly classPages: Int32Array;
  private readonly lruHead: Int32Array;
  private readonly lruTail: Int32Array;
  /** Linked items per class. */
  readonly classItems: Int32Array;
  /** Bytes of the linked items per class (header + key + value + 2). */
  readonly classBytes: Float64Array;
  readonly classCounters: Float64Array;
  readonly counters = new Float64Array(COUNTERS);
  private buckets: Int32Array;
  private mask: number;
  /** Linked items. */
  items = 0;
  /** Bytes of linked items (header + key + value + 2). */
  bytesUsed = 0;
  /** Times the hash table doubled. */
  hashGrown = 0;
  /** Seconds since `processStarted` (memcached's current_time); `setUnixTime` moves it. */
  now = 2;
  /** Unix time the relative clock counts from. */
  readonly processStarted: number;
  /** flush_all: items last stored or accessed at or before this (relative) time are gone once it has passed. */
  private oldestLive = 0;
  /** flush_all: items with a smaller CAS are gone (memcached's oldest_cas: the second a flush happens in). */
  private readonly oldestCas = new Uint32Array(2);
  /** The last CAS unique handed out (lo, hi). */
  private readonly cas = new Uint32Array(2);
  private stealCursor = 0;

  constructor(o: KvStoreOptions) {
    const itemSizeMax = o.itemSizeMax ?? 1 << 20;
    const growth = o.growthFactor ?? 1.25;
    const pageSize = o.pageSize ?? Math.max(1 << 20, (itemSizeMax + 7) & ~7);
    if (!Number.isInteger(itemSizeMax) || itemSizeMax < 1024) throw new RangeError(`item size limit ${itemSizeMax} is below 1024 bytes`);
    if (pageSize % 8 !== 0 || pageSize < itemSizeMax) throw new RangeError(`page size ${pageSize} must be a multiple of 8 and hold the largest item (${itemSizeMax})`);
    if (!(growth > 1) || growth > 4) throw new RangeError(`growth factor ${growth} must be in (1, 4]`);
    const pages = Math.floor(o.memoryBytes / pageSize);
    if (pages < 1) throw new RangeError(`memory limit ${o.memoryBytes} bytes holds no page of ${pageSize} bytes (the item size limit): raise it or lower the item size`);
    this.memoryBytes = o.memoryBytes;
    this.itemSizeMax = itemSizeMax;
    this.growthFactor = growth;
    this.pageSize = pageSize;
    this.pages = pages;
    const buf = new ArrayBuffer(pages * pageSize);
    this.bytes = new Uint8Array(buf);
    this.w = new Int32Array(buf);
    // slab classes: 96 bytes, ×growth rounded up to 8, while below the page size / growth; the last is the page
    const sizes = [0];
    for (let s = HEADER + 48; s <= pageSize / growth; s = Math.ceil((s * growth) / 8) * 8) sizes.push(s);
    sizes.push(pageSize);
    if (sizes.length > 255) throw new RangeError('too many slab classes: use a larger growth factor');
    this.classes = sizes.length - 1;
    const n = sizes.length;
    this.chunkSize = Int32Array.from(sizes);
    this.perPage = Int32Array.from(sizes, (s) => (s === 0 ? 0 : Math.floor(pageSize / s)));
    this.classOf = new Uint8Array(pageSize / 8 + 1);
    for (let c = 1, k = 0; k < this.classOf.length; k++) {
      while (sizes[c] < k * 8) c++;
      this.classOf[k] = c;
    }
    this.pageClass = new Uint8Array(pages);
    this.freeHead = new Int32Array(n).fill(-1);
    this.freeChunks = new Int32Array(n);
    this.classPages = new Int32Array(n);
    this.lruHead = new Int32Array(n).fill(-1);
    this.lruTail = new Int32Array(n).fill(-1);
    this.classItems = new Int32Array(n);
    this.classBytes = new Float64Array(n);
    this.classCounters = new Float64Array(n * CLASS_COUNTERS);
    const hp = o.hashPower ?? 16;
    this.buckets = new Int32Array(1 << hp).fill(-1);
    this.mask = (1 << hp) - 1;
    const unix = o.unixTime ?? Math.floor(Date.now() / 1000);
    this.processStarted = unix - 2;
  }

  // ---- time ----

  /** Sets the clock (unix seconds; whole seconds are used). */
  setUnixTime(unix: number): void {
    this.now = Math.floor(unix) - this.processStarted;
  }

  unixTime(): number {
    return this.now + this.processStarted;
  }

  /**
   * A protocol exptime (already cut to int32 as memcached does) to a relative expiry: 0 never, ≤ 30 days an offset
   * from now, larger a unix time, negative already expired (memcached realtime(EXPTIME_TO_POSITIVE_TIME(x))).
   */
  relExptime(exptime: number): number {
    let e = exptime;
    if (e < 0) e = REALTIME_MAXDELTA + 1;
    if (e === 0) return 0;
    if (e > REALTIME_MAXDELTA) return e <= this.processStarted ? 1 : e - this.processStarted;
    return e + this.now;
  }

  // ---- item fields ----

  nkey(it: number): number { return this.w[it * 2 + W_META] & 0xff; }
  keyOffset(it: number): number { return it * 8 + HEADER; }
  /** Where the value starts in `bytes`; the value is `valueLength(it)` bytes, then "\r\n". */
  dataOffset(it: number): number { return it * 8 + HEADER + (this.w[it * 2 + W_META] & 0xff); }
  valueLength(it: number): number { return this.w[it * 2 + W_NBYTES] - 2; }
  /** Client flags as uint32 (the hot paths use the int32 forms below: a uint32 ≥ 2^31 crossing a call is boxed). */
  flags(it: number): number { return this.w[it * 2 + W_FLAGS] >>> 0; }
  casLo(it: number): number { return this.w[it * 2 + W_CASLO] >>> 0; }
  casHi(it: number): number { return this.w[it * 2 + W_CASHI] >>> 0; }
  flagsI32(it: number): number { return this.w[it * 2 + W_FLAGS]; }
  casLoI32(it: number): number { return this.w[it * 2 + W_CASLO]; }
  casHiI32(it: number): number { return this.w[it * 2 + W_CASHI]; }
  exptime(it: number): number { return this.w[it * 2 + W_EXP]; }
  itemClass(it: number): number { return (this.w[it * 2 + W_META] >>> 8) & 0xff; }
  pins(it: number): number { return this.w[it * 2 + W_PINS]; }
  isLinked(it: number): boolean { return ((this.w[it * 2 + W_META] >>> 16) & S_LINKED) !== 0; }

  private state(it: number): number { return (this.w[it * 2 + W_META] >>> 16) & 0xff; }
  private setState(it: number, s: number): void {
    const b = it * 2 + W_META;
    this.w[b] = (this.w[b] & 0xffff) | (s << 16);
  }

  /** The bytes one item takes in memcached's accounting (item_size_ok): what `-I` limits. */
  static memcachedSize(nkey: number, flags: number, nbytes: number): number {
    return 48 + nkey + 1 + (flags !== 0 ? 4 : 0) + nbytes + 8;
  }

  /** Bytes of an item in this store's layout: header, key, value and "\r\n". */
  static itemSize(nkey: number, nbytes: number): number {
    return HEADER + nkey + nbytes;
  }

  // ---- pins ----

  pin(it: number): void { this.w[it * 2 + W_PINS]++; }

  unpin(it: number): void {
    const b = it * 2;
    const p = --this.w[b + W_PINS];
    if (p === 0 && (this.state(it) & S_LINKED) === 0) this.freeChunk(it);
  }

  // ---- lookup ----

  private hash(src: Uint8Array, off: number, len: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ src[off + i], 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 12)) | 0;
  }

  /** The linked item with this key, without looking at its time (or -1). */
  private lookup(src: Uint8Array, off: number, len: number, h: number): number {
    const w = this.w;
    const bytes = this.bytes;
    let it = this.buckets[h & this.mask];
    while (it !== -1) {
      const b = it * 2;
      if (w[b + W_HASH] === h && (w[b + W_META] & 0xff) === len) {
        const k = it * 8 + HEADER;
        let i = 0;
        while (i < len && bytes[k + i] === src[off + i]) i++;
        if (i === len) return it;
      }
      it = w[b + W_HNEXT];
    }
    return -1;
  }

  private isFlushed(it: number): boolean {
    const ol = this.oldestLive;
    if (ol === 0 || ol > this.now) return false;
    const b = it * 2;
    if (this.w[b + W_TIME] <= ol) return true;
    const oh = this.oldestCas[1];
    const olo = this.oldestCas[0];
    if (oh === 0 && olo === 0) return false;
    const ch = this.w[b + W_CASHI] >>> 0;
    const cl = this.w[b + W_CASLO] >>> 0;
    if (ch === 0 && cl === 0) return false;
    return ch < oh || (ch === oh && cl < olo);
  }

  private isExpired(it: number): boolean {
    const e = this.w[it * 2 + W_EXP];
    return e !== 0 && e <= this.now;
  }

  /**
   * The live item with this key, or -1. An expired or flushed item found on the way is unlinked (lazy expiry,
   * counted as get_expired / get_flushed). Does not move it in the LRU (see `bump`).
   */
  find(src: Uint8Array, off: number, len: number): number {
    const it = this.lookup(src, off, len, this.hash(src, off, len));
    if (it === -1) return -1;
    if (this.isFlushed(it)) { this.counters[C.getFlushed]++; this.unlink(it); return -1; }
    if (this.isExpired(it)) { this.counters[C.getExpired]++; this.unlink(it); return -1; }
    return it;
  }

  /** A hit: the item goes to the head of its class's LRU and its time is now. */
  bump(it: number): void {
    const b = it * 2;
    const w = this.w;
    w[b + W_TIME] = this.now;
    this.setState(it, this.state(it) | S_FETCHED);
    const c = (w[b + W_META] >>> 8) & 0xff;
    if (this.lruHead[c] === it) return;
    this.lruRemove(it, c);
    this.lruPush(it, c);
  }

  // ---- LRU and hash links ----

  private lruPush(it: number, c: number): void {
    const w = this.w;
    const b = it * 2;
    const h = this.lruHead[c];
    w[b + W_PREV] = -1;
    w[b + W_NEXT] = h;
    if (h !== -1) w[h * 2 + W_PREV] = it; else this.lruTail[c] = it;
    this.lruHead[c] = it;
  }

  private lruRemove(it: number, c: number): void {
    const w = this.w;
    const b = it * 2;
    const n = w[b + W_NEXT];
    const p = w[b + W_PREV];
    if (p !== -1) w[p * 2 + W_NEXT] = n; else this.lruHead[c] = n;
    if (n !== -1) w[n * 2 + W_PREV] = p; else this.lruTail[c] = p;
  }

  /** Links an allocated item: a new CAS unique, hash table, head of its LRU. The caller made sure no item has its key. */
  private link(it: number): void {
    const w = this.w;
    const b = it * 2;
    this.nextCas();
    w[b + W_CASLO] = this.cas[0] | 0;
    w[b + W_CASHI] = this.cas[1] | 0;
    w[b + W_TIME] = this.now;
    const slot = w[b + W_HASH] & this.mask;
    w[b + W_HNEXT] = this.buckets[slot];
    this.buckets[slot] = it;
    const c = (w[b + W_META] >>> 8) & 0xff;
    this.lruPush(it, c);
    this.setState(it, S_LINKED);
    const size = HEADER + (w[b + W_META] & 0xff) + w[b + W_NBYTES];
    this.items++;
    this.bytesUsed += size;
    this.classItems[c]++;
    this.classBytes[c] += size;
    this.counters[C.totalItems]++;
    if (this.items > this.buckets.length + (this.buckets.length >> 1)) this.growHash();
  }

  /** Removes a linked item from the hash table and its LRU; its chunk is freed now, or when its last pin goes. */
  unlink(it: number): void {
    const w = this.w;
    const b = it * 2;
    const slot = w[b + W_HASH] & this.mask;
    let p = this.buckets[slot];
    if (p === it) this.buckets[slot] = w[b + W_HNEXT];
    else {
      while (p !== -1 && w[p * 2 + W_HNEXT] !== it) p = w[p * 2 + W_HNEXT];
      if (p !== -1) w[p * 2 + W_HNEXT] = w[b + W_HNEXT];
    }
    const c = (w[b + W_META] >>> 8) & 0xff;
    this.lruRemove(it, c);
    this.setState(it, this.state(it) & ~S_LINKED);
    const size = HEADER + (w[b + W_META] & 0xff) + w[b + W_NBYTES];
    this.items--;
    this.bytesUsed -= size;
    this.classItems[c]--;
    this.classBytes[c] -= size;
    if (w[b + W_PINS] === 0) this.freeChunk(it);
  }

  private growHash(): void {
    const old = this.buckets;
    const n = old.length * 2;
    const fresh = new Int32Array(n).fill(-1);
    const mask = n - 1;
    const w = this.w;
    for (let s = 0; s < old.length; s++) {
      let it = old[s];
      while (it !== -1) {
        const next = w[it * 2 + W_HNEXT];
        const slot = w[it * 2 + W_HASH] & mask;
        w[it * 2 + W_HNEXT] = fresh[slot];
        fresh[slot] = it;
        it = next;
      }
    }
    this.buckets = fresh;
    this.mask = mask;
    this.hashGrown++;
  }

  /** Hash table size (buckets). */
  get hashSize(): number { return this.buckets.length; }

  private nextCas(): void {
    const lo = (this.cas[0] + 1) >>> 0;
    this.cas[0] = lo;
    if (lo === 0) this.cas[1] = (this.cas[1] + 1) >>> 0;
  }

  // ---- chunks and pages ----

  private freeChunk(it: number): void {
    const c = this.itemClass(it);
    this.setState(it, S_FREE);
    this.w[it * 2 + W_PINS] = 0;
    this.freePush(it, c);
  }

  private freePush(it: number, c: number): void {
    const w = this.w;
    const h = this.freeHead[c];
    w[it * 2 + W_PREV] = -1;
    w[it * 2 + W_NEXT] = h;
    if (h !== -1) w[h * 2 + W_PREV] = it;
    this.freeHead[c] = it;
    this.freeChunks[c]++;
  }

  private freeRemove(it: number, c: number): void {
    const w = this.w;
    const n = w[it * 2 + W_NEXT];
    const p = w[it * 2 + W_PREV];
    if (p !== -1) w[p * 2 + W_NEXT] = n; else this.freeHead[c] = n;
    if (n !== -1) w[n * 2 + W_PREV] = p;
    this.freeChunks[c]--;
  }

  /** Gives page p to class c: all its chunks go on c's free list. */
  private carve(p: number, c: number): void {
    this.pageClass[p] = c;
    this.classPages[c]++;
    const size = this.chunkSize[c];
    const per = this.perPage[c];
    const base = p * this.pageSize;
    for (let i = per - 1; i >= 0; i--) {
      const it = (base + i * size) / 8;
      this.w[it * 2 + W_META] = c << 8;
      this.setState(it, S_FREE);
      this.w[it * 2 + W_PINS] = 0;
      this.freePush(it, c);
    }
  }

  /**
   * Frees a chunk of class c by the LRU: among the last 5 items, the first unpinned expired or flushed one is
   * reclaimed, else the first unpinned one is evicted. False if none of them can go.
   */
  private pullTail(c: number): boolean {
    let victim = -1;
    let it = this.lruTail[c];
    for (let tries = 5; it !== -1 && tries > 0; tries--) {
      const prev = this.w[it * 2 + W_PREV];
      if (this.w[it * 2 + W_PINS] === 0) {
        if (this.isExpired(it) || this.isFlushed(it)) {
          this.counters[C.reclaimed]++;
          this.classCounters[c * CLASS_COUNTERS + CC.reclaimed]++;
          if ((this.state(it) & S_FETCHED) === 0) {
            this.counters[C.expiredUnfetched]++;
            this.classCounters[c * CLASS_COUNTERS + CC.expiredUnfetched]++;
          }
          this.unlink(it);
          return true;
        }
        if (victim === -1) victim = it;
      }
      it = prev;
    }
    if (victim === -1) return false;
    this.evict(victim, c);
    return true;
  }

  private evict(it: number, c: number): void {
    const k = c * CLASS_COUNTERS;
    this.counters[C.evictions]++;
    this.classCounters[k + CC.evicted]++;
    if (this.w[it * 2 + W_EXP] !== 0) this.classCounters[k + CC.evictedNonzero]++;
    this.classCounters[k + CC.evictedTime] = this.now - this.w[it * 2 + W_TIME];
    if ((this.state(it) & S_FETCHED) === 0) {
      this.counters[C.evictedUnfetched]++;
      this.classCounters[k + CC.evictedUnfetched]++;
    }
    this.unlink(it);
  }

  /**
   * Moves a page from another class to class c, evicting the items on it. A page with a pinned item or one being
   * written (allocated, not linked) cannot move. Looks at up to 64 pages from a rotating cursor and takes the one
   * with the fewest live items.
   */
  private stealPage(c: number): boolean {
    let best = -1;
    let bestLive = Infinity;
    const w = this.w;
    for (let k = 0; k < this.pagesUsed && k < 64; k++) {
      const p = (this.stealCursor + k) % this.pagesUsed;
      const pc = this.pageClass[p];
      if (pc === c) continue;
      const size = this.chunkSize[pc];
      const base = p * this.pageSize;
      let live = 0;
      let busy = false;
      for (let i = 0; i < this.perPage[pc]; i++) {
        const it = (base + i * size) / 8;
        const s = (w[it * 2 + W_META] >>> 16) & 0xff;
        if (s & S_FREE) continue;
        if ((s & S_LINKED) === 0 || w[it * 2 + W_PINS] !== 0) { busy = true; break; }
        live++;
      }
      if (!busy && live < bestLive) { best = p; bestLive = live; if (live === 0) break; }
    }
    if (best === -1) return false;
    this.stealCursor = (best + 1) % this.pagesUsed;
    const pc = this.pageClass[best];
    const size = this.chunkSize[pc];
    const base = best * this.pageSize;
    for (let i = 0; i < this.perPage[pc]; i++) {
      const it = (base + i * size) / 8;
      if (this.state(it) & S_LINKED) this.evict(it, pc);
    }
    for (let i = 0; i < this.perPage[pc]; i++) this.freeRemove((base + i * size) / 8, pc);
    this.classPages[pc]--;
    this.counters[C.pagesMoved]++;
    this.carve(best, c);
    return true;
  }

  private allocChunk(c: number): number {
    if (this.freeHead[c] === -1) {
      if (this.pagesUsed < this.pages) this.carve(this.pagesUsed++, c);
      else if (!this.pullTail(c) && !this.stealPage(c)) return -1;
    }
    const it = this.freeHead[c];
    this.freeRemove(it, c);
    return it;
  }

  /**
   * A new unlinked item for key `src[off, off+nkey)` with room for `nbytes` (value + 2) bytes of data, or an
   * AllocError. The caller writes the data at `dataOffset(it)`, then stores it (`store`) or frees it (`release`).
   * `exptime` is relative (see `relExptime`).
   */
  alloc(src: Uint8Array, off: number, nkey: number, flags: number, exptime: number, nbytes: number): number {
    if (nbytes < 2 || KvStore.memcachedSize(nkey, flags, nbytes) > this.itemSizeMax) {
      this.counters[C.tooLarge]++;
      return AllocError.TooLarge;
    }
    const size = HEADER + nkey + nbytes;
    const c = this.classOf[(size + 7) >> 3];
    const it = this.allocChunk(c);
    if (it < 0) {
      this.counters[C.outOfMemory]++;
      this.classCounters[c * CLASS_COUNTERS + CC.outOfMemory]++;
      return AllocError.NoMemory;
    }
    const w = this.w;
    const b = it * 2;
    w[b + W_NEXT] = -1;
    w[b + W_PREV] = -1;
    w[b + W_HNEXT] = -1;
    w[b + W_EXP] = exptime;
    w[b + W_TIME] = this.now;
    w[b + W_FLAGS] = flags | 0;
    w[b + W_CASLO] = 0;
    w[b + W_CASHI] = 0;
    w[b + W_NBYTES] = nbytes;
    w[b + W_META] = nkey | (c << 8);
    w[b + W_PINS] = 0;
    w[b + W_HASH] = this.hash(src, off, nkey);
    const k = it * 8 + HEADER;
    for (let i = 0; i < nkey; i++) this.bytes[k + i] = src[off + i];
    return it;
  }

  /** Gives back an item from `alloc` that was not stored. */
  release(it: number): void {
    if ((this.state(it) & (S_LINKED | S_FREE)) === 0 && this.w[it * 2 + W_PINS] === 0) this.freeChunk(it);
  }

  /** Whether the data of an allocated item ends with "\r\n" (memcached's check for "bad data chunk"). */
  dataTerminated(it: number): boolean {
    const end = this.dataOffset(it) + this.w[it * 2 + W_NBYTES];
    return this.bytes[end - 2] === 13 && this.bytes[end - 1] === 10;
  }

  /**
   * Stores an allocated item by a storage command's rules (memcached's do_store_item): set, add (only if absent),
   * replace (only if present), append/prepend (to a present item: a new item with both, keeping the old flags and
   * expiry), cas (only if present with CAS unique (casHi, casLo), int32 or uint32 halves). The item is consumed:
   * linked, or freed.
   */
  store(it: number, mode: number, casHi: number, casLo: number): number {
    const w = this.w;
    const k = this.keyOffset(it);
    const nkey = this.nkey(it);
    const c = this.itemClass(it);
    this.classCounters[c * CLASS_COUNTERS + CC.cmdSet]++;
    this.counters[C.cmdSet]++;
    const old = this.find(this.bytes, k, nkey);
    let result: number = StoreResult.NotStored;
    if (old !== -1) {
      const oc = this.itemClass(old);
      switch (mode) {
        case StoreMode.Add:
          this.bump(old);
          break;
        case StoreMode.Cas:
          if ((casHi | casLo) !== 0 && w[old * 2 + W_CASHI] === (casHi | 0) && w[old * 2 + W_CASLO] === (casLo | 0)) {
            this.counters[C.casHits]++;
            this.classCounters[oc * CLASS_COUNTERS + CC.casHits]++;
            this.unlink(old);
            this.link(it);
            result = StoreResult.Stored;
          } else {
            this.counters[C.casBadval]++;
            this.classCounters[oc * CLASS_COUNTERS + CC.casBadval]++;
            result = StoreResult.Exists;
          }
          break;
        case StoreMode.Append:
        case StoreMode.Prepend: {
          const oldLen = this.valueLength(old);
          const addLen = this.valueLength(it);
          this.pin(old);
          const n = this.alloc(this.bytes, k, nkey, w[old * 2 + W_FLAGS], w[old * 2 + W_EXP], oldLen + addLen + 2);
          this.unpin(old);
          if (n < 0) break;
          const d = this.dataOffset(n);
          const first = mode === StoreMode.Append ? old : it;
          const second = mode === StoreMode.Append ? it : old;
          const l1 = this.valueLength(first);
          this.bytes.copyWithin(d, this.dataOffset(first), this.dataOffset(first) + l1);
          this.bytes.copyWithin(d + l1, this.dataOffset(second), this.dataOffset(second) + this.valueLength(second) + 2);
          this.unlink(old);
          this.link(n);
          result = StoreResult.Stored;
          break;
        }
        default: // set, replace
          this.unlink(old);
          this.link(it);
          result = StoreResult.Stored;
      }
    } else {
      switch (mode) {
        case StoreMode.Add:
        case StoreMode.Set:
          this.link(it);
          result = StoreResult.Stored;
          break;
        case StoreMode.Cas:
          this.counters[C.casMisses]++;
          result = StoreResult.NotFound;
          break;
        default:
          break;
      }
    }
    if ((this.state(it) & S_LINKED) === 0) this.release(it);
    return result;
  }

  /** delete: true if an item was removed. */
  delete(src: Uint8Array, off: number, len: number): boolean {
    const it = this.find(src, off, len);
    if (it === -1) { this.counters[C.deleteMisses]++; return false; }
    this.counters[C.deleteHits]++;
    this.classCounters[this.itemClass(it) * CLASS_COUNTERS + CC.deleteHits]++;
    this.unlink(it);
    return true;
  }

  /** Removes the item with this key if there is one (a `set` that could not be stored must not leave the old value). */
  remove(src: Uint8Array, off: number, len: number): void {
    const it = this.find(src, off, len);
    if (it !== -1) this.unlink(it);
  }

  /** touch: sets a live item's expiry (relative); true if there was one. */
  touch(src: Uint8Array, off: number, len: number, exptime: number): boolean {
    this.counters[C.cmdTouch]++;
    const it = this.find(src, off, len);
    if (it === -1) { this.counters[C.touchMisses]++; return false; }
    this.w[it * 2 + W_EXP] = exptime;
    this.bump(it);
    this.counters[C.touchHits]++;
    this.classCounters[this.itemClass(it) * CLASS_COUNTERS + CC.touchHits]++;
    return true;
  }

  /** get: the live item (moved to the head of its LRU), or -1; counts hits and misses. */
  get(src: Uint8Array, off: number, len: number): number {
    this.counters[C.cmdGet]++;
    const it = this.find(src, off, len);
    if (it === -1) { this.counters[C.getMisses]++; return -1; }
    this.counters[C.getHits]++;
    this.classCounters[this.itemClass(it) * CLASS_COUNTERS + CC.getHits]++;
    this.bump(it);
    return it;
  }

  /** gat: get and set the expiry (relative); counted as touches, as memcached does. */
  getAndTouch(src: Uint8Array, off: number, len: number, exptime: number): number {
    this.counters[C.cmdTouch]++;
    const it = this.find(src, off, len);
    if (it === -1) { this.counters[C.touchMisses]++; return -1; }
    this.w[it * 2 + W_EXP] = exptime;
    this.counters[C.touchHits]++;
    this.classCounters[this.itemClass(it) * CLASS_COUNTERS + CC.touchHits]++;
    this.bump(it);
    return it;
  }

  /**
   * incr/decr by the 64-bit (dHi, dLo): the item's value must be a decimal number as strtoull reads it (at most
   * 2^64 − 1, leading white space and a sign allowed; memcached's rule), incr wraps at 2^64, decr stops at 0.
   * Writes the new value's digits to `out[outOff]` and returns their count, or a DeltaError. Like memcached, a value
   * that fits in place is overwritten in place, padded with spaces, with a new CAS (when the item is not pinned);
   * otherwise a new item replaces it.
   */
  delta(src: Uint8Array, off: number, len: number, incr: boolean, dHi: number, dLo: number, out: Uint8Array, outOff: number): number {
    const it = this.find(src, off, len);
    if (it === -1) {
      this.counters[incr ? C.incrMisses : C.decrMisses]++;
      return DeltaError.NotFound;
    }
    const w = this.w;
    const nbytes = w[it * 2 + W_NBYTES];
    if (nbytes <= 2) return DeltaError.NonNumeric;
    const d = this.dataOffset(it);
    if (!parseU64(this.bytes, d, d + nbytes)) return DeltaError.NonNumeric;
    if (incr) add64(dHi, dLo);
    else sub64Floor(dHi, dLo);
    const c = this.itemClass(it);
    this.counters[incr ? C.incrHits : C.decrHits]++;
    this.classCounters[c * CLASS_COUNTERS + (incr ? CC.incrHits : CC.decrHits)]++;
    const res = writeU64(out, outOff, num[1] | 0, num[0] | 0);
    if (res + 2 <= nbytes && w[it * 2 + W_PINS] === 0) {
      this.nextCas();
      w[it * 2 + W_CASLO] = this.cas[0] | 0;
      w[it * 2 + W_CASHI] = this.cas[1] | 0;
      for (let i = 0; i < res; i++) this.bytes[d + i] = out[outOff + i];
      for (let i = res; i < nbytes - 2; i++) this.bytes[d + i] = 32;
      this.bump(it);
      return res;
    }
    this.pin(it);
    const n = this.alloc(this.bytes, this.keyOffset(it), this.nkey(it), w[it * 2 + W_FLAGS], w[it * 2 + W_EXP], res + 2);
    this.unpin(it);
    if (n < 0) return DeltaError.NoMemory;
    const nd = this.dataOffset(n);
    for (let i = 0; i < res; i++) this.bytes[nd + i] = out[outOff + i];
    this.bytes[nd + res] = 13;
    this.bytes[nd + res + 1] = 10;
    this.unlink(it);
    this.link(n);
    return res;
  }

  /**
   * flush_all [delay]: items stored or accessed before the flush time are gone from then on (`exptime` as the
   * protocol gives it: 0 or negative = now). memcached's rule, including the CAS watermark that also takes items
   * stored earlier in the same second.
   */
  flushAll(exptime: number): void {
    this.counters[C.cmdFlush]++;
    const newOldest = exptime > 0 ? this.relExptime(exptime) : this.now;
    this.oldestLive = newOldest - 1;
    if (this.oldestLive <= this.now) {
      this.nextCas();
      this.oldestCas[0] = this.cas[0];
      this.oldestCas[1] = this.cas[1];
    }
  }

  /** `stats reset`: the counters start again from 0. */
  resetCounters(): void {
    this.counters.fill(0);
    this.classCounters.fill(0);
  }

  /** Chunks in use (linked, pinned or being written) of class c. */
  usedChunks(c: number): number {
    return this.classPages[c] * this.perPage[c] - this.freeChunks[c];
  }

  /** Pages given to classes (each `pageSize` bytes): the memory in use, never more than the limit. */
  get pagesInUse(): number { return this.pagesUsed; }

  /** Seconds since the tail item of class c was stored or accessed (stats items `age`). */
  tailAge(c: number): number {
    const t = this.lruTail[c];
    return t === -1 ? 0 : this.now - this.w[t * 2 + W_TIME];
  }

  /** Walks class c's LRU from the head (most recent): refs in order. For tests and stats, not for the hot path. */
  lruOrder(c: number): number[] {
    const out: number[] = [];
    for (let it = this.lruHead[c]; it !== -1; it = this.w[it * 2 + W_NEXT]) out.push(it);
    return out;
  }

  /** The key of an item as a string (tests, diagnostics). */
  keyString(it: number): string {
    const k = this.keyOffset(it);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + k, this.nkey(it)).toString('latin1');
  }

  /** The class an item of this key and data size goes to. */
  classFor(nkey: number, nbytes: number): number {
    return this.classOf[(HEADER + nkey + nbytes + 7) >> 3];
  }

  /**
   * Checks the structures (tests): every chunk is free, linked or pinned/being written; free lists, LRUs and the
   * hash table agree with the chunk states and counts; the pages never exceed the limit. Throws on the first error.
   */
  check(): void {
    if (this.pagesUsed * this.pageSize > this.memoryBytes) throw new Error('pages exceed the memory limit');
    let linked = 0;
    let bytes = 0;
    for (let c = 1; c <= this.classes; c++) {
      let n = 0;
      for (let it = this.freeHead[c]; it !== -1; it = this.w[it * 2 + W_NEXT]) {
        if (this.state(it) !== S_FREE || this.itemClass(it) !== c) throw new Error(`class ${c}: free list holds a chunk in state ${this.state(it)}`);
        n++;
      }
      if (n !== this.freeChunks[c]) throw new Error(`class ${c}: free list ${n} chunks, counted ${this.freeChunks[c]}`);
      let m = 0;
      let prev = -1;
      for (let it = this.lruHead[c]; it !== -1; it = this.w[it * 2 + W_NEXT]) {
        if ((this.state(it) & S_LINKED) === 0) throw new Error(`class ${c}: LRU holds an unlinked item`);
        if (this.w[it * 2 + W_PREV] !== prev) throw new Error(`class ${c}: LRU prev link broken`);
        if (this.lookup(this.bytes, this.keyOffset(it), this.nkey(it), this.w[it * 2 + W_HASH]) !== it) throw new Error(`class ${c}: item not in the hash table`);
        prev = it;
        m++;
        bytes += HEADER + this.nkey(it) + this.w[it * 2 + W_NBYTES];
      }
      if (prev !== this.lruTail[c]) throw new Error(`class ${c}: LRU tail wrong`);
      if (m !== this.classItems[c]) throw new Error(`class ${c}: LRU ${m} items, counted ${this.classItems[c]}`);
      linked += m;
    }
    if (linked !== this.items) throw new Error(`items ${this.items}, LRUs hold ${linked}`);
    if (bytes !== this.bytesUsed) throw new Error(`bytes ${this.bytesUsed}, items hold ${bytes}`);
  }
}
