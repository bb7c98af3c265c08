/**
 * memcached's text protocol (doc/protocol.txt of memcached 1.6) on the native API's zero-copy events, for
 * `ixy kv` (apps/kv-server.ts). Replies match memcached 1.6.18's byte for byte, error lines and quirks included
 * (the numbers parsed as its safe_strto* do, `noreply` read from the last token, a `set` that cannot be stored
 * removing the old value, incr/decr in place padded with spaces, …); what differs is listed in the `KvProtocol` doc.
 *
 * Connections are slots (the cookie given at `accept`), their state typed arrays indexed by slot:
 *
 * Input. `Recv` pieces stay in their packet buffers, queued per slot (a pool of (offset, length) links), until the
 * parser has consumed them; then `recvDone` releases them in order. A command line that lies in one piece is parsed
 * in place; one split over pieces is copied into the slot's line buffer. A value being stored is copied from the
 * pieces straight into the item's memory in the store. Lines end at "\n" (a "\r" before it is dropped, and a NUL
 * ends the line, as C strings do); a slot holding more than 2048 bytes without a newline is closed, unless the line
 * is a `get`/`gets` (memcached lets multigets grow; here up to `maxGetLine`), and no line may exceed 16 KiB.
 *
 * Output. Replies are segments queued per slot, in order: bytes in the slot's output ring (16 KiB, for reply lines
 * and values shorter than `copyBelow`), or an item's value and "\r\n" in the store (a GET hit: `sendv` references
 * the store's bytes, the item is pinned until `Sent` events have acknowledged them, see kv/store.ts), or a buffer
 * made for a `stats` reply. `sendv` takes what the stack's send buffer has room for; the rest waits for `Sent`.
 * Before each command (and each key of a multiget) the slot must have `outputBound` bytes or fewer unacknowledged
 * and room in its ring: otherwise it stops parsing (its pieces stay unreleased, so TCP's window closes on the
 * client) until `Sent` events drain it. A client that stops reading thus costs at most the bound plus one
 * command's reply, and its window.
 */
import type { NetApi } from '../api/native.js';
import { ApiError } from '../api/codes.js';
import { AllocError, C, CC, DeltaError, KEY_MAX, KvStore, StoreMode, StoreResult } from './store.js';
import { num, parseI32, parseU32, parseU64, writeU32, writeU64 } from './numbers.js';
import { copyBytes } from '../wire/bytes.js';

/** What the protocol needs of the native API (a subset of `NetApi`, so tests can drive it with a fake). */
export type KvApi = Pick<NetApi, 'bytes' | 'sendv' | 'recvDone' | 'close'>;

export interface KvProtocolOptions {
  /** Connection slots (`-c`). */
  maxConns: number;
  /** Stop parsing a connection's requests while this many bytes of its replies are unacknowledged (default 1 MiB). */
  outputBound?: number;
  /** Values shorter than this are copied into the reply ring instead of sent from the store (default 0: none). */
  copyBelow?: number;
  /** Longest `get`/`gets` line (default 1 MiB). */
  maxGetLine?: number;
  /** The version string `version` and `stats` report. */
  version?: string;
  /** For `stats settings`. */
  tcpPort?: number;
}

const enum St { Line = 0, Data = 1, Swallow = 2, Closing = 3 }
const enum Seg { Ring = 0, Item = 1, Ext = 2 }
const enum Run { Done = 0, Paused = 1, Close = 2 }

const F_FIN = 1;
const F_DIRTY = 2;
const F_CLOSE_AFTER = 4;
const F_CLOSE_CALLED = 8;
const F_GET = 16;

const RING = 16 * 1024;
const LINE_MAX = 16 * 1024;
const LINE_NOGET = 2048;
/** Room a command needs in the ring before it runs: the longest reply line (VALUE with a 250-byte key) and END. */
const LINE_ROOM = 320;

const lit = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const R_STORED = lit('STORED\r\n');
const R_NOT_STORED = lit('NOT_STORED\r\n');
const R_EXISTS = lit('EXISTS\r\n');
const R_NOT_FOUND = lit('NOT_FOUND\r\n');
const R_DELETED = lit('DELETED\r\n');
const R_TOUCHED = lit('TOUCHED\r\n');
const R_OK = lit('OK\r\n');
const R_END = lit('END\r\n');
const R_RESET = lit('RESET\r\n');
const R_ERROR = lit('ERROR\r\n');
const R_BAD_FORMAT = lit('CLIENT_ERROR bad command line format\r\n');
const R_BAD_CHUNK = lit('CLIENT_ERROR bad data chunk\r\n');
const R_BAD_EXPTIME = lit('CLIENT_ERROR invalid exptime argument\r\n');
const R_BAD_DELTA = lit('CLIENT_ERROR invalid numeric delta argument\r\n');
const R_NON_NUMERIC = lit('CLIENT_ERROR cannot increment or decrement non-numeric value\r\n');
const R_DELETE_USAGE = lit('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n');
const R_TOO_LARGE = lit('SERVER_ERROR object too large for cache\r\n');
const R_NO_MEMORY = lit('SERVER_ERROR out of memory storing object\r\n');
const R_DELTA_NO_MEMORY = lit('SERVER_ERROR out of memory\r\n');
const R_SHUTDOWN = lit('ERROR: shutdown not enabled\r\n');
const R_DETAIL_USAGE = lit('CLIENT_ERROR usage: stats detail on|off|dump\r\n');
const R_BAD_LINE = lit('CLIENT_ERROR bad command line\r\n');
const R_MEMLIMIT_SMALL = lit('MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n');
const R_MEMLIMIT_FAILED = lit('MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n');
const R_SIZES = lit('STAT sizes_status disabled\r\nEND\r\n');
/** What a connection over `-c` gets before it is closed (memcached's maxconns_fast). */
export const R_TOO_MANY = lit('ERROR Too many open connections\r\n');

const L_GET = lit('get');
const L_GETS = lit('gets');
const L_GAT = lit('gat');
const L_GATS = lit('gats');
const L_SET = lit('set');
const L_STATS = lit('stats');
const L_SHUTDOWN = lit('shutdown');
const L_ADD = lit('add');
const L_APPEND = lit('append');
const L_CAS = lit('cas');
const L_MEMLIMIT = lit('cache_memlimit');
const L_INCR = lit('incr');
const L_DECR = lit('decr');
const L_DELETE = lit('delete');
const L_TOUCH = lit('touch');
const L_REPLACE = lit('replace');
const L_PREPEND = lit('prepend');
const L_BGET = lit('bget');
const L_FLUSH = lit('flush_all');
const L_VERSION = lit('version');
const L_QUIT = lit('quit');
const L_VERBOSITY = lit('verbosity');
const L_NOREPLY = lit('noreply');
const L_ZERO = lit('0');
const L_HTTP = lit('HTTP/');
const L_VALUE = lit('VALUE ');

