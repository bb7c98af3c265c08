/**
 * `ixy pktgen` and `ixy pcap` on every Linux-facing device kind, against Linux in another namespace:
 * the peer's interface counter must rise by exactly the number pktgen says it sent, and a capture of such a
 * stream, read back by tshark, must have the right count, lengths, addresses, checksums and sequence numbers.
 * IPv6 is off in these namespaces so the kernel sends nothing of its own that would disturb exact counts.
 *
 * The capture must hold the whole burst while the host does not run it: an AF_XDP ring (512) and a tap's queue
 * (1000) hold the CAPTURED frames outright. A packet: RX ring is 64 KiB TPACKET_V3 blocks the kernel hands over one
 * timer tick after it opened them however few frames they hold, so a burst spread out by a descheduled pktgen fills
 * one block per batch it sends, or per tick: the default --ring-size 512 (16 blocks) has little room over the ~10
 * batches of 32; the capture gets --ring-size 4096 (128 blocks).
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canUseNetns, linkCounters, Netlab } from '../../lab/netns.js';

const CLI = path.resolve('dist/src/cli/main.js');
const SENT = 5000;
const CAPTURED = 300;

/** `capture`: options for `ixy pcap` on this kind (see above). */
const KINDS: Array<{ name: string; spec: (ifname: string) => string; capture?: string[] }> = [
  { name: 'xdp native', spec: (i) => `xdp:${i},mode=native` },
  { name: 'xdp generic', spec: (i) => `xdp:${i},mode=generic` },
  { name: 'packet', spec: (i) => `packet:${i}`, capture: ['--ring-size', '4096'] },
];

function quietNs(lab: Netlab, label: string): string {
  const ns = lab.ns(label);
  for (const k of ['all', 'default']) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${k}.disable_ipv6=1`]);
  return ns;
}

function macOf(lab: Netlab, ns: string, ifname: string): string {
  return (JSON.parse(lab.ipIn(ns, ['-j', 'link', 'show', 'dev', ifname])) as Array<{ address: string }>)[0].address;
}

function lastJson(out: string): { work: number; stoppedBy: string } {
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as { work: number; stoppedBy: string };
}

async function waitForOutput(child: ChildProcess, what: RegExp, ms: number): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms: ${out}`)), ms);
    const on = (d: Buffer): void => { out += d.toString(); if (what.test(out)) { clearTimeout(timer); resolve(); } };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`exited early: ${out}`)); });
  });
}

describe('pktgen and pcap on Linux interfaces', { skip: canUseNetns() ? false : 'needs root (network namespaces)' }, () => {
  for (const kind of KINDS) {
    test(`${kind.name}: the peer counts exactly the frames pktgen sent`, { timeout: 60_000 }, async () => {
      const lab = new Netlab();
      try {
        const G = quietNs(lab, 'g');
        const P = quietNs(lab, 'p');
        const v = lab.veth({ ns: G, name: 'g' }, { ns: P, name: 'p' });
        const before = linkCounters(lab, P, v.b);
        const r = await lab.run(G, ['node', CLI, 'pktgen', kind.spec(v.a), '--count', String(SENT), '--dst', macOf(lab, P, v.b), '--json'], { timeoutMs: 30_000 });
        assert.equal(r.code, 0, r.stderr);
        const res = lastJson(r.stdout);
        assert.equal(res.work, SENT);
        assert.equal(res.stoppedBy, 'count');
        const after = linkCounters(lab, P, v.b);
        assert.equal(after.rxPackets - before.rxPackets, SENT, 'frames counted by the peer interface');
        assert.equal(after.rxBytes - before.rxBytes, SENT * 60, 'bytes counted by the peer interface');
      } finally {
        await lab.cleanup();
      }
    });
  }

  test('tap: the kernel side of the tap counts exactly the frames pktgen sent', { timeout: 60_000 }, async () => {
    const lab = new Netlab();
    try {
      const G = quietNs(lab, 'g');
      const tap = lab.ifname('t');
      // a persistent tap made beforehand, so its counters can be read before and after pktgen opens it
      lab.ipIn(G, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      lab.ipIn(G, ['link', 'set', tap, 'up']);
      const before = linkCounters(lab, G, tap);
      const r = await lab.run(G, ['node', CLI, 'pktgen', `tap:${tap}`, '--count', String(SENT), '--json'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lastJson(r.stdout).work, SENT);
      const after = linkCounters(lab, G, tap);
      assert.equal(after.rxPackets - before.rxPackets, SENT, 'frames the tap interface received from us');
    } finally {
      await lab.cleanup();
    }
  });

  for (const kind of [...KINDS, { name: 'tap', spec: (i: string) => `tap:${i}`, capture: undefined }]) {
    test(`${kind.name}: ixy pcap writes what tshark reads back`, { timeout: 60_000 }, async () => {
      const lab = new Netlab();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-pcap-'));
      const file = path.join(dir, 'out.pcap');
      try {
        const G = quietNs(lab, 'g');
        const P = quietNs(lab, 'p');
        let capIf: string;
        let genSpec: string;
        if (kind.name === 'tap') {
          capIf = lab.ifname('t');
          lab.ipIn(P, ['tuntap', 'add', 'dev', capIf, 'mode', 'tap']);
          lab.ipIn(P, ['link', 'set', capIf, 'up']);
          genSpec = `packet:${capIf}`; // the kernel side of the tap: what is sent there arrives at the tap's fd
        } else {
          const v = lab.veth({ ns: G, name: 'g' }, { ns: P, name: 'p' });
          capIf = v.b;
          genSpec = `packet:${v.a}`;
        }
        const cap = lab.spawn(P, ['node', CLI, 'pcap', kind.spec(capIf), file, '--count', String(CAPTURED), ...(kind.capture ?? [])]);
        await waitForOutput(cap, /\[/, 20_000); // first statistics line: the device is up
        const genNs = kind.name === 'tap' ? P : G;
        const gen = await lab.run(genNs, ['node', CLI, 'pktgen', genSpec, '--count', String(CAPTURED), '--json'], { timeoutMs: 30_000 });
        assert.equal(gen.code, 0, gen.stderr);
        const capCode = await new Promise<number | null>((r) => { if (cap.exitCode !== null) r(cap.exitCode); else cap.once('exit', r); });
        assert.equal(capCode, 0);
        const fields = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=,',
          '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'ip.checksum.status', '-e', 'data.data'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
        assert.equal(fields.length, CAPTURED, 'packets tshark reads');
        fields.forEach((line, i) => {
          const [len, , , sport, dport, csum, data] = line.split(',');
          assert.equal(len, '60');
          assert.equal(sport, '1032');
          assert.equal(dport, '5008');
          assert.equal(csum, '1', 'IPv4 header checksum good (tshark: 0 bad, 1 good, 2 unverified)');
          assert.equal(data.slice(0, 4), '4958', 'magic');
          assert.equal(Buffer.from(data.slice(4, 12), 'hex').readUInt32LE(0), i, 'sequence number');
        });
      } finally {
        await lab.cleanup();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
