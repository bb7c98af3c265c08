/**
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update), RFC 768 / RFC 9293 §3.1
 * (the UDP/TCP pseudo-header).
 *
 * Sums are kept as "partial sums": a one's complement sum of 16-bit big-endian words folded to 0..0xffff, not yet
 * complemented. Partial sums add: `fold(a + b)`. The checksum field is `~sum & 0xffff`; a received header verifies
 * when the sum over it, checksum field included, is 0xffff (RFC 1071 §1 (3)).
 * All arithmetic stays below 2^31, so V8 keeps it in small integers.
 */

/** Folds carries back into 16 bits (end-around carry, RFC 1071 §2 (B)). For any 0 <= sum < 2^32. */
export function fold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * Partial sum of `len` bytes from `off`, added to `initial` (a partial sum, or 0). An odd trailing byte is padded
 * with a zero byte on its right (RFC 1071 §1 (1)), so only the last piece of a multi-part sum may be odd.
 */
export function sum16(b: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial;
  let i = off;
  const end = off + (len & ~1);
  while (i < end) {
    // At most 16384 words per chunk: 16384 * 0xffff + 0x1ffff < 2^31, then fold.
    const stop = end - i > 0x8000 ? i + 0x8000 : end;
    for (; i < stop; i += 2) sum += (b[i] << 8) | b[i + 1];
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if ((len & 1) !== 0) sum += b[end] << 8;
  return fold(sum);
}

/** The checksum field value for `len` bytes whose checksum field reads zero. */
export function checksum(b: Uint8Array, off: number, len: number): number {
  return ~sum16(b, off, len, 0) & 0xffff;
}

/** Partial sum of two IPv4 addresses — the address part of the pseudo-header, fixed for a flow, so cache it. */
export function pseudoAddrSum(src: number, dst: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff));
}

/**
 * Partial sum of the IPv4 pseudo-header: addresses (as `pseudoAddrSum`), zero, protocol, and the UDP length /
 * TCP segment length (RFC 768 "Fields"; RFC 9293 §3.1 "Checksum").
 */
export function pseudoSum(addrSum: number, protocol: number, length: number): number {
  return fold(addrSum + protocol + length);
}

/**
 * RFC 1624 §3 eqn. 3: HC' = ~(~HC + ~m + m'), the new checksum after one 16-bit word changes from m to m'.
 * Equals recomputing from scratch (eqn. 2 could yield 0xffff for 0x0000; eqn. 3 cannot, RFC 1624 §3/§5).
 */
export function csumUpdate16(hc: number, oldWord: number, newWord: number): number {
  return ~fold((~hc & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** RFC 1624 eqn. 3 for a 32-bit field (an address, a sequence number): two words at once. */
export function csumUpdate32(hc: number, oldValue: number, newValue: number): number {
  return ~fold(
    (~hc & 0xffff) + ((~oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + ((newValue >>> 16) & 0xffff) + (newValue & 0xffff),
  ) & 0xffff;
}