/** Counters by command, for figures and `stats`: indexes into `KvProtocol.ops`. */
export const Op = {
  get: 0, gets: 1, gat: 2, set: 3, add: 4, replace: 5, append: 6, prepend: 7, cas: 8, incr: 9, decr: 10,
  touch: 11, delete: 12, flush: 13, other: 14, errors: 15,
} as const;
const OPS = 16;

// tokens of the current line (memcached's tokenizer: at most 23, then the rest)
const tokS = new Int32Array(24);
const tokE = new Int32Array(24);
let ntok = 0;
/** Where the tokens after the 23rd start (-1: none); `get` reads its keys from the line itself. */
let rest = -1;
export function tokensRest(): number { return rest; }

/**
 * The text protocol over every connection of one store. Differences from memcached 1.6.18, all at the edges:
 * - a `get` with a key over 250 bytes answers only the error, like memcached, but cancels no reply of an earlier
 *   command (memcached drops every reply it has not written yet), and no key of it is looked up (memcached has
 *   looked up, and for `gat` touched, the keys before the long one);
 * - a connection closed for a long line or an "HTTP/" request gets the replies to its earlier commands first;
 * - meta commands (mg, ms, md, ma, mn, me), `watch`, `lru`, `lru_crawler`, `slabs` and `stats cachedump|conns`
 *   detail answer "ERROR" (not implemented yet); `cache_memlimit` cannot change the limit;
 * - `get` lines are limited to `maxGetLine` bytes (memcached grows its buffer without a limit).
 */
export class KvProtocol {
  readonly store: KvStore;
  readonly ops = new Float64Array(OPS);
  private api: KvApi | null = null;
  private rx: Uint8Array = new Uint8Array(0);
  readonly maxConns: number;
  readonly outputBound: number;
  readonly copyBelow: number;
  readonly maxGetLine: number;
  readonly version: string;
  readonly tcpPort: number;
  /** Open connections, all time, refused for want of a slot; bytes read and acknowledged. */
  conns = 0;
  totalConns = 0;
  rejectedConns = 0;
  bytesRead = 0;
  bytesWritten = 0;
  /** Times a connection stopped being read because its replies were not acknowledged fast enough. */
  throttled = 0;
  verbosity = 0;
  private readonly started: number;
  private readonly versionReply: Uint8Array;

  // per slot
  private readonly handle: Int32Array;
  private readonly st: Uint8Array;
  private readonly fl: Uint8Array;
  private readonly remoteIp: Int32Array;
  private readonly remotePort: Int32Array;
  private readonly freeSlots: Int32Array;
  private nFree: number;
  // input pieces
  private readonly inHead: Int32Array;
  private readonly inTail: Int32Array;
  private readonly inPos: Int32Array;
  private readonly inBytes: Float64Array;
  private pOff = new Int32Array(1024);
  private pLen = new Int32Array(1024);
  private pNext = new Int32Array(1024);
  private pFree = -1;
  private pCount = 0;
  // partial lines
  private readonly lineBuf: (Uint8Array | null)[];
  private readonly lineLen: Int32Array;
  // value being stored / swallowed
  private readonly item: Int32Array;
  private readonly dataPos: Int32Array;
  private readonly dataLen: Int32Array;
  private readonly mode: Uint8Array;
  private readonly noreply: Uint8Array;
  private readonly casHi: Int32Array;
  private readonly casLo: Int32Array;
  private readonly swallow: Float64Array;
  // a multiget paused for output room: where its line is and which key is next
  private readonly getInRx: Uint8Array;
  private readonly getPos: Int32Array;
  private readonly getEnd: Int32Array;
  private readonly getLineUse: Int32Array;
  private readonly getCas: Uint8Array;
  private readonly getTouch: Uint8Array;
  private readonly getExp: Int32Array;
  // output
  private readonly outBuf: (Uint8Array | null)[];
  private readonly ringHead: Int32Array;
  private readonly ringUsed: Int32Array;
  private readonly outstanding: Float64Array;
  private readonly segHead: Int32Array;
  private readonly segTail: Int32Array;
  private readonly sendSeg: Int32Array;
  private readonly sendOff: Int32Array;
  private readonly ackOff: Int32Array;
  private sKind = new Uint8Array(1024);
  private sRef = new Int32Array(1024);
  private sOff = new Int32Array(1024);
  private sLen = new Int32Array(1024);
  private sNext = new Int32Array(1024);
  private sFree = -1;
  private sCount = 0;
  private readonly ext: (Uint8Array | null)[] = [];
  private readonly extFree: number[] = [];
  // slots with something to do after this iteration's events
  private readonly dirty: Int32Array;
  private nDirty = 0;
  private readonly scratch: Uint8Array;

  constructor(store: KvStore, o: KvProtocolOptions) {
    this.store = store;
    const n = o.maxConns;
    this.maxConns = n;
    this.outputBound = o.outputBound ?? 1 << 20;
    this.copyBelow = Math.max(0, Math.min(o.copyBelow ?? 0, 4096));
    this.maxGetLine = o.maxGetLine ?? 1 << 20;
    this.version = o.version ?? '1.6.18-ixy.ts';
    this.tcpPort = o.tcpPort ?? 11211;
    this.versionReply = lit(`VERSION ${this.version.slice(0, 200)}\r\n`);
    this.started = Math.floor(Date.now() / 1000);
    this.handle = new Int32Array(n).fill(-1);
    this.st = new Uint8Array(n);
    this.fl = new Uint8Array(n);
    this.remoteIp = new Int32Array(n);
    this.remotePort = new Int32Array(n);
    this.freeSlots = new Int32Array(n);
    for (let i = 0; i < n; i++) this.freeSlots[i] = n - 1 - i;
    this.nFree = n;
    this.inHead = new Int32Array(n).fill(-1);
    this.inTail = new Int32Array(n).fill(-1);
    this.inPos = new Int32Array(n);
    this.inBytes = new Float64Array(n);
    this.lineBuf = new Array<Uint8Array | null>(n).fill(null);
    this.lineLen = new Int32Array(n);
    this.item = new Int32Array(n).fill(-1);
    this.dataPos = new Int32Array(n);
    this.dataLen = new Int32Array(n);
    this.mode = new Uint8Array(n);
    this.noreply = new Uint8Array(n);
    this.casHi = new Int32Array(n);
    this.casLo = new Int32Array(n);
    this.swallow = new Float64Array(n);
    this.getInRx = new Uint8Array(n);
    this.getPos = new Int32Array(n);
    this.getEnd = new Int32Array(n);
    this.getLineUse = new Int32Array(n);
    this.getCas = new Uint8Array(n);
    this.getTouch = new Uint8Array(n);
    this.getExp = new Int32Array(n);
    this.outBuf = new Array<Uint8Array | null>(n).fill(null);
    this.ringHead = new Int32Array(n);
    this.ringUsed = new Int32Array(n);
    this.outstanding = new Float64Array(n);
    this.segHead = new Int32Array(n).fill(-1);
    this.segTail = new Int32Array(n).fill(-1);
    this.sendSeg = new Int32Array(n).fill(-1);
    this.sendOff = new Int32Array(n);
    this.ackOff = new Int32Array(n);
    this.dirty = new Int32Array(n);
    this.scratch = new Uint8Array(LINE_ROOM + 64 + this.copyBelow);
    this.initPool(0);
  }

