/**
 * libc bindings through koffi, loaded on first use: importing this module never touches the
 * native binary, so code paths that don't need the kernel (simulator, unit tests) work anywhere.
 * Pointers are BigInt; a Node Buffer passed as `void *` is valid only for the duration of the call.
 */
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi').default;
type VoidPtr = Buffer | Uint8Array | bigint | null;

// Values for Linux x86_64: include/uapi/asm-generic/fcntl.h, include/uapi/asm-generic/mman-common.h,
// arch/x86/include/uapi/asm/mman.h (mmap(2), open(2)).
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_SYNC = 0o4010000; // __O_SYNC | O_DSYNC
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
/** fcntl(2) commands (include/uapi/asm-generic/fcntl.h). */
export const F_GETFL = 3;
export const F_SETFL = 4;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_POPULATE = 0x8000;
export const MAP_HUGETLB = 0x40000;
/** mmap(2) returns (void *) -1 on failure; koffi hands it back as an unsigned BigInt. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

export interface Libc {
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  mmap(addr: bigint | null, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(ptr: bigint, len: number): number;
  mlock(ptr: bigint, len: number): number;
  munlock(ptr: bigint, len: number): number;
  ftruncate(fd: number, len: number): number;
  pread(fd: number, buf: VoidPtr, count: number, offset: number): number;
  pwrite(fd: number, buf: VoidPtr, count: number, offset: number): number;
  /** Fixed-arity alias of the variadic ioctl(2): `int ioctl(int, unsigned long, void *)`. */
  ioctl(fd: number, request: number, arg: VoidPtr): number;
  /** The same ioctl(2) with an integer argument (`unsigned long`), for requests that take a value, not a pointer. */
  ioctlInt(fd: number, request: number, arg: number): number;
  unlink(path: string): number;
  /** `long syscall(long nr, int, void *, unsigned int)`: fits bpf(2) (nr 321 on x86_64). */
  syscall3(nr: number, a: number, b: VoidPtr, c: number): number;
  /** `long syscall(long nr, long, long, long, long, long, long)`: plain integer arguments. */
  syscall6(nr: number, a: number, b: number, c: number, d: number, e: number, f: number): number;
  clock_gettime(clk: number, ts16: Buffer): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: VoidPtr, len: number): number;
  setsockopt(fd: number, level: number, name: number, val: VoidPtr, len: number): number;
  /** `len` points to a socklen_t (4-byte buffer) holding the size of `val`; updated by the call. */
  getsockopt(fd: number, level: number, name: number, val: VoidPtr, len: VoidPtr): number;
  if_nametoindex(name: string): number;
  /** poll(2) over `n` struct pollfd (8 bytes each: int fd, short events, short revents). */
  poll(fds: VoidPtr, n: number, timeoutMs: number): number;
  read(fd: number, buf: VoidPtr, count: number): number;
  write(fd: number, buf: VoidPtr, count: number): number;
  /**
   * Hot-path aliases taking the buffer as a plain address number (user-space addresses on x86_64 are below
   * 2^47, exact in a double), so no BigInt or view is made per call.
   */
  readAt(fd: number, addr: number, count: number): number;
  writeAt(fd: number, addr: number, count: number): number;
  sendtoAt(fd: number, addr: number, count: number, flags: number, dest: number, destLen: number): number;
  recvfromAt(fd: number, addr: number, count: number, flags: number, src: number, srcLen: number): number;
  sched_setaffinity(pid: number, size: number, mask: Buffer): number;
  sched_setscheduler(pid: number, policy: number, param: Buffer): number;
  sched_yield(): number;
  /** Fixed-arity alias of the variadic fcntl(2) for integer arguments (F_GETFL/F_SETFL). */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** memcpy(3) between plain-number addresses (copying devices: ring frame <-> mempool buffer, no view per packet). */
  memcpyAt(dst: number, src: number, n: number): void;
  clockGettimeAt(clk: number, ts: number): number;
  /** readv(2) with the iovec array at a plain-number address (a frame into a buffer plus a spill area). */
  readvAt(fd: number, iov: number, iovcnt: number): number;
}

let koffiMod: Koffi | null = null;
let libcObj: Libc | null = null;

export function koffi(): Koffi {
  if (koffiMod === null) koffiMod = createRequire(import.meta.url)('koffi') as Koffi;
  return koffiMod;
}

