import { test } from 'node:test';
import * as fs from 'node:fs';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { threadCpuNs, processCpuNs, cpuMhz, pinThisThread } from '../../src/sys/cpu.js';

const MS = 1e6;

test('threadCpuNs counts a 50 ms busy spin', () => {
  const c0 = threadCpuNs();
  const end = performance.now() + 50;
  let x = 0;
  while (performance.now() < end) x++;
  const used = threadCpuNs() - c0;
  assert.ok(x > 0);
  assert.ok(used > 20 * MS && used < 500 * MS, `spin used ${used / MS} ms of thread CPU time`);
});

test('threadCpuNs does not advance while the thread sleeps 100 ms', async () => {
  const c0 = threadCpuNs();
  const w0 = performance.now();
  await sleep(100);
  const wall = performance.now() - w0;
  const used = threadCpuNs() - c0;
  assert.ok(wall >= 95, `slept only ${wall} ms`);
  assert.ok(used >= 0 && used < 20 * MS, `sleep used ${used / MS} ms of thread CPU time`);
});

test('threadCpuNs ignores another thread spinning; processCpuNs counts it', async () => {
  const t0 = threadCpuNs();
  const p0 = processCpuNs();
  const w = new Worker('const end = Date.now() + 150; while (Date.now() < end);', { eval: true });
  await new Promise((resolve, reject) => { w.once('exit', resolve); w.once('error', reject); });
  const thread = threadCpuNs() - t0;
  const proc = processCpuNs() - p0;
  assert.ok(proc > 100 * MS, `process used ${proc / MS} ms while a worker spun 150 ms`);
  assert.ok(thread < proc - 80 * MS, `this thread used ${thread / MS} ms of the process's ${proc / MS} ms`);
});

test('processCpuNs covers at least this thread', () => {
  const t = threadCpuNs();
  assert.ok(Number.isFinite(t) && t > 0);
  assert.ok(processCpuNs() >= t);
});

test('cpuMhz reports a clock rate', () => {
  const mhz = cpuMhz();
  assert.ok(mhz > 0 && mhz < 10_000, `cpuMhz() = ${mhz}`);
});

test('pinThisThread accepts CPU 0 and refuses CPUs that cannot exist', () => {
  assert.equal(pinThisThread(-1), false);
  assert.equal(pinThisThread(1024), false);
  if (availableParallelism() < 1024) assert.equal(pinThisThread(1023), false); // EINVAL: no such CPU here
  assert.equal(pinThisThread(0), true);
});

test('setThisThreadNice changes only the calling thread (a worker), and rejects out-of-range values', async () => {
  const { setThisThreadNice } = await import('../../src/sys/cpu.js');
  assert.equal(setThisThreadNice(20), false);
  assert.equal(setThisThreadNice(-21), false);
  const url = new URL('../../src/sys/cpu.js', import.meta.url).href;
  const w = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    import(${JSON.stringify(url)}).then(({ setThisThreadNice }) => {
      const ok = setThisThreadNice(7);
      const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
      parentPort.postMessage({ ok, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });
    });`, { eval: true });
  const m = await new Promise<{ ok: boolean; nice: number }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
  assert.deepEqual(m, { ok: true, nice: 7 });
  const mine = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  assert.notEqual(Number(mine.slice(mine.lastIndexOf(')') + 2).split(' ')[16]), 7, 'the main thread kept its nice value');
});
