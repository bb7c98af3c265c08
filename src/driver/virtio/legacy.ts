/**
 * The legacy virtio PCI transport (virtio 0.9.5 §2.1 "PCI Discovery"; virtio 1.0 §4.1.4.8 "Legacy Interfaces"):
 * registers in I/O BAR0, reached with 1-, 2- or 4-byte pread/pwrite on sysfs `resource0` (an I/O BAR cannot be
 * mmapped). Queues are given as a page frame number; the used ring is 4096-aligned (QUEUE_ALIGN).
 * Under VFIO the same accesses go to the device fd at the BAR region's offset (an IoRegion; the fd is VFIO's).
 */
import { errnoMessage, libc, O_RDWR } from '../../sys/libc.js';
import type { IoRegion } from '../../sys/vfio.js';
import { IxyError } from '../../util/errors.js';
import { QUEUE_ALIGN, virtqueueBytes, type VirtioTransport } from './virtqueue.js';

// Legacy register layout (little-endian)
const HOST_FEATURES = 0; // u32
const GUEST_FEATURES = 4; // u32
const QUEUE_PFN = 8; // u32
const QUEUE_NUM = 12; // u16
const QUEUE_SEL = 14; // u16
const QUEUE_NOTIFY = 16; // u16
const DEVICE_STATUS = 18; // u8
/** Device config follows at 20, or 24 when MSI-X is enabled (two extra u16 vector registers). */
export const LEGACY_CONFIG = 20;
export const LEGACY_CONFIG_MSIX = 24;

export class LegacyTransport implements VirtioTransport {
  readonly kind = 'legacy' as const;
  private fd: number;
  private readonly file: string;
  private readonly base: number;
  private readonly ownsFd: boolean;
  private readonly b = Buffer.alloc(4);
  private readonly notifyBuf = Buffer.alloc(2);

  constructor(bar: string | IoRegion, private readonly configOffset: number) {
    if (typeof bar !== 'string') {
      this.file = bar.name; this.base = bar.base; this.fd = bar.fd; this.ownsFd = false;
      return;
    }
    this.file = bar; this.base = 0; this.ownsFd = true;
    this.fd = libc().open(bar, O_RDWR, 0);
    if (this.fd < 0) throw new IxyError(`${errnoMessage(`open ${bar}`)}: run as root`);
  }

  private read(off: number, n: 1 | 2 | 4): number {
    off += this.base;
    if (libc().pread(this.fd, this.b, n, off) !== n) throw new IxyError(`${errnoMessage(`read ${this.file} at ${off}`)}: is the I/O BAR enabled?`);
    return n === 1 ? this.b[0]! : n === 2 ? this.b.readUInt16LE(0) : this.b.readUInt32LE(0);
  }

  private write(off: number, n: 1 | 2 | 4, v: number): void {
    off += this.base;
    if (n === 1) this.b[0] = v; else if (n === 2) this.b.writeUInt16LE(v, 0); else this.b.writeUInt32LE(v >>> 0, 0);
    if (libc().pwrite(this.fd, this.b, n, off) !== n) throw new IxyError(`${errnoMessage(`write ${this.file} at ${off}`)}: is the I/O BAR enabled?`);
  }

  reset(): void { this.write(DEVICE_STATUS, 1, 0); } // a legacy device resets synchronously on this write
  getStatus(): number { return this.read(DEVICE_STATUS, 1); }
  setStatus(s: number): void { this.write(DEVICE_STATUS, 1, s); }
  deviceFeatures(): bigint { return BigInt(this.read(HOST_FEATURES, 4)); }
  setDriverFeatures(f: bigint): void { this.write(GUEST_FEATURES, 4, Number(f & 0xffff_ffffn)); }

  queueMax(q: number): number {
    this.write(QUEUE_SEL, 2, q);
    return this.read(QUEUE_NUM, 2);
  }

  setupQueue(q: number, size: number, desc: number, avail: number, used: number): void {
    // the device computes avail and used from the PFN and its own queue size: they must be where it expects them
    const usedAt = Math.ceil((16 * size + 6 + 2 * size) / QUEUE_ALIGN) * QUEUE_ALIGN;
    if (desc % QUEUE_ALIGN !== 0 || avail !== desc + 16 * size || used !== desc + usedAt || virtqueueBytes(size) < usedAt) {
      throw new IxyError(`virtio queue ${q}: the legacy layout needs a 4096-aligned ring with avail and used where QUEUE_NUM puts them`);
    }
    this.write(QUEUE_SEL, 2, q);
    if (this.read(QUEUE_NUM, 2) !== size) throw new IxyError(`virtio queue ${q}: a legacy device's queue size is fixed at ${this.read(QUEUE_NUM, 2)}, not ${size}`);
    this.write(QUEUE_PFN, 4, desc / QUEUE_ALIGN);
  }

  notify(q: number): void {
    this.notifyBuf.writeUInt16LE(q, 0);
    libc().pwrite(this.fd, this.notifyBuf, 2, this.base + QUEUE_NOTIFY);
  }

  readConfig8(off: number): number { return this.read(this.configOffset + off, 1); }

  close(): void {
    if (this.fd >= 0 && this.ownsFd) libc().close(this.fd);
    this.fd = -1;
  }
}
