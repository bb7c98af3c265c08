/**
 * `ixy fwd virtio:A virtio:B` inside the guest of `npm run vm` (legacy and modern, one boot each), between two host
 * namespaces: `--peer-ns` puts TAP0 in ixyvm-<pid>-0 (10.77.0.1/24) and TAP1 in ixyvm-<pid>-1 (10.77.0.2/24), one
 * subnet, so the guest's forwarder makes them neighbours. The guest starts fwd in the background and prints
 * `vm-ready` once both NICs are up; the harness then runs the host script (--host-script): from NS0, 1000 pings at
 * 2 ms intervals (0 loss), then 50 MiB over TCP with nc to NS1 (same sha256). When the script ends the harness writes
 * host-done into the 9p share; the guest sends SIGTERM to fwd, which must print `buffers leaked 0`.
 * Under TCG here 8 MiB took 0.36 s (~190 Mbit/s through the JS forwarder and QEMU's userspace virtio-net), so the
 * full 50 MiB with the 2 ms ping interval fits easily. Skipped with the harness's reason when it exits 77.
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

/** Guest side: fwd in the background, vm-ready once both NICs are up, SIGTERM once the host script is done. */
const GUEST = `${GUEST_NICS}
A=$(echo "$NICS" | sed -n 1p); B=$(echo "$NICS" | sed -n 2p)
node dist/src/cli/main.js fwd virtio:$A virtio:$B >/tmp/fwd.log 2>&1 &
P=$!
until [ "$(grep -c ' up: ' /tmp/fwd.log)" -ge 2 ]; do kill -0 $P 2>/dev/null || { cat /tmp/fwd.log; exit 1; }; sleep 0.2; done
echo vm-ready
while [ ! -e "$IXYVM_SHARE/host-done" ]; do sleep 0.2; done
kill -TERM $P; wait $P; rc=$?
grep -v '^\\[.*\\] RX: ' /tmp/fwd.log
echo "FWD_RC $rc"
exit $rc`;

describe('ixy fwd virtio:A virtio:B in a QEMU guest between two host namespaces', { timeout: 700_000 }, () => {
  let dir = '';
  let data = '';
  let sha = '';
  let hostScript = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-fwd-vm-'));
    data = path.join(dir, 'data.bin');
    const bytes = randomBytes(MIB << 20);
    fs.writeFileSync(data, bytes);
    sha = createHash('sha256').update(bytes).digest('hex');
    hostScript = path.join(dir, 'host.sh');
    fs.writeFileSync(hostScript, FWD_HOST_SCRIPT);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  for (const variant of ['legacy', 'modern'] as const) {
    test(`${variant}: ${PINGS} pings 0 lost, ${MIB} MiB over TCP with the same sha256, fwd stopped by SIGTERM leaks no buffer`, { skip }, async (t: TestContext) => {
      const t0 = performance.now();
      const r = await vm(['--nics', '2', '--virtio', variant, '--peer-ns', '--hugepages', '64', '--host-script', hostScript, GUEST],
        { FWD_PINGS: String(PINGS), FWD_INTERVAL: INTERVAL, FWD_DATA: data });
      if (skippedByHarness(r, t)) return;
      const all = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.code, 0, all);
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
      for (const drv of r.stdout.matchAll(/^\[virtio:(\S+)\] up: driver (\w+)/gm)) assert.equal(drv[2], 'virtio');
      assert.deepEqual(leftNamespaces(r), [], 'the harness removed its namespaces');
      const ping = /^vm: host: PING_MS (\d+)$/m.exec(r.stderr);
      const nc = Number(got[2]);
      t.diagnostic(`${variant}: pings ${ping?.[1]} ms, ${MIB} MiB in ${nc} ms (${((MIB * 8 * 1.048576) / (nc / 1000)).toFixed(0)} Mbit/s), whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
});