export function libc(): Libc {
  if (libcObj !== null) return libcObj;
  const lib = koffi().load('libc.so.6');
  const f = (decl: string) => lib.func(decl) as unknown as (...args: unknown[]) => never;
  libcObj = {
    open: f('int open(const char *path, int flags, uint32 mode)'),
    close: f('int close(int fd)'),
    mmap: f('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64 off)'),
    munmap: f('int munmap(void *addr, size_t len)'),
    mlock: f('int mlock(void *addr, size_t len)'),
    munlock: f('int munlock(void *addr, size_t len)'),
    ftruncate: f('int ftruncate(int fd, int64 len)'),
    pread: f('intptr_t pread(int fd, void *buf, size_t count, int64 off)'),
    pwrite: f('intptr_t pwrite(int fd, void *buf, size_t count, int64 off)'),
    ioctl: f('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctlInt: f('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    unlink: f('int unlink(const char *path)'),
    syscall3: f('long syscall(long nr, int a, void *b, uint32 c)'),
    syscall6: f('long syscall(long nr, long a, long b, long c, long d, long e, long f)'),
    clock_gettime: f('int clock_gettime(int clk, void *ts)'),
    clockGettimeAt: f('int clock_gettime(int clk, intptr_t ts)'),
    sched_setaffinity: f('int sched_setaffinity(int pid, size_t size, void *mask)'),
    sched_setscheduler: f('int sched_setscheduler(int pid, int policy, void *param)'),
    sched_yield: f('int sched_yield()'),
    fcntl: f('int fcntl(int fd, int cmd, int arg)'),
    memcpyAt: f('void memcpy(intptr_t dst, intptr_t src, size_t n)'),
    readvAt: f('intptr_t readv(int fd, intptr_t iov, int iovcnt)'),
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, void *addr, uint32 len)'),
    setsockopt: f('int setsockopt(int fd, int level, int name, void *val, uint32 len)'),
    getsockopt: f('int getsockopt(int fd, int level, int name, void *val, void *len)'),
    if_nametoindex: f('uint32 if_nametoindex(const char *name)'),
    poll: f('int poll(void *fds, uint64 n, int timeout)'),
    read: f('intptr_t read(int fd, void *buf, size_t count)'),
    write: f('intptr_t write(int fd, void *buf, size_t count)'),
    readAt: f('intptr_t read(int fd, intptr_t buf, size_t count)'),
    writeAt: f('intptr_t write(int fd, intptr_t buf, size_t count)'),
    sendtoAt: f('intptr_t sendto(int fd, intptr_t buf, size_t count, int flags, intptr_t dest, uint32 destLen)'),
    recvfromAt: f('intptr_t recvfrom(int fd, intptr_t buf, size_t count, int flags, intptr_t src, intptr_t srcLen)'),
  };
  return libcObj;
}

// include/uapi/asm-generic/errno-base.h and errno.h
const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'operation not permitted'],
  2: ['ENOENT', 'no such file or directory'],
  4: ['EINTR', 'interrupted system call'],
  5: ['EIO', 'I/O error'],
  6: ['ENXIO', 'no such device or address'],
  9: ['EBADF', 'bad file descriptor'],
  11: ['EAGAIN', 'try again'],
  12: ['ENOMEM', 'out of memory'],
  13: ['EACCES', 'permission denied'],
  14: ['EFAULT', 'bad address'],
  16: ['EBUSY', 'device or resource busy'],
  17: ['EEXIST', 'file exists'],
  19: ['ENODEV', 'no such device'],
  21: ['EISDIR', 'is a directory'],
  22: ['EINVAL', 'invalid argument'],
  24: ['EMFILE', 'too many open files'],
  28: ['ENOSPC', 'no space left on device'],
  30: ['EROFS', 'read-only file system'],
  34: ['ERANGE', 'result out of range'],
  38: ['ENOSYS', 'function not implemented'],
  61: ['ENODATA', 'no data available'],
  71: ['EPROTO', 'protocol error'],
  90: ['EMSGSIZE', 'message too long'],
  93: ['EPROTONOSUPPORT', 'protocol not supported'],
  95: ['EOPNOTSUPP', 'operation not supported'],
  97: ['EAFNOSUPPORT', 'address family not supported by protocol'],
  100: ['ENETDOWN', 'network is down'],
  105: ['ENOBUFS', 'no buffer space available'],
  7: ['E2BIG', 'argument list too long'],
  3: ['ESRCH', 'no such process'],
};

/** errno of the last failed libc call made through koffi on this thread. */
export function lastErrno(): number {
  return koffi().errno();
}

export function errnoName(errno: number): string {
  return ERRNO[errno]?.[0] ?? `errno ${errno}`;
}

/** "mmap of /mnt/huge/x failed: ENOMEM (out of memory)", from the current errno. */
export function errnoMessage(what: string, errno: number = lastErrno()): string {
  const e = ERRNO[errno];
  return `${what} failed: ${e ? `${e[0]} (${e[1]})` : `errno ${errno}`}`;
}

/** ArrayBuffer over native memory, no copy. Don't touch it after the memory is unmapped. */
export function viewOf(ptr: bigint, len: number): ArrayBuffer {
  return koffi().view(ptr, len);
}
