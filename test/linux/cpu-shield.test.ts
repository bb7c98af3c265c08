import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// lab/cpu-shield.ts changes system-wide state for a measurement (thread and IRQ affinities, the unbound workqueue
// mask, RT throttling); these tests check that it all comes back, also after a run that died half-way.

const skip = process.getuid?.() === 0 && os.cpus().length >= 2 ? false : 'needs root and two CPUs';
const HOST_STALLS = fileURLToPath(new URL('../../bench/host-stalls.js', import.meta.url));
const SHIELD = new URL('../../lab/cpu-shield.js', import.meta.url).href;
const RT = '/proc/sys/kernel/sched_rt_runtime_us';
const STATE = '/run/ixy-cpu-shield.json';

interface SystemState { rt: string; pid1: string; self: string; irqs: string[]; wq: string | null }

function allowed(pid: number | string): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
}

function systemState(): SystemState {
  const irqs = fs.readdirSync('/proc/irq').filter((d) => /^\d+$/.test(d)).sort()
    .map((d) => { try { return `${d}:${fs.readFileSync(`/proc/irq/${d}/smp_affinity_list`, 'utf8').trim()}`; } catch { return `${d}:-`; } });
  let wq: string | null = null;
  try { wq = fs.readFileSync('/sys/devices/virtual/workqueue/cpumask', 'utf8').trim(); } catch { /* absent */ }
  return { rt: fs.readFileSync(RT, 'utf8').trim(), pid1: allowed(1), self: allowed(process.pid), irqs, wq };
}

test('host-stalls --isolate shields the last CPU while it runs and restores every setting afterwards', { skip }, () => {
  const before = systemState();
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ixy-shield-')), 'stalls.json');
  const r = spawnSync(process.execPath, [HOST_STALLS, '--seconds', '1', '--isolate', '--out', out], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { isolated: number; stalls: Array<{ cpu: number; guestPreemptions: number }> };
  assert.equal(doc.isolated, os.cpus().length - 1);
  assert.equal(doc.stalls.length, os.cpus().length);
  assert.deepEqual(systemState(), before);
  assert.equal(fs.existsSync(STATE), false);
});

test('a shield left by a run that died is undone by the next one', { skip }, () => {
  const before = systemState();
  // a child that shields CPU 1 and then aborts: no exit handlers run, the system stays shielded
  const crash = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import(${JSON.stringify(SHIELD)}).then((m) => { m.shieldCpu(1, [0]); process.abort(); });`], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(crash.status, 0);
  assert.equal(fs.readFileSync(RT, 'utf8').trim(), '-1', 'RT throttling was left off by the crashed run');
  assert.equal(allowed(1), '0', 'PID 1 was left on the housekeeping CPU');
  assert.ok(fs.existsSync(STATE));
  const undo = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import(${JSON.stringify(SHIELD)}).then((m) => console.log(m.undoStaleShield()));`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(undo.stdout.trim(), 'true', undo.stderr);
  assert.deepEqual(systemState(), before);
  assert.equal(fs.existsSync(STATE), false);
});

test('shieldCpu refuses without root, before it changes anything', { skip: process.getuid?.() === 0 ? false : 'needs root to drop it' }, () => {
  const before = systemState();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `process.setuid(65534); import(${JSON.stringify(SHIELD)}).then((m) => m.shieldCpu(1, [0]));`], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--isolate needs root/);
  assert.deepEqual(systemState(), before);
});