  /** The API the replies go through (set when the dataplane is up). */
  attach(api: KvApi): void {
    this.api = api;
    this.rx = api.bytes;
  }

  // ---------------------------------------------------------------- connections

  /** A new connection: its slot (the cookie to accept it with), or -1 when all `maxConns` are taken. */
  open(handle: number, remoteIp = 0, remotePort = 0): number {
    if (this.nFree === 0) { this.rejectedConns++; return -1; }
    const s = this.freeSlots[--this.nFree];
    this.handle[s] = handle;
    this.st[s] = St.Line;
    this.fl[s] &= F_DIRTY;
    this.remoteIp[s] = remoteIp;
    this.remotePort[s] = remotePort;
    this.lineLen[s] = 0;
    this.item[s] = -1;
    this.ringHead[s] = 0;
    this.ringUsed[s] = 0;
    this.outstanding[s] = 0;
    if (this.outBuf[s] === null) this.outBuf[s] = new Uint8Array(RING);
    this.conns++;
    this.totalConns++;
    return s;
  }

  /** `accept` failed after `open`: the slot is free again. */
  cancel(slot: number): void {
    this.handle[slot] = -1;
    this.freeSlots[this.nFree++] = slot;
    this.conns--;
    this.totalConns--;
  }

  /** A `Recv` event: the piece is queued; parsing happens in `run`. Length 0 is the peer's FIN. */
  received(slot: number, off: number, len: number): void {
    if (this.handle[slot] < 0) return;
    if (len === 0) this.fl[slot] |= F_FIN;
    else {
      const p = this.allocPiece();
      this.pOff[p] = off;
      this.pLen[p] = len;
      this.pNext[p] = -1;
      if (this.inTail[slot] === -1) { this.inHead[slot] = p; this.inPos[slot] = 0; } else this.pNext[this.inTail[slot]] = p;
      this.inTail[slot] = p;
      this.inBytes[slot] += len;
      this.bytesRead += len;
    }
    this.markDirty(slot);
  }

  /** A `Sent` event: `n` more bytes of this slot's replies were acknowledged. */
  acked(slot: number, n: number): void {
    if (this.handle[slot] < 0) return;
    this.bytesWritten += n;
    this.outstanding[slot] -= n;
    let a = n;
    while (a > 0) {
      const s = this.segHead[slot];
      if (s === -1) break;
      const rem = this.sLen[s] - this.ackOff[slot];
      const take = a < rem ? a : rem;
      if (this.sKind[s] === Seg.Ring) this.ringUsed[slot] -= take;
      this.ackOff[slot] += take;
      a -= take;
      if (this.ackOff[slot] === this.sLen[s]) {
        this.releaseSeg(s);
        this.segHead[slot] = this.sNext[s];
        if (this.segHead[slot] === -1) this.segTail[slot] = -1;
        this.freeSeg(s);
        this.ackOff[slot] = 0;
      }
    }
    this.markDirty(slot);
  }

  /** A `Dead` event: everything the slot held goes (pins, the value being stored); the stack freed the rest. */
  dead(slot: number): void {
    if (this.handle[slot] < 0) return;
    for (let s = this.segHead[slot]; s !== -1;) {
      const next = this.sNext[s];
      this.releaseSeg(s);
      this.freeSeg(s);
      s = next;
    }
    this.segHead[slot] = this.segTail[slot] = this.sendSeg[slot] = -1;
    this.sendOff[slot] = this.ackOff[slot] = 0;
    for (let p = this.inHead[slot]; p !== -1;) { const next = this.pNext[p]; this.freePiece(p); p = next; }
    this.inHead[slot] = this.inTail[slot] = -1;
    this.inBytes[slot] = 0;
    if (this.st[slot] === St.Data && this.item[slot] >= 0) this.store.release(this.item[slot]);
    this.item[slot] = -1;
    this.handle[slot] = -1;
    this.fl[slot] &= F_DIRTY;
    this.freeSlots[this.nFree++] = slot;
    this.conns--;
  }

  /** Parses what arrived and sends what it can, for every slot that had events in this iteration. */
  run(): void {
    for (let i = 0; i < this.nDirty; i++) {
      const s = this.dirty[i];
      this.fl[s] &= ~F_DIRTY;
      if (this.handle[s] < 0) continue;
      this.pump(s);
      this.flush(s);
    }
    this.nDirty = 0;
  }

  private markDirty(slot: number): void {
    if ((this.fl[slot] & F_DIRTY) !== 0) return;
    this.fl[slot] |= F_DIRTY;
    this.dirty[this.nDirty++] = slot;
  }

  /** Bytes of replies not yet acknowledged on a slot (tests). */
  pending(slot: number): number { return this.outstanding[slot]; }

  // ---------------------------------------------------------------- pools

  private initPool(from: number): void {
    for (let i = this.pOff.length - 1; i >= from; i--) { this.pNext[i] = this.pFree; this.pFree = i; }
    for (let i = this.sLen.length - 1; i >= from; i--) { this.sNext[i] = this.sFree; this.sFree = i; }
  }

  private allocPiece(): number {
    if (this.pFree === -1) {
      const n = this.pOff.length * 2;
      const grow = (a: Int32Array): Int32Array<ArrayBuffer> => { const b = new Int32Array(n); b.set(a); return b; };
      const old = this.pOff.length;
      this.pOff = grow(this.pOff); this.pLen = grow(this.pLen); this.pNext = grow(this.pNext);
      for (let i = n - 1; i >= old; i--) { this.pNext[i] = this.pFree; this.pFree = i; }
    }
    const p = this.pFree;
    this.pFree = this.pNext[p];
    this.pCount++;
    return p;
  }

  private freePiece(p: number): void {
    this.pNext[p] = this.pFree;
    this.pFree = p;
    this.pCount--;
  }

  private allocSeg(): number {
    if (this.sFree === -1) {
      const n = this.sLen.length * 2;
      const old = this.sLen.length;
      const gi = (a: Int32Array): Int32Array<ArrayBuffer> => { const b = new Int32Array(n); b.set(a); return b; };
      const k = new Uint8Array(n); k.set(this.sKind); this.sKind = k;
      this.sRef = gi(this.sRef); this.sOff = gi(this.sOff); this.sLen = gi(this.sLen); this.sNext = gi(this.sNext);
      for (let i = n - 1; i >= old; i--) { this.sNext[i] = this.sFree; this.sFree = i; }
    }
    const s = this.sFree;
    this.sFree = this.sNext[s];
    this.sCount++;
    return s;
  }

