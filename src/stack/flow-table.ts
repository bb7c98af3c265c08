/**
 * The connection table: (localIp, localPort, remoteIp, remotePort) → a connection handle (an int in 0 … 2^31 − 1),
 * the lookup every received TCP segment makes (RFC 9293 §3.10.7: find the connection a segment belongs to).
 *
 * Open addressing with linear probing over a power-of-two table of at least twice `capacity` slots (load ≤ 1/2, so a
 * probe always ends at an empty slot), and backward-shift deletion (Knuth, TAOCP vol. 3, §6.4 Algorithm R): removing
 * an entry moves later members of its probe run back into the hole, so there are no tombstones and probe lengths do
 * not degrade under churn. The slot is chosen by HalfSipHash-2-4 under a random per-table key
 * (src/stack/halfsiphash.ts; Linux's inet_ehashfn also uses a keyed hash): a remote peer choosing ports and addresses
 * cannot aim its connections at one probe run (hash flooding).
 *
 * Storage is struct-of-arrays: Int32Array local/remote addresses (int32, as wire/ reads them), packed ports
 * (lport << 16 | rport), the full 32-bit hash (compared before the key, and used to find an entry's home slot while
 * shifting without rehashing) and the value (-1 = empty slot). Addresses may be passed signed or unsigned, ports are
 * taken modulo 2^16. Nothing allocates after construction.
 */
import { hsiphash4, randomKey } from './halfsiphash.js';

const EMPTY = -1;

export class FlowTable {
  /** Maximum number of entries. */
  readonly capacity: number;
  /** Number of slots (a power of two ≥ 2 × capacity). */
  readonly slots: number;

  private readonly mask: number;
  private readonly k0: number;
  private readonly k1: number;
  private readonly lips: Int32Array;
  private readonly rips: Int32Array;
  private readonly ports: Int32Array;
  private readonly hashes: Int32Array;
  private readonly vals: Int32Array;
  private count = 0;

  /** `key`: two HalfSipHash key words (default: random; pass one only to make tests reproducible). */
  constructor(capacity: number, key: Uint32Array = randomKey()) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 29) {
      throw new RangeError(`FlowTable: capacity ${capacity} is not an integer in 1 … 2^29`);
    }
    if (key.length < 2) throw new RangeError('FlowTable: key must have two 32-bit words');
    let slots = 2;
    while (slots < 2 * capacity) slots *= 2;
    this.capacity = capacity;
    this.slots = slots;
    this.mask = slots - 1;
    this.k0 = key[0]! | 0;
    this.k1 = key[1]! | 0;
    this.lips = new Int32Array(slots);
    this.rips = new Int32Array(slots);
    this.ports = new Int32Array(slots);
    this.hashes = new Int32Array(slots);
    this.vals = new Int32Array(slots).fill(EMPTY);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** The value stored for the 4-tuple, or -1. */
  lookup(lip: number, lport: number, rip: number, rport: number): number {
    const i = this.find(lip | 0, rip | 0, ((lport & 0xffff) << 16) | (rport & 0xffff));
    return i < 0 ? EMPTY : this.vals[i]!;
  }

  /**
   * Adds the 4-tuple with `value` (an integer in 0 … 2^31 − 1; anything else throws RangeError). Returns false,
   * changing nothing, when the key is already present or the table holds `capacity` entries.
   */
  insert(lip: number, lport: number, rip: number, rport: number, value: number): boolean {
    if (!(value >= 0 && value <= 0x7fffffff) || (value | 0) !== value) {
      throw new RangeError(`FlowTable.insert: value ${value} is not an integer in 0 … 2^31 - 1`);
    }
    lip |= 0;
    rip |= 0;
    const pp = ((lport & 0xffff) << 16) | (rport & 0xffff);
    if (this.count === this.capacity) return false;
    const h = hsiphash4(this.k0, this.k1, lip, rip, pp, 0);
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      if (this.vals[i] === EMPTY) {
        this.lips[i] = lip;
        this.rips[i] = rip;
        this.ports[i] = pp;
        this.hashes[i] = h;
        this.vals[i] = value;
        this.count++;
        return true;
      }
      if (this.hashes[i] === h && this.lips[i] === lip && this.rips[i] === rip && this.ports[i] === pp) return false;
    }
  }

  /** Removes the 4-tuple; false when it was not present. */
  remove(lip: number, lport: number, rip: number, rport: number): boolean {
    let hole = this.find(lip | 0, rip | 0, ((lport & 0xffff) << 16) | (rport & 0xffff));
    if (hole < 0) return false;
    const mask = this.mask;
    // Backward shift: walk the rest of the probe run; an entry whose home slot is not cyclically in (hole, j] may
    // move into the hole (its probe sequence passes it), which opens a new hole at j.
    for (let j = (hole + 1) & mask; this.vals[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hashes[j]! & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.lips[hole] = this.lips[j]!;
        this.rips[hole] = this.rips[j]!;
        this.ports[hole] = this.ports[j]!;
        this.hashes[hole] = this.hashes[j]!;
        this.vals[hole] = this.vals[j]!;
        hole = j;
      }
    }
    this.vals[hole] = EMPTY;
    this.count--;
    return true;
  }

  /** Removes every entry. O(slots). */
  clear(): void {
    this.vals.fill(EMPTY);
    this.count = 0;
  }

  /** The slot holding the key, or -1. */
  private find(lip: number, rip: number, pp: number): number {
    const h = hsiphash4(this.k0, this.k1, lip, rip, pp, 0);
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = this.vals[i]!;
      if (v === EMPTY) return -1;
      if (this.hashes[i] === h && this.lips[i] === lip && this.rips[i] === rip && this.ports[i] === pp) return i;
    }
  }
}
