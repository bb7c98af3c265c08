/**
 * virtio:<addr> against QEMU's own virtio-net, in the guest of `npm run vm` (legacy and modern): two NICs whose
 * TAPs share a bridge in the harness's host namespace. test/netns-scripts/virtio-probe.js opens both, checks MAC,
 * link and feature negotiation, sends frames A→B and B→A through the host bridge (sequence numbers checked),
 * observes promiscuous mode off/on, and checks no buffer leaked; then `ixy pktgen virtio:A --count N` runs and the
 * host's TAP counters must show exactly what the guest sent; the harness's 9p device (1af4:1009) is refused with one
 * line and stays bound. Skipped with the harness's reason when it exits 77.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../vm/run.js', import.meta.url));
const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).status === 0;
const skip = !hasQemu ? 'qemu-system-x86_64 is not installed (see .ci/vm-packages)'
  : process.getuid?.() !== 0 ? 'needs root (network namespace, TAP devices)' : false;
const K = 1000; // frames each way in the probe
const N = 5000; // frames from ixy pktgen

const netnsList = (): string[] =>
  (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('ixyvm-'));

function vm(args: string[], timeoutMs = 280_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`vm timed out; stderr:\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const GUEST = `set -e
IXY_NETNS_SCRIPT=1 PROBE_COUNT=${K} node dist/test/netns-scripts/virtio-probe.js
A=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] && case $(cat $d/device) in 0x1000|0x1041) echo \${d##*/};; esac; done | head -1)
echo "PKTGEN $(node dist/src/cli/main.js pktgen virtio:$A --count ${N} --json | tail -1)"
P=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/device)" = 0x1009 ] && echo \${d##*/}; done | head -1)
set +e
node dist/src/cli/main.js pktgen virtio:$P --count 1 2>/tmp/err; echo "NOTNET rc=$? $P $(cat /tmp/err) driver=$(basename $(readlink /sys/bus/pci/devices/$P/driver))"`;

interface Ex { sent: number; received: number; inOrder: boolean }

describe('virtio:<addr> in a QEMU guest against QEMU virtio-net', { timeout: 700_000 }, () => {
  for (const variant of ['legacy', 'modern'] as const) {
    test(`${variant}: MAC/link/features, frames both ways through the host bridge, promisc off/on, pktgen counted by the host TAP`, { skip }, async (t: TestContext) => {
      const before = netnsList();
      const r = await vm(['--nics', '2', '--virtio', variant, '--bridge', '--host-stats', '--hugepages', '32', GUEST]);
      if (r.code === 77) {
        const line = r.stderr.split('\n').find((l) => l.startsWith('vm: skipped:'));
        assert.ok(line, `exit 77 without a "vm: skipped:" line: ${r.stderr}`);
        t.skip(line);
        return;
      }
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const probe = JSON.parse(/^PROBE (.*)$/m.exec(r.stdout)![1]!);
      assert.equal(probe.error, undefined, probe.error);
      const devs = probe.devices as { mac: string; linkMbps: number; transport: string; negotiated: string[]; headerBytes: number; ringSize: number }[];
      assert.deepEqual(devs.map((d) => d.mac), ['52:54:00:12:34:56', '52:54:00:12:34:57'], 'MACs from device config (the harness sets them)');
      for (const d of devs) {
        assert.equal(d.transport, variant);
        assert.ok(d.linkMbps > 0, 'link up (VIRTIO_NET_S_LINK_UP)');
        assert.equal(d.headerBytes, variant === 'modern' ? 12 : 10);
        assert.ok(d.negotiated.includes(variant === 'modern' ? 'VIRTIO_F_VERSION_1' : 'VIRTIO_F_ANY_LAYOUT'), d.negotiated.join(' '));
        assert.ok(d.negotiated.includes('VIRTIO_NET_F_CTRL_RX'));
        assert.ok(!d.negotiated.includes('VIRTIO_NET_F_MRG_RXBUF'));
        assert.equal(d.ringSize, 256);
      }
      const full = (e: Ex, n: number, what: string) => assert.deepEqual({ ...e, ms: 0 }, { sent: n, received: n, inOrder: true, ms: 0 }, what);
      full(probe.aToB, K, 'A → bridge → B, broadcast');
      full(probe.bToA, K, 'B → bridge → A, unicast');
      assert.equal(probe.promiscOffOther.received, 0, 'promisc off: frames for another MAC are filtered');
      full(probe.promiscOffOwn, 100, 'promisc off: frames for its own MAC arrive');
      full(probe.promiscOnOther, 100, 'promisc on: frames for another MAC arrive');
      assert.equal(probe.leaked, 0, 'every buffer back in the pool after close');
      const pg = JSON.parse(/^PKTGEN (.*)$/m.exec(r.stdout)![1]!);
      assert.equal(pg.work, N);
      assert.equal(pg.leakedBuffers, 0);
      assert.equal(pg.devices[0].mac, '52:54:00:12:34:56', 'pktgen ran on NIC A (tap0)');
      const host = JSON.parse(/^vm: host-stats (.*)$/m.exec(r.stderr)![1]!);
      const sentA = K + 300; // probe: A→B, promisc off other/own, promisc on other
      assert.equal(host.tap0.rxPackets, sentA + N, 'tap0 saw exactly what NIC A sent (probe + pktgen)');
      assert.equal(host.tap0.rxBytes, (sentA + N) * 60);
      assert.equal(host.tap1.rxPackets, K, 'tap1 saw exactly what NIC B sent');
      // the 9p device of the harness (1af4:1009, bound to virtio-pci) is refused with one line and left bound
      const notNet = /^NOTNET rc=(\d+) (\S+) (.*) driver=(\S+)$/m.exec(r.stdout);
      assert.ok(notNet, r.stdout);
      assert.notEqual(notNet[1], '0');
      assert.match(notNet[3]!, new RegExp(`^ixy: ${notNet[2]!.replace(/\./g, '\\.')} is 1af4:1009 .*not a virtio-net device`));
      assert.equal(notNet[4], 'virtio-pci');
      assert.deepEqual(netnsList().filter((n) => !before.includes(n)), [], 'the harness removed its namespace');
      const mpps = /"elapsedMs":([\d.]+)/.exec(r.stdout);
      t.diagnostic(`${variant}: pktgen ${N} frames in ${mpps ? Number(mpps[1]).toFixed(0) : '?'} ms (TCG); probe A→B ${probe.aToB.ms} ms`);
    });
  }
});