  private freeSeg(s: number): void {
    this.sNext[s] = this.sFree;
    this.sFree = s;
    this.sCount--;
  }

  private releaseSeg(s: number): void {
    const k = this.sKind[s];
    if (k === Seg.Item) this.store.unpin(this.sRef[s]);
    else if (k === Seg.Ext) { this.ext[this.sRef[s]] = null; this.extFree.push(this.sRef[s]); }
  }

  /** Pieces and segments in use (tests: both back to 0 once every connection is gone). */
  get poolsInUse(): number { return this.pCount + this.sCount; }

  // ---------------------------------------------------------------- output

  private appendSeg(slot: number, kind: number, ref: number, off: number, len: number): void {
    const t = this.segTail[slot];
    if (kind === Seg.Ring && t !== -1 && this.sKind[t] === Seg.Ring && this.sendSeg[slot] !== -1 && this.sOff[t] + this.sLen[t] === off) {
      this.sLen[t] += len;
      return;
    }
    const s = this.allocSeg();
    this.sKind[s] = kind;
    this.sRef[s] = ref;
    this.sOff[s] = off;
    this.sLen[s] = len;
    this.sNext[s] = -1;
    if (t === -1) this.segHead[slot] = s; else this.sNext[t] = s;
    this.segTail[slot] = s;
    if (this.sendSeg[slot] === -1) { this.sendSeg[slot] = s; this.sendOff[slot] = 0; }
  }

  /** Copies `src[off, off+n)` into the slot's ring (which has room: `roomFor` was checked). */
  private writeRing(slot: number, src: Uint8Array, off: number, n: number): void {
    const buf = this.outBuf[slot]!;
    let pos = this.ringHead[slot];
    let i = 0;
    while (i < n) {
      const room = RING - pos;
      const chunk = n - i < room ? n - i : room;
      copy(buf, pos, src, off + i, chunk);
      this.appendSeg(slot, Seg.Ring, 0, pos, chunk);
      pos += chunk;
      if (pos === RING) pos = 0;
      i += chunk;
    }
    this.ringHead[slot] = pos;
    this.ringUsed[slot] += n;
    this.outstanding[slot] += n;
  }

  private out(slot: number, line: Uint8Array): void {
    this.writeRing(slot, line, 0, line.length);
  }

  /** A reply line unless the command said `noreply`. */
  private reply(slot: number, nr: boolean, line: Uint8Array): void {
    if (!nr) this.writeRing(slot, line, 0, line.length);
  }

  private outItem(slot: number, it: number): void {
    this.store.pin(it);
    const len = this.store.valueLength(it) + 2;
    this.appendSeg(slot, Seg.Item, it, this.store.dataOffset(it), len);
    this.outstanding[slot] += len;
  }

  private outExt(slot: number, b: Uint8Array): void {
    const i = this.extFree.length > 0 ? this.extFree.pop()! : this.ext.length;
    this.ext[i] = b;
    this.appendSeg(slot, Seg.Ext, i, 0, b.length);
    this.outstanding[slot] += b.length;
  }

  /** Gives the stack what its send buffer takes of the slot's queued replies; closes once all is taken, if asked. */
  private flush(slot: number): void {
    const api = this.api!;
    const h = this.handle[slot];
    let s = this.sendSeg[slot];
    while (s !== -1) {
      const done = this.sendOff[slot];
      const rem = this.sLen[s] - done;
      const k = this.sKind[s];
      const src = k === Seg.Ring ? this.outBuf[slot]! : k === Seg.Item ? this.store.bytes : this.ext[this.sRef[s]]!;
      const t = api.sendv(h, src, this.sOff[s] + done, rem);
      if (t < 0) {
        if (t !== ApiError.Again) this.fl[slot] |= F_CLOSE_CALLED; // closed or reset: nothing more to send
        return;
      }
      this.sendOff[slot] = done + t;
      if (t < rem) return;
      s = this.sNext[s];
      this.sendSeg[slot] = s;
      this.sendOff[slot] = 0;
    }
    if ((this.fl[slot] & (F_CLOSE_AFTER | F_CLOSE_CALLED)) === F_CLOSE_AFTER) {
      this.fl[slot] |= F_CLOSE_CALLED;
      api.close(h);
    }
  }

  /** Whether the slot may run a command now: replies within the bound and room in its ring for the next lines. */
  private roomFor(slot: number, extra: number): boolean {
    if (this.outstanding[slot] <= this.outputBound && RING - this.ringUsed[slot] >= LINE_ROOM + extra) return true;
    this.throttled++;
    return false;
  }

  // ---------------------------------------------------------------- input

  /** Consumes n bytes from the slot's pieces, releasing each finished piece to the stack. */
  private advance(slot: number, n: number): void {
    this.inBytes[slot] -= n;
    while (n > 0) {
      const p = this.inHead[slot];
      const left = this.pLen[p] - this.inPos[slot];
      if (n < left) { this.inPos[slot] += n; return; }
      n -= left;
      this.api!.recvDone(this.handle[slot], this.pLen[p]);
      this.inHead[slot] = this.pNext[p];
      if (this.inHead[slot] === -1) this.inTail[slot] = -1;
      this.inPos[slot] = 0;
      this.freePiece(p);
    }
  }

  private lineBufFor(slot: number, need: number): Uint8Array {
    let b = this.lineBuf[slot];
    if (b === null || b.length < need) {
      let size = b === null ? 4096 : b.length;
      while (size < need) size *= 2;
      const nb = new Uint8Array(size);
      if (b !== null) copy(nb, 0, b, 0, this.lineLen[slot]);
      this.lineBuf[slot] = nb;
      b = nb;
    }
    return b;
  }

  /** Whether a partial line (no newline yet) may grow to `len` bytes: memcached's rule for multigets. */
  private mayGrow(slot: number, len: number): boolean {
    if (len <= LINE_NOGET) return true;
    const b = this.lineBuf[slot]!;
    let i = 0;
    while (i < this.lineLen[slot] && b[i] === 32) i++;
    if (i > 100) return false;
    const isGet = b[i] === 103 && b[i + 1] === 101 && b[i + 2] === 116 && (b[i + 3] === 32 || (b[i + 3] === 115 && b[i + 4] === 32));
    return isGet && len <= this.maxGetLine;
  }

  private closeSlot(slot: number): void {
    this.st[slot] = St.Closing;
    this.fl[slot] |= F_CLOSE_AFTER;
    if (this.inBytes[slot] > 0) this.advance(slot, this.inBytes[slot]);
  }

