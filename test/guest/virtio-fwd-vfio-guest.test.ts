/**
 * `ixy fwd virtio:A,dma=vfio virtio:B,dma=vfio` inside the guest of `npm run vm` with an emulated Intel IOMMU
 * (`--iommu --virtio modern`: iommu_platform=on, guest intel_iommu=on), between two host namespaces (`--peer-ns`:
 * TAP0 in ixyvm-<pid>-0 at 10.77.0.1/24, TAP1 in ixyvm-<pid>-1 at 10.77.0.2/24). Same as
 * test/guest/virtio-fwd-guest.test.ts but every DMA address the device sees goes through the IOMMU: the guest loads
 * vfio-pci and vfio_iommu_type1, starts fwd in the background and prints `vm-ready` once both NICs are up; the host
 * script pings from NS0 1000 times (0 loss) and sends 50 MiB over TCP with nc to NS1 (same sha256). On host-done the
 * guest stops fwd with SIGTERM (`buffers leaked 0`) and reports the NICs' drivers, which must be virtio-pci again with
 * driver_override cleared. Skipped with the harness's reason when it exits 77.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FWD_HOST_SCRIPT, GUEST_NICS, guestSkipReason, leftNamespaces, skippedByHarness, vm } from '../helpers/vm-guest.js';

const skip = guestSkipReason(['nc', 'ping', 'ethtool', 'ss'], 'needs nc (netcat-openbsd), ping, ethtool and ss on the host');
const PINGS = 1000;
const INTERVAL = '0.002';
const MIB = 50;


/** Guest side: VFIO modules, fwd over VFIO in the background, vm-ready once both NICs are up, SIGTERM on host-done. */
const GUEST = `modprobe vfio-pci && modprobe vfio_iommu_type1 || exit 1
${GUEST_NICS}
A=$(echo "$NICS" | sed -n 1p); B=$(echo "$NICS" | sed -n 2p)
echo "BEFORE $(basename $(readlink /sys/bus/pci/devices/$A/driver)) $(basename $(readlink /sys/bus/pci/devices/$B/driver))"
node dist/src/cli/main.js fwd virtio:$A,dma=vfio virtio:$B,dma=vfio >/tmp/fwd.log 2>&1 &
P=$!
until [ "$(grep -c ' up: ' /tmp/fwd.log)" -ge 2 ]; do kill -0 $P 2>/dev/null || { cat /tmp/fwd.log; exit 1; }; sleep 0.2; done
echo "WHILE $(basename $(readlink /sys/bus/pci/devices/$A/driver)) $(basename $(readlink /sys/bus/pci/devices/$B/driver))"
echo vm-ready
while [ ! -e "$IXYVM_SHARE/host-done" ]; do sleep 0.2; done
kill -TERM $P; wait $P; rc=$?
grep -v '^\\[.*\\] RX: ' /tmp/fwd.log
echo "FWD_RC $rc"
for d in $A $B; do echo "AFTER $d driver=$(basename $(readlink /sys/bus/pci/devices/$d/driver)) override=$(cat /sys/bus/pci/devices/$d/driver_override)"; done
exit $rc`;

describe('ixy fwd over VFIO (modern virtio, emulated IOMMU) in a QEMU guest between two host namespaces', { timeout: 400_000 }, () => {
  let dir = '';
  let data = '';
  let sha = '';
  let hostScript = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-fwd-vfio-vm-'));
    data = path.join(dir, 'data.bin');
    const bytes = randomBytes(MIB << 20);
    fs.writeFileSync(data, bytes);
    sha = createHash('sha256').update(bytes).digest('hex');
    hostScript = path.join(dir, 'host.sh');
    fs.writeFileSync(hostScript, FWD_HOST_SCRIPT);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  test(`modern + VFIO: ${PINGS} pings 0 lost, ${MIB} MiB over TCP with the same sha256, no buffer leaked, NICs back on virtio-pci`, { skip }, async (t: TestContext) => {
    const t0 = performance.now();
    const r = await vm(['--iommu', '--nics', '2', '--virtio', 'modern', '--peer-ns', '--host-script', hostScript, GUEST],
      { FWD_PINGS: String(PINGS), FWD_INTERVAL: INTERVAL, FWD_DATA: data });
    if (skippedByHarness(r, t)) return;
    const all = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, all);
    assert.match(r.stdout, /^BEFORE virtio-pci virtio-pci$/m, all);
    assert.match(r.stdout, /^WHILE vfio-pci vfio-pci$/m, `both NICs on vfio-pci while fwd runs\n${all}`);
    assert.match(r.stderr, /^vm: host-script exit 0 /m, all);
    assert.match(r.stderr, new RegExp(`^vm: host: ${PINGS} packets transmitted, ${PINGS} received, 0% packet loss`, 'm'), all);
    const got = /^vm: host: SHA256 (\w+) NC_MS (\d+)$/m.exec(r.stderr);
    assert.ok(got, all);
    assert.equal(got[1], sha, `sha256 of what NS1 received differs\n${all}`);
    assert.match(r.stdout, /^FWD_RC 0$/m, all);
    const totals = /^totals after .*\(stopped by signal\): forwarded (\d+) .*buffers leaked (\d+)$/m.exec(r.stdout);
    assert.ok(totals, all);
    assert.equal(totals[2], '0', 'buffers leaked 0');
    assert.ok(Number(totals[1]) >= 2 * PINGS + (MIB << 20) / 1500, `forwarded ${totals[1]}: at least the pings, replies and data segments`);
    const ups = [...r.stdout.matchAll(/^\[virtio:(\S+)\] up: driver (\w+)/gm)];
    assert.equal(ups.length, 2, all);
    for (const u of ups) {
      assert.match(u[1]!, /,dma=vfio$/);
      assert.equal(u[2], 'virtio');
    }
    const afterLines = r.stdout.split('\n').filter((l) => l.startsWith('AFTER '));
    assert.equal(afterLines.length, 2, all);
    for (const l of afterLines) assert.match(l, /^AFTER \S+ driver=virtio-pci override=\(null\)$/, 'back on virtio-pci, driver_override cleared');
    assert.deepEqual(leftNamespaces(r), [], 'the harness removed its namespaces');
    const ping = /^vm: host: PING_MS (\d+)$/m.exec(r.stderr);
    const accel = /^vm: accel=(\w+)/m.exec(r.stderr)?.[1];
    const nc = Number(got[2]);
    t.diagnostic(`modern+vfio (${accel}): pings ${ping?.[1]} ms, ${MIB} MiB in ${nc} ms (${((MIB * 8 * 1.048576) / (nc / 1000)).toFixed(0)} Mbit/s), whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
});
