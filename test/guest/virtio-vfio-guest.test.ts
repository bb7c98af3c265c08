/**
 * virtio:<addr> over VFIO in a QEMU guest with an emulated Intel IOMMU (`npm run vm -- --iommu ...`, modern virtio
 * with iommu_platform=on): test/netns-scripts/vfio-probe.js checks both NICs would take the VFIO path, opens them
 * with one mempool from the VFIO allocator (IOVA = virtual address), sees them on vfio-pci while open, sends frames
 * A→B and B→A through the host bridge (sequence numbers checked), closes, and finds them back on virtio-pci with
 * driver_override cleared and no IOMMU mapping left; a second open maps the same pool into a fresh container. Then
 * `ixy pktgen` runs over VFIO and the host's TAP counters must show exactly what the guest sent, and `ixy devices`
 * prints the DMA path. Skipped with the harness's reason when it exits 77.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../vm/run.js', import.meta.url));
const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).status === 0;
const skip = !hasQemu ? 'qemu-system-x86_64 is not installed (see .ci/vm-packages)'
  : process.getuid?.() !== 0 ? 'needs root (network namespace, TAP devices)' : false;
const K = 1000; // frames each way in the first round of the probe
const K2 = 100; // in the second round
const N = 2000; // frames from ixy pktgen

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
modprobe vfio-pci
modprobe vfio_iommu_type1
IXY_NETNS_SCRIPT=1 PROBE_COUNT=${K} node dist/test/netns-scripts/vfio-probe.js
A=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1041 ] && echo \${d##*/}; done | head -1)
echo "PKTGEN $(node dist/src/cli/main.js pktgen virtio:$A --count ${N} --json | tail -1)"
echo "AFTER driver=$(basename $(readlink /sys/bus/pci/devices/$A/driver)) override=$(cat /sys/bus/pci/devices/$A/driver_override)"
node dist/src/cli/main.js devices | grep -E '^ +DMA: ' | sed 's/^ */DEVICES /'`;

interface Ex { sent: number; received: number; inOrder: boolean; ms: number }
interface Binding { driver: string | null; override: string }
interface Round { whileOpen: Binding[]; mappedWhileOpen: number; devices: { mac: string; linkMbps: number; transport: string; negotiated: string[] }[];
  aToB: Ex; bToA: Ex; after: Binding[]; mappedAfterClose: number; leaked: number }

describe('virtio:<addr> over VFIO in a QEMU guest with an emulated IOMMU', { timeout: 400_000 }, () => {
  test('VFIO chosen, frames both ways through the host bridge, binding restored on close, pktgen counted by the host TAP', { skip }, async (t: TestContext) => {
    const r = await vm(['--iommu', '--nics', '2', '--virtio', 'modern', '--bridge', '--host-stats', GUEST]);
    if (r.code === 77) {
      const line = r.stderr.split('\n').find((l) => l.startsWith('vm: skipped:'));
      assert.ok(line, `exit 77 without a "vm: skipped:" line: ${r.stderr}`);
      t.skip(line);
      return;
    }
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const p = JSON.parse(/^VFIO (.*)$/m.exec(r.stdout)![1]!);
    assert.equal(p.error, undefined, p.error);
    for (const l of p.listing as { path: string; reason: string }[]) {
      assert.equal(l.path, 'vfio');
      assert.match(l.reason, /^IOMMU group \d+ and \/dev\/vfio\/vfio/);
    }
    assert.equal(p.allocator, 'anonymous memory mapped through VFIO (IOVA = virtual address)');
    assert.equal(p.mappedBeforeOpen, 0, 'the pool waits for a container with an IOMMU');
    assert.deepEqual(p.before, [{ driver: 'virtio-pci', override: '(null)' }, { driver: 'virtio-pci', override: '(null)' }]);
    for (const [round, k] of [[p.first as Round, K], [p.second as Round, K2]] as const) {
      assert.deepEqual(round.whileOpen, [{ driver: 'vfio-pci', override: 'vfio-pci' }, { driver: 'vfio-pci', override: 'vfio-pci' }]);
      assert.equal(round.mappedWhileOpen, 3, 'pool + one ring region per device mapped into the IOMMU');
      assert.deepEqual(round.devices.map((d) => d.mac), ['52:54:00:12:34:56', '52:54:00:12:34:57']);
      for (const d of round.devices) {
        assert.equal(d.transport, 'modern');
        assert.ok(d.linkMbps > 0);
        assert.ok(d.negotiated.includes('VIRTIO_F_ACCESS_PLATFORM'), d.negotiated.join(' '));
      }
      const full = (e: Ex, what: string) => assert.deepEqual({ ...e, ms: 0 }, { sent: k, received: k, inOrder: true, ms: 0 }, what);
      full(round.aToB, 'A → bridge → B over VFIO');
      full(round.bToA, 'B → bridge → A over VFIO');
      assert.deepEqual(round.after, p.before, 'back on virtio-pci, driver_override cleared');
      assert.equal(round.mappedAfterClose, 0, 'no IOMMU mapping left once both devices closed');
      assert.equal(round.leaked, 0);
    }
    const pg = JSON.parse(/^PKTGEN (.*)$/m.exec(r.stdout)![1]!);
    assert.equal(pg.work, N);
    assert.equal(pg.leakedBuffers, 0);
    assert.match(r.stdout, /^AFTER driver=virtio-pci override=\(null\)$/m, 'pktgen also gave the device back');
    const dmaLines = r.stdout.split('\n').filter((l) => l.startsWith('DEVICES DMA: '));
    assert.equal(dmaLines.length, 2, r.stdout);
    for (const l of dmaLines) assert.match(l, /^DEVICES DMA: vfio \(IOMMU group \d+ and \/dev\/vfio\/vfio/);
    const host = JSON.parse(/^vm: host-stats (.*)$/m.exec(r.stderr)![1]!);
    assert.equal(host.tap0.rxPackets, K + K2 + N, 'tap0 saw exactly what NIC A sent');
    assert.equal(host.tap1.rxPackets, K + K2, 'tap1 saw exactly what NIC B sent');
    t.diagnostic(`VFIO: A→B ${p.first.aToB.ms} ms for ${K} frames; pktgen ${N} frames in ${Number(pg.elapsedMs ?? 0).toFixed(0)} ms (TCG)`);
  });
});