  /** Runs the slot's commands as far as its input and its output room allow. */
  private pump(slot: number): void {
    const rx = this.rx;
    for (;;) {
      if ((this.fl[slot] & F_GET) !== 0) {
        const r = this.resumeGet(slot);
        if (r === Run.Paused) return;
        this.fl[slot] &= ~F_GET;
        this.finishLine(slot, this.getLineUse[slot]);
        continue;
      }
      const st = this.st[slot];
      if (st === St.Closing) {
        if (this.inBytes[slot] > 0) this.advance(slot, this.inBytes[slot]);
        return;
      }
      if (st === St.Data && this.dataPos[slot] === this.dataLen[slot]) {
        if (!this.roomFor(slot, 0)) return;
        this.completeStore(slot);
        continue;
      }
      if (this.inHead[slot] === -1) break;
      const p = this.inHead[slot];
      const start = this.pOff[p] + this.inPos[slot];
      const end = this.pOff[p] + this.pLen[p];
      if (st === St.Data) {
        const want = this.dataLen[slot] - this.dataPos[slot];
        const n = end - start < want ? end - start : want;
        copy(this.store.bytes, this.store.dataOffset(this.item[slot]) + this.dataPos[slot], rx, start, n);
        this.dataPos[slot] += n;
        this.advance(slot, n);
        continue;
      }
      if (st === St.Swallow) {
        const left = this.swallow[slot];
        const n = end - start < left ? end - start : left;
        this.swallow[slot] = left - n;
        this.advance(slot, n);
        if (this.swallow[slot] === 0) this.st[slot] = St.Line;
        continue;
      }
      // a command line
      if (!this.roomFor(slot, this.copyBelow)) return;
      let nl = start;
      while (nl < end && rx[nl] !== 10) nl++;
      const partial = this.lineLen[slot];
      if (partial === 0 && nl < end) {
        const r = this.execLine(slot, rx, start, nl, true);
        if (r === Run.Paused) { this.getLineUse[slot] = nl + 1 - start; return; }
        this.advance(slot, nl + 1 - start);
        if (r === Run.Close) { this.closeSlot(slot); return; }
        continue;
      }
      // the line continues from an earlier piece, or into a later one: it is collected in the line buffer
      const take = nl - start;
      const total = partial + take;
      if (total > this.maxGetLine) { this.closeSlot(slot); return; }
      const b = this.lineBufFor(slot, total + 1);
      copy(b, partial, rx, start, take);
      if (nl === end) {
        this.lineLen[slot] = total;
        this.advance(slot, take);
        // no newline yet: memcached closes a connection holding more than 2048 such bytes (16 KiB at most), unless
        // the line is a multiget
        if ((this.inHead[slot] === -1 || total > LINE_MAX) && !this.mayGrow(slot, total)) { this.closeSlot(slot); return; }
        continue;
      }
      this.lineLen[slot] = 0;
      this.advance(slot, take + 1);
      const r = this.execLine(slot, b, 0, total, false);
      if (r === Run.Paused) { this.getLineUse[slot] = 0; return; }
      if (r === Run.Close) { this.closeSlot(slot); return; }
    }
    // all input used: after the peer's FIN, close our side once the replies are out
    if ((this.fl[slot] & F_FIN) !== 0) this.fl[slot] |= F_CLOSE_AFTER;
  }

  private finishLine(slot: number, use: number): void {
    if (use > 0) this.advance(slot, use);
  }

  // ---------------------------------------------------------------- commands

  /**
   * One command line `src[start, end)` (without its "\n"). Returns Paused when a multiget stopped for output room
   * (its line must stay where it is), Close when the connection is to be closed.
   */
  private execLine(slot: number, src: Uint8Array, start: number, end: number, inRx: boolean): number {
    // memcached drops a "\r" before the "\n" (when the line has more than it), and a NUL ends the line (strlen)
    if (end - start > 1 && src[end - 1] === 13) end--;
    for (let i = start; i < end; i++) if (src[i] === 0) { end = i; break; }
    tokenize(src, start, end);
    const ntokens = ntok + 1;
    if (ntok === 0 || tokE[0] - tokS[0] < 2) return this.error(slot);
    const first = src[tokS[0]];
    const len0 = tokE[0] - tokS[0];
    if (first === 109 && len0 === 2) return this.error(slot); // meta commands: not yet
    if (first === 103) { // g
      if (ntokens < 3) return this.error(slot);
      if (tokIs(src, 0, L_GET)) return this.get(slot, src, end, inRx, false, false, Op.get);
      if (tokIs(src, 0, L_GETS)) return this.get(slot, src, end, inRx, true, false, Op.gets);
      if (tokIs(src, 0, L_GAT)) return this.get(slot, src, end, inRx, false, true, Op.gat);
      if (tokIs(src, 0, L_GATS)) return this.get(slot, src, end, inRx, true, true, Op.gat);
      return this.error(slot);
    }
    if (first === 115) { // s
      if (tokIs(src, 0, L_SET)) return ntokens === 6 || ntokens === 7 ? this.update(slot, src, ntokens, StoreMode.Set) : this.error(slot);
      if (tokIs(src, 0, L_STATS)) return this.stats(slot, src, ntokens);
      if (tokIs(src, 0, L_SHUTDOWN)) { this.ops[Op.other]++; this.out(slot, R_SHUTDOWN); return Run.Done; }
      return this.error(slot);
    }
    if (first === 97) { // a
      if (tokIs(src, 0, L_ADD)) return ntokens === 6 || ntokens === 7 ? this.update(slot, src, ntokens, StoreMode.Add) : this.error(slot);
      if (tokIs(src, 0, L_APPEND)) return ntokens === 6 || ntokens === 7 ? this.update(slot, src, ntokens, StoreMode.Append) : this.error(slot);
      return this.error(slot);
    }
    if (first === 99) { // c
      if (tokIs(src, 0, L_CAS)) return ntokens === 7 || ntokens === 8 ? this.update(slot, src, ntokens, StoreMode.Cas) : this.error(slot);
      if (tokIs(src, 0, L_MEMLIMIT)) return ntokens === 3 || ntokens === 4 ? this.memlimit(slot, src, ntokens) : this.error(slot);
      return this.error(slot);
    }
    if (first === 105) { // i
      if (tokIs(src, 0, L_INCR)) return ntokens === 4 || ntokens === 5 ? this.arith(slot, src, ntokens, true) : this.error(slot);
      return this.error(slot);
    }
    if (first === 100) { // d
      if (tokIs(src, 0, L_DELETE)) return ntokens >= 3 && ntokens <= 5 ? this.del(slot, src, ntokens) : this.error(slot);
      if (tokIs(src, 0, L_DECR)) return ntokens === 4 || ntokens === 5 ? this.arith(slot, src, ntokens, false) : this.error(slot);
      return this.error(slot);
    }
    if (first === 116) { // t
      if (tokIs(src, 0, L_TOUCH)) return ntokens === 4 || ntokens === 5 ? this.touch(slot, src, ntokens) : this.error(slot);
      return this.error(slot);
    }
    if (tokIs(src, 0, L_REPLACE)) return ntokens === 6 || ntokens === 7 ? this.update(slot, src, ntokens, StoreMode.Replace) : this.error(slot);
    if (tokIs(src, 0, L_PREPEND)) return ntokens === 6 || ntokens === 7 ? this.update(slot, src, ntokens, StoreMode.Prepend) : this.error(slot);
    if (tokIs(src, 0, L_BGET)) return ntokens >= 3 ? this.get(slot, src, end, inRx, false, false, Op.get) : this.error(slot);
    if (tokIs(src, 0, L_FLUSH)) return ntokens >= 2 && ntokens <= 4 ? this.flushAll(slot, src, ntokens) : this.error(slot);
    if (tokIs(src, 0, L_VERSION)) { this.ops[Op.other]++; this.versionLine(slot); return Run.Done; }
    if (tokIs(src, 0, L_QUIT)) { this.ops[Op.other]++; return Run.Close; }
    if (tokIs(src, 0, L_VERBOSITY)) return ntokens === 3 || ntokens === 4 ? this.verbosityCmd(slot, src, ntokens) : this.error(slot);
    // an HTTP request line: memcached closes without a word
    const last = ntok - 1;
    if (tokE[last] - tokS[last] >= 5 && startsWith(src, tokS[last], L_HTTP)) return Run.Close;
    return this.error(slot);
  }

