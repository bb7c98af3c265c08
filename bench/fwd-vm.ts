#!/usr/bin/env node
/**
 * bench/fwd-vm — `ixy fwd virtio:A virtio:B` inside the QEMU guest of vm/run.ts, fed from the host (issue 5):
 *
 *   ns ixyvm-<pid>-0: ixy pktgen packet:tap0 ──TAP0── guest NIC A ─ ixy fwd ─ guest NIC B ──TAP1── ns ixyvm-<pid>-1
 *                                                                                             (rx counter of tap1)
 *
 * One guest boot (`--peer-ns --host-script`); for each batch size the guest runs `fwd --batch b --seconds S --json`
 * while the host generator sends 60-byte frames as fast as it can. Handshake over the harness's 9p share: the guest
 * touches start-<b>, the host reads tap1's rx counter and touches ack-<b>, the guest runs fwd, touches end-<b>, the
 * host reads the counter again. Mpps = frames that reached tap1 during that fwd run / the run's elapsed time (fwd's
 * own elapsedMs: only it forwards, so the window's edges do not matter). cyclesPerPacket = the forwarding thread's
 * CPU time (fwd's cpuNs) / frames forwarded × the host's nominal clock (under TCG the guest's "cycles" are the
 * emulator's: the figure is what the driver costs in emulated time, not a bare-metal number).
 *
 *   node dist/bench/fwd-vm.js [--transport legacy|modern] [--batches 1,2,4,...,256] [--seconds 3] [--json]
 * The last line (with --json: the only line on stdout) is one JSON object: mpps, cyclesPerPacket, transport (at the
 * batch size with the highest Mpps), and every batch size's figures; also written to bench/results/fwd-vm.json.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUN = path.resolve(HERE, '../vm/run.js');
const RESULTS = path.resolve(HERE, '../../bench/results');
const JSON_PATH = path.join(RESULTS, 'fwd-vm.json');

export interface BatchResult {
  batch: number;
  mpps: number; // at tap1 (host side) over fwd's elapsed time
  guestMpps: number; // fwd's own count over its elapsed time
  tapFrames: number;
  forwarded: number;
  dropped: number;
  elapsedMs: number;
  cpuNs: number;
  nsPerPacket: number;
  cyclesPerPacket: number;
  leakedBuffers: number;
}

const HOST = `set -e
sh_stat() { ip netns exec "$IXY_VM_NS1" cat /sys/class/net/"$IXY_VM_TAP1"/statistics/rx_packets; }
ip netns exec "$IXY_VM_NS0" node dist/src/cli/main.js pktgen packet:"$IXY_VM_TAP0" >/dev/null 2>"$IXY_VM_SHARE/gen.err" &
G=$!
trap 'kill -TERM $G 2>/dev/null || true' EXIT
sleep 1
kill -0 $G || { cat "$IXY_VM_SHARE/gen.err"; exit 1; }
touch "$IXY_VM_SHARE/gen-running"
for b in $FWD_VM_BATCHES; do
  until [ -e "$IXY_VM_SHARE/start-$b" ]; do sleep 0.05; done
  c0=$(sh_stat); touch "$IXY_VM_SHARE/ack-$b"
  until [ -e "$IXY_VM_SHARE/end-$b" ]; do sleep 0.05; done
  c1=$(sh_stat)
  echo "HOSTB $b $((c1 - c0))"
done
`;

const guestScript = (batches: number[], seconds: number): string => `NICS=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] && case $(cat $d/device) in 0x1000|0x1041) echo \${d##*/};; esac; done)
A=$(echo "$NICS" | sed -n 1p); B=$(echo "$NICS" | sed -n 2p)
S=$IXYVM_SHARE
echo vm-ready
until [ -e $S/gen-running ]; do sleep 0.1; done
for b in ${batches.join(' ')}; do
  touch $S/start-$b
  until [ -e $S/ack-$b ]; do sleep 0.05; done
  out=$(node dist/src/cli/main.js fwd virtio:$A virtio:$B --batch $b --seconds ${seconds} --json 2>/tmp/err) || { cat /tmp/err; touch $S/end-$b; exit 1; }
  touch $S/end-$b
  echo "BATCH $b $(echo "$out" | tail -1)"
