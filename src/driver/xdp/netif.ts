/**
 * What an AF_XDP device needs to know about its Linux interface: index, queues, MTU, MAC, speed (sysfs,
 * Documentation/ABI/testing/sysfs-class-net) and the IFF_PROMISC flag (netdevice(7): SIOCGIFFLAGS/SIOCSIFFLAGS).
 * sysfs shows the network namespace it was mounted in; `ip netns exec` mounts the right one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { IxyError } from '../../util/errors.js';
import { errnoMessage, libc } from '../../sys/libc.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_PROMISC = 0x100;

export function interfaceIndex(ifname: string): number {
  if (ifname.length === 0 || ifname.length > 15 || /[\s/:]/.test(ifname)) {
    throw new IxyError(`'${ifname}' is not an interface name (1..15 characters, no spaces, '/' or ':'): see ip link`);
  }
  const idx = libc().if_nametoindex(ifname);
  if (idx === 0) throw new IxyError(`no interface '${ifname}' in this network namespace: see ip link`);
  return idx;
}

function sysfs(ifname: string, file: string): string | null {
  try {
    return readFileSync(`/sys/class/net/${ifname}/${file}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Number of RX queues (rx-N entries in sysfs), or null when sysfs does not show the interface. */
export function rxQueueCount(ifname: string): number | null {
  try {
    return readdirSync(`/sys/class/net/${ifname}/queues`).filter((n) => n.startsWith('rx-')).length;
  } catch {
    return null;
  }
}

export function interfaceMtu(ifname: string): number | null {
  const t = sysfs(ifname, 'mtu');
  return t === null ? null : Number(t);
}

export function interfaceMac(ifname: string): Uint8Array {
  const t = sysfs(ifname, 'address') ?? '';
  const parts = t.split(':');
  if (parts.length !== 6) return new Uint8Array(6);
  return Uint8Array.from(parts, (p) => parseInt(p, 16) & 0xff);
}

/**
 * Mbit/s from sysfs `speed` (veth says 10000). An interface that is down is 0; one that is up but reports no
 * speed (-1 or unreadable, e.g. tun or some virtual NICs) counts as 1000 so that callers treating 0 as "down"
 * keep working.
 */
export function interfaceSpeedMbps(ifname: string): number {
  const state = sysfs(ifname, 'operstate');
  const up = state === 'up' || state === 'unknown';
  if (!up) return 0;
  const speed = Number(sysfs(ifname, 'speed') ?? NaN);
  return Number.isFinite(speed) && speed > 0 ? speed : 1000;
}

/** Reads IFF_PROMISC, sets it to `on`, returns whether it was set before. Needs CAP_NET_ADMIN to change it. */
export function setInterfacePromisc(ifname: string, on: boolean): boolean {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); // any socket takes the interface ioctls
  if (fd < 0) throw new IxyError(errnoMessage('socket(AF_INET) for the promiscuous-mode ioctl'));
  try {
    // struct ifreq (40 bytes): ifr_name[16], then ifr_flags (short) at 16.
    const ifr = Buffer.alloc(40);
    ifr.write(ifname, 0, 'latin1');
    if (c.ioctl(fd, SIOCGIFFLAGS, ifr) !== 0) throw new IxyError(errnoMessage(`SIOCGIFFLAGS on ${ifname}`));
    const flags = ifr.readUInt16LE(16);
    const was = (flags & IFF_PROMISC) !== 0;
    if (was !== on) {
      ifr.writeUInt16LE(on ? flags | IFF_PROMISC : flags & ~IFF_PROMISC, 16);
      if (c.ioctl(fd, SIOCSIFFLAGS, ifr) !== 0) throw new IxyError(`${errnoMessage(`SIOCSIFFLAGS on ${ifname}`)}: needs root or CAP_NET_ADMIN`);
    }
    return was;
  } finally {
    c.close(fd);
  }
}
