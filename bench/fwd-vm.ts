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
 * Then, in the same guest and with the same generator, DPDK's dpdk-testpmd (io forwarding, virtio PMD, the NICs on
 * uio_pci_generic; the harness's --with-dpdk puts this host's testpmd in the initramfs) for each --dpdk-batches burst
 * size: JSON `dpdk: {mpps, cyclesPerPacket, batch, results}` and `ratioToDpdk` (best ixy Mpps / best testpmd Mpps), or
 * `dpdk: {error}` when testpmd is not installed on the host or cannot run in the guest.
 *
 *   node dist/bench/fwd-vm.js [--transport legacy|modern] [--batches 1,2,4,...,256] [--seconds 3] [--json]
 *                             [--dpdk-batches 32] [--no-dpdk]
 * The last line (with --json: the only line on stdout) is one JSON object: mpps, cyclesPerPacket, transport (at the
 * batch size with the highest Mpps), and every batch size's figures; also written to bench/results/fwd-vm.json.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './paths.js';
import { optionError, parseBenchArgs } from './options.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUN = path.resolve(HERE, '../vm/run.js');
const RESULTS = RESULTS_DIR;
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
for b in $FWD_VM_DPDK_BATCHES; do
  until [ -e "$IXY_VM_SHARE/dstart-$b" ]; do sleep 0.05; done
  c0=$(sh_stat)
  until [ -e "$IXY_VM_SHARE/dend-$b" ]; do sleep 0.05; done
  c1=$(sh_stat)
  echo "HOSTD $b $((c1 - c0))"
done
`;

/**
 * dpdk-testpmd in the same guest after the ixy runs (harness --with-dpdk): the NICs are rebound to uio_pci_generic,
 * testpmd (io forwarding, --burst b) starts; once it prints that forwarding started the guest touches dstart-<b>
 * (the host reads tap1's counter), samples /proc/uptime and testpmd's utime+stime, sleeps S s, samples again,
 * touches dend-<b> (the host reads the counter again) and stops testpmd with SIGINT. A failure is one line
 * "DPDKERR <b> <reason>" (the handshake files are still touched so that the host side never waits forever).
 */
const dpdkGuest = (batches: number[], seconds: number): string => batches.length === 0 ? '' : `
derr() { echo "DPDKERR $1 $2"; touch $S/dstart-$1 $S/dend-$1; }
D=""; for p in $IXYVM_DPDK_PMDS; do D="$D -d $p"; done
BOUND=ok
modprobe uio_pci_generic 2>/tmp/err || BOUND="modprobe uio_pci_generic: $(tail -1 /tmp/err)"
if [ "$BOUND" = ok ]; then for d in $A $B; do
  [ -e /sys/bus/pci/devices/$d/driver ] && echo $d > /sys/bus/pci/devices/$d/driver/unbind
  echo uio_pci_generic > /sys/bus/pci/devices/$d/driver_override; echo $d > /sys/bus/pci/drivers_probe
  [ "$(basename $(readlink /sys/bus/pci/devices/$d/driver) 2>/dev/null)" = uio_pci_generic ] || BOUND="could not bind $d to uio_pci_generic"
done; fi
for b in ${batches.join(' ')}; do
  if [ "$BOUND" != ok ]; then derr $b "$BOUND"; continue; fi
  if [ -z "$IXYVM_DPDK_PMDS" ] || ! command -v dpdk-testpmd >/dev/null; then derr $b "dpdk-testpmd is not in the guest"; continue; fi
  dpdk-testpmd -l 0-1 -n 1 $D -a $A -a $B -- --forward-mode=io --auto-start --stats-period 1 --burst=$b --total-num-mbufs=8192 >/tmp/dpdk-$b.out 2>&1 &
  P=$!
  n=0; while kill -0 $P 2>/dev/null && ! grep -q 'start packet forwarding' /tmp/dpdk-$b.out && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done
  if ! kill -0 $P 2>/dev/null || ! grep -q 'start packet forwarding' /tmp/dpdk-$b.out; then
    kill -9 $P 2>/dev/null; wait $P 2>/dev/null
    derr $b "testpmd did not start forwarding: $(grep -v '^ *$' /tmp/dpdk-$b.out | grep -iE 'error|cause|panic|cannot|fail' | head -1)"; continue
  fi
  sleep 1
  u0=$(cut -d' ' -f1 /proc/uptime); t0=$(awk '{print $14+$15}' /proc/$P/stat); touch $S/dstart-$b
  sleep ${seconds}
  u1=$(cut -d' ' -f1 /proc/uptime); t1=$(awk '{print $14+$15}' /proc/$P/stat); touch $S/dend-$b
  kill -INT $P; n=0; while kill -0 $P 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; kill -9 $P 2>/dev/null; wait $P 2>/dev/null
  echo "DPDK $b $u0 $u1 $t0 $t1 $(getconf CLK_TCK 2>/dev/null || echo 100)"