done`;

function hostGHz(): number {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Number(m[1]) / 1000 : 1;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      transport: { type: 'string', default: 'modern' },
      batches: { type: 'string', default: '1,2,4,8,16,32,64,128,256' },
      seconds: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  const transport = values.transport!;
  if (transport !== 'legacy' && transport !== 'modern') throw new Error(`--transport must be legacy or modern, got ${transport}`);
  const batches = values.batches!.split(',').map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 256)) throw new Error(`--batches: integers 1..256, got ${values.batches}`);
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) throw new Error(`--seconds must be 0..60, got ${values.seconds}`);
  const log = (s: string): void => { if (!values.json) console.log(s); else process.stderr.write(s + '\n'); };

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-fwd-vm-'));
  const hostScript = path.join(tmp, 'host.sh');
  fs.writeFileSync(hostScript, HOST);
  const timeout = 120 + batches.length * (seconds + 30);
  const args = [RUN, '--nics', '2', '--virtio', transport, '--peer-ns', '--hugepages', '64', '--timeout', String(timeout), '--host-script', hostScript, guestScript(batches, seconds)];
  log(`fwd-vm: ${transport}, batches ${batches.join(',')}, ${seconds} s each (guest boot + one fwd per batch)`);
  const t0 = performance.now();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FWD_VM_BATCHES: batches.join(' ') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); if (values.verbose) process.stderr.write(b); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); if (values.verbose) process.stderr.write(b); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  }).finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
  if (r.code === 77) {
    const why = r.stderr.split('\n').find((l) => l.startsWith('vm: skipped:')) ?? 'vm: skipped';
    process.stderr.write(`fwd-vm: ${why}\n`);
    return 77;
  }
  if (r.code !== 0) {
    process.stderr.write(`fwd-vm: the guest run failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}\n`);
    return 1;
  }
  const accel = /^vm: accel=(\w+)/m.exec(r.stderr)?.[1] ?? 'unknown';
  const ghz = hostGHz();
  const results: BatchResult[] = [];
  for (const b of batches) {
    const g = new RegExp(`^BATCH ${b} (\\{.*\\})$`, 'm').exec(r.stdout);
    const h = new RegExp(`^vm: host: HOSTB ${b} (\\d+)$`, 'm').exec(r.stderr);
    if (!g || !h) throw new Error(`no figures for batch ${b}:\n${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(g[1]!) as { work: number; dropped: number; cpuNs: number; elapsedMs: number; leakedBuffers: number };
    const tapFrames = Number(h[1]);
    const ns = j.work > 0 ? j.cpuNs / j.work : 0;
    results.push({
      batch: b, mpps: tapFrames / (j.elapsedMs / 1000) / 1e6, guestMpps: j.work / (j.elapsedMs / 1000) / 1e6, tapFrames, forwarded: j.work,
      dropped: j.dropped, elapsedMs: j.elapsedMs, cpuNs: j.cpuNs, nsPerPacket: ns, cyclesPerPacket: ns * ghz, leakedBuffers: j.leakedBuffers,
    });
  }
  log('batch   Mpps@tap1  Mpps(fwd)  ns/pkt  cycles/pkt  leaked');
  for (const x of results) {
    log(`${String(x.batch).padStart(5)}  ${x.mpps.toFixed(4).padStart(9)}  ${x.guestMpps.toFixed(4).padStart(9)}  ${x.nsPerPacket.toFixed(0).padStart(6)}  ` +
      `${x.cyclesPerPacket.toFixed(0).padStart(10)}  ${x.leakedBuffers}`);
  }
  const best = results.reduce((a, b) => (b.mpps > a.mpps ? b : a));
  const out = {
    bench: 'fwd-vm', transport, accel, mpps: best.mpps, cyclesPerPacket: best.cyclesPerPacket, batch: best.batch,
    hostGHz: ghz, cyclesBasis: 'forwarding thread CPU time per packet x host nominal clock (under TCG: emulated time)',
    secondsPerBatch: seconds, generator: 'ixy pktgen packet:tap0 in the host namespace of NIC A (60-byte frames, as fast as it can)',
    wallSeconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), results,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(JSON_PATH, JSON.stringify(out, null, 2) + '\n');
  log(`written ${path.relative(process.cwd(), JSON_PATH)}; accel=${accel}; best ${best.mpps.toFixed(4)} Mpps at batch ${best.batch}`);
  console.log(JSON.stringify(out));
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { process.stderr.write(`fwd-vm: ${e instanceof Error ? e.message : String(e)}\n`); process.exitCode = 1; });