  private error(slot: number): number {
    this.ops[Op.errors]++;
    this.out(slot, R_ERROR);
    return Run.Done;
  }

  /** memcached's set_noreply_maybe: the last token is "noreply". */
  private static noreplyToken(src: Uint8Array, ntokens: number): boolean {
    return tokIs(src, ntokens - 2, L_NOREPLY);
  }

  /** set/add/replace/append/prepend/cas: the command line; the value follows (St.Data) or is swallowed. */
  private update(slot: number, src: Uint8Array, ntokens: number, mode: number): number {
    const store = this.store;
    this.ops[mode === StoreMode.Set ? Op.set : mode === StoreMode.Add ? Op.add : mode === StoreMode.Replace ? Op.replace
      : mode === StoreMode.Append ? Op.append : mode === StoreMode.Prepend ? Op.prepend : Op.cas]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    const ks = tokS[1];
    const nkey = tokE[1] - ks;
    if (nkey > KEY_MAX) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    if (!parseU32(src, tokS[2], tokE[2])) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    const flags = num[0] | 0; // int32: a uint32 ≥ 2^31 crossing a call would be boxed
    const exptime = parseI32(src, tokS[3], tokE[3]);
    const vlen = parseI32(src, tokS[4], tokE[4]);
    if (exptime !== exptime || vlen !== vlen) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    const exp = store.relExptime(exptime);
    let cHi = 0;
    let cLo = 0;
    if (mode === StoreMode.Cas) {
      if (!parseU64(src, tokS[5], tokE[5])) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
      cLo = num[0] | 0;
      cHi = num[1] | 0;
    }
    if (vlen < 0 || vlen > 0x7fffffff - 2) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    const it = store.alloc(src, ks, nkey, flags, exp, vlen + 2);
    if (it < 0) {
      this.reply(slot, nr, it === AllocError.TooLarge ? R_TOO_LARGE : R_NO_MEMORY);
      this.st[slot] = St.Swallow;
      this.swallow[slot] = vlen + 2;
      // a set that cannot be stored must not leave the old value (memcached)
      if (mode === StoreMode.Set) store.remove(src, ks, nkey);
      return Run.Done;
    }
    this.st[slot] = St.Data;
    this.item[slot] = it;
    this.dataPos[slot] = 0;
    this.dataLen[slot] = vlen + 2;
    this.mode[slot] = mode;
    this.noreply[slot] = nr ? 1 : 0;
    this.casHi[slot] = cHi;
    this.casLo[slot] = cLo;
    return Run.Done;
  }

  /** The value has arrived: store it and reply. */
  private completeStore(slot: number): void {
    const it = this.item[slot];
    this.item[slot] = -1;
    this.st[slot] = St.Line;
    const nr = this.noreply[slot] === 1;
    if (!this.store.dataTerminated(it)) {
      this.store.release(it);
      this.reply(slot, nr, R_BAD_CHUNK);
      return;
    }
    const r = this.store.store(it, this.mode[slot], this.casHi[slot], this.casLo[slot]);
    this.reply(slot, nr, r === StoreResult.Stored ? R_STORED : r === StoreResult.NotStored ? R_NOT_STORED
      : r === StoreResult.Exists ? R_EXISTS : R_NOT_FOUND);
  }

  /** get/gets/gat/gats/bget: keys from the first token after the command (and the exptime). */
  private get(slot: number, src: Uint8Array, end: number, inRx: boolean, cas: boolean, touch: boolean, op: number): number {
    this.ops[op]++;
    let exp = 0;
    let pos = tokE[0];
    if (touch) {
      const e = parseI32(src, tokS[1], tokE[1]);
      if (e !== e) { this.out(slot, R_BAD_EXPTIME); return Run.Done; }
      exp = this.store.relExptime(e);
      pos = tokE[1];
    }
    // a key over 250 bytes anywhere: the keys before it are looked up (and touched) as memcached does, but only the
    // error is answered (memcached drops what it had answered of this line)
    for (let i = pos; i < end;) {
      while (i < end && src[i] === 32) i++;
      const ks = i;
      while (i < end && src[i] !== 32) i++;
      if (i - ks > KEY_MAX) {
        for (let j = pos; j < ks;) {
          while (j < ks && src[j] === 32) j++;
          const s = j;
          while (j < ks && src[j] !== 32) j++;
          if (j > s) { if (touch) this.store.getAndTouch(src, s, j - s, exp); else this.store.get(src, s, j - s); }
        }
        this.out(slot, R_BAD_FORMAT);
        return Run.Done;
      }
    }
    this.getInRx[slot] = inRx ? 1 : 0;
    this.getPos[slot] = pos;
    this.getEnd[slot] = end;
    this.getCas[slot] = cas ? 1 : 0;
    this.getTouch[slot] = touch ? 1 : 0;
    this.getExp[slot] = exp;
    const r = this.getKeys(slot, src);
    if (r === Run.Paused) this.fl[slot] |= F_GET;
    return r;
  }

  private resumeGet(slot: number): number {
    const src = this.getInRx[slot] === 1 ? this.rx : this.lineBuf[slot]!;
    return this.getKeys(slot, src);
  }

  private getKeys(slot: number, src: Uint8Array): number {
    const store = this.store;
    const end = this.getEnd[slot];
    const cas = this.getCas[slot] === 1;
    const touch = this.getTouch[slot] === 1;
    let i = this.getPos[slot];
    for (;;) {
      while (i < end && src[i] === 32) i++;
      if (i >= end) break;
      if (!this.roomFor(slot, this.copyBelow)) { this.getPos[slot] = i; return Run.Paused; }
      const ks = i;
      while (i < end && src[i] !== 32) i++;
      const it = touch ? store.getAndTouch(src, ks, i - ks, this.getExp[slot]) : store.get(src, ks, i - ks);
      if (it >= 0) this.value(slot, it, cas);
    }
    this.out(slot, R_END);
    return Run.Done;
  }

