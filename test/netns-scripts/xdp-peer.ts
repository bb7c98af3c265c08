/**
 * The Linux side of the AF_XDP tests, run inside the peer namespace:
 *   node xdp-peer.js '{"cmd":"send","ifname":"…","dst":"…","seed":1,"count":100}'   raw frames out (AF_PACKET)
 *   node xdp-peer.js '{"cmd":"recv","ifname":"…","count":100,"timeoutMs":5000}'   test frames in, hashes out
 *   node xdp-peer.js '{"cmd":"attach","ifname":"…"}'   attaches an XDP_PASS program through netlink (it stays)
 * Prints `READY {…}` once it listens and `RESULT {…}` or `ERROR {…}` at the end.
 * Does nothing unless IXY_NETNS_SCRIPT=1 (`node --test dist/test/` would load every file under dist/test).
 */
import { readFileSync } from 'node:fs';
import { errnoMessage, lastErrno, libc } from '../../src/sys/libc.js';
import { BPF_PROG_TYPE_XDP, loadProgram } from '../../src/sys/bpf.js';
import { passProgram, XDP_FLAGS_SKB_MODE } from '../../src/driver/xdp/xdp-program.js';
import { frameHash, isTestFrame, parseMac, sleepMs, TEST_ETHERTYPE, testFrame } from './xdp-frames.js';

interface PeerCmd { cmd: 'send' | 'recv' | 'attach'; ifname: string; dst?: string; seed?: number; count?: number; timeoutMs?: number }

const AF_PACKET = 17, SOCK_RAW = 3, SOL_SOCKET = 1, SO_RCVBUFFORCE = 33, POLLIN = 1;
const htons = (v: number): number => ((v & 0xff) << 8) | (v >> 8);

function out(kind: string, v: unknown): void {
  process.stdout.write(`${kind} ${JSON.stringify(v)}\n`);
}

function check(r: number, what: string): number {
  if (r < 0) throw new Error(errnoMessage(what, lastErrno()));
  return r;
}

/** AF_PACKET socket for `proto`, bound to the interface (sockaddr_ll, 20 bytes). */
function packetSocket(ifname: string, proto: number): number {
  const c = libc();
  const fd = check(c.socket(AF_PACKET, SOCK_RAW, htons(proto)), 'socket(AF_PACKET)');
  const sll = Buffer.alloc(20);
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16BE(proto, 2);
  sll.writeInt32LE(check(c.if_nametoindex(ifname) || -1, `if_nametoindex(${ifname})`), 4);
  check(c.bind(fd, sll, 20), 'bind(AF_PACKET)');
  return fd;
}

function macOf(ifname: string): Uint8Array {
  return parseMac(readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim());
}

function send(c: PeerCmd): void {
  const fd = packetSocket(c.ifname, 0x0003); // ETH_P_ALL: we only send
  const dst = parseMac(c.dst!);
  const src = macOf(c.ifname);
  let sent = 0;
  for (let i = 0; i < c.count!; i++) {
    const f = Buffer.from(testFrame(c.seed!, i, dst, src));
    for (let tries = 0; ; tries++) {
      if (libc().write(fd, f, f.length) === f.length) { sent++; break; }
      if (tries > 1000) throw new Error(errnoMessage(`write of frame ${i}`, lastErrno()));
      sleepMs(1);
    }
    if (i % 32 === 31) sleepMs(1); // pace: the receiver polls, it does not have to keep up with a burst of thousands
  }
  libc().close(fd);
  out('RESULT', { sent });
}

function recv(c: PeerCmd): void {
  const fd = packetSocket(c.ifname, TEST_ETHERTYPE);
  const size = Buffer.alloc(4);
  size.writeInt32LE(32 << 20, 0);
  libc().setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
  out('READY', {});
  const hashes: string[] = [];
  const buf = Buffer.alloc(65536);
  const pfd = Buffer.alloc(8);
  const deadline = Date.now() + (c.timeoutMs ?? 5000);
  while (hashes.length < c.count! && Date.now() < deadline) {
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    pfd.writeInt16LE(0, 6);
    if (libc().poll(pfd, 1, 50) <= 0) continue;
    const n = libc().read(fd, buf, buf.length);
    if (n > 0 && isTestFrame(buf, 0, n)) hashes.push(frameHash(buf.subarray(0, n)));
  }
  libc().close(fd);
  out('RESULT', { hashes });
}

/** RTM_SETLINK with IFLA_XDP { IFLA_XDP_FD, IFLA_XDP_FLAGS } (include/uapi/linux/if_link.h): outlives this process. */
function attach(c: PeerCmd): void {
  const prog = loadProgram({ type: BPF_PROG_TYPE_XDP, insns: passProgram(), name: 'foreign_pass' });
  const cc = libc();
  const fd = check(cc.socket(16 /* AF_NETLINK */, SOCK_RAW, 0 /* NETLINK_ROUTE */), 'socket(AF_NETLINK)');
  const m = Buffer.alloc(52);
  m.writeUInt32LE(52, 0); // nlmsghdr: len, type RTM_SETLINK 19, flags REQUEST|ACK, seq, pid
  m.writeUInt16LE(19, 4);
  m.writeUInt16LE(1 | 4, 6);
  m.writeUInt32LE(1, 8);
  m.writeInt32LE(cc.if_nametoindex(c.ifname), 16 + 4); // ifinfomsg: family, pad, type, index @4, flags, change
  m.writeUInt16LE(20, 32); // nla IFLA_XDP | NLA_F_NESTED
  m.writeUInt16LE(43 | 0x8000, 34);
  m.writeUInt16LE(8, 36); // IFLA_XDP_FD
  m.writeUInt16LE(1, 38);
  m.writeInt32LE(prog, 40);
  m.writeUInt16LE(8, 44); // IFLA_XDP_FLAGS
  m.writeUInt16LE(3, 46);
  m.writeUInt32LE(XDP_FLAGS_SKB_MODE, 48);
  check(cc.write(fd, m, m.length), 'write(netlink)');
  const ack = Buffer.alloc(4096);
  check(cc.read(fd, ack, ack.length), 'read(netlink)');
  const err = ack.readInt32LE(16); // struct nlmsgerr after the header
  if (ack.readUInt16LE(4) !== 2 || err !== 0) throw new Error(`RTM_SETLINK failed: ${err}`);
  out('RESULT', { attached: true });
}

function main(): void {
  const c = JSON.parse(process.argv[2]) as PeerCmd;
  try {
    if (c.cmd === 'send') send(c);
    else if (c.cmd === 'recv') recv(c);
    else attach(c);
  } catch (e) {
    out('ERROR', { name: (e as Error).name, message: (e as Error).message });
    process.exitCode = 1;
  }
}

if (process.env.IXY_NETNS_SCRIPT === '1') main();
