/**
 * `ixy pktgen virtio:A --count N` inside the guest of `npm run vm`, with a sink on the host side: `--peer-ns` puts
 * TAP0 in its own namespace ixyvm-<pid>-0 (IPv6 off), and the host script (--host-script) runs
 * `ixy pcap packet:$IXY_VM_TAP0 <file> --count N` there. The guest prints `vm-ready`, then waits for the host's
 * `sink-ready` file in the 9p share (written once the capture is up) before it sends, and then for host-done. The test
 * reads the capture back with tshark: exactly N frames of 60 bytes, sequence numbers 0..N-1 in order; and the TAP's
 * own receive counter (--host-stats) is exactly N (the guest sends nothing else: no virtio_net driver is loaded).
 * Legacy and modern, one boot each. Skipped with the harness's reason when it exits 77.
 *
 * The sink's RX ring is sized for the whole burst (SINK_RING), so the test checks the driver, not how soon the
 * host schedules the sink. A TPACKET_V3 ring is blocks, and the kernel hands a block over 1 ms (one 4 ms tick at
 * HZ=250) after it opened it, however few frames it holds: at the ≈12 frames/ms pktgen manages under TCG a block
 * holds ≈50 frames, so the default --ring-size 512 (16 blocks of 64 KiB) held ≈800 frames, ≈64 ms: a sink
 * descheduled that long on a loaded host missed frames (4488 of 5000 captured, 512 missed, once). --ring-size 4096
 * gives 128 blocks: ≈6400 frames at that rate, more than the burst, and ≥ 0.5 s of stall at any slower rate (a
 * slower guest fills each block with fewer frames, so pacing the generator would shrink the ring, not help).
 * The checks stay exact: a frame the driver loses still fails the count, the sequence numbers and the TAP counter.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GUEST_NICS, guestSkipReason, leftNamespaces, skippedByHarness, vm } from '../helpers/vm-guest.js';

const skip = guestSkipReason(['tshark'], 'needs tshark on the host');
const N = 5000;
/** The sink's --ring-size: 128 RX blocks of 64 KiB (see above). */
const SINK_RING = 4096;

/** Host side, in NS0: the capture, sink-ready once it is up, then until it has N frames (or 150 s). */
const HOST = `set -e
log="$SINK_DIR/sink-$IXY_VM_TAP0.log"
ip netns exec "$IXY_VM_NS0" timeout 150 node dist/src/cli/main.js pcap "packet:$IXY_VM_TAP0" "$SINK_PCAP" --count "$SINK_N" --ring-size "$SINK_RING" >"$log" 2>&1 &
P=$!
n=0; until grep -q ' up: ' "$log"; do kill -0 $P 2>/dev/null || { cat "$log"; exit 8; }; n=$((n + 1)); [ $n -lt 300 ] || { cat "$log"; exit 9; }; sleep 0.1; done
: > "$IXY_VM_SHARE/sink-ready"
echo "SINK_READY"
rc=0; wait $P || rc=$?
grep -v '^\\[.*\\] RX: ' "$log" || true
echo "SINK_RC $rc"
exit $rc
`;

/** Guest side: nothing on the NIC until the sink is ready; then pktgen; then wait for the host script to end. */
const GUEST = `${GUEST_NICS}
A=$(echo "$NICS" | sed -n 1p)
echo vm-ready
n=0; until [ -e "$IXYVM_SHARE/sink-ready" ]; do n=$((n + 1)); [ $n -lt 600 ] || { echo "no sink-ready from the host"; exit 1; }; sleep 0.1; done
echo "PKTGEN $(node dist/src/cli/main.js pktgen virtio:$A --count ${N} --json | tail -1)"
n=0; until [ -e "$IXYVM_SHARE/host-done" ]; do n=$((n + 1)); [ $n -lt 1500 ] || { echo "no host-done"; exit 1; }; sleep 0.1; done
echo "HOST_DONE $(cat "$IXYVM_SHARE/host-done")"`;

describe('ixy pktgen virtio:A in a QEMU guest, sequence numbers checked by an ixy pcap sink on the host TAP', { timeout: 700_000 }, () => {
  let dir = '';
  let hostScript = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-pktgen-sink-vm-'));
    fs.chmodSync(dir, 0o755);
    hostScript = path.join(dir, 'host.sh');
    fs.writeFileSync(hostScript, HOST);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  for (const variant of ['legacy', 'modern'] as const) {
    test(`${variant}: the host captures exactly ${N} frames of 60 bytes with sequence numbers 0..${N - 1} in order; TAP counter ${N}`, { skip }, async (t: TestContext) => {
      const t0 = performance.now();
      const pcap = path.join(dir, `${variant}.pcap`);
      const r = await vm(['--nics', '1', '--virtio', variant, '--peer-ns', '--host-stats', '--hugepages', '32', '--host-script', hostScript, GUEST],
        { SINK_DIR: dir, SINK_PCAP: pcap, SINK_N: String(N), SINK_RING: String(SINK_RING) });
      if (skippedByHarness(r, t)) return;
      const all = `${r.stdout}\n${r.stderr}`;
      // the sink's totals line (also printed when timeout stops it): frames its ring had no room for
      const sinkMissed = /^vm: host: +\[packet:[^\]]+\] RX \d+ packets \d+ bytes \((\d+) missed\)/m.exec(r.stderr)?.[1];
      if (sinkMissed !== undefined) assert.equal(sinkMissed, '0', `the sink's ring had no room for frames (host scheduling, not the driver): SINK_RING is too small\n${all}`);
      assert.equal(r.code, 0, all);
      assert.match(r.stderr, /^vm: host: SINK_READY$/m, all);
      assert.match(r.stderr, /^vm: host: SINK_RC 0$/m, all);
      assert.match(r.stderr, /^vm: host-script exit 0 /m, all);
      assert.match(r.stdout, /^HOST_DONE 0$/m, all);
      const pg = JSON.parse(/^PKTGEN (.*)$/m.exec(r.stdout)![1]!);
      assert.equal(pg.work, N);
      assert.equal(pg.leakedBuffers, 0);
      const host = JSON.parse(/^vm: host-stats (.*)$/m.exec(r.stderr)![1]!);
      assert.equal(host.tap0.rxPackets, N, `the host TAP counted exactly what pktgen sent\n${all}`);
      assert.equal(host.tap0.rxBytes, N * 60);
      const fields = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.len', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'data.data'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 }).trim().split('\n');
      assert.equal(fields.length, N, 'frames in the host capture');
      let bad = '';
      fields.forEach((line, i) => {
        if (bad) return;
        const [len, sport, dport, data] = line.split(',');
        const seq = data && data.length >= 12 ? Buffer.from(data.slice(4, 12), 'hex').readUInt32LE(0) : -1;
        if (len !== '60' || sport !== '1032' || dport !== '5008' || data!.slice(0, 4) !== '4958' || seq !== i) bad = `frame ${i}: ${line} (sequence ${seq})`;
      });
      assert.equal(bad, '', 'every frame: 60 bytes, UDP 1032 → 5008, magic 4958, sequence number = its index');
      assert.deepEqual(leftNamespaces(r), [], 'the harness removed its namespaces');
      const accel = /^vm: accel=(\w+)/m.exec(r.stderr)?.[1];
      t.diagnostic(`${variant} (${accel}): pktgen ${N} frames in ${Number(pg.elapsedMs ?? 0).toFixed(0)} ms, whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
});
