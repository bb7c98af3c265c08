/**
 * Mistakes a new user makes on the command line, and what `ixy` must answer: one line `ixy: …` that names what is
 * wrong, no stack trace, exit 2 for a mistake in the command line itself and 1 for one found at run time. Also the
 * help's list of device kinds, the benchmarks' option errors, and `--json` as NDJSON for long-running commands.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns, Netlab } from '../../lab/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BENCH = fileURLToPath(new URL('../../bench/', import.meta.url));

function run(file: string, args: string[], timeout = 60000): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function assertOneLine(what: string, err: string, prefix: RegExp, pattern: RegExp): void {
  assert.doesNotMatch(err, /^ {4}at /m, `no stack trace for ${what}: ${err}`);
  const lines = err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line for ${what}: ${err}`);
  assert.match(lines[0], prefix, what);
  assert.match(lines[0], pattern, what);
}

const STACK = ['--dev', 'tap:ixynope0', '--ip', '10.88.0.2/24'];

/** [arguments, exit code, what the one line must say]. None of these opens a device. */
const MISTAKES: [string[], 1 | 2, RegExp][] = [
  // missing options
  [['echo', 'server', '--ip', '10.88.0.2/24'], 2, /--dev is required.*--dev xdp:veth0/],
  [['echo', 'server', '--dev', 'tap:ixynope0'], 2, /--ip is required.*--ip 10\.0\.0\.2\/24/],
  [['echo', 'client', ...STACK], 2, /echo client needs --connect A\.B\.C\.D/],
  [['pingpong', 'client', ...STACK], 2, /pingpong client needs --connect/],
  [['nc', ...STACK], 2, /nc needs exactly one of --listen PORT or --connect/],
  [['nc', ...STACK, '--listen', '9', '--connect', '10.88.0.1'], 2, /exactly one of --listen/],
  [['echo', 'serve', ...STACK], 2, /'serve' is not a mode of echo: use 'ixy echo server'/],
  [['pingpong', 'client', ...STACK, '--connect', '10.88.0.1', '--sizes', '1,x'], 2, /--sizes '1,x' must be integers/],
  [['echo', 'client', ...STACK, '--connect', '10.88.0.1', '--threads', '4', '--connections', '2'], 2, /--connections 2 is fewer than --threads 4/],
  // addresses
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '10.88.0.2'], 2, /'10\.88\.0\.2' has no prefix length: use A\.B\.C\.D\/N/],
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '10.88.0.300/24'], 2, /'10\.88\.0\.300' is not an IPv4 address/],
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '10.88.0.2/33'], 2, /bad prefix length: use \/0 to \/32/],
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '10.88.0.0/24'], 2, /--ip 10\.88\.0\.0\/24 is the network address of 10\.88\.0\.0\/24: use a host address, e\.g\. 10\.88\.0\.2\/24/],
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '10.88.0.255/24'], 2, /is the broadcast address of 10\.88\.0\.0\/24/],
  [['echo', 'server', '--dev', 'tap:ixynope0', '--ip', '224.0.0.1/24'], 2, /not a unicast host address/],
  [['echo', 'server', ...STACK, '--gateway', '10.99.0.1'], 2, /--gateway 10\.99\.0\.1 is not on the stack's network 10\.88\.0\.0\/24/],
  [['echo', 'server', ...STACK, '--gateway', 'router'], 2, /'router' is not an IPv4 gateway/],
  [['echo', 'server', ...STACK, '--mac', '02:00'], 2, /not a MAC address/],
  [['echo', 'client', ...STACK, '--connect', '10.88.0'], 2, /'10\.88\.0' is not an IPv4 server address/],
  // specs
  [['fwd', 'veth0', 'veth1'], 2, /'veth0' is not a device spec: for the Linux interface veth0 use xdp:veth0 \(AF_XDP\) or packet:veth0 \(AF_PACKET\)/],
  [['echo', 'server', '--dev', 'veth0', '--ip', '10.88.0.2/24'], 2, /use xdp:veth0 .* or packet:veth0/],
  [['pktgen', '0'], 2, /use sim:0 for port 0 of the simulated 82599/],
  [['fwd', '0000:03:00.0', 'sim:1'], 2, /a PCI device is taken with ixgbe:0000:03:00\.0 or virtio:0000:03:00\.0/],
  [['fwd', 'nic:0', 'sim:1'], 2, /unknown device kind 'nic'/],
  [['fwd', 'ixgbe:3:0.0', 'sim:1'], 2, /'3:0\.0' is not a PCI address: use DDDD:BB:DD\.F/],
  [['fwd', 'sim:x', 'sim:1', '--seconds', '1'], 2, /'sim:x' is not a simulated port: use sim:N/],
  [['fwd', 'impair:1,loss=200%/sim:0', 'sim:1', '--seconds', '1'], 2, /loss=200% is not a percentage/],
  [['fwd', 'impair:1/veth0', 'sim:1', '--seconds', '1'], 2, /'veth0' is not a device spec: for the Linux interface veth0 use xdp:veth0/],
  [['pktgen', 'xdp:ixynope0@x', '--seconds', '1'], 2, /'x' is not a queue number/],
  [['fwd', 'sim:0', 'sim:1', '--ring-size', '100'], 2, /--ring-size must be a power of two in 64\.\.4096, not '100'/],
  // the same device twice
  [['fwd', 'sim:0', 'sim:0'], 2, /sim:0 and sim:0 are both port 0 of the simulated 82599: name two different devices/],
  [['fwd', 'xdp:ixynope0', 'packet:ixynope0'], 2, /xdp:ixynope0 and packet:ixynope0 are both the interface ixynope0/],
  [['fwd', 'impair:7,loss=1%/xdp:ixynope0', 'xdp:ixynope0@1,mode=generic'], 2, /are both the interface ixynope0/],
  [['fwd', 'tap:ixynope0', 'packet:ixynope0'], 2, /are both the interface ixynope0/],
  // commands and numbers
  [['frobnicate'], 2, /unknown command 'frobnicate'/],
  [['devices', 'extra'], 2, /'devices' takes 0 argument\(s\), got 1/],
  [['echo', 'server', ...STACK, '--port', '70000'], 2, /--port must be an integer in 1\.\.65535, not '70000'/],
  [['pktgen', 'sim:0', '--rate', 'fast'], 2, /--rate must be a number/],
  // files: found at run time
  [['nc', ...STACK, '--listen', '9', '--out', '/proc/nope/x'], 1, /cannot write --out \/proc\/nope\/x: no such file or directory \(ENOENT\)/],
  [['nc', ...STACK, '--connect', '10.88.0.1', '--port', '9', '--in', '/nope/in.bin'], 1, /cannot read --in \/nope\/in\.bin: no such file or directory \(ENOENT\)/],
  [['nc', ...STACK, '--connect', '10.88.0.1', '--port', '9', '--in', os.tmpdir()], 1, /cannot read --in .*: illegal operation on a directory \(EISDIR\)/],
  [['pcap', 'sim:0', '/proc/nope/x.pcap', '--seconds', '1'], 1, /cannot write the pcap file \/proc\/nope\/x\.pcap: no such file or directory \(ENOENT\)/],
  [['pcap', 'sim:0', os.tmpdir(), '--seconds', '1'], 1, /cannot write the pcap file .*\(EISDIR\): name a file, not a directory/],
];

