/**
 * Network interfaces of the current network namespace: names, index, MAC/MTU/state/queues/driver from sysfs
 * (Documentation/ABI/testing/sysfs-class-net), interface flags through the classic ifreq ioctls
 * (netdevice(7): SIOCGIFFLAGS / SIOCSIFFLAGS) and the driver name through SIOCETHTOOL (ETHTOOL_GDRVINFO).
 * Set-up paths only; nothing here is meant for the hot path.
 *
 * sysfs shows the network namespace it was mounted in (`ip netns exec` mounts the right one). The sysfs readers
 * take the sysfs root so that tests can point them at a fake tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IxyError, UsageError } from '../util/errors.js';
import { errnoMessage, koffi, lastErrno, libc } from './libc.js';

/** include/uapi/linux/if.h: names are at most IFNAMSIZ - 1 = 15 bytes plus the NUL. */
export const IFNAMSIZ = 16;
/** struct ifreq is 40 bytes on x86_64: ifr_name[16] @0, then a 24-byte union (ifr_flags is a short @16). */
export const IFREQ_SIZE = 40;
const IFR_FLAGS = 16;
/** ifr_data (a pointer) shares the union @16. */
const IFR_DATA = 16;
// include/uapi/linux/sockios.h
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
const SIOCETHTOOL = 0x8946;
// include/uapi/linux/if.h (enum net_device_flags)
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_PROMISC = 0x100;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const EPERM = 1;
const ENODEV = 19;
// include/uapi/linux/ethtool.h: struct ethtool_drvinfo { u32 cmd; char driver[32]; …} is 196 bytes
const ETHTOOL_GDRVINFO = 0x3;
const DRVINFO_SIZE = 196;
const DRVINFO_DRIVER = 4;

export const SYSFS_ROOT = '/sys';

/**
 * Why `name` is not a valid interface name, or null. The kernel's dev_valid_name(): 1..15 bytes, not `.`/`..`,
 * no `/`, `:` or whitespace. `%` is a name template (`tap%d`), allowed only where the caller says so.
 */
export function ifnameProblem(name: string, allowTemplate = false): string | null {
  if (name.length === 0) return 'the interface name is empty';
  if (Buffer.byteLength(name) > IFNAMSIZ - 1) return `interface name '${name}' is longer than ${IFNAMSIZ - 1} characters`;
  if (name === '.' || name === '..') return `'${name}' is not an interface name`;
  if (/[/:\s]/.test(name)) return `interface name '${name}' contains '/', ':' or whitespace`;
  if (!allowTemplate && name.includes('%')) return `interface name '${name}' contains '%'`;
  return null;
}

/** Writes `name` NUL-terminated into ifr_name of a zeroed 40-byte ifreq. */
export function writeIfreqName(ifr: Buffer, name: string): void {
  const problem = ifnameProblem(name, true);
  if (problem) throw new UsageError(`${problem}: use 1..${IFNAMSIZ - 1} characters`);
  ifr.fill(0, 0, IFNAMSIZ);
  ifr.write(name, 0, 'utf8');
}

