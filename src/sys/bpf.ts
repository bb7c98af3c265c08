/**
 * bpf(2) without libbpf: create and fill maps, load programs (with the verifier's log when it refuses one),
 * attach them with a BPF link. Every call returns a file descriptor or throws a BpfError carrying errno.
 *
 * Numbers: include/uapi/linux/bpf.h (enum bpf_cmd, bpf_map_type, bpf_prog_type, bpf_attach_type; the layout of
 * union bpf_attr per command); the syscall number: arch/x86/entry/syscalls/syscall_64.tbl.
 */
import { IxyError } from '../util/errors.js';
import { errnoMessage, errnoName, koffi, lastErrno, libc } from './libc.js';

export const SYS_BPF = 321; // x86_64

// enum bpf_cmd
export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_MAP_DELETE_ELEM = 3;
export const BPF_PROG_LOAD = 5;
export const BPF_LINK_CREATE = 28;
export const BPF_LINK_DETACH = 34;

// enum bpf_map_type
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_DEVMAP = 14;
export const BPF_MAP_TYPE_XSKMAP = 17;
export const BPF_MAP_TYPE_DEVMAP_HASH = 25;

// enum bpf_prog_type
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_XDP = 6;

// XDP actions (enum xdp_action, include/uapi/linux/bpf.h)
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

// enum bpf_attach_type
export const BPF_XDP = 37;
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;

// BPF_MAP_UPDATE_ELEM flags
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** sizeof(union bpf_attr) we pass: larger than any field we set; the kernel requires unknown tail bytes to be 0. */
const ATTR_SIZE = 128;
const CMD_NAMES: Record<number, string> = {
  0: 'BPF_MAP_CREATE', 1: 'BPF_MAP_LOOKUP_ELEM', 2: 'BPF_MAP_UPDATE_ELEM', 3: 'BPF_MAP_DELETE_ELEM',
  5: 'BPF_PROG_LOAD', 28: 'BPF_LINK_CREATE', 34: 'BPF_LINK_DETACH',
};

/** A failed bpf(2) call: `errno` tells callers what to say (EPERM: privileges, EBUSY: already attached, …). */
export class BpfError extends IxyError {
  override readonly name: string = 'BpfError';
  constructor(message: string, readonly errno: number, readonly cmd: number, readonly verifierLog = '') {
    super(message, errnoName(errno));
  }
}

/** Native address of a buffer, to put into a bpf_attr pointer field (the buffer must stay referenced during the call). */
function addressOf(b: Uint8Array): bigint {
  return koffi().address(b) as bigint;
}

/** Calls bpf(cmd, attr); returns the result (an fd for the create/load commands) or throws BpfError. */
export function bpfCall(cmd: number, attr: Buffer, what = CMD_NAMES[cmd] ?? `bpf command ${cmd}`): number {
  const r = libc().syscall3(SYS_BPF, cmd, attr, attr.length);
  if (r < 0) {
    const e = lastErrno();
    throw new BpfError(errnoMessage(`bpf(${what})`, e), e, cmd);
  }
  return r;
}

function attr(): Buffer {
  return Buffer.alloc(ATTR_SIZE);
}

/** Up to 15 characters of [A-Za-z0-9_.] (BPF_OBJ_NAME_LEN - 1), NUL-terminated in a 16-byte field. */
function writeObjName(a: Buffer, at: number, name: string | undefined): void {
  if (!name) return;
  const clean = name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
  a.write(clean, at, 'latin1');
}

export interface MapSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
}

/** BPF_MAP_CREATE; returns the map fd. */
export function createMap(m: MapSpec): number {
  const a = attr();
  a.writeUInt32LE(m.type, 0);
  a.writeUInt32LE(m.keySize, 4);
  a.writeUInt32LE(m.valueSize, 8);
  a.writeUInt32LE(m.maxEntries, 12);
  a.writeUInt32LE(m.flags ?? 0, 16);
  writeObjName(a, 28, m.name);
  return bpfCall(BPF_MAP_CREATE, a);
}

function elemAttr(fd: number, key: Uint8Array, value: Uint8Array | null, flags: number): Buffer {
  const a = attr();
  a.writeUInt32LE(fd, 0);
  a.writeBigUInt64LE(addressOf(key), 8);
  if (value) a.writeBigUInt64LE(addressOf(value), 16);
  a.writeBigUInt64LE(BigInt(flags), 24);
  return a;
}

/** BPF_MAP_UPDATE_ELEM: map[key] = value (key and value as raw bytes of the map's sizes). */
export function updateMapElem(fd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
  const k = Buffer.from(key);
  const v = Buffer.from(value);
  bpfCall(BPF_MAP_UPDATE_ELEM, elemAttr(fd, k, v, flags));
}