test('each mistake is one line without a stack trace, exit 2 for the command line, 1 at run time', () => {
  for (const [args, code, pattern] of MISTAKES) {
    const r = run(CLI, args);
    const what = `ixy ${args.join(' ')}`;
    assert.equal(r.code, code, `exit code of ${what}: ${r.err}`);
    assertOneLine(what, r.err, /^ixy: /, pattern);
  }
});

test('a bad pcap path is refused before the device is opened (nothing printed on stdout)', () => {
  const r = run(CLI, ['pcap', 'sim:0', '/proc/nope/x.pcap', '--seconds', '1']);
  assert.equal(r.out, '');
});

test('--help lists every device kind; fwd, pktgen and pcap --help too', () => {
  const kinds = ['sim:N', 'ixgbe:DDDD:BB:DD.F', 'virtio:DDDD:BB:DD.F', 'xdp:IF', 'packet:IFNAME', 'tap:NAME', 'impair:SEED'];
  for (const args of [['--help'], ['fwd', '--help'], ['pktgen', '--help'], ['pcap', '--help']]) {
    const r = run(CLI, args);
    assert.equal(r.code, 0);
    for (const k of kinds) assert.ok(r.out.includes(k), `ixy ${args.join(' ')} lists ${k}`);
  }
});

test('the benchmarks report a bad option in one line with exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['fwd-sim.js', ['--no-save'], /^fwd-sim: unknown option '--no-save' \(see --help\)$/],
    ['fwd-sim.js', ['--batch', 'x'], /^fwd-sim: --batch x is invalid/],
    ['fwd-sim.js', ['--seconds'], /^fwd-sim: --seconds needs a value/],
    ['fwd-linux.js', ['--seconds', '-3'], /^fwd-linux: --seconds needs a value; write a value starting with '-' as --seconds=VALUE$/],
    ['echo.js', ['--bogus'], /^echo: unknown option '--bogus'/],
    ['pingpong.js', ['extra'], /^pingpong: unexpected argument 'extra'/],
    ['fwd-vm.js', ['--transport', 'x'], /^fwd-vm: --transport must be legacy or modern/],
    ['host-stalls.js', ['--seconds', '0'], /^host-stalls: --seconds 0 is invalid/],
    ['stack-echo-client.js', [], /^stack-echo-client: --dev, --ip and --connect are required/],
    ['echo-net-server.js', ['--nope'], /^echo-net-server: unknown option '--nope'/],
    ['trace-gc-stack.js', ['--seconds', '0'], /^trace-gc-stack: --seconds must be a number ≥ 1/],
    ['trace-gc-xdp.js', ['--rate', '0'], /^trace-gc-xdp: --seconds and --rate must be positive numbers/],
  ];
  for (const [script, args, pattern] of cases) {
    const r = run(path.join(BENCH, script), args);
    const what = `${script} ${args.join(' ')}`;
    assert.equal(r.code, 2, `exit code of ${what}: ${r.err}`);
    assertOneLine(what, r.err, /^[a-z-]+: /, pattern);
  }
});

