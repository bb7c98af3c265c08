/** Ethernet II framing (IEEE 802.3 §3.2.6 type interpretation; RFC 894 for IPv4 over Ethernet). */
import { NO_BYTES, rd16, wr16 } from './bytes.js';
import { WireError } from './error.js';

export const ETH_HEADER_LEN = 14;
export const ETH_ADDR_LEN = 6;
/** Smallest frame without the FCS; a NIC pads shorter ones (TXPADEN on the 82599). */
export const ETH_MIN_FRAME = 60;

export const EtherType = { Ipv4: 0x0800, Arp: 0x0806, Vlan: 0x8100, Ipv6: 0x86dd } as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

/**
 * View over an Ethernet header: destination MAC @0, source MAC @6, EtherType @12, payload @14.
 * Re-point with `wrap`; the getters are valid after it returned `Ok`. 802.1Q tags are not unwrapped: a tagged frame
 * shows EtherType.Vlan.
 */
export class EthernetView {
  bytes: Uint8Array = NO_BYTES;
  off = 0;
  len = 0;

  wrap(bytes: Uint8Array, off: number, len: number): WireError {
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return len < ETH_HEADER_LEN ? WireError.TooShort : WireError.Ok;
  }

  get etherType(): number { return rd16(this.bytes, this.off + 12); }
  /** Offset of the destination MAC in `bytes`. */
  get dstOff(): number { return this.off; }
  /** Offset of the source MAC in `bytes`. */
  get srcOff(): number { return this.off + 6; }
  get payloadOff(): number { return this.off + ETH_HEADER_LEN; }
  get payloadLen(): number { return this.len - ETH_HEADER_LEN; }

  /** Group bit (I/G, the least significant bit of the first octet): multicast or broadcast. */
  dstIsMulticast(): boolean { return (this.bytes[this.off] & 1) !== 0; }

  dstIsBroadcast(): boolean {
    const b = this.bytes, o = this.off;
    return (b[o] & b[o + 1] & b[o + 2] & b[o + 3] & b[o + 4] & b[o + 5]) === 0xff;
  }

  dstEquals(mac: Uint8Array, macOff: number): boolean { return macEquals(this.bytes, this.off, mac, macOff); }
}

/** Writes an Ethernet header; returns its length (14). `dst`/`src` may be regions of `b` that do not overlap the header. */
export function emitEthernet(
  b: Uint8Array, off: number, dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, etherType: number,
): number {
  copyMac(b, off, dst, dstOff);
  copyMac(b, off + 6, src, srcOff);
  wr16(b, off + 12, etherType);
  return ETH_HEADER_LEN;
}

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return a[aOff] === b[bOff] && a[aOff + 1] === b[bOff + 1] && a[aOff + 2] === b[bOff + 2] &&
    a[aOff + 3] === b[bOff + 3] && a[aOff + 4] === b[bOff + 4] && a[aOff + 5] === b[bOff + 5];
}

export function copyMac(to: Uint8Array, toOff: number, from: Uint8Array, fromOff: number): void {
  to[toOff] = from[fromOff];
  to[toOff + 1] = from[fromOff + 1];
  to[toOff + 2] = from[fromOff + 2];
  to[toOff + 3] = from[fromOff + 3];
  to[toOff + 4] = from[fromOff + 4];
  to[toOff + 5] = from[fromOff + 5];
}

/** ff:ff:ff:ff:ff:ff, for ARP requests. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array(6).fill(0xff);
/** 00:00:00:00:00:00, the target hardware address of an ARP request (RFC 826). */
export const ZERO_MAC: Uint8Array = new Uint8Array(6);
