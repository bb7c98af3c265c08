/**
 * Network interfaces of the current network namespace: names, index, MAC/MTU/state from sysfs
 * (Documentation/ABI/testing/sysfs-class-net) and interface flags through the classic ifreq ioctls
 * (netdevice(7): SIOCGIFFLAGS / SIOCSIFFLAGS). Set-up paths only; nothing here is meant for the hot path.
 */
import * as fs from 'node:fs';
import { IxyError } from '../util/errors.js';
import { errnoMessage, lastErrno, libc } from './libc.js';

/** include/uapi/linux/if.h: names are at most IFNAMSIZ - 1 = 15 bytes plus the NUL. */
export const IFNAMSIZ = 16;
/** struct ifreq is 40 bytes on x86_64: ifr_name[16] @0, then a 24-byte union (ifr_flags is a short @16). */
export const IFREQ_SIZE = 40;
const IFR_FLAGS = 16;
// include/uapi/linux/sockios.h
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
// include/uapi/linux/if.h (enum net_device_flags)
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_PROMISC = 0x100;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

const SYSFS = '/sys/class/net';

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
  if (problem) throw new IxyError(`${problem}: use 1..${IFNAMSIZ - 1} characters`);
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

/** The interface's index; a clear error when it does not exist here. */
export function ifindexOf(name: string): number {
  const i = ifindexOrZero(name);
  if (i === 0) throw missingInterface(name);
  return i;
}

function sysfsRead(name: string, attr: string): string {
  try {
    return fs.readFileSync(`${SYSFS}/${name}/${attr}`, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(`${SYSFS}/${name}`)) throw missingInterface(name);
    throw e;
  }
}

/** The interface's MAC as six bytes (all zero for interfaces without one). */
export function readMac(name: string): Uint8Array {
  const text = sysfsRead(name, 'address');
  const mac = new Uint8Array(6);
  const parts = text.split(':');
  for (let i = 0; i < 6 && i < parts.length; i++) mac[i] = parseInt(parts[i], 16) || 0;
  return mac;
}

export function readMtu(name: string): number {
  return Number(sysfsRead(name, 'mtu'));
}

/** RFC 2863 operational state: `up`, `down`, `lowerlayerdown`, `unknown` (no carrier notion, e.g. lo), … */
export function readOperstate(name: string): string {
  return sysfsRead(name, 'operstate');
}

/** Whether the interface can pass traffic: operstate `up`, or `unknown` with IFF_UP (lo, some virtual links). */
export function isLinkUp(name: string): boolean {
  const s = readOperstate(name);
  return s === 'up' || (s === 'unknown' && (getIfFlags(name) & IFF_UP) !== 0);
}

/**
 * Speed in Mbit/s from sysfs, or -1 when the driver does not report one. Reading `speed` fails with EINVAL
 * while the link is down, and virtual interfaces often answer -1 (unknown).
 */
export function readSpeedMbps(name: string): number {
  let text: string;
  try {
    text = sysfsRead(name, 'speed');
  } catch (e) {
    if (e instanceof IxyError) throw e;
    return -1;
  }
  const v = Number(text);
  return Number.isInteger(v) && v > 0 ? v : -1;
}

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
    if (errno === 19 /* ENODEV */) throw missingInterface(name);
    if (errno === 1 /* EPERM */) throw new IxyError(`${errnoMessage(`${what} on ${name}`, errno)}: needs root or CAP_NET_ADMIN`);
    throw new IxyError(errnoMessage(`${what} on ${name}`, errno));
  }
}

/** The interface flags (IFF_UP, IFF_PROMISC, …) through SIOCGIFFLAGS. */
export function getIfFlags(name: string): number {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  writeIfreqName(ifr, name);
  return withControlSocket((fd) => {
    ifreqIoctl(fd, SIOCGIFFLAGS, ifr, name, 'SIOCGIFFLAGS');
    return ifr.readUInt16LE(IFR_FLAGS);
  });
}

/** Sets or clears `bits` in the interface flags (read-modify-write through SIOCGIFFLAGS / SIOCSIFFLAGS). */
export function changeIfFlags(name: string, bits: number, on: boolean): void {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  writeIfreqName(ifr, name);
  withControlSocket((fd) => {
    ifreqIoctl(fd, SIOCGIFFLAGS, ifr, name, 'SIOCGIFFLAGS');
    const old = ifr.readUInt16LE(IFR_FLAGS);
    const flags = on ? old | bits : old & ~bits;
    if (flags === old) return;
    ifr.writeUInt16LE(flags & 0xffff, IFR_FLAGS);
    ifreqIoctl(fd, SIOCSIFFLAGS, ifr, name, 'SIOCSIFFLAGS');
  });
}

export function setIfUp(name: string): void {
  changeIfFlags(name, IFF_UP, true);
}

export function getPromisc(name: string): boolean {
  return (getIfFlags(name) & IFF_PROMISC) !== 0;
}

/** IFF_PROMISC on the interface itself (stays set after the process exits; AF_PACKET prefers PACKET_MR_PROMISC). */
export function setIfPromisc(name: string, on: boolean): void {
  changeIfFlags(name, IFF_PROMISC, on);
}
