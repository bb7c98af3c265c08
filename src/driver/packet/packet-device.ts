/**
 * `packet:<ifname>`: a Linux interface through an AF_PACKET socket with TPACKET_V3 RX and TX rings.
 * A copying device: frames are copied between the rings and the mempool, so no buffer ever sits in a ring.
 * One queue each way.
 */
import type { Mempool } from '../../mem/mempool.js';
import { regionAddress } from '../../mem/mmap-dma.js';
import { errnoMessage, lastErrno, libc, type Libc } from '../../sys/libc.js';
import { ifindexOf, linkSpeedMbps, readMac, readMtu } from '../../sys/netif.js';
import { IxyError } from '../../util/errors.js';
import type { Device, DeviceOptions, DeviceStats } from '../device.js';
import { openPacketSocket, type PacketSocket } from './packet-socket.js';
import { RxRingV3, TxRing } from './tpacket-rings.js';
import {
  MREQ_SIZE, MSG_DONTWAIT, PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP, PACKET_MR_PROMISC, PACKET_STATISTICS,
  SOL_PACKET, STATS3_SIZE, TX_DATA_OFFSET,
} from './tpacket.js';

export const DEFAULT_PACKET_RING_SIZE = 512;
const ETH_HLEN = 14;
const VLAN_HLEN = 4;

export class PacketDevice implements Device {
  readonly driverName = 'packet';
  readonly rxQueues = 1;
  readonly txQueues = 1;
  readonly ringSize: number;
  readonly pool: Mempool;
  private readonly c: Libc;
  private readonly sock: PacketSocket;
  private readonly rx: RxRingV3;
  private readonly tx: TxRing;
  private readonly mac: Uint8Array;
  private readonly statsBuf = Buffer.alloc(STATS3_SIZE);
  private readonly statsLen = Buffer.alloc(4);
  /** Counter values already reported by readStats. */
  private readonly reported = new Float64Array(5);
  private promisc = false;
  private closed = false;

  private constructor(readonly spec: string, readonly ifname: string, private readonly ifindex: number, sock: PacketSocket, opts: DeviceOptions, ringSize: number) {
    this.c = libc();
    this.pool = opts.pool;
    this.ringSize = ringSize;
    this.sock = sock;
    const poolAddress = Number(regionAddress(opts.pool.region));
    const mem = { u32: new Uint32Array(sock.buffer), u16: new Uint16Array(sock.buffer), view: new DataView(sock.buffer), address: Number(sock.address) };
    const mtu = readMtu(ifname);
    this.rx = new RxRingV3(mem, sock.rx.blockSize, sock.rx.blockNr, opts.pool, poolAddress, this.c, mtu + ETH_HLEN);
    const maxLen = mtu + ETH_HLEN + VLAN_HLEN;
    const txBase = sock.rx.blockSize * sock.rx.blockNr;
    this.tx = new TxRing(mem, txBase, sock.tx.frameSize, sock.tx.frameNr, maxLen, opts.pool, poolAddress, this.c);
    this.mac = readMac(ifname);
  }

  static open(spec: string, ifname: string, opts: DeviceOptions): PacketDevice {
    const ringSize = opts.ringSize ?? DEFAULT_PACKET_RING_SIZE;
    if (!Number.isInteger(ringSize) || ringSize < 16 || ringSize > 32768 || (ringSize & (ringSize - 1)) !== 0) {
      throw new IxyError(`ring size ${ringSize} is invalid for ${spec}: use a power of two from 16 to 32768`);
    }
    if ((opts.rxQueues ?? 1) !== 1 || (opts.txQueues ?? 1) !== 1) {
      throw new IxyError(`${spec} has one RX and one TX queue: drop the queue options (or use one packet: device per interface)`);
    }
    regionAddress(opts.pool.region); // a clear error for a pool outside Linux-interface memory, before any socket
    const ifindex = ifindexOf(ifname);
    const sock = openPacketSocket(ifname, ifindex, ringSize, opts.pool.dataRoom, TX_DATA_OFFSET);
    try {
      return new PacketDevice(spec, ifname, ifindex, sock, opts, ringSize);
    } catch (e) {
      closeSocket(libc(), sock);
      throw e;
    }
  }

