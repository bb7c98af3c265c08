/**
 * The send queue of a connection: the app's own buffers, referenced until the peer acknowledges their bytes
 * (IX's sendv contract — the app must not change them before the `sent` event). Bytes are copied into a frame
 * only when a segment is built, for the first transmission and for every retransmission.
 */
import { SEND_QUEUE_MAX, type TcpConn } from './tcp-conn.js';
import { copyBytes } from '../../wire/bytes.js';

/** Whether `sqPush` can take `data[off…]` now (a free entry, or it continues the last one). */
export function sqCanPush(c: TcpConn, data: Uint8Array, off: number): boolean {
  if (c.sqCount < c.sqCap || c.sqCap < SEND_QUEUE_MAX) return true;
  const last = (c.sqHead + c.sqCount - 1) & (c.sqCap - 1);
  return c.sqRefs[last] === data && c.sqOff[last] + c.sqLen[last] === off;
}

/** Appends `data[off, off+len)` (extending the last entry when it continues it); the caller checked sqCanPush. */
export function sqPush(c: TcpConn, data: Uint8Array, off: number, len: number): void {
  if (c.sqCount > 0) {
    const last = (c.sqHead + c.sqCount - 1) & (c.sqCap - 1);
    if (c.sqRefs[last] === data && c.sqOff[last] + c.sqLen[last] === off) {
      c.sqLen[last] += len;
      c.sqBytes += len;
      return;
    }
  }
  if (c.sqCount === c.sqCap) grow(c);
  const i = (c.sqHead + c.sqCount) & (c.sqCap - 1);
  c.sqRefs[i] = data;
  c.sqOff[i] = off;
  c.sqLen[i] = len;
  c.sqCount++;
  c.sqBytes += len;
}

/** Drops `n` acknowledged bytes from the front. */
export function sqRelease(c: TcpConn, n: number): void {
  c.sqBytes -= n;
  while (n > 0) {
    const i = c.sqHead;
    const l = c.sqLen[i];
    if (n < l) { c.sqOff[i] += n; c.sqLen[i] = l - n; return; }
    n -= l;
    c.sqRefs[i] = null;
    c.sqHead = (i + 1) & (c.sqCap - 1);
    c.sqCount--;
  }
}

/** Copies `len` bytes starting `from` bytes past the queue's front into `dst` at `dstOff`. */
export function sqCopyOut(c: TcpConn, from: number, dst: Uint8Array, dstOff: number, len: number): void {
  let k = 0;
  let i = c.sqHead;
  const mask = c.sqCap - 1;
  while (from >= c.sqLen[i] && k < c.sqCount) { from -= c.sqLen[i]; i = (i + 1) & mask; k++; }
  while (len > 0) {
    const src = c.sqRefs[i]!;
    const avail = c.sqLen[i] - from;
    const n = len < avail ? len : avail;
    copyBytes(dst, dstOff, src, c.sqOff[i] + from, n);
    dstOff += n;
    len -= n;
    from = 0;
    i = (i + 1) & mask;
  }
}

/** Doubles the ring (up to SEND_QUEUE_MAX), keeping the order. */
function grow(c: TcpConn): void {
  const cap = c.sqCap * 2;
  const refs = new Array<Uint8Array | null>(cap).fill(null);
  const offs = new Int32Array(cap);
  const lens = new Int32Array(cap);
  for (let k = 0; k < c.sqCount; k++) {
    const i = (c.sqHead + k) & (c.sqCap - 1);
    refs[k] = c.sqRefs[i]; offs[k] = c.sqOff[i]; lens[k] = c.sqLen[i];
  }
  c.sqRefs = refs; c.sqOff = offs; c.sqLen = lens; c.sqCap = cap; c.sqHead = 0;
}

export function sqClear(c: TcpConn): void {
  for (let k = 0; k < c.sqCap; k++) c.sqRefs[k] = null;
  c.sqHead = c.sqCount = c.sqBytes = 0;
}

