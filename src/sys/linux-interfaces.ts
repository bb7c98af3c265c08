/**
 * The Linux interfaces of this network namespace as sysfs shows them (/sys/class/net), with the routing facts a
 * listing needs: which interface holds the default route (/proc/net/route, /proc/net/ipv6_route). Read-only:
 * nothing here changes an interface. Every path is an option so tests can point it at a fake tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ethtoolDriver, ifnameProblem, readIfAttr, readMtu, readOperstate, readQueueCounts, readSysfsDriver, SYSFS_ROOT,
} from './netif.js';

// include/uapi/linux/if_arp.h
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;
/** include/uapi/linux/if_tun.h: in sysfs tun_flags, set for a TAP (Ethernet), clear for a TUN (IFF_TUN, layer 3). */
const IFF_TAP = 0x0002;
// include/uapi/linux/route.h
const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

export interface LinuxInterface {
  name: string;
  ifindex: number | null;
  /** As sysfs writes it (`aa:bb:cc:dd:ee:ff`); null when the interface has no link-layer address (tun). */
  mac: string | null;
  mtu: number | null;
  /** RFC 2863 operstate: up, down, unknown (lo, tun), lowerlayerdown, … */
  operstate: string | null;
  /** Kernel driver (virtio_net, ixgbe, veth, tun, …), or null when neither sysfs nor ethtool names one (lo). */
  driver: string | null;
  /** ARPHRD_* link type: 1 Ethernet, 772 loopback, 65534 none (a layer-3 tun), … */
  linkType: number | null;
  /** For tun/tap interfaces: `tun` (layer 3) or `tap` (Ethernet); otherwise null. */
  tunMode: 'tun' | 'tap' | null;
  rxQueues: number | null;
  txQueues: number | null;
  /** Holds an IPv4 or IPv6 default route. */
  defaultRoute: boolean;
}

export interface LinuxScanOptions {
  /** sysfs root (default /sys). */
  sysfsRoot?: string;
  /** IPv4 routing table in /proc/net/route format (default /proc/net/route). */
  routePath?: string;
  /** IPv6 routing table in /proc/net/ipv6_route format (default /proc/net/ipv6_route). */
  ipv6RoutePath?: string;
  /**
   * Driver names sysfs does not give (veth, bridge, dummy, …). Default: ethtool's answer (SIOCETHTOOL) when
   * `sysfsRoot` is the real /sys, none for any other tree (its names need not exist in this namespace).
   */
  driverLookup?: (name: string) => string | null;
}

function optional<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

function intOrNull(text: string | null, radix = 10): number | null {
  if (text === null || text === '') return null;
  const v = parseInt(text, radix);
  return Number.isNaN(v) ? null : v;
}

/** Interfaces that hold a default route: 0.0.0.0/0 in the IPv4 table, ::/0 (not a reject route) in the IPv6 one. */
export function defaultRouteInterfaces(routePath = '/proc/net/route', ipv6RoutePath = '/proc/net/ipv6_route'): Set<string> {
  const found = new Set<string>();
  const lines = (file: string) => optional(() => fs.readFileSync(file, 'utf8').split('\n')) ?? [];
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT (hex, after a header line)
  for (const line of lines(routePath).slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if (f[1] === '00000000' && f[7] === '00000000' && (parseInt(f[3], 16) & RTF_UP) !== 0) found.add(f[0]);
  }
  // dest dest_plen src src_plen nexthop metric refcnt use flags devname (no header)
  for (const line of lines(ipv6RoutePath)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const flags = parseInt(f[8], 16);
    if (/^0{32}$/.test(f[0]) && f[1] === '00' && (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0 && f[9] !== 'lo') found.add(f[9]);
  }
  return found;
}

/** Names in <sysfs>/class/net that are interfaces (not bonding_masters and the like), or [] without that directory. */
export function interfaceNames(sysfsRoot = SYSFS_ROOT): string[] {
  const dir = path.join(sysfsRoot, 'class/net');
  const names = optional(() => fs.readdirSync(dir)) ?? [];
  return names.filter((n) => ifnameProblem(n) === null && (optional(() => fs.statSync(path.join(dir, n)).isDirectory()) ?? false));
}

/** One interface as sysfs shows it; unreadable attributes are null. */
export function readLinuxInterface(name: string, defaultRoutes: ReadonlySet<string>, opts: LinuxScanOptions = {}): LinuxInterface {
  const root = opts.sysfsRoot ?? SYSFS_ROOT;
  const attr = (a: string) => optional(() => readIfAttr(name, a, root));
  const tunFlags = intOrNull(attr('tun_flags'), 16);
  const lookup = opts.driverLookup ?? (root === SYSFS_ROOT ? ethtoolDriver : () => null);
  const queues = readQueueCounts(name, root);
  return {
    name,
    ifindex: intOrNull(attr('ifindex')),
    mac: attr('address') || null,
    mtu: optional(() => readMtu(name, root)),
    operstate: optional(() => readOperstate(name, root)),
    driver: readSysfsDriver(name, root) ?? optional(() => lookup(name)),
    linkType: intOrNull(attr('type')),
    tunMode: tunFlags === null ? null : (tunFlags & IFF_TAP) !== 0 ? 'tap' : 'tun',
    rxQueues: queues?.rx ?? null,
    txQueues: queues?.tx ?? null,
    defaultRoute: defaultRoutes.has(name),
  };
}

/** Every interface in <sysfs>/class/net, by ifindex (lo first). */
export function listLinuxInterfaces(opts: LinuxScanOptions = {}): LinuxInterface[] {
  const root = opts.sysfsRoot ?? SYSFS_ROOT;
  const routes = defaultRouteInterfaces(opts.routePath, opts.ipv6RoutePath);
  const order = (i: LinuxInterface) => i.ifindex ?? Number.MAX_SAFE_INTEGER;
  return interfaceNames(root)
    .map((n) => readLinuxInterface(n, routes, opts))
    .sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
