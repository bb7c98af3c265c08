/**
 * Frame building and parsing for the packet/tap tests (Ethernet II, IPv4, UDP, ICMP echo; RFC 791/768/792/1071).
 * A plain module: importing it has no side effects.
 */

export const ETH_IPV4 = 0x0800;
export const ETH_VLAN = 0x8100;

export function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':'), (h) => parseInt(h, 16));
}

export function macText(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function ipBytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** RFC 1071 ones'-complement sum of `b`, folded, not inverted; `init` carries a partial sum. */
function sum16(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function inetChecksum(b: Uint8Array, init = 0): number {
  return ~sum16(b, init) & 0xffff;
}

/** An Ethernet/IPv4/UDP frame with correct IP and UDP checksums. */
export function udpFrame(o: { dstMac: string; srcMac: string; srcIp: string; dstIp: string; sport: number; dport: number; payload: Uint8Array }): Uint8Array {
  const udpLen = 8 + o.payload.length;
  const f = new Uint8Array(14 + 20 + udpLen);
  const v = new DataView(f.buffer);
  f.set(macBytes(o.dstMac), 0);
  f.set(macBytes(o.srcMac), 6);
  v.setUint16(12, ETH_IPV4);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, 20 + udpLen);
  v.setUint16(ip + 6, 0x4000); // DF
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.set(ipBytes(o.srcIp), ip + 12);
  f.set(ipBytes(o.dstIp), ip + 16);
  v.setUint16(ip + 10, inetChecksum(f.subarray(ip, ip + 20)));
  const u = ip + 20;
  v.setUint16(u, o.sport);
  v.setUint16(u + 2, o.dport);
  v.setUint16(u + 4, udpLen);
  f.set(o.payload, u + 8);
  const pseudo = new Uint8Array(12);
  pseudo.set(f.subarray(ip + 12, ip + 20), 0);
  pseudo[9] = 17;
  new DataView(pseudo.buffer).setUint16(10, udpLen);
  const c = inetChecksum(f.subarray(u, u + udpLen), sum16(pseudo));
  v.setUint16(u + 6, c === 0 ? 0xffff : c);
  return f;
}

export interface IcmpEcho {
  vlan: number | null;
  dstMac: string;
  srcMac: string;
  type: number;
  id: number;
  seq: number;
  ipChecksumOk: boolean;
  icmpChecksumOk: boolean;
  payload: Uint8Array;
}

/** Parses an (optionally 802.1Q-tagged) IPv4 ICMP echo frame, or returns null for anything else. */
export function parseIcmpEcho(f: Uint8Array): IcmpEcho | null {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  let off = 12;
  let vlan: number | null = null;
  if (f.length >= 18 && v.getUint16(12) === ETH_VLAN) { vlan = v.getUint16(14) & 0xfff; off = 16; }
  if (f.length < off + 2 + 20 + 8 || v.getUint16(off) !== ETH_IPV4) return null;
  const ip = off + 2;
  const ihl = (f[ip] & 0xf) * 4;
  if (f[ip + 9] !== 1) return null;
  const total = v.getUint16(ip + 2);
  const icmp = ip + ihl;
  const end = ip + total;
  if (end > f.length) return null;
  return {
    vlan, dstMac: macText(f.subarray(0, 6)), srcMac: macText(f.subarray(6, 12)),
    type: f[icmp], id: v.getUint16(icmp + 4), seq: v.getUint16(icmp + 6),
    ipChecksumOk: inetChecksum(f.subarray(ip, ip + ihl)) === 0,
    icmpChecksumOk: inetChecksum(f.subarray(icmp, end)) === 0,
    payload: f.subarray(icmp + 8, end),
  };
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
