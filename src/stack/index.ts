/**
 * stack/: the TCP/IP stack (IPv4, ARP, ICMP echo, UDP, TCP) that the native API drives. An application normally needs
 * only `Stack` (also in the root entry point); the pieces here are for people building their own loop or tools.
 *
 * @module ixy.ts/stack
 */
export { Stack, type StackOptions, StackCounters } from './stack.js';
export {
  formatIpv4, InterfaceCounters, type IpInterfaceOptions, IpInterface, type Ipv4Address, parseIpv4, parseIpv4Cidr, prefixMask,
} from './ip-interface.js';
export { type TcpConfig, TcpCounters } from './tcp/tcp.js';
export { TimerWheel } from './timer-wheel.js';