/** BPF_MAP_DELETE_ELEM; false when the key was not there. */
export function deleteMapElem(fd: number, key: Uint8Array): boolean {
  try {
    bpfCall(BPF_MAP_DELETE_ELEM, elemAttr(fd, Buffer.from(key), null, 0));
    return true;
  } catch (e) {
    if (e instanceof BpfError && e.errno === 2) return false; // ENOENT
    throw e;
  }
}

/** BPF_MAP_LOOKUP_ELEM; null when the key is not there. (XSKMAP and DEVMAP cannot be read from user space.) */
export function lookupMapElem(fd: number, key: Uint8Array, valueSize: number): Uint8Array | null {
  const v = Buffer.alloc(valueSize);
  try {
    bpfCall(BPF_MAP_LOOKUP_ELEM, elemAttr(fd, Buffer.from(key), v, 0));
    return new Uint8Array(v);
  } catch (e) {
    if (e instanceof BpfError && e.errno === 2) return null;
    throw e;
  }
}

/** u32 little-endian as 4 bytes: the usual key/value of array-like maps. */
export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

export interface ProgSpec {
  type: number;
  /** Instructions as bytes (BpfAsm.assemble()). */
  insns: Uint8Array;
  /** Must be GPL-compatible to call GPL-only helpers. */
  license?: string;
  name?: string;
  expectedAttachType?: number;
}

const LOG_SIZE = 1 << 20;

/**
 * BPF_PROG_LOAD; returns the program fd. If the verifier refuses the program, loads it again with the log on and
 * throws a BpfError whose message ends with the log's last lines (all of it in `verifierLog`).
 */
const EAGAIN = 11;
const LOAD_ATTEMPTS = 5;

/**
 * BPF_PROG_LOAD can fail with EAGAIN for reasons that pass (seen here while another program was being loaded;
 * libbpf retries it too): try a few times before giving up.
 */
function loadRetrying(load: () => number): number {
  for (let attempt = 1; ; attempt++) {
    try {
      return load();
    } catch (e) {
      if (!(e instanceof BpfError) || e.errno !== EAGAIN || attempt >= LOAD_ATTEMPTS) throw e;
    }
  }
}

export function loadProgram(p: ProgSpec): number {
  const insns = Buffer.from(p.insns);
  const license = Buffer.from(`${p.license ?? 'Dual MIT/GPL'}\0`, 'latin1');
  const build = (log: Buffer | null): Buffer => {
    const a = attr();
    a.writeUInt32LE(p.type, 0);
    a.writeUInt32LE(insns.length / 8, 4);
    a.writeBigUInt64LE(addressOf(insns), 8);
    a.writeBigUInt64LE(addressOf(license), 16);
    if (log) {
      a.writeUInt32LE(1, 24); // log_level
      a.writeUInt32LE(log.length, 28);
      a.writeBigUInt64LE(addressOf(log), 32);
    }
    writeObjName(a, 48, p.name);
    a.writeUInt32LE(p.expectedAttachType ?? 0, 68);
    return a;
  };
  if (insns.length === 0 || insns.length % 8 !== 0) throw new IxyError('bpf program is empty or not a whole number of instructions');
  try {
    return loadRetrying(() => bpfCall(BPF_PROG_LOAD, build(null)));
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== 22 && e.errno !== 13)) throw e; // only EINVAL/EACCES come from the verifier
    const log = Buffer.alloc(LOG_SIZE);
    try {
      const fd = bpfCall(BPF_PROG_LOAD, build(log));
      return fd; // loaded the second time (should not happen): keep it
    } catch (e2) {
      const text = log.toString('latin1', 0, Math.max(0, log.indexOf(0))).trim();
      const tail = text.split('\n').slice(-4).join(' | ');
      const err = e2 instanceof BpfError ? e2 : e;
      throw new BpfError(`${err.message}${tail ? `; verifier: ${tail}` : ''}`, err.errno, BPF_PROG_LOAD, text);
    }
  }
}

export interface LinkSpec {
  progFd: number;
  /** Interface index (XDP, TCX) or target fd. */
  target: number;
  attachType: number;
  /** For BPF_XDP: XDP_FLAGS_SKB_MODE / XDP_FLAGS_DRV_MODE (include/uapi/linux/if_link.h). */
  flags?: number;
}

/** BPF_LINK_CREATE; returns the link fd. The program stays attached until the last fd of the link is closed. */
export function createLink(l: LinkSpec): number {
  const a = attr();
  a.writeUInt32LE(l.progFd, 0);
  a.writeUInt32LE(l.target, 4);
  a.writeUInt32LE(l.attachType, 8);
  a.writeUInt32LE(l.flags ?? 0, 12);
  return bpfCall(BPF_LINK_CREATE, a);
}

/** Closes an fd from this module, ignoring errors (for clean-up paths). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}