/**
 * `--json` output: every line one JSON object, `{"type":"stats","t":…}` once a second with `statsKeys` (between
 * `least` and `most` of them), then one `{"type":"summary",…}`; returns the stats objects.
 */
function assertNdjson(out: string, [least, most]: [number, number], statsKeys: string[]): Record<string, unknown>[] {
  const lines = out.trimEnd().split('\n');
  const objects = lines.map((l, i) => {
    try { return JSON.parse(l) as Record<string, unknown>; } catch { assert.fail(`line ${i + 1} is not JSON: ${l}`); }
  });
  const summary = objects.pop()!;
  assert.equal(summary.type, 'summary', 'the last line is the summary');
  assert.ok(objects.length >= least && objects.length <= most, `one stats object a second: ${objects.length}, expected ${least}..${most}`);
  let prevT: number | null = null;
  for (const o of objects) {
    assert.equal(o.type, 'stats');
    const t = o.t as number;
    assert.ok(prevT === null || (t - prevT > 0.5 && t - prevT < 2.5), `a second apart: ${prevT} → ${t}`);
    prevT = t;
    for (const k of statsKeys) assert.ok(k in o, `stats has ${k}: ${JSON.stringify(o)}`);
  }
  return objects;
}

test('fwd --json: a stats object a second with per-device rates, then the summary', () => {
  const r = run(CLI, ['fwd', 'sim:0', 'sim:1', '--seconds', '3', '--sim-rate', '0.2', '--json'], 90000);
  assert.equal(r.code, 0, r.err);
  const stats = assertNdjson(r.out, [2, 4], ['devices', 'work', 'dropped']);
  const devs = stats[stats.length - 1].devices as Record<string, unknown>[];
  assert.deepEqual(devs.map((d) => d.spec), ['sim:0', 'sim:1']);
  for (const k of ['rxMpps', 'rxMbits', 'txMpps', 'txMbits', 'rxPackets', 'txPackets', 'rxMissed']) assert.equal(typeof devs[0][k], 'number', k);
  assert.ok((devs[0].rxPackets as number) > 0, 'frames arrived');
  const summary = JSON.parse(r.out.trimEnd().split('\n').pop()!) as { work: number; leakedBuffers: number };
  assert.ok(summary.work > 0);
  assert.equal(summary.leakedBuffers, 0);
});