  /** "VALUE key flags bytes [cas]\r\n", then the value and "\r\n" from the store (or copied, when small). */
  private value(slot: number, it: number, cas: boolean): void {
    const store = this.store;
    const b = this.scratch;
    const sb = store.bytes;
    let n = 0;
    for (let i = 0; i < 6; i++) b[n++] = L_VALUE[i];
    const k = store.keyOffset(it);
    const nkey = store.nkey(it);
    for (let i = 0; i < nkey; i++) b[n++] = sb[k + i];
    b[n++] = 32;
    n += writeU32(b, n, store.flagsI32(it));
    b[n++] = 32;
    const vlen = store.valueLength(it);
    n += writeU32(b, n, vlen);
    if (cas) {
      b[n++] = 32;
      n += writeU64(b, n, store.casHiI32(it), store.casLoI32(it));
    }
    b[n++] = 13;
    b[n++] = 10;
    if (vlen < this.copyBelow) {
      const d = store.dataOffset(it);
      copy(b, n, sb, d, vlen + 2);
      this.writeRing(slot, b, 0, n + vlen + 2);
      return;
    }
    this.writeRing(slot, b, 0, n);
    this.outItem(slot, it);
  }

  private arith(slot: number, src: Uint8Array, ntokens: number, incr: boolean): number {
    this.ops[incr ? Op.incr : Op.decr]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    const nkey = tokE[1] - tokS[1];
    if (nkey > KEY_MAX) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    if (!parseU64(src, tokS[2], tokE[2])) { this.reply(slot, nr, R_BAD_DELTA); return Run.Done; }
    const b = this.scratch;
    const r = this.store.delta(src, tokS[1], nkey, incr, num[1] | 0, num[0] | 0, b, 0);
    if (r >= 0) {
      if (!nr) { b[r] = 13; b[r + 1] = 10; this.writeRing(slot, b, 0, r + 2); }
    } else this.reply(slot, nr, r === DeltaError.NotFound ? R_NOT_FOUND : r === DeltaError.NonNumeric ? R_NON_NUMERIC : R_DELTA_NO_MEMORY);
    return Run.Done;
  }

