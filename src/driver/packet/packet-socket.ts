/**
 * Set-up of a TPACKET_V3 AF_PACKET socket with an RX and a TX ring in one mapping, bound to one interface
 * (packet(7); Documentation/networking/packet_mmap.rst "How to use mmap() to improve transmission/reception
 * process", "TPACKET_V3"). Everything created is undone if a step fails.
 */
import { IxyError } from '../../util/errors.js';
import { errnoMessage, lastErrno, libc, MAP_FAILED, MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE, viewOf } from '../../sys/libc.js';
import {
  AF_PACKET, ETH_P_ALL_BE, PACKET_IGNORE_OUTGOING, PACKET_LOSS, PACKET_QDISC_BYPASS, PACKET_RX_RING, PACKET_TX_RING,
  PACKET_VERSION, REQ3, REQ3_SIZE, SOCK_CLOEXEC, SOCK_RAW, SOCKADDR_LL_SIZE, SOL_PACKET, TPACKET_V3,
} from './tpacket.js';

export interface RingGeometry {
  blockSize: number;
  blockNr: number;
  frameSize: number;
  frameNr: number;
}

export interface PacketSocket {
  fd: number;
  /** Native address and length of the mapping (RX ring, then TX ring). */
  address: bigint;
  size: number;
  buffer: ArrayBuffer;
  rx: RingGeometry;
  tx: RingGeometry;
}

/**
 * RX blocks: 128 KiB hold ~60 full-size or ~1000 minimum-size frames, and one whole TSO/GSO super-frame (up to 64 KiB
 * of IP datagram, which RxRingV3 cuts into segments); the kernel retires a block after this many ms.
 */
const RX_BLOCK_SIZE = 1 << 17;
const RX_NOMINAL_FRAME = 2048;
const RX_MIN_BLOCKS = 8;
const RETIRE_BLK_TOV_MS = 1;
const TX_BLOCK_MIN = 1 << 14;

const pow2AtLeast = (n: number): number => 2 ** Math.ceil(Math.log2(n));

/** Ring sizes for `ringSize` frames per direction and TX slots that hold `txData` bytes after the header. */
export function ringGeometry(ringSize: number, txData: number, txDataOffset: number): { rx: RingGeometry; tx: RingGeometry } {
  const rxBlocks = Math.max(RX_MIN_BLOCKS, Math.ceil((ringSize * RX_NOMINAL_FRAME) / RX_BLOCK_SIZE));
  const rx = { blockSize: RX_BLOCK_SIZE, blockNr: rxBlocks, frameSize: RX_NOMINAL_FRAME, frameNr: rxBlocks * (RX_BLOCK_SIZE / RX_NOMINAL_FRAME) };
  // tx slots are frame_size apart inside each block and blocks are contiguous in the mapping, so with
  // block_size a multiple of frame_size, slot i sits at i * frame_size.
  const frameSize = pow2AtLeast(txDataOffset + txData);
  const blockSize = Math.min(Math.max(frameSize, TX_BLOCK_MIN), ringSize * frameSize);
  const tx = { blockSize, blockNr: (ringSize * frameSize) / blockSize, frameSize, frameNr: ringSize };
  return { rx, tx };
}

function setInt(fd: number, opt: number, value: number, name: string): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  if (libc().setsockopt(fd, SOL_PACKET, opt, v, 4) < 0) throw new IxyError(errnoMessage(`setsockopt(${name})`));
}

function setRing(fd: number, opt: number, g: RingGeometry, retireMs: number, name: string): void {
  // tpacket_req3: the TX ring must leave retire_blk_tov, sizeof_priv and feature_req_word zero (packet_set_ring()).
  const req = Buffer.alloc(REQ3_SIZE);
  req.writeUInt32LE(g.blockSize, REQ3.blockSize);
  req.writeUInt32LE(g.blockNr, REQ3.blockNr);
  req.writeUInt32LE(g.frameSize, REQ3.frameSize);
  req.writeUInt32LE(g.frameNr, REQ3.frameNr);
  req.writeUInt32LE(retireMs, REQ3.retireBlkTov);
  if (libc().setsockopt(fd, SOL_PACKET, opt, req, REQ3_SIZE) < 0) {
    const errno = lastErrno();
    const hint = errno === 12 ? ': lower --ring-size' : '';
    throw new IxyError(`${errnoMessage(`setsockopt(${name}, ${g.blockNr} blocks of ${g.blockSize} bytes)`, errno)}${hint}`);
  }
}

/**
 * Opens the socket. Created with protocol 0 so it sees nothing until bind() names ETH_P_ALL and the interface
 * (packet(7): "If protocol is set to zero, no packets are received") — no frames of other interfaces sneak in
 * before the rings exist.
 */
export function openPacketSocket(ifname: string, ifindex: number, ringSize: number, txData: number, txDataOffset: number): PacketSocket {
  const c = libc();
  const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const errno = lastErrno();
    if (errno === 1 || errno === 13) {
      throw new IxyError(`packet:${ifname} needs root or CAP_NET_RAW (${errnoMessage('socket(AF_PACKET)', errno)})`);
    }
    throw new IxyError(errnoMessage('socket(AF_PACKET)', errno));
  }
  let address = 0n;
  let size = 0;
  try {
    // Order matters: version and PACKET_LOSS only before the rings exist (packet_setsockopt() answers EBUSY after).
    setInt(fd, PACKET_VERSION, TPACKET_V3, 'PACKET_VERSION');
    // With PACKET_LOSS a slot the kernel rejects goes back to AVAILABLE instead of stopping the TX ring (WRONG_FORMAT).
    setInt(fd, PACKET_LOSS, 1, 'PACKET_LOSS');
    setInt(fd, PACKET_QDISC_BYPASS, 1, 'PACKET_QDISC_BYPASS');
    setInt(fd, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
    const { rx, tx } = ringGeometry(ringSize, txData, txDataOffset);
    setRing(fd, PACKET_RX_RING, rx, RETIRE_BLK_TOV_MS, 'PACKET_RX_RING');
    setRing(fd, PACKET_TX_RING, tx, 0, 'PACKET_TX_RING');
    size = rx.blockSize * rx.blockNr + tx.blockSize * tx.blockNr;
    address = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (address === MAP_FAILED || address === 0n) {
      address = 0n;
      throw new IxyError(`${errnoMessage(`mmap of the packet rings (${size} bytes)`)}: lower --ring-size`);
    }
    const sll = Buffer.alloc(SOCKADDR_LL_SIZE);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16LE(ETH_P_ALL_BE, 2); // already big-endian as a number: bytes 00 03
    sll.writeInt32LE(ifindex, 4);
    if (c.bind(fd, sll, SOCKADDR_LL_SIZE) < 0) {
      const errno = lastErrno();
      if (errno === 19) throw new IxyError(`no interface '${ifname}' in this network namespace: see ip link`);
      throw new IxyError(errnoMessage(`bind to ${ifname}`, errno));
    }
    return { fd, address, size, buffer: viewOf(address, size), rx, tx };
  } catch (e) {
    if (address !== 0n) c.munmap(address, size);
    c.close(fd);
    throw e;
  }
}
