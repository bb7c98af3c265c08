/**
 * A single-producer, single-consumer ring of frames in a SharedArrayBuffer: how one elastic thread hands a frame to
 * another (dataplane/steering.ts). Threads share nothing else, not even a mempool, so a frame crosses by copy.
 *
 * Layout: producer index and consumer index on separate 64-byte lines, then a length per slot, then the slots.
 * The producer writes the bytes and the length, then publishes with Atomics.store of its index; the consumer reads
 * the index with Atomics.load before it reads the slot, so it never sees a half-written frame.
 */
export const MAILBOX_SLOTS = 512; // a power of two
export const MAILBOX_SLOT_BYTES = 2048; // the largest frame a slot holds (a 1518-byte frame fits)

const TAIL = 0; // producer's index (Int32 word)
const HEAD = 16; // consumer's index, a cache line away
const LEN_BASE = 32; // Int32 word where the per-slot lengths start
const DATA_OFFSET = (LEN_BASE + MAILBOX_SLOTS) * 4;
const MASK = MAILBOX_SLOTS - 1;

export function createMailbox(): SharedArrayBuffer {
  return new SharedArrayBuffer(DATA_OFFSET + MAILBOX_SLOTS * MAILBOX_SLOT_BYTES);
}

export class Mailbox {
  private readonly words: Int32Array;
  private readonly data: Uint8Array;
  /** Frames refused because the ring was full or the frame too large (producer side). */
  dropped = 0;

  constructor(sab: SharedArrayBuffer) {
    if (sab.byteLength !== DATA_OFFSET + MAILBOX_SLOTS * MAILBOX_SLOT_BYTES) throw new RangeError('not a mailbox buffer');
    this.words = new Int32Array(sab, 0, LEN_BASE + MAILBOX_SLOTS);
    this.data = new Uint8Array(sab, DATA_OFFSET);
  }

  /** Producer: copies src[off, off+len) into the ring; false (and counted) if full or too large. */
  push(src: Uint8Array, off: number, len: number): boolean {
    const w = this.words;
    const tail = w[TAIL]; // only this thread writes it
    if (len > MAILBOX_SLOT_BYTES || ((tail - Atomics.load(w, HEAD)) | 0) >= MAILBOX_SLOTS) {
      this.dropped++;
      return false;
    }
    const slot = tail & MASK;
    const d = this.data;
    const to = slot * MAILBOX_SLOT_BYTES;
    for (let i = 0; i < len; i++) d[to + i] = src[off + i]; // a loop, not set(subarray()): no view object per frame
    w[LEN_BASE + slot] = len;
    Atomics.store(w, TAIL, (tail + 1) | 0);
    return true;
  }

  /** Consumer: frames waiting. */
  pending(): number {
    return (Atomics.load(this.words, TAIL) - this.words[HEAD]) | 0;
  }

  /**
   * Consumer: copies the oldest frame to dst[off, …) (at most `max` bytes; a longer one is cut) and removes it.
   * Returns its length, or -1 when the ring is empty.
   */
  pop(dst: Uint8Array, off: number, max: number): number {
    const w = this.words;
    const head = w[HEAD];
    if (head === Atomics.load(w, TAIL)) return -1;
    const slot = head & MASK;
    let len = w[LEN_BASE + slot];
    if (len > max) len = max;
    const from = slot * MAILBOX_SLOT_BYTES;
    const d = this.data;
    for (let i = 0; i < len; i++) dst[off + i] = d[from + i];
    Atomics.store(w, HEAD, (head + 1) | 0);
    return len;
  }
}
