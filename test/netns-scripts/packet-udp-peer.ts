/**
 * The Linux side of the packet and tap tests: a UDP socket inside a namespace (spawned through `ip netns exec`).
 * Does nothing unless IXY_NETNS_SCRIPT=1, because `node --test dist/test/` would load every file under dist/test.
 *
 *   node packet-udp-peer.js recv <port> <count> <timeoutMs> <graceMs>
 *     prints `ready` once bound, then one JSON line { payloads: hex[], from: string[] }
 *   node packet-udp-peer.js send <dstIp> <port> <count> <size>
 *     sends count datagrams "ixy-<i>-" padded to size bytes, prints { sent }
 *   node packet-udp-peer.js raw <ifname> <hex>...
 *     writes each frame as is through a plain AF_PACKET socket (not the device under test), prints { sent }
 */
import * as dgram from 'node:dgram';
import { errnoMessage, libc } from '../../src/sys/libc.js';

const say = (line: string): Promise<void> => new Promise((r) => process.stdout.write(`${line}\n`, () => r()));

async function recv(port: number, count: number, timeoutMs: number, graceMs: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  const payloads: string[] = [];
  const from: string[] = [];
  await new Promise<void>((r) => sock.bind(port, r));
  await say('ready');
  await new Promise<void>((resolve) => {
    const stop = setTimeout(resolve, timeoutMs);
    sock.on('message', (m, rinfo) => {
      payloads.push(m.toString('hex'));
      from.push(`${rinfo.address}:${rinfo.port}`);
      if (payloads.length === count) { clearTimeout(stop); setTimeout(resolve, graceMs); }
    });
  });
  sock.close();
  await say(JSON.stringify({ payloads, from }));
}

export function peerPayload(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b.write(`ixy-${i}-`);
  return b;
}

async function send(dst: string, port: number, count: number, size: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < count; i++) {
    await new Promise<void>((r, j) => sock.send(peerPayload(i, size), port, dst, (e) => (e ? j(e) : r())));
  }
  sock.close();
  await say(JSON.stringify({ sent: count }));
}

async function raw(ifname: string, frames: string[]): Promise<void> {
  const c = libc();
  const fd = c.socket(17 /* AF_PACKET */, 3 /* SOCK_RAW */, 0);
  if (fd < 0) throw new Error(errnoMessage('socket(AF_PACKET)'));
  try {
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(17, 0);
    sll.writeInt32LE(c.if_nametoindex(ifname), 4);
    if (c.bind(fd, sll, 20) < 0) throw new Error(errnoMessage(`bind to ${ifname}`));
    for (const h of frames) {
      const f = Buffer.from(h, 'hex');
      if (c.write(fd, f, f.length) !== f.length) throw new Error(errnoMessage('write'));
    }
  } finally {
    c.close(fd);
  }
  await say(JSON.stringify({ sent: frames.length }));
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const [mode, ...a] = process.argv.slice(2);
  const run = mode === 'recv' ? recv(Number(a[0]), Number(a[1]), Number(a[2]), Number(a[3]))
    : mode === 'raw' ? raw(a[0], a.slice(1))
    : send(a[0], Number(a[1]), Number(a[2]), Number(a[3]));
  run.catch(async (e: Error) => { await say(JSON.stringify({ error: e.message })); process.exitCode = 1; });
}
