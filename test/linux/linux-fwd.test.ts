/**
 * `ixy fwd` as the only path between two network namespaces, for every Linux-facing device kind:
 *
 *   ns L (10.x.0.1) --veth-- [A] ns M: ixy fwd A B [B] --veth-- ns R (10.x.0.2)
 *
 * (for tap: the forwarder creates both taps in M, the test moves one into L and one into R). 1000 pings must all
 * come back, and 50 MiB sent with nc must arrive with the same sha256. Segmentation offloads are turned off on
 * the veths: a forwarder of Ethernet frames cannot carry 64 KB TSO/GRO super-frames (nor can a real wire), and
 * checksums must be complete in the frame (a veth peer otherwise leaves them to an offload that never happens).
 *
 * 0 lost must mean the forwarder lost nothing, not that the host never descheduled it: every receive queue on the
 * path holds ≥ 0.5 s of pings. An AF_XDP RX ring holds 512 frames (1 s at 2 ms), a tap's queue 1000 (xdp and sim
 * forwarders stopped with SIGSTOP for 1 s lost no ping). A packet: RX ring is TPACKET_V3 blocks, and the kernel
 * hands a block over one timer tick after it opened it however few frames it holds: at one ping per 2 ms a block
 * holds one to three, so the default --ring-size 512 (16 blocks) covered ~100 ms of stall (a forwarder stopped for
 * 100 ms lost 3 of 600 pings; 300 ms, 19). So with a packet: device the forwarder gets --ring-size 4096 (128 blocks;
 * a block holds at least one frame, so at one ping per 5 ms they cover ≥ 640 ms) and the pings go every 5 ms:
 * stopped for 1 s, that forwarder lost none.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canUseNetns, Netlab } from '../../lab/netns.js';

const CLI = path.resolve('dist/src/cli/main.js');
const MIB = 1 << 20;
const TRANSFER_BYTES = 50 * MIB;
const PINGS = 1000;

interface Kind {
  name: string;
  /** The two device specs for interfaces a and b in the middle namespace. */
  specs?: (a: string, b: string) => string[];
  /** Extra CLI options. */
  extra?: (a: string, b: string) => string[];
  tap?: boolean;
  /** Seconds between pings (default PING_INTERVAL). */
  pingInterval?: string;
}

const PING_INTERVAL = '0.002';
/** With a packet: device: 128 RX blocks (see above), one ping per block at most every 5 ms: ≥ 640 ms of stall. */
const PACKET_RING = ['--ring-size', '4096'];
const PACKET_PING_INTERVAL = '0.005';

const KINDS: Kind[] = [
  { name: 'xdp native', specs: (a, b) => [`xdp:${a},mode=native`, `xdp:${b},mode=native`] },
  { name: 'xdp generic', specs: (a, b) => [`xdp:${a},mode=generic`, `xdp:${b},mode=generic`] },
  { name: 'packet', specs: (a, b) => [`packet:${a}`, `packet:${b}`], extra: () => PACKET_RING, pingInterval: PACKET_PING_INTERVAL },
  { name: 'tap', tap: true },
  // --ring-size applies to both devices: the xdp: one's FILL ring then takes 4096 buffers and its TX ring up to
  // 4096 more, so the pool (default 4096) grows too
  {
    name: 'xdp + packet (mixed kinds)', specs: (a, b) => [`xdp:${a}`, `packet:${b}`],
    extra: () => [...PACKET_RING, '--pool-size', '16384'], pingInterval: PACKET_PING_INTERVAL,
  },
  { name: 'simulated 82599 on Linux wires', specs: () => ['sim:0', 'sim:1'], extra: (a, b) => ['--sim-wire', `${a},${b}`] },
];

function offloadsOff(ns: string, ifname: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
}

function collect(child: ChildProcess): { text: () => string } {
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return { text: () => out };
}

async function until(what: string, ok: () => boolean, ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; forwarder output:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('ixy fwd joins two namespaces', { skip: canUseNetns() ? false : 'needs root (network namespaces)' }, () => {
  let dataFile = '';
  let dataSha = '';
  before(() => {
    dataFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-fwd-')), 'data.bin');
    const data = randomBytes(TRANSFER_BYTES);
    fs.writeFileSync(dataFile, data);
    dataSha = createHash('sha256').update(data).digest('hex');
  });
  after(() => { fs.rmSync(path.dirname(dataFile), { recursive: true, force: true }); });

  KINDS.forEach((kind, i) => {
    test(`${kind.name}: ${PINGS} pings, 0 lost; 50 MiB over TCP with the same sha256`, { timeout: 180_000 }, async () => {
      const lab = new Netlab();
      const net = `10.${120 + i}.0`;
      try {
        const L = lab.ns('l');
        const M = lab.ns('m');
        const R = lab.ns('r');
        let fwd: ChildProcess;
        let log: { text: () => string };
        if (kind.tap) {
          const ta = lab.ifname('ta');
          const tb = lab.ifname('tb');
          fwd = lab.spawn(M, ['node', CLI, 'fwd', `tap:${ta}`, `tap:${tb}`]);
          log = collect(fwd);
          await until('the taps', () => lab.ipIn(M, ['-o', 'link']).includes(tb), 20_000, log.text);
          for (const [tap, ns, host] of [[ta, L, 1], [tb, R, 2]] as const) {
            lab.ipIn(M, ['link', 'set', tap, 'netns', ns]);
            lab.ipIn(ns, ['addr', 'add', `${net}.${host}/24`, 'dev', tap]);
            lab.ipIn(ns, ['link', 'set', tap, 'up']);
          }
        } else {
          const va = lab.veth({ ns: L, name: 'l', addr: `${net}.1/24` }, { ns: M, name: 'ma' });
          const vb = lab.veth({ ns: M, name: 'mb' }, { ns: R, name: 'r', addr: `${net}.2/24` });
          offloadsOff(L, va.a); offloadsOff(M, va.b); offloadsOff(M, vb.a); offloadsOff(R, vb.b);
          fwd = lab.spawn(M, ['node', CLI, 'fwd', ...kind.specs!(va.b, vb.a), ...(kind.extra?.(va.b, vb.a) ?? [])]);
          log = collect(fwd);
        }
        // the first per-second statistics line says the devices are up
        await until('the forwarder to start', () => log.text().includes('['), 30_000, log.text);

        const ping = await lab.run(L, ['ping', '-c', String(PINGS), '-i', kind.pingInterval ?? PING_INTERVAL, '-W', '2', '-q', `${net}.2`], { timeoutMs: 60_000 });
        assert.match(ping.stdout, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`), ping.stdout + ping.stderr + log.text());

        const sink = lab.run(R, ['sh', '-c', 'nc -l 5201 | sha256sum'], { timeoutMs: 120_000 });
        await until('the nc listener', () => execFileSync('ip', ['netns', 'exec', R, 'ss', '-ltnH']).toString().includes(':5201'), 10_000, log.text);
        const send = await lab.run(L, ['sh', '-c', `nc -N -w 30 ${net}.2 5201 < ${dataFile}`], { timeoutMs: 120_000 });
        assert.equal(send.code, 0, `nc sender failed: ${send.stderr}\n${log.text()}`);
        const got = await sink;
        assert.equal(got.stdout.split(' ')[0], dataSha, `sha256 differs\n${got.stderr}\n${log.text()}`);

        assert.equal(await stop(fwd), 0, log.text());
        assert.match(log.text(), /buffers leaked 0/, log.text());
      } finally {
        await lab.cleanup();
      }
    });
  });
});
