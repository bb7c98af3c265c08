/**
 * The simulated port's wire on a Linux interface: frames the port transmits go out of the interface, frames
 * arriving on it reach the port's receive path — so real traffic (ping, TCP) can cross the simulated 82599.
 * It is an AF_PACKET socket bound to the interface (packet(7)), used without a ring: one sendto()/recvfrom() per
 * frame on the model thread. Frames above the 1514-byte Ethernet maximum (e.g. TSO/GRO super-frames from a veth
 * peer: turn those off with `ethtool -K <peer> tso off gso off gro off`) cannot be on a real wire and are counted
 * as dropped.
 */
import { IxyError } from '../../util/errors.js';
import { errnoMessage, libc, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE, viewOf } from '../../sys/libc.js';
import type { PortModel, WireEnd } from './port-model.js';

// include/uapi/linux/socket.h, if_ether.h, if_packet.h, include/linux/socket.h
const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_PACKET = 263;
const PACKET_IGNORE_OUTGOING = 23;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const MAX_FRAME = 1514;
const SCRATCH = 65536 + 4096;

export class LinuxWire implements WireEnd {
  private fd: number;
  private readonly base: bigint;
  private readonly addr: number;
  private readonly buf: Uint8Array;
  /** Frames that could not be passed on (too large, socket full, or the port had no free descriptor). */
  dropped = 0;
  sent = 0;
  received = 0;

  constructor(readonly ifname: string, private readonly port: PortModel) {
    const c = libc();
    const ifindex = c.if_nametoindex(ifname);
    if (ifindex === 0) throw new IxyError(`no interface '${ifname}' in this network namespace for the simulated wire: see ip link`);
    this.fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, ETH_P_ALL_BE);
    if (this.fd < 0) throw new IxyError(`${errnoMessage(`AF_PACKET socket for the simulated wire on ${ifname}`)}: run as root (CAP_NET_RAW)`);
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1, 0);
      if (c.setsockopt(this.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one, 4) !== 0) throw new IxyError(errnoMessage('PACKET_IGNORE_OUTGOING'));
      const sll = Buffer.alloc(20); // sockaddr_ll
      sll.writeUInt16LE(AF_PACKET, 0);
      sll.writeUInt16LE(ETH_P_ALL_BE, 2);
      sll.writeInt32LE(ifindex, 4);
      if (c.bind(this.fd, sll, 20) !== 0) throw new IxyError(errnoMessage(`bind to ${ifname}`));
      this.base = c.mmap(null, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (this.base === MAP_FAILED) throw new IxyError(errnoMessage('mmap of the wire buffer'));
    } catch (e) {
      c.close(this.fd);
      throw e;
    }
    this.addr = Number(this.base);
    this.buf = new Uint8Array(viewOf(this.base, SCRATCH));
  }

  deliver(mem: Uint8Array, off: number, len: number): boolean {
    if (this.fd < 0 || len > MAX_FRAME) { this.dropped++; return false; }
    const buf = this.buf;
    for (let i = 0; i < len; i++) buf[i] = mem[off + i];
    if (libc().sendtoAt(this.fd, this.addr, len, MSG_DONTWAIT, 0, 0) !== len) { this.dropped++; return false; }
    this.sent++;
    return true;
  }

  present(): boolean {
    return this.fd >= 0;
  }

  /** Moves up to `budget` frames that arrived on the interface into the port; returns how many were read. */
  poll(budget: number): number {
    if (this.fd < 0) return 0;
    const c = libc();
    let n = 0;
    while (n < budget) {
      const len = c.recvfromAt(this.fd, this.addr, SCRATCH, MSG_DONTWAIT | MSG_TRUNC, 0, 0);
      if (len < 0) break;
      n++;
      if (len > MAX_FRAME || len < 14 || !this.port.receive(this.buf, 0, len)) { this.dropped++; continue; }
      this.received++;
    }
    return n;
  }

  close(): void {
    if (this.fd < 0) return;
    const c = libc();
    c.close(this.fd);
    this.fd = -1;
    c.munmap(this.base, SCRATCH);
  }
}
