/**
 * Shared by the guest tests that run `node dist/vm/run.js` (the `npm run vm` harness): run it, list its namespaces,
 * turn its exit 77 into a test skip with the harness's reason.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const RUN = fileURLToPath(new URL('../../vm/run.js', import.meta.url));

export const hasCommands = (...names: string[]): boolean =>
  spawnSync('sh', ['-c', names.map((n) => `command -v ${n} >/dev/null`).join(' && ')], { encoding: 'utf8' }).status === 0;

/** Why a guest test cannot run on this host (qemu, root, the host tools it names), or false. */
export function guestSkipReason(tools: string[] = [], toolsWhy = ''): string | false {
  if (!hasCommands('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (see .ci/vm-packages)';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (tools.length > 0 && !hasCommands(...tools)) return toolsWhy || `needs ${tools.join(', ')} on the host`;
  return false;
}

/** The harness's namespaces (ixyvm-<pid> and ixyvm-<pid>-<i>) still present. */
export const netnsList = (): string[] =>
  (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('ixyvm-'));

export interface VmResult { code: number | null; stdout: string; stderr: string; pid: number }

/** Runs the harness with args, extra environment for it (and its host script); SIGINT and rejects after timeoutMs. */
export function vm(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 280_000): Promise<VmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`vm timed out; stdout:\n${stdout}\nstderr:\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, pid: child.pid! }); });
  });
}

/** Exit 77: skip the test with the harness's one "vm: skipped:" line (which must be there). Returns true if skipped. */
export function skippedByHarness(r: VmResult, t: TestContext): boolean {
  if (r.code !== 77) return false;
  const line = r.stderr.split('\n').find((l) => l.startsWith('vm: skipped:'));
  assert.ok(line, `exit 77 without a "vm: skipped:" line: ${r.stderr}`);
  t.skip(line);
  return true;
}

/** This run's namespaces that are still there (the harness must have removed them all). */
export const leftNamespaces = (r: VmResult): string[] => netnsList().filter((n) => n === `ixyvm-${r.pid}` || n.startsWith(`ixyvm-${r.pid}-`));

/** Guest shell: the PCI addresses of the virtio-net NICs (legacy 0x1000 or modern 0x1041), one a line, in $NICS. */
export const GUEST_NICS = `NICS=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = 0x1af4 ] && case $(cat $d/device) in 0x1000|0x1041) echo \${d##*/};; esac; done)`;

/** Host side of the fwd tests, run by the harness once the guest printed vm-ready (env from the harness: IXY_VM_NS0/1, IXY_VM_ADDR1; FWD_PINGS, FWD_INTERVAL, FWD_DATA from the test): pings, then nc with sha256. */
export const FWD_HOST_SCRIPT = `set -e
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
ip netns exec "$IXY_VM_NS0" ping -c "$FWD_PINGS" -i "$FWD_INTERVAL" -W 2 -q "$IXY_VM_ADDR1" | grep -E 'transmitted|rtt' || true
t1=$(ms); echo "PING_MS $((t1 - t0))"
out=$(mktemp)
ip netns exec "$IXY_VM_NS1" sh -c "nc -l 5201 | sha256sum > $out" &
n=0; until ip netns exec "$IXY_VM_NS1" ss -ltnH | grep -q ':5201'; do n=$((n + 1)); [ $n -lt 100 ] || exit 9; sleep 0.1; done
t2=$(ms)
ip netns exec "$IXY_VM_NS0" nc -N -w 30 "$IXY_VM_ADDR1" 5201 < "$FWD_DATA"
wait
t3=$(ms)
echo "SHA256 $(cut -d' ' -f1 "$out") NC_MS $((t3 - t2))"
rm -f "$out"
`;