  rxBatch(_queue: number, ids: Uint32Array, max: number): number {
    if (this.closed) return 0; // the rings are unmapped
    return this.rx.receive(ids, max);
  }

  txBatch(_queue: number, ids: Uint32Array, n: number): number {
    if (this.closed) return 0;
    const tx = this.tx;
    const taken = tx.queue(ids, n);
    // One send() hands every SEND_REQUEST slot to the kernel; also kick when the ring is full, in case an
    // earlier send() stopped early (ENOBUFS) and left requested slots behind.
    if (taken > 0 || tx.full) this.c.sendtoAt(this.sock.fd, 0, 0, MSG_DONTWAIT, 0, 0);
    return taken;
  }

  /** Frames dropped on receive because they do not fit a buffer (also counted in rxDropped). */
  get rxOversize(): number { return this.rx.oversize; }
  /** Frames refused on transmit (shorter than 14 bytes or longer than MTU + 18): freed, not sent. */
  get txRejected(): number { return this.tx.rejected; }

  readStats(into: DeviceStats): void {
    const r = this.reported;
    const kernelDrops = this.closed ? 0 : this.readKernelDrops();
    into.rxPackets += this.rx.packets - r[0];
    into.rxBytes += this.rx.bytes - r[1];
    into.txPackets += this.tx.packets - r[2];
    into.txBytes += this.tx.bytes - r[3];
    into.rxDropped += kernelDrops + this.rx.oversize - r[4];
    r[0] = this.rx.packets; r[1] = this.rx.bytes; r[2] = this.tx.packets; r[3] = this.tx.bytes; r[4] = this.rx.oversize;
  }

  /** tp_drops of PACKET_STATISTICS: frames the kernel found no room for in the RX ring. Reading resets it. */
  private readKernelDrops(): number {
    this.statsLen.writeUInt32LE(STATS3_SIZE);
    if (this.c.getsockopt(this.sock.fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf, this.statsLen) < 0) return 0;
    return this.statsBuf.readUInt32LE(4);
  }

  /** Through a PACKET_MR_PROMISC membership: counted by the kernel and dropped with the socket, never left behind. */
  setPromisc(on: boolean): void {
    if (this.closed || on === this.promisc) return;
    const mreq = Buffer.alloc(MREQ_SIZE);
    mreq.writeInt32LE(this.ifindex, 0);
    mreq.writeUInt16LE(PACKET_MR_PROMISC, 4);
    const op = on ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP;
    if (this.c.setsockopt(this.sock.fd, SOL_PACKET, op, mreq, MREQ_SIZE) < 0) {
      throw new IxyError(errnoMessage(`promiscuous mode ${on ? 'on' : 'off'} for ${this.spec}`, lastErrno()));
    }
    this.promisc = on;
  }

  linkSpeedMbps(): number {
    // Virtual links without a speed (-1) still pass traffic: report 10 Gbit/s rather than "down".
    return linkSpeedMbps(this.ifname, 10000);
  }

  macAddress(): Uint8Array {
    return this.mac.slice();
  }

  buffersInRings(): number {
    return 0;
  }

  close(): void {
    if (this.closed) return;
    // frames still in the TX ring would be lost with the mapping: give them a moment to leave
    const deadline = performance.now() + 500;
    while (!this.tx.idle() && performance.now() < deadline) this.c.sendtoAt(this.sock.fd, 0, 0, MSG_DONTWAIT, 0, 0);
    this.closed = true;
    closeSocket(this.c, this.sock);
  }
}

function closeSocket(c: Libc, sock: PacketSocket): void {
  // no view over the mapping is used after this point (the device is closed)
  c.munmap(sock.address, sock.size);
  c.close(sock.fd);
}
