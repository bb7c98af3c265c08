/**
 * `ixy.ts/net`'s ref/unref: the stack's loop keeps Node's process alive while a server or socket of it is ref'd, as a
 * `node:net` handle does, and lets it end once all of them are unref'd (the TAP device goes with the process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import { SCRIPT_ENV, sleep } from '../helpers/stack-netns.js';

const SCRIPT = fileURLToPath(new URL('../netns-scripts/net-unref.js', import.meta.url));
const skip = canUseNetns() ? false : 'needs root (network namespaces, TAP)';

test("a listening server keeps the process alive; after server.unref() it ends by itself, exit code 0", { skip, timeout: 30_000 }, async () => {
  const lab = new Netlab();
  try {
    const ns = lab.ns('u');
    const tap = lab.ifname('t');
    const unref = lab.spawn(ns, [process.execPath, SCRIPT, tap, '10.97.0.2/24', 'unref'], SCRIPT_ENV);
    let out = '';
    unref.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => { const t = setTimeout(() => { unref.kill('SIGKILL'); r(null); }, 10_000); unref.on('close', (c) => { clearTimeout(t); r(c); }); });
    assert.equal(code, 0, `the unref'd server's process did not end by itself: ${out}`);
    assert.match(out, /^listening\nexit\n$/);
    assert.throws(() => execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', tap], { stdio: 'pipe' }), 'the TAP device went with the process');

    const held = lab.spawn(ns, [process.execPath, SCRIPT, tap, '10.97.0.2/24', 'ref'], SCRIPT_ENV);
    let heldOut = '';
    held.stdout!.on('data', (d: Buffer) => { heldOut += d.toString(); });
    await sleep(2500);
    assert.equal(held.exitCode, null, `a ref'd server's process ended: ${heldOut}`);
    assert.match(heldOut, /^listening\n$/);
    held.kill('SIGTERM');
  } finally {
    await lab.cleanup();
  }
});
