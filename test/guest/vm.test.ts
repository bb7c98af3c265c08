/**
 * The QEMU guest harness (vm/run.ts, `npm run vm`): boots a Debian kernel under TCG (or KVM where it works),
 * runs a command in the project root inside, propagates its exit status, and gives the guest virtio-net NICs
 * backed by TAPs in a host namespace that is gone afterwards. Skipped, with the harness's reason, where QEMU
 * cannot run (exit 77).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../vm/run.js', import.meta.url));
const SKIP_CODE = 77;
const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).status === 0;
const skip = hasQemu ? false : 'qemu-system-x86_64 is not installed (see .ci/vm-packages)';
const isRoot = process.getuid?.() === 0;

interface Ran { code: number | null; stdout: string; stderr: string; namespaces: string[] }

const netnsList = (): string[] =>
  (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('ixyvm-'));

/** Runs the harness; while it runs, records the ixyvm-* namespaces that exist. */
function vm(args: string[], timeoutMs = 240_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const namespaces = new Set<string>();
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const poll = setInterval(() => { for (const n of netnsList()) namespaces.add(n); }, 250);
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`vm ${args.join(' ')} timed out; stderr:\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, namespaces: [...namespaces] });
    });
  });
}

/** A harness exit of 77 is a skip, reported with its one-line reason: never a silent pass. */
function skippedBy(t: TestContext, r: Ran): boolean {
  if (r.code !== SKIP_CODE) return false;
  const line = r.stderr.split('\n').find((l) => l.startsWith('vm: skipped:'));
  assert.ok(line, `exit ${SKIP_CODE} without a "vm: skipped:" line: ${r.stderr}`);
  t.skip(line);
  return true;
}

function pciDevices(stdout: string): { addr: string; vendor: string; device: string }[] {
  return stdout.split('\n').map((l) => /^PCI (\S+) (0x[0-9a-f]+) (0x[0-9a-f]+)$/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ addr: m[1]!, vendor: m[2]!, device: m[3]! }));
}

const LIST_PCI = 'for d in /sys/bus/pci/devices/*; do echo "PCI ${d##*/} $(cat $d/vendor) $(cat $d/device)"; done';

describe('npm run vm (QEMU guest harness)', { timeout: 600_000 }, () => {
  test('--help documents the options; a bad option is a one-line error, no guest booted', { skip }, async () => {
    const h = await vm(['--help']);
    assert.equal(h.code, 0);
    for (const opt of ['--nics', '--virtio', '--iommu', '--accel', '77']) assert.ok(h.stdout.includes(opt), opt);
    const bad = await vm(['--virtio', 'bogus', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^vm: error: --virtio must be legacy, modern or transitional, got bogus\n$/);
  });

  test('echo prints inside the guest, in the project root, and the exit status propagates (false -> 1)', { skip }, async (t) => {
    const r = await vm(['echo "hello from $(uname -s) in $(pwd)"; echo to-stderr >&2; node -e "process.exitCode = 0"; false']);
    if (skippedBy(t, r)) return;
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, `hello from Linux in ${fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '')}\n`);
    assert.match(r.stderr, /^to-stderr$/m);
    assert.match(r.stderr, /^vm: accel=(tcg|kvm) /m);
    const argv = await vm(['sh', '-c', 'exit 7']);
    assert.equal(argv.code, 7);
  });

  for (const [variant, device] of [['legacy', '0x1000'], ['modern', '0x1041']] as const) {
    test(`--nics 2 --virtio ${variant}: the guest sees two virtio-net devices ${device}; the namespace is gone afterwards`,
      { skip: skip || (isRoot ? false : 'needs root (network namespace, TAP devices)') }, async (t) => {
        const before = netnsList();
        const r = await vm(['--nics', '2', '--virtio', variant, LIST_PCI]);
        if (skippedBy(t, r)) return;
        assert.equal(r.code, 0, r.stderr);
        const nics = pciDevices(r.stdout).filter((d) => d.vendor === '0x1af4' && (d.device === '0x1000' || d.device === '0x1041'));
        assert.equal(nics.length, 2, r.stdout);
        for (const n of nics) assert.equal(n.device, device);
        assert.ok(r.namespaces.some((n) => !before.includes(n)), 'a namespace existed while the guest ran');
        assert.deepEqual(netnsList().filter((n) => !before.includes(n)), [], 'namespace removed');
        assert.match(r.stderr, new RegExp(`^vm: accel=\\w+ virtio=${variant} nics=2 `, 'm'));
      });
  }
});
