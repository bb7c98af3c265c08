/**
 * A writer of classic pcap files (the libpcap format read by tshark/Wireshark/tcpdump): a 24-byte global header,
 * then per packet a 16-byte record header and the captured bytes. Reference: draft-ietf-opsawg-pcap §4 (file
 * header), §5 (packet record); LINKTYPE_ETHERNET = 1. Records are gathered in one buffer and written in large
 * chunks; appending a packet allocates nothing.
 */
import * as fs from 'node:fs';
import { fileError, IxyError } from '../util/errors.js';

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;

export class PcapWriter {
  private fd: number;
  private readonly buf: Buffer;
  private readonly view: DataView;
  private used = 0;
  packets = 0;
  bytesWritten = 0;

  constructor(readonly path: string, readonly snaplen = 65535, bufferBytes = 1 << 20) {
    if (!Number.isInteger(snaplen) || snaplen < 14 || snaplen > 262144) throw new IxyError(`snap length ${snaplen} is invalid: use 14..262144`);
    try {
      this.fd = fs.openSync(path, 'w');
    } catch (e) {
      throw fileError('write', path, e);
    }
    this.buf = Buffer.alloc(Math.max(bufferBytes, snaplen + RECORD_HEADER));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v = this.view;
    v.setUint32(0, MAGIC_MICROSECONDS, true);
    v.setUint16(4, 2, true); // version 2.4
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // reserved (was thiszone)
    v.setUint32(12, 0, true); // reserved (was sigfigs)
    v.setUint32(16, snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.used = FILE_HEADER;
  }

  /** Appends one packet: `len` bytes of `src` from `off`, captured at `sec`.`usec` (Unix time). */
  append(src: Buffer, off: number, len: number, sec: number, usec: number): void {
    const incl = len < this.snaplen ? len : this.snaplen;
    if (this.used + RECORD_HEADER + incl > this.buf.length) this.flush();
    const v = this.view;
    const at = this.used;
    v.setUint32(at, sec, true);
    v.setUint32(at + 4, usec, true);
    v.setUint32(at + 8, incl, true);
    v.setUint32(at + 12, len, true);
    src.copy(this.buf, at + RECORD_HEADER, off, off + incl);
    this.used = at + RECORD_HEADER + incl;
    this.packets++;
  }

  flush(): void {
    if (this.fd < 0 || this.used === 0) return;
    let done = 0;
    while (done < this.used) done += fs.writeSync(this.fd, this.buf, done, this.used - done);
    this.bytesWritten += this.used;
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    try { this.flush(); } finally { fs.closeSync(this.fd); this.fd = -1; }
  }
}