/** ifr_name read back from an ifreq (the kernel fills it in for templates such as `tap%d`). */
export function readIfreqName(ifr: Buffer): string {
  const end = ifr.indexOf(0);
  return ifr.toString('utf8', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

export function missingInterface(name: string): IxyError {
  return new IxyError(`no interface '${name}' in this network namespace: see ip link`);
}

/** The interface's index in this namespace, or 0 when there is none. */
export function ifindexOrZero(name: string): number {
  return libc().if_nametoindex(name);
}

/** The interface's index; a clear error when the name is malformed or no such interface exists here. */
export function ifindexOf(name: string): number {
  if (ifnameProblem(name) !== null) {
    throw new UsageError(`'${name}' is not an interface name (1..${IFNAMSIZ - 1} characters, no whitespace, '/', ':' or '%'): see ip link`);
  }
  const i = ifindexOrZero(name);
  if (i === 0) throw missingInterface(name);
  return i;
}

// ---- sysfs ----

/** /sys/class/net/<name> (under `sysfsRoot`). */
export function ifSysfsDir(name: string, sysfsRoot = SYSFS_ROOT): string {
  return path.join(sysfsRoot, 'class/net', name);
}

/**
 * One attribute of the interface (`mtu`, `statistics/tx_dropped`, …), trimmed. A missing interface directory is
 * a clear error (also when the interface exists but sysfs was mounted in another namespace); a missing or
 * unreadable attribute throws the fs error.
 */
export function readIfAttr(name: string, attr: string, sysfsRoot = SYSFS_ROOT): string {
  const dir = ifSysfsDir(name, sysfsRoot);
  try {
    return fs.readFileSync(path.join(dir, attr), 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(dir)) {
      if (sysfsRoot === SYSFS_ROOT && ifnameProblem(name) === null && ifindexOrZero(name) !== 0) {
        throw new IxyError(
          `interface '${name}' is in this network namespace but ${path.dirname(dir)} does not show it: ` +
            'sysfs was mounted in another namespace; run through ip netns exec',
        );
      }
      throw missingInterface(name);
    }
    throw e;
  }
}

/** The interface's MAC as six bytes (all zero for interfaces without a 6-byte address: lo, tun, tunnels). */
export function readMac(name: string, sysfsRoot = SYSFS_ROOT): Uint8Array {
  const parts = readIfAttr(name, 'address', sysfsRoot).split(':');
  if (parts.length !== 6) return new Uint8Array(6);
  return Uint8Array.from(parts, (p) => parseInt(p, 16) & 0xff);
}

export function readMtu(name: string, sysfsRoot = SYSFS_ROOT): number {
  return Number(readIfAttr(name, 'mtu', sysfsRoot));
}

/** RFC 2863 operational state: `up`, `down`, `lowerlayerdown`, `unknown` (no carrier notion, e.g. lo), … */
export function readOperstate(name: string, sysfsRoot = SYSFS_ROOT): string {
  return readIfAttr(name, 'operstate', sysfsRoot);
}

/**
 * Speed in Mbit/s from sysfs, or -1 when the driver does not report one. Reading `speed` fails with EINVAL
 * while the link is down, and virtual interfaces often answer -1 (unknown).
 */
export function readSpeedMbps(name: string, sysfsRoot = SYSFS_ROOT): number {
  let text: string;
  try {
    text = readIfAttr(name, 'speed', sysfsRoot);
  } catch (e) {
    if (e instanceof IxyError) throw e;
    return -1;
  }
  const v = Number(text);
  return Number.isInteger(v) && v > 0 ? v : -1;
}

/** RX and TX queue counts (the rx-N / tx-N entries of `queues/`), or null when sysfs does not show them. */
export function readQueueCounts(name: string, sysfsRoot = SYSFS_ROOT): { rx: number; tx: number } | null {
  let entries: string[];
  try {
    entries = fs.readdirSync(path.join(ifSysfsDir(name, sysfsRoot), 'queues'));
  } catch {
    return null;
  }
  return { rx: entries.filter((n) => n.startsWith('rx-')).length, tx: entries.filter((n) => n.startsWith('tx-')).length };
}

/** `KEY=value` from a uevent file, or null. */
function ueventValue(file: string, key: string): string | null {
  try {
    const m = new RegExp(`^${key}=(.*)$`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? m[1].trim() || null : null;
  } catch {
    return null;
  }
}

/**
 * The kernel driver as sysfs tells it: the `device/driver` link (hardware and virtio NICs), DRIVER= in
 * `device/uevent` or `uevent`, `tun` for tun/tap interfaces (they have `tun_flags`). Null for virtual interfaces
 * sysfs says nothing about (veth, bridge, dummy, …): ethtoolDriver() knows those.
 */
export function readSysfsDriver(name: string, sysfsRoot = SYSFS_ROOT): string | null {
  const dir = ifSysfsDir(name, sysfsRoot);
  try {
    return path.basename(fs.readlinkSync(path.join(dir, 'device/driver')));
  } catch { /* no parent device, or it has no driver */ }
  const fromUevent = ueventValue(path.join(dir, 'device/uevent'), 'DRIVER') ?? ueventValue(path.join(dir, 'uevent'), 'DRIVER');
  if (fromUevent) return fromUevent;
  return fs.existsSync(path.join(dir, 'tun_flags')) ? 'tun' : null;
}

// ---- ioctls ----

/** Runs `fn` with a throwaway AF_INET datagram socket: the handle the SIOC*IF* ioctls need (netdevice(7)). */
function withControlSocket<T>(fn: (fd: number) => T): T {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new IxyError(errnoMessage('socket(AF_INET) for interface ioctls'));
  try {
    return fn(fd);
  } finally {
    c.close(fd);
  }
}

function ifreqIoctl(fd: number, req: number, ifr: Buffer, name: string, what: string): void {
  if (libc().ioctl(fd, req, ifr) < 0) {
    const errno = lastErrno();
    if (errno === ENODEV) throw missingInterface(name);
    if (errno === EPERM) throw new IxyError(`${errnoMessage(`${what} on ${name}`, errno)}: needs root or CAP_NET_ADMIN`);
    throw new IxyError(errnoMessage(`${what} on ${name}`, errno));
  }
}

function ifreqFor(name: string): Buffer {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  writeIfreqName(ifr, name);
  return ifr;
}

/**
 * The driver name ethtool -i shows (veth, tun, virtio_net, …) through SIOCETHTOOL / ETHTOOL_GDRVINFO (no
 * privileges needed), or null when the interface has none (lo) or is not in this namespace.
 */
export function ethtoolDriver(name: string): string | null {
  if (ifnameProblem(name) !== null) return null;
  const info = Buffer.alloc(DRVINFO_SIZE);
  info.writeUInt32LE(ETHTOOL_GDRVINFO, 0);
  const ifr = ifreqFor(name);
  ifr.writeBigUInt64LE(koffi().address(info) as bigint, IFR_DATA);
  const ok = withControlSocket((fd) => libc().ioctl(fd, SIOCETHTOOL, ifr) >= 0);
  if (!ok) return null;
  const end = info.indexOf(0, DRVINFO_DRIVER);
  const driver = info.toString('utf8', DRVINFO_DRIVER, end < 0 || end > DRVINFO_DRIVER + 32 ? DRVINFO_DRIVER + 32 : end);
  return driver || null;
}

/** The interface flags (IFF_UP, IFF_PROMISC, …) through SIOCGIFFLAGS. */
export function getIfFlags(name: string): number {
  const ifr = ifreqFor(name);
  return withControlSocket((fd) => {
    ifreqIoctl(fd, SIOCGIFFLAGS, ifr, name, 'SIOCGIFFLAGS');
    return ifr.readUInt16LE(IFR_FLAGS);
  });
}

/** Sets or clears `bits` in the interface flags (read-modify-write through SIOCGIFFLAGS / SIOCSIFFLAGS); returns the old flags. */
export function changeIfFlags(name: string, bits: number, on: boolean): number {
  const ifr = ifreqFor(name);
  return withControlSocket((fd) => {
    ifreqIoctl(fd, SIOCGIFFLAGS, ifr, name, 'SIOCGIFFLAGS');
    const old = ifr.readUInt16LE(IFR_FLAGS);
    const flags = on ? old | bits : old & ~bits;
    if (flags !== old) {
      ifr.writeUInt16LE(flags & 0xffff, IFR_FLAGS);
      ifreqIoctl(fd, SIOCSIFFLAGS, ifr, name, 'SIOCSIFFLAGS');
    }
    return old;
  });
}

export function setIfUp(name: string): void {
  changeIfFlags(name, IFF_UP, true);
}

export function getPromisc(name: string): boolean {
  return (getIfFlags(name) & IFF_PROMISC) !== 0;
}

/**
 * IFF_PROMISC on the interface itself (stays set after the process exits; AF_PACKET prefers PACKET_MR_PROMISC).
 * Returns whether it was set before. Changing it needs CAP_NET_ADMIN.
 */
export function setIfPromisc(name: string, on: boolean): boolean {
  return (changeIfFlags(name, IFF_PROMISC, on) & IFF_PROMISC) !== 0;
}

// ---- link state ----

/**
 * Whether the interface can pass traffic: operstate `up`, or `unknown` with IFF_UP (lo, some virtual links).
 * False when it is down or gone (deleted, moved to another namespace).
 */
export function isLinkUp(name: string): boolean {
  try {
    const s = readOperstate(name);
    return s === 'up' || (s === 'unknown' && (getIfFlags(name) & IFF_UP) !== 0);
  } catch (e) {
    if (e instanceof IxyError) return false;
    throw e;
  }
}

/**
 * Link speed for Device.linkSpeedMbps(): 0 while the link is down or gone, the sysfs speed while it is up, and
 * `unknownMbps` for links that pass traffic without reporting a speed (tun, many virtual NICs).
 */
export function linkSpeedMbps(name: string, unknownMbps: number): number {
  if (!isLinkUp(name)) return 0;
  let s: number;
  try {
    s = readSpeedMbps(name);
  } catch (e) {
    if (e instanceof IxyError) return 0; // gone meanwhile
    throw e;
  }
  return s > 0 ? s : unknownMbps;
}

/**
 * The other end of a veth, for messages that tell the user what to run on it: its name when it is in this namespace,
 * else null with its ifindex in the other namespace (`iflink`; `ip link show IF` names that namespace).
 */
export function vethPeer(name: string, sysfsRoot = SYSFS_ROOT): { name: string | null; ifindex: number } | null {
  if (ethtoolDriver(name) !== 'veth') return null;
  try {
    const peer = Number(readIfAttr(name, 'iflink', sysfsRoot));
    if (!(peer > 0)) return null;
    // ifindexes are per namespace: a match here is the peer only if it names us back
    const self = Number(readIfAttr(name, 'ifindex', sysfsRoot));
    const here = fs.readdirSync(path.join(sysfsRoot, 'class/net')).find((n) => {
      try {
        return n !== name && Number(readIfAttr(n, 'ifindex', sysfsRoot)) === peer && Number(readIfAttr(n, 'iflink', sysfsRoot)) === self;
      } catch { return false; }
    });
    return { name: here ?? null, ifindex: peer };
  } catch {
    return null;
  }
}

/** Whether IFF_UP is set (the administrator brought the interface up), as opposed to having a carrier. */
export function isAdminUp(name: string): boolean {
  try { return (getIfFlags(name) & IFF_UP) !== 0; } catch { return false; }
}