done`;

const guestScript = (batches: number[], seconds: number, dpdkBatches: number[]): string => `NICS=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] && case $(cat $d/device) in 0x1000|0x1041) echo \${d##*/};; esac; done)
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
done${dpdkGuest(dpdkBatches, seconds)}`;

export interface DpdkResult { batch: number; mpps: number; tapFrames: number; elapsedMs: number; cpuNs: number; nsPerPacket: number; cyclesPerPacket: number }
interface DpdkSummary { mpps: number; cyclesPerPacket: number; batch: number; results: DpdkResult[]; errors?: string[] }
const DPDK_TESTPMD = '/usr/bin/dpdk-testpmd';

function hostGHz(): number {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Number(m[1]) / 1000 : 1;
}

async function main(): Promise<number> {
  const { values } = parseBenchArgs({
    options: {
      transport: { type: 'string', default: 'modern' },
      batches: { type: 'string', default: '1,2,4,8,16,32,64,128,256' },
      seconds: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      'dpdk-batches': { type: 'string', default: '32' },
      'no-dpdk': { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/fwd-vm.js [--transport legacy|modern] [--batches 1,2,4,...,256] [--seconds 3] [--json] [-v]\n' +
      '                                  [--dpdk-batches 32] [--no-dpdk]\n' +
      'ixy fwd virtio:A virtio:B in the QEMU guest of vm/run.ts (per batch size), then dpdk-testpmd (io fwd, virtio PMD)\n' +
      'per --dpdk-batches burst size in the same guest; Mpps at the host TAP of NIC B. Writes bench/results/fwd-vm.json.');
    return 0;
  }
  const transport = values.transport!;
  if (transport !== 'legacy' && transport !== 'modern') optionError(`--transport must be legacy or modern, got ${transport}`);
  const batches = values.batches!.split(',').map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 256)) optionError(`--batches: integers 1..256, got ${values.batches}`);
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) optionError(`--seconds must be 0..60, got ${values.seconds}`);
  const dpdkBatches = values['no-dpdk'] || values['dpdk-batches'] === '' ? [] : values['dpdk-batches']!.split(',').map(Number);
  if (dpdkBatches.some((b) => !Number.isInteger(b) || b < 1 || b > 512)) optionError(`--dpdk-batches: integers 1..512, got ${values['dpdk-batches']}`);
  // testpmd only where this host has it: else the dpdk row is an error and the guest boots without it
  let dpdkError: string | undefined = values['no-dpdk'] ? 'not run (--no-dpdk)' : undefined;
  if (!dpdkError && !fs.existsSync(DPDK_TESTPMD)) dpdkError = `${DPDK_TESTPMD} is not installed on the host (apt-get install dpdk)`;
  if (dpdkError) dpdkBatches.length = 0;
  const log = (s: string): void => { if (!values.json) console.log(s); else process.stderr.write(s + '\n'); };

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-fwd-vm-'));
  const hostScript = path.join(tmp, 'host.sh');
  fs.writeFileSync(hostScript, HOST);
  const timeout = 120 + (batches.length + dpdkBatches.length) * (seconds + 30);
  const args = [RUN, '--nics', '2', '--virtio', transport, '--peer-ns', '--hugepages', '64', '--timeout', String(timeout), '--host-script', hostScript,
    ...(dpdkBatches.length ? ['--with-dpdk'] : []), guestScript(batches, seconds, dpdkBatches)];
  log(`fwd-vm: ${transport}, batches ${batches.join(',')}, ${seconds} s each (guest boot + one fwd per batch)` +
    (dpdkBatches.length ? `; then dpdk-testpmd --burst ${dpdkBatches.join(',')}` : `; dpdk: ${dpdkError}`));
  const t0 = performance.now();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FWD_VM_BATCHES: batches.join(' '), FWD_VM_DPDK_BATCHES: dpdkBatches.join(' ') },
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
  const dpdkResults: DpdkResult[] = [];
  const dpdkErrors: string[] = [];
  for (const b of dpdkBatches) {
    const e = new RegExp(`^DPDKERR ${b} (.*)$`, 'm').exec(r.stdout);
    if (e) { dpdkErrors.push(`burst ${b}: ${e[1]}`); continue; }
    const g = new RegExp(`^DPDK ${b} ([\\d.]+) ([\\d.]+) (\\d+) (\\d+) (\\d+)$`, 'm').exec(r.stdout);
    const h = new RegExp(`^vm: host: HOSTD ${b} (\\d+)$`, 'm').exec(r.stderr);
    if (!g || !h) { dpdkErrors.push(`burst ${b}: no figures in the guest's output`); continue; }
    const elapsedMs = (Number(g[2]) - Number(g[1])) * 1000;
    const cpuNs = ((Number(g[4]) - Number(g[3])) / Number(g[5])) * 1e9;
    const tapFrames = Number(h[1]);
    const ns = tapFrames > 0 ? cpuNs / tapFrames : 0;
    dpdkResults.push({ batch: b, mpps: tapFrames / (elapsedMs / 1000) / 1e6, tapFrames, elapsedMs, cpuNs, nsPerPacket: ns, cyclesPerPacket: ns * ghz });
  }
  let dpdk: DpdkSummary | { error: string };
  if (dpdkResults.length) {
    const bd = dpdkResults.reduce((a, b) => (b.mpps > a.mpps ? b : a));
    dpdk = { mpps: bd.mpps, cyclesPerPacket: bd.cyclesPerPacket, batch: bd.batch, results: dpdkResults, ...(dpdkErrors.length ? { errors: dpdkErrors } : {}) };
    log('dpdk-testpmd (io fwd, virtio PMD, uio_pci_generic): burst  Mpps@tap1  ns/pkt  cycles/pkt');
    for (const x of dpdkResults) log(`${String(x.batch).padStart(5)}  ${x.mpps.toFixed(4).padStart(9)}  ${x.nsPerPacket.toFixed(0).padStart(6)}  ${x.cyclesPerPacket.toFixed(0).padStart(10)}`);
  } else {
    dpdk = { error: dpdkError ?? dpdkErrors[0] ?? 'no dpdk figures' };
    log(`dpdk: ${dpdk.error}`);
  }
  const ratioToDpdk = 'mpps' in dpdk && dpdk.mpps > 0 ? best.mpps / dpdk.mpps : null;
  const same = 'mpps' in dpdk ? results.find((x) => x.batch === dpdk.batch) : undefined;
  const ratioToDpdkSameBatch = same && 'mpps' in dpdk && dpdk.mpps > 0 ? same.mpps / dpdk.mpps : null;
  const out = {
    bench: 'fwd-vm', transport, accel, mpps: best.mpps, cyclesPerPacket: best.cyclesPerPacket, batch: best.batch,
    hostGHz: ghz, cyclesBasis: 'forwarding thread CPU time per packet x host nominal clock (under TCG: emulated time)',
    secondsPerBatch: seconds, generator: 'ixy pktgen packet:tap0 in the host namespace of NIC A (60-byte frames, as fast as it can)',
    wallSeconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), results,
    dpdk, ratioToDpdk, ratioToDpdkSameBatch,
    ratioBasis: 'best ixy Mpps / best dpdk-testpmd Mpps (both at tap1, same guest, same generator); SameBatch: ixy at the batch of the best testpmd burst',
    dpdkMethod: 'dpdk-testpmd -l 0-1 -n 1 -d librte_net_virtio.so -d librte_mempool_ring.so -a A -a B -- --forward-mode=io --auto-start ' +
      '--stats-period 1 --burst=<b> --total-num-mbufs=8192, NICs on uio_pci_generic; Mpps = tap1 frames over S s (guest /proc/uptime) ' +
      'after forwarding started; cyclesPerPacket = testpmd utime+stime (all threads: the polling lcore and the stats loop) / those frames x host clock; SIGINT at the end',
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(JSON_PATH, JSON.stringify(out, null, 2) + '\n');
  log(`written ${path.relative(process.cwd(), JSON_PATH)}; accel=${accel}; best ${best.mpps.toFixed(4)} Mpps at batch ${best.batch}`);
  console.log(JSON.stringify(out));
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { process.stderr.write(`fwd-vm: ${e instanceof Error ? e.message : String(e)}\n`); process.exitCode = 1; });
