/**
 * What a new user meets first: the stack on a veth made with plain `ip link add … type veth` — the Linux end keeps
 * the kernel's default offloads (TX checksum offload, TSO/GSO), so its TCP segments carry partial checksums and come
 * as 64 KiB super-frames. Nothing here runs ethtool.
 *
 *   ns P: Linux 10.N.0.1 --veth (default offloads)-- ns S: ixy on packet:/xdp: 10.N.0.2
 *
 * - packet: and xdp: (native): a few MiB each way with nc, same sha256 (the stack trusts the kernel's partial
 *   checksums, packet: cuts super-frames into segments);
 * - xdp: in generic mode, where super-frames cannot reach user space: a one-line warning naming the interface and the
 *   ethtool command, within about a second of the first drop, and the drops in the live figures;
 * - the other silent failures: an echo client whose --connect address answers no ARP, a link that is down when the
 *   app starts, a refused connection (by name, not by number).
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import {
  directTopology, type DataFile, linuxToStack, makeDataFile, MIB, missingTools, sleep, stackToLinux, startStack, tempDir,
  waitReachable,
} from '../helpers/stack-netns.js';

const TOOLS = ['nc', 'ping', 'sha256sum', 'ss'];
const missing = canUseNetns() ? missingTools(TOOLS) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')}` : false;

async function withLab(fn: (lab: Netlab) => Promise<void>): Promise<void> {
  const lab = new Netlab();
  try { await fn(lab); } finally { await lab.cleanup(); }
}

describe('stack on a veth with the kernel default offloads', { skip }, () => {
  let dir = '';
  let data: DataFile;
  before(() => {
    dir = tempDir('veth-defaults');
    data = makeDataFile(dir, 4 * MIB);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  (['packet', 'xdp'] as const).forEach((kind, i) => {
    test(`${kind}: Linux nc → ixy nc and ixy nc → Linux nc, 4 MiB each, same sha256, no ethtool`, { timeout: 90_000 }, () => withLab(async (lab) => {
      const t = directTopology(lab, kind, 170 + i, undefined, true);
      const offloads = lab.ipIn(t.peer, ['-d', 'link', 'show', t.linuxIf]);
      assert.doesNotMatch(offloads, /state DOWN/);
      const toStack = await linuxToStack(t, data, dir, 30_000);
      assert.ok(toStack.stack.ip.checksumTrusted > 0, `partial checksums were accepted: ${JSON.stringify(toStack.stack.ip)}`);
      assert.equal(toStack.stack.ip.badChecksum, 0);
      await stackToLinux(t, data, 30_000);
    }));
  });

  test('xdp generic: super-frames dropped → one warning line with the interface and the ethtool command, counted live', { timeout: 60_000 }, () => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 172, undefined, true);
    const ifname = t.dev.slice('xdp:'.length);
    const p = await startStack(t, ['echo', 'server', '--port', '7'], `${t.dev},mode=generic`);
    try {
      await waitReachable(t, p);
      const sent = performance.now();
      const send = lab.run(t.peer, ['sh', '-c', `timeout 6 nc -q 1 ${t.stackIp} 7 < ${data.path} > /dev/null`], { timeoutMs: 8000 });
      while (!p.stderr.includes('tso off gso off') && performance.now() - sent < 6000) await sleep(50);
      const warnedAfterMs = performance.now() - sent;
      await sleep(1200); // one more live line
      await send;
      const warnings = p.stderr.split('\n').filter((l) => l.includes('longer than a buffer'));
      assert.equal(warnings.length, 1, p.log());
      assert.match(warnings[0], new RegExp(`^ixy: warning: xdp:${ifname},mode=generic: .*ethtool -K PEER tso off gso off .*ip link show ${ifname}`), p.log());
      assert.ok(warnedAfterMs < 3000, `warned ${warnedAfterMs.toFixed(0)} ms after the transfer started\n${p.log()}`);
      assert.match(p.stdout, /\[echo server\] .* \| dropped: \d+ too long/, p.log());
    } finally {
      await p.stop();
    }
  }));

  test('echo client: --connect to an address nobody answers ARP for says so, exits 1, no NaN', { timeout: 60_000 }, () => withLab(async (lab) => {
    const t = directTopology(lab, 'packet', 173, undefined, true);
    const nobody = '10.173.0.9';
    const p = await startStack(t, ['echo', 'client', '--connect', nobody, '--connections', '4']);
    const code = await p.wait(20_000);
    assert.equal(code, 1, p.log());
    const lines = p.stderr.trim().split('\n');
    assert.equal(lines.length, 1, p.log());
    assert.match(lines[0], new RegExp(`^ixy: no ARP reply from ${nobody.replace(/\./g, '\\.')} on ${t.dev}`), p.log());
    assert.doesNotMatch(p.stdout, /NaN/, p.log());
  }));

  test('a stack app on a link that is down says so with the fix', { timeout: 60_000 }, () => withLab(async (lab) => {
    const t = directTopology(lab, 'packet', 174, undefined, true);
    const ifname = t.dev.slice('packet:'.length);
    lab.ipIn(t.stackNs, ['link', 'set', ifname, 'down']);
    const p = await startStack(t, ['echo', 'server', '--seconds', '2']);
    assert.equal(await p.wait(20_000), 0, p.log());
    assert.match(p.stderr, new RegExp(`^ixy: warning: ${t.dev}: link down: ip link set dev ${ifname} up$`, 'm'), p.log());

    lab.ipIn(t.stackNs, ['link', 'set', ifname, 'up']);
    lab.ipIn(t.peer, ['link', 'set', t.linuxIf, 'down']);
    const q = await startStack(t, ['echo', 'server', '--seconds', '2']);
    assert.equal(await q.wait(20_000), 0, q.log());
    assert.match(q.stderr, new RegExp(`^ixy: warning: ${t.dev}: link down: ${ifname} is up, its other end is not: ip link set dev PEER up`, 'm'), q.log());
  }));

  test('a refused connection is reported by name', { timeout: 60_000 }, () => withLab(async (lab) => {
    const t = directTopology(lab, 'packet', 175, undefined, true);
    const p = await startStack(t, ['nc', '--connect', t.peerIp, '--port', '9']);
    const code = await p.wait(20_000);
    assert.equal(code, 1, p.log());
    assert.match(p.stderr, /^ixy: nc: connection failed \(refused\)$/m, p.log());
    assert.doesNotMatch(p.stderr, /reason \d/, p.log());
  }));
});
