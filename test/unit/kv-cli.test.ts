/**
 * `ixy kv`'s command line without a device: help, and every usage mistake is one line on stderr with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseItemSize } from '../../src/cli/kv-command.js';

const CLI = path.resolve('dist/src/cli/main.js');
const ixy = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('ixy kv --help lists the memcached options with their one-letter aliases', () => {
  const r = ixy('kv', '--help');
  assert.equal(r.code, 0);
  for (const o of ['--memory-limit <n>', '(also -m)', '--max-item-size', '(also -I)', '--conn-limit', '(also -c)', '--port <n>', '(default 11211)']) assert.ok(r.out.includes(o), o);
  assert.ok(ixy('--help').out.includes('kv '));
});

test('usage mistakes: one line, exit 2', () => {
  const base = ['kv', '--dev', 'xdp:nosuchif0', '--ip', '10.0.0.2/24'];
  const cases: [string[], RegExp][] = [
    [['kv', '--ip', '10.0.0.2/24'], /--dev is required/],
    [['kv', '--dev', 'xdp:nosuchif0'], /--ip is required/],
    [[...base, '-I', '3x'], /-I '3x' is not a size/],
    [[...base, '-I', '512'], /below the smallest item size limit/],
    [[...base, '-I', '8m', '-m', '4'], /larger than the memory limit -m 4/],
    [[...base, '-m', '0'], /--memory-limit must be an integer in 1\.\.4096/],
    [[...base, '-c', 'many'], /--conn-limit must be an integer/],
    [[...base, '--threads', '2'], /unknown option '--threads' for 'kv'/],
    [[...base, '--port', '0'], /--port must be an integer in 1\.\.65535/],
  ];
  for (const [args, re] of cases) {
    const r = ixy(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});

test('-I takes memcached\'s sizes', () => {
  assert.equal(parseItemSize('1m'), 1 << 20);
  assert.equal(parseItemSize('512k'), 512 << 10);
  assert.equal(parseItemSize('2M'), 2 << 20);
  assert.equal(parseItemSize('4096'), 4096);
});
