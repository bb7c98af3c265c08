/**
 * Opening TAP queues through /dev/net/tun (Documentation/networking/tuntap.rst "Network device allocation",
 * "Multiqueue tuntap interface"; include/uapi/linux/if_tun.h). Each fd is one queue; the interface exists as
 * long as one fd is attached (unless someone made it persistent with TUNSETPERSIST).
 */
import { errnoMessage, F_GETFL, F_SETFL, lastErrno, libc, O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../../sys/libc.js';
import { ifindexOrZero, IFREQ_SIZE, readIfAttr, readIfreqName, writeIfreqName } from '../../sys/netif.js';
import { IxyError } from '../../util/errors.js';

export const TUN_PATH = '/dev/net/tun';
/** _IOW('T', 202, int) */
export const TUNSETIFF = 0x400454ca;
// TUNSETIFF ifr_flags (a short at offset 16 of the ifreq)
export const IFF_TAP = 0x0002;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_NO_PI = 0x1000;
/** MAX_TAP_QUEUES in drivers/net/tun.c. */
export const MAX_TAP_QUEUES = 256;
const IFR_FLAGS = 16;

const EPERM = 1;
const ENOENT = 2;
const ENXIO = 6;
const EBUSY = 16;
const ENODEV = 19;
const EINVAL = 22;
const EACCES = 13;

/**
 * Why an existing interface `name` cannot take our TAP queues, or null if it is absent or a TAP with the same
 * queue mode. /sys/class/net/<if>/tun_flags exists only for tun/tap interfaces and holds their IFF_* flags.
 */
function existingProblem(name: string, multiQueue: boolean): string | null {
  if (name.includes('%') || ifindexOrZero(name) === 0) return null;
  let flags: number;
  try {
    flags = parseInt(readIfAttr(name, 'tun_flags'), 16);
  } catch {
    return `interface '${name}' exists and is not a TAP interface: pick another name, or remove it (ip link del ${name})`;
  }
  if ((flags & IFF_TAP) === 0) {
    return `interface '${name}' is a TUN (layer 3) interface, not a TAP: pick another name, or remove it (ip link del ${name})`;
  }
  if (((flags & IFF_MULTI_QUEUE) !== 0) !== multiQueue) {
    const has = multiQueue ? 'single-queue' : 'multi-queue';
    return `TAP interface '${name}' exists as a ${has} interface: ${multiQueue ? 'drop ,mq=N' : 'add ,mq=N'} or remove it (ip link del ${name})`;
  }
  return null;
}

function openTunFd(spec: string): number {
  const c = libc();
  const fd = c.open(TUN_PATH, O_RDWR | O_CLOEXEC, 0);
  if (fd >= 0) return fd;
  const errno = lastErrno();
  if (errno === ENOENT) {
    throw new IxyError(`${TUN_PATH} is missing: load the tun module (modprobe tun) or create it (mkdir -p /dev/net && mknod ${TUN_PATH} c 10 200)`);
  }
  if (errno === ENODEV || errno === ENXIO) throw new IxyError(`${errnoMessage(`open ${TUN_PATH}`, errno)}: load the tun module (modprobe tun)`);
  if (errno === EPERM || errno === EACCES) throw new IxyError(`${spec} needs root or CAP_NET_ADMIN (${errnoMessage(`open ${TUN_PATH}`, errno)})`);
  throw new IxyError(errnoMessage(`open ${TUN_PATH}`, errno));
}

function setNonblocking(fd: number): void {
  const c = libc();
  const fl = c.fcntl(fd, F_GETFL, 0);
  if (fl < 0 || c.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw new IxyError(errnoMessage('fcntl(O_NONBLOCK) on the TAP fd'));
}

/** TUNSETIFF on a fresh fd; returns the interface name the kernel used (templates like `tap%d` get a number). */
function attach(fd: number, spec: string, name: string, flags: number): string {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  writeIfreqName(ifr, name);
  ifr.writeUInt16LE(flags, IFR_FLAGS);
  if (libc().ioctl(fd, TUNSETIFF, ifr) < 0) {
    const errno = lastErrno();
    const what = `TUNSETIFF ${name}`;
    if (errno === EPERM || errno === EACCES) throw new IxyError(`${spec} needs root or CAP_NET_ADMIN to create a TAP interface (${errnoMessage(what, errno)})`);
    if (errno === EBUSY) throw new IxyError(`TAP interface '${name}' is in use by another process: pick another name`);
    if (errno === EINVAL) throw new IxyError(`interface '${name}' exists and is not a TAP interface we can attach to (${errnoMessage(what, errno)}): pick another name`);
    throw new IxyError(errnoMessage(what, errno));
  }
  return readIfreqName(ifr);
}

export interface TapQueues {
  /** The interface name (a template such as `tap%d` resolved). */
  name: string;
  fds: number[];
  /** Whether the interface existed before (a persistent TAP we attached to; it stays after close). */
  existed: boolean;
}

/** Opens `queues` non-blocking queue fds of TAP interface `name`, creating it; on failure closes what it opened. */
export function openTapQueues(spec: string, name: string, queues: number): TapQueues {
  const multiQueue = queues > 1;
  const problem = existingProblem(name, multiQueue);
  if (problem) throw new IxyError(problem);
  const existed = !name.includes('%') && ifindexOrZero(name) !== 0;
  const flags = IFF_TAP | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0);
  const fds: number[] = [];
  let actual = name;
  try {
    for (let q = 0; q < queues; q++) {
      const fd = openTunFd(spec);
      fds.push(fd);
      actual = attach(fd, spec, actual, flags);
      setNonblocking(fd);
    }
    return { name: actual, fds, existed };
  } catch (e) {
    for (const fd of fds) libc().close(fd);
    throw e;
  }
}
