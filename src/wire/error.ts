/**
 * How a view reports malformed input: a small integer, never an exception (docs/hot-path.md, "Views are reused").
 * `Ok` is 0 so callers can write `if (err !== WireError.Ok)` or `if (err)`.
 */
export const WireError = {
  Ok: 0,
  /** Fewer bytes than the fixed header (or than a length field claims the header has). */
  TooShort: 1,
  /** IPv4: version field is not 4 (RFC 791 §3.1). */
  BadVersion: 2,
  /** IPv4: IHL below 5 words, or larger than the bytes present (RFC 791 §3.1). */
  BadIhl: 3,
  /** IPv4: total length smaller than the header or larger than the frame (RFC 791 §3.1). */
  BadTotalLength: 4,
  /** Internet checksum does not verify (RFC 1071). */
  BadChecksum: 5,
  /**
   * IPv4: MF set or fragment offset non-zero (RFC 791 §2.3). A soft error: the view is fully valid,
   * the stack decides to reassemble or drop.
   */
  Fragment: 6,
  /** TCP: data offset below 5 words or past the segment's end (RFC 9293 §3.1). */
  BadDataOffset: 7,
  /** TCP: an option's length byte is missing, below 2, runs past the header, or is wrong for its kind (RFC 9293 §3.1). */
  BadOptionLength: 8,
  /** UDP: length field below 8 or larger than the datagram (RFC 768). */
  BadLength: 9,
  /** ARP: not Ethernet/IPv4 (htype/ptype/hlen/plen) or an operation other than request/reply (RFC 826). */
  Unsupported: 10,
} as const;
export type WireError = (typeof WireError)[keyof typeof WireError];

const NAMES = Object.keys(WireError) as readonly string[];

/** For logs and tests (allocates nothing: the names exist once). */
export function wireErrorName(e: number): string {
  return NAMES[e] ?? `WireError(${e})`;
}
