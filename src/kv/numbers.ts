/**
 * Decimal numbers of the memcached text protocol on bytes, without strings or BigInts: 64-bit values are two uint32
 * halves (hi, lo) in a scratch array. The parsers reproduce what memcached 1.6's `safe_strtol`, `safe_strtoul` and
 * `safe_strtoull` (util.c, on top of C's strtol/strtoul/strtoull) accept, including their quirks, so replies match
 * memcached's byte for byte:
 * - leading white space (\t \n \v \f \r, space) is skipped and a `+` or `-` sign is taken;
 * - the number may be followed by white space and anything after it (`1\tx` is 1), or must end the token;
 * - strtol takes any value that fits a signed 64-bit long and memcached keeps its low 32 bits (`4294967297` → 1);
 * - strtoul/strtoull negate a `-` number modulo 2^64; memcached then refuses it if the result is ≥ 2^63 and the text
 *   holds a `-` (so `-0` is 0 and `-5` is refused); strtoul's value is cut to its low 32 bits.
 */

/** `isspace` in the C locale. */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Where parse results land: [0] low 32 bits, [1] high 32 bits (both as uint32). */
export const num = new Uint32Array(2);

const TWO32 = 4294967296;

const M_U64 = 0;
const M_I64 = 1;

/**
 * Parses the magnitude and sign like strtoull (`mode` M_U64) or strtol (M_I64) on `src[start, end)`; `end` acts as
 * C's NUL. Returns 0 when the text has no number or the magnitude is out of range (ERANGE: above 2^64 − 1, or for
 * strtol above 2^63 − 1, 2^63 when negative), else 1 for a positive and -1 for a negative number, with the magnitude
 * in `num`. (Only small integers cross calls here: a uint32 ≥ 2^31 as an argument would be boxed, docs/hot-path.md.)
 */
function magnitude(src: Uint8Array, start: number, end: number, mode: number): number {
  let i = start;
  while (i < end && isSpace(src[i])) i++;
  let sign = 1;
  if (i < end && (src[i] === 43 || src[i] === 45)) { if (src[i] === 45) sign = -1; i++; }
  const first = i;
  const maxHi = mode === M_U64 ? TWO32 - 1 : sign < 0 ? 0x80000000 : 0x7fffffff;
  const maxLo = mode === M_U64 ? TWO32 - 1 : sign < 0 ? 0 : TWO32 - 1;
  let hi = 0;
  let lo = 0;
  let range = false;
  while (i < end) {
    const d = src[i] - 48;
    if (d < 0 || d > 9) break;
    if (!range) {
      // (hi, lo) * 10 + d, exact in doubles: lo * 10 + d < 2^36
      const l = lo * 10 + d;
      const carry = Math.floor(l / TWO32);
      const h = hi * 10 + carry;
      if (h > maxHi || (h === maxHi && l - carry * TWO32 > maxLo)) range = true;
      else { hi = h; lo = l - carry * TWO32; }
    }
    i++;
  }
  if (i === first) return 0;
  // what follows the digits: the end of the token, C's NUL (a stored value may hold one) or white space
  if (i < end && !isSpace(src[i]) && src[i] !== 0) return 0;
  if (range) return 0;
  num[0] = lo;
  num[1] = hi;
  return sign;
}

/** Whether `src[start, end)` holds a '-' (C's strchr over the token). */
function hasMinus(src: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (src[i] === 45) return true;
  return false;
}

/** Two's complement negation of `num` modulo 2^64. */
function negate(): void {
  const lo = num[0];
  const hi = num[1];
  if (lo === 0) { num[1] = (TWO32 - hi) % TWO32; return; }
  num[0] = TWO32 - lo;
  num[1] = TWO32 - 1 - hi;
}

/** memcached's safe_strtoull: a 64-bit unsigned value in `num`; false when memcached refuses the text. */
export function parseU64(src: Uint8Array, start: number, end: number): boolean {
  const s = magnitude(src, start, end, M_U64);
  if (s === 0) return false;
  if (s < 0) negate();
  if (num[1] >= 0x80000000 && hasMinus(src, start, end)) return false;
  return true;
}

/** memcached's safe_strtoul: the low 32 bits in `num[0]`; false when memcached refuses the text. */
export function parseU32(src: Uint8Array, start: number, end: number): boolean {
  if (!parseU64(src, start, end)) return false;
  return true;
}

/**
 * memcached's safe_strtol into an int32: strtol's signed 64-bit range, then the low 32 bits as a signed number.
 * Returns the value, or NaN when memcached refuses the text.
 */
export function parseI32(src: Uint8Array, start: number, end: number): number {
  const s = magnitude(src, start, end, M_I64);
  if (s === 0) return NaN;
  return s < 0 ? (-num[0]) | 0 : num[0] | 0;
}

/** Writes the 64-bit value (hi, lo) — int32 or uint32 halves alike — as decimal at `out[off]`; returns the digits. */
export function writeU64(out: Uint8Array, off: number, hi: number, lo: number): number {
  if (hi === 0) return writeU32(out, off, lo);
  // digits from the least significant, into the end of a 20-byte window, then moved down
  let n = 0;
  let h = hi >>> 0;
  let l = lo >>> 0;
  const end = off + 20;
  while (h !== 0 || l !== 0) {
    const qh = Math.floor(h / 10);
    const r = h - qh * 10;
    const x = r * TWO32 + l; // < 10 * 2^32: exact
    const ql = Math.floor(x / 10);
    const d = x - ql * 10;
    h = qh;
    l = ql;
    n++;
    out[end - n] = 48 + d;
  }
  out.copyWithin(off, end - n, end);
  return n;
}

/** Writes an unsigned 32-bit value as decimal at `out[off]`; returns the number of digits. */
export function writeU32(out: Uint8Array, off: number, v: number): number {
  let x = v >>> 0;
  let n = 1;
  for (let t = x; t >= 10; t = Math.floor(t / 10)) n++;
  for (let i = n - 1; i >= 0; i--) {
    const q = Math.floor(x / 10);
    out[off + i] = 48 + (x - q * 10);
    x = q;
  }
  return n;
}

/** Adds (dHi, dLo) (int32 or uint32 halves) to `num` modulo 2^64, in place. */
export function add64(dHi: number, dLo: number): void {
  const hi = num[1];
  const lo = num[0];
  const l = lo + (dLo >>> 0);
  const carry = l >= TWO32 ? 1 : 0;
  num[0] = l - carry * TWO32;
  num[1] = (hi + (dHi >>> 0) + carry) % TWO32;
}

/** `num` − (dHi, dLo) (int32 or uint32 halves) in place, or 0 when it would be negative (memcached's decr). */
export function sub64Floor(dHiIn: number, dLoIn: number): void {
  const hi = num[1];
  const lo = num[0];
  const dHi = dHiIn >>> 0;
  const dLo = dLoIn >>> 0;
  if (dHi > hi || (dHi === hi && dLo > lo)) { num[0] = 0; num[1] = 0; return; }
  let l = lo - dLo;
  let h = hi - dHi;
  if (l < 0) { l += TWO32; h -= 1; }
  num[0] = l;
  num[1] = h;
}