  private touch(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.touch]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    const nkey = tokE[1] - tokS[1];
    if (nkey > KEY_MAX) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    const e = parseI32(src, tokS[2], tokE[2]);
    if (e !== e) { this.reply(slot, nr, R_BAD_EXPTIME); return Run.Done; }
    const ok = this.store.touch(src, tokS[1], nkey, this.store.relExptime(e));
    this.reply(slot, nr, ok ? R_TOUCHED : R_NOT_FOUND);
    return Run.Done;
  }

  private del(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.delete]++;
    let nr = false;
    if (ntokens > 3) {
      const zero = tokIs(src, 2, L_ZERO);
      nr = KvProtocol.noreplyToken(src, ntokens);
      const valid = (ntokens === 4 && (zero || nr)) || (ntokens === 5 && zero && nr);
      if (!valid) { this.reply(slot, nr, R_DELETE_USAGE); return Run.Done; }
    }
    const nkey = tokE[1] - tokS[1];
    if (nkey > KEY_MAX) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    this.reply(slot, nr, this.store.delete(src, tokS[1], nkey) ? R_DELETED : R_NOT_FOUND);
    return Run.Done;
  }

  private flushAll(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.flush]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    let exptime = 0;
    if (ntokens !== (nr ? 3 : 2)) {
      exptime = parseI32(src, tokS[1], tokE[1]);
      if (exptime !== exptime) { this.reply(slot, nr, R_BAD_EXPTIME); return Run.Done; }
    }
    this.store.flushAll(exptime);
    this.reply(slot, nr, R_OK);
    return Run.Done;
  }

  private verbosityCmd(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.other]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    if (!parseU32(src, tokS[1], tokE[1])) { this.reply(slot, nr, R_BAD_FORMAT); return Run.Done; }
    this.verbosity = num[0] > 2 ? 2 : num[0];
    this.reply(slot, nr, R_OK);
    return Run.Done;
  }

  private memlimit(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.other]++;
    const nr = KvProtocol.noreplyToken(src, ntokens);
    if (!parseU32(src, tokS[1], tokE[1])) { this.reply(slot, nr, R_ERROR); return Run.Done; }
    this.reply(slot, nr, num[0] < 8 ? R_MEMLIMIT_SMALL : R_MEMLIMIT_FAILED);
    return Run.Done;
  }

  private versionLine(slot: number): void {
    this.out(slot, this.versionReply);
  }

  private stats(slot: number, src: Uint8Array, ntokens: number): number {
    this.ops[Op.other]++;
    if (ntokens === 2) { this.outExt(slot, statsText(this.generalStats())); return Run.Done; }
    const sub = Buffer.from(src.buffer, src.byteOffset + tokS[1], tokE[1] - tokS[1]).toString('latin1');
    switch (sub) {
      case 'reset':
        this.store.resetCounters();
        this.ops.fill(0);
        this.out(slot, R_RESET);
        return Run.Done;
      case 'detail': {
        if (ntokens < 4) { this.out(slot, R_DETAIL_USAGE); return Run.Done; }
        const arg = Buffer.from(src.buffer, src.byteOffset + tokS[2], tokE[2] - tokS[2]).toString('latin1');
        this.out(slot, arg === 'on' || arg === 'off' ? R_OK : arg === 'dump' ? R_END : R_DETAIL_USAGE);
        return Run.Done;
      }
      case 'settings': this.outExt(slot, statsText(this.settingsStats())); return Run.Done;
      case 'items': this.outExt(slot, statsText(this.itemsStats())); return Run.Done;
      case 'slabs': this.outExt(slot, statsText(this.slabsStats())); return Run.Done;
      case 'sizes': this.out(slot, R_SIZES); return Run.Done;
      case 'cachedump':
        this.out(slot, ntokens < 5 ? R_BAD_LINE : R_ERROR);
        return Run.Done;
      default:
        return this.error(slot);
    }
  }

  // ---------------------------------------------------------------- stats

  /** `stats`: memcached's names (those that mean something here), in its order. */
  generalStats(): [string, string | number][] {
    const s = this.store;
    const c = s.counters;
    const now = s.unixTime();
    const ru = process.resourceUsage();
    const secs = (us: number): string => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
    return [
      ['pid', process.pid], ['uptime', Math.max(0, now - this.started)], ['time', now], ['version', this.version],
      ['pointer_size', 64], ['rusage_user', secs(ru.userCPUTime)], ['rusage_system', secs(ru.systemCPUTime)],
      ['max_connections', this.maxConns], ['curr_connections', this.conns], ['total_connections', this.totalConns],
      ['rejected_connections', this.rejectedConns], ['connection_structures', this.conns],
      ['cmd_get', c[C.cmdGet]], ['cmd_set', c[C.cmdSet]], ['cmd_flush', c[C.cmdFlush]], ['cmd_touch', c[C.cmdTouch]],
      ['cmd_meta', 0], ['get_hits', c[C.getHits]], ['get_misses', c[C.getMisses]], ['get_expired', c[C.getExpired]],
      ['get_flushed', c[C.getFlushed]], ['delete_misses', c[C.deleteMisses]], ['delete_hits', c[C.deleteHits]],
      ['incr_misses', c[C.incrMisses]], ['incr_hits', c[C.incrHits]], ['decr_misses', c[C.decrMisses]], ['decr_hits', c[C.decrHits]],
      ['cas_misses', c[C.casMisses]], ['cas_hits', c[C.casHits]], ['cas_badval', c[C.casBadval]], ['touch_hits', c[C.touchHits]],
      ['touch_misses', c[C.touchMisses]], ['store_too_large', c[C.tooLarge]], ['store_no_memory', c[C.outOfMemory]],
      ['auth_cmds', 0], ['auth_errors', 0], ['bytes_read', this.bytesRead], ['bytes_written', this.bytesWritten],
      ['limit_maxbytes', s.memoryBytes], ['accepting_conns', 1], ['threads', 1], ['conn_yields', this.throttled],
      ['hash_power_level', Math.log2(s.hashSize)], ['hash_bytes', s.hashSize * 4], ['hash_is_expanding', 0],
      ['slabs_moved', c[C.pagesMoved]], ['bytes', s.bytesUsed], ['curr_items', s.items], ['total_items', c[C.totalItems]],
      ['expired_unfetched', c[C.expiredUnfetched]], ['evicted_unfetched', c[C.evictedUnfetched]], ['evictions', c[C.evictions]],
      ['reclaimed', c[C.reclaimed]],
    ];
  }

  settingsStats(): [string, string | number][] {
    const s = this.store;
    return [
      ['maxbytes', s.memoryBytes], ['maxconns', this.maxConns], ['tcpport', this.tcpPort], ['udpport', 0],
      ['verbosity', this.verbosity], ['evictions', 'on'], ['growth_factor', s.growthFactor.toFixed(2)], ['chunk_size', 48],
      ['num_threads', 1], ['cas_enabled', 'yes'], ['item_size_max', s.itemSizeMax], ['slab_page_size', s.pageSize],
      ['slab_reassign', 'yes'], ['hash_algorithm', 'fnv1a'], ['lru_segmented', 'no'], ['output_bound', this.outputBound],
      ['copy_below', this.copyBelow],
    ];
  }

  itemsStats(): [string, string | number][] {
    const s = this.store;
    const out: [string, string | number][] = [];
    for (let c = 1; c <= s.classes; c++) {
      if (s.classItems[c] === 0) continue;
      const k = c * 15;
      const cc = s.classCounters;
      const p = `items:${c}:`;
      out.push([`${p}number`, s.classItems[c]], [`${p}age`, s.tailAge(c)], [`${p}mem_requested`, s.classBytes[c]],
        [`${p}evicted`, cc[k + CC.evicted]], [`${p}evicted_nonzero`, cc[k + CC.evictedNonzero]], [`${p}evicted_time`, cc[k + CC.evictedTime]],
        [`${p}outofmemory`, cc[k + CC.outOfMemory]], [`${p}reclaimed`, cc[k + CC.reclaimed]],
        [`${p}expired_unfetched`, cc[k + CC.expiredUnfetched]], [`${p}evicted_unfetched`, cc[k + CC.evictedUnfetched]]);
    }
    return out;
  }

  slabsStats(): [string, string | number][] {
    const s = this.store;
    const out: [string, string | number][] = [];
    let active = 0;
    for (let c = 1; c <= s.classes; c++) {
      if (s.classPages[c] === 0) continue;
      active++;
      const k = c * 15;
      const cc = s.classCounters;
      const used = s.usedChunks(c);
      out.push([`${c}:chunk_size`, s.chunkSize[c]], [`${c}:chunks_per_page`, s.perPage[c]], [`${c}:total_pages`, s.classPages[c]],
        [`${c}:total_chunks`, s.classPages[c] * s.perPage[c]], [`${c}:used_chunks`, used], [`${c}:free_chunks`, s.freeChunks[c]],
        [`${c}:free_chunks_end`, 0], [`${c}:get_hits`, cc[k + CC.getHits]], [`${c}:cmd_set`, cc[k + CC.cmdSet]],
        [`${c}:delete_hits`, cc[k + CC.deleteHits]], [`${c}:incr_hits`, cc[k + CC.incrHits]], [`${c}:decr_hits`, cc[k + CC.decrHits]],
        [`${c}:cas_hits`, cc[k + CC.casHits]], [`${c}:cas_badval`, cc[k + CC.casBadval]], [`${c}:touch_hits`, cc[k + CC.touchHits]]);
    }
    out.push(['active_slabs', active], ['total_malloced', s.pagesInUse * s.pageSize]);
    return out;
  }
}

function statsText(lines: [string, string | number][]): Uint8Array {
  let t = '';
  for (const [k, v] of lines) t += `STAT ${k} ${v}\r\n`;
  return Buffer.from(`${t}END\r\n`, 'latin1');
}

/** memcached's tokenizer: tokens split on spaces only, at most 23, then `rest` is where the others start (or -1). */
function tokenize(src: Uint8Array, start: number, end: number): void {
  ntok = 0;
  rest = -1;
  let s = start;
  for (let e = start; e < end; e++) {
    if (src[e] === 32) {
      if (s !== e) {
        tokS[ntok] = s;
        tokE[ntok] = e;
        ntok++;
        if (ntok === 23) {
          if (e + 1 < end) rest = e + 1;
          return;
        }
      }
      s = e + 1;
    }
  }
  if (s < end) { tokS[ntok] = s; tokE[ntok] = end; ntok++; }
}

/** Whether token i is exactly `word` (C's strcmp on the NUL-terminated token). */
function tokIs(src: Uint8Array, i: number, word: Uint8Array): boolean {
  if (i < 0 || i >= ntok) return false;
  const s = tokS[i];
  if (tokE[i] - s !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (src[s + k] !== word[k]) return false;
  return true;
}

function startsWith(src: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (src[at + k] !== word[k]) return false;
  return true;
}

/** Copies n bytes between (possibly the same) arrays without making a view. */
function copy(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, n: number): void {
  if (dst === src) dst.copyWithin(dOff, sOff, sOff + n);
  else copyBytes(dst, dOff, src, sOff, n);
}
