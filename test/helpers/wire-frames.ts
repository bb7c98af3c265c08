/** Frames for the wire/ tests: hex vectors and builders that go through the emit functions. */
import {
  ArpView, EthernetView, IcmpView, Ipv4View, TcpView, UdpView,
  emitArp, emitEthernet, emitIcmpEcho, emitIpv4, emitTcp, emitTcpOptions, emitUdp, ETH_HEADER_LEN, EtherType,
  ICMP_HEADER_LEN, IPV4_HEADER_LEN, ipv4AddrSum, IpProtocol, TCP_HEADER_LEN, TcpOptions, UDP_HEADER_LEN,
} from '../../src/wire/index.js';

/** Bytes from hex groups: `hex('ff ff', '08 06')`; whitespace is ignored. */
export function hex(...parts: string[]): Uint8Array {
  const s = parts.join('').replace(/\s+/g, '');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const MAC_A = hex('02 00 00 00 00 0a');
export const MAC_B = hex('02 00 00 00 00 0b');

export interface L3 { src: number; dst: number; ident: number; ttl: number; df: boolean }
export interface TcpFields extends L3 {
  sport: number; dport: number; seq: number; ack: number; flags: number; window: number;
  opts: TcpOptions; payload: Uint8Array;
}

function ipFrame(l3: L3, protocol: number, l4Len: number): { f: Uint8Array; ip: number; l4: number } {
  const f = new Uint8Array(ETH_HEADER_LEN + IPV4_HEADER_LEN + l4Len);
  emitEthernet(f, 0, MAC_B, 0, MAC_A, 0, EtherType.Ipv4);
  emitIpv4(f, ETH_HEADER_LEN, l3.src, l3.dst, protocol, l4Len, l3.ident, l3.ttl, l3.df);
  return { f, ip: ETH_HEADER_LEN, l4: ETH_HEADER_LEN + IPV4_HEADER_LEN };
}

export function buildTcpFrame(t: TcpFields): Uint8Array {
  const scratch = new Uint8Array(40);
  const optLen = emitTcpOptions(scratch, 0, t.opts);
  const { f, ip, l4 } = ipFrame(t, IpProtocol.Tcp, TCP_HEADER_LEN + optLen + t.payload.length);
  f.set(scratch.subarray(0, optLen), l4 + TCP_HEADER_LEN);
  f.set(t.payload, l4 + TCP_HEADER_LEN + optLen);
  emitTcp(f, l4, t.sport, t.dport, t.seq, t.ack, t.flags, t.window, optLen, t.payload.length, ipv4AddrSum(f, ip));
  return f;
}

export function buildUdpFrame(l3: L3, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const { f, ip, l4 } = ipFrame(l3, IpProtocol.Udp, UDP_HEADER_LEN + payload.length);
  f.set(payload, l4 + UDP_HEADER_LEN);
  emitUdp(f, l4, sport, dport, payload.length, ipv4AddrSum(f, ip));
  return f;
}

export function buildIcmpEchoFrame(l3: L3, type: number, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const { f, l4 } = ipFrame(l3, IpProtocol.Icmp, ICMP_HEADER_LEN + data.length);
  f.set(data, l4 + ICMP_HEADER_LEN);
  emitIcmpEcho(f, l4, type, ident, seq, data.length);
  return f;
}

export function buildArpFrame(op: number, spa: number, tpa: number): Uint8Array {
  const f = new Uint8Array(60); // padded to the Ethernet minimum
  emitEthernet(f, 0, MAC_B, 0, MAC_A, 0, EtherType.Arp);
  emitArp(f, ETH_HEADER_LEN, op, MAC_A, 0, spa, MAC_B, 0, tpa);
  return f;
}

/** One view per layer, as the stack holds them. */
export function newViews() {
  return { eth: new EthernetView(), arp: new ArpView(), ip: new Ipv4View(), icmp: new IcmpView(), udp: new UdpView(), tcp: new TcpView() };
}