test('pktgen --json on a simulated port: stats a second, the summary with the sink', () => {
  const r = run(CLI, ['pktgen', 'sim:0', '--seconds', '3', '--rate', '0.1', '--json'], 90000);
  assert.equal(r.code, 0, r.err);
  assertNdjson(r.out, [2, 4], ['devices', 'work']);
  const summary = JSON.parse(r.out.trimEnd().split('\n').pop()!) as { sink: { unique: number } };
  assert.ok(summary.sink.unique > 0);
});

describe('--json of the stack commands', { skip: canUseNetns() ? false : 'needs root (network namespaces)' }, () => {
  test('echo server on a tap: stats a second (throughput, connections), then the summary', { timeout: 60_000 }, async () => {
    const lab = new Netlab();
    try {
      const ns = lab.ns('j');
      const r = await lab.run(ns, ['node', CLI, 'echo', 'server', '--dev', `tap:${lab.ifname('t')}`, '--ip', '10.88.0.2/24', '--seconds', '3', '--json'], { timeoutMs: 50_000 });
      assert.equal(r.code, 0, r.stderr);
      assertNdjson(r.stdout, [2, 4], ['mbPerSec', 'bytesEchoed', 'accepted', 'closed']);
      assert.equal(JSON.parse(r.stdout.trimEnd().split('\n').pop()!).mode, 'server');
    } finally {
      await lab.cleanup();
    }
  });

  test('echo server --threads 2 on a two-queue veth: stats a second with per-thread figures', { timeout: 60_000 }, async () => {
    const lab = new Netlab();
    try {
      const ns = lab.ns('k');
      const v = lab.veth({ ns, name: 's', queues: 2 }, { ns, name: 'p', queues: 2 });
      const r = await lab.run(ns, ['node', CLI, 'echo', 'server', '--threads', '2', '--dev', `xdp:${v.a}`, '--ip', '10.88.1.2/24', '--seconds', '4', '--json'], { timeoutMs: 50_000 });
      assert.equal(r.code, 0, r.stderr);
      const stats = assertNdjson(r.stdout, [2, 5], ['mbPerSec', 'connections', 'perThread']);
      assert.equal((stats[0].perThread as unknown[]).length, 2);
    } finally {
      await lab.cleanup();
    }
  });
});

test('an --out path through a file is one line too (ENOTDIR)', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-m-')), 'f');
  fs.writeFileSync(file, '');
  try {
    const r = run(CLI, ['nc', ...STACK, '--listen', '9', '--out', path.join(file, 'x')]);
    assert.equal(r.code, 1);
    assertOneLine('--out through a file', r.err, /^ixy: /, /cannot write --out .*\(ENOTDIR\): check the path: a part of it is not a directory/);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});
