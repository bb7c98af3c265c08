/**
 * wire/: zero-copy views over packet bytes (docs/hot-path.md). Parse with one reusable view per layer —
 * `view.wrap(bytes, off, len[, addrSum])` returns a `WireError` — and emit with `emit*` functions writing in place.
 * Nothing here allocates per packet or throws on malformed input. 32-bit values (addresses, sequence numbers,
 * timestamps) are int32 so they never need boxing; bytes.ts says why.
 *
 * @module ixy.ts/wire
 */
export { WireError, wireErrorName } from './error.js';
export { rd16, rd32, wr16, wr32 } from './bytes.js';
export { checksum, csumUpdate16, csumUpdate32, fold, pseudoAddrSum, pseudoSum, sum16 } from './checksum.js';
export {
  BROADCAST_MAC, copyMac, emitEthernet, ETH_ADDR_LEN, ETH_HEADER_LEN, ETH_MIN_FRAME, EthernetView, EtherType, macEquals,
  ZERO_MAC,
} from './ethernet.js';
export { ARP_LEN, ArpOp, ArpView, emitArp } from './arp.js';
export {
  emitIpv4, IPV4_DEFAULT_TTL, IPV4_DF, IPV4_HEADER_LEN, IPV4_MF, ipv4AddrSum, ipv4FillChecksum, Ipv4View, IpProtocol,
} from './ipv4.js';
export { emitIcmp, emitIcmpEcho, ICMP_HEADER_LEN, IcmpType, IcmpUnreachCode, IcmpView } from './icmp.js';
export { emitUdp, UDP_HEADER_LEN, UdpView } from './udp.js';
export { emitTcp, TCP_HEADER_LEN, TcpFlag, TcpView } from './tcp.js';
export {
  emitTcpOptions, parseTcpOptions, TCP_DEFAULT_MSS, TCP_MAX_OPTIONS_LEN, TCP_MAX_SACK_BLOCKS, TCP_MAX_WINDOW_SCALE,
  TcpOptionKind, TcpOptions,
} from './tcp-options.js';
