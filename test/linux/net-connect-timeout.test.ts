/**
 * `connect({ timeout })` to an address nobody answers (no ARP reply on the link), node:net against ixy.ts/net: the
 * same events — 'timeout' while still connecting, then 'close' after the app destroys the socket — at the timeout.
 * Node's side runs in the peer namespace on the kernel's TCP, ixy.ts/net's in the stack's namespace on xdp:.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import { directTopology, SCRIPT_ENV } from '../helpers/stack-netns.js';

const SCRIPT = fileURLToPath(new URL('../netns-scripts/net-connect-timeout.js', import.meta.url));
const skip = canUseNetns() ? false : 'needs root (network namespaces)';

test("connect timeout: 'timeout' while connecting, then close(false) after destroy(), as node:net", { skip, timeout: 60_000 }, async () => {
  const lab = new Netlab();
  try {
    const t = directTopology(lab, 'xdp', 77);
    const nobody = '10.77.0.99';
    const node = await lab.run(t.peer, [process.execPath, SCRIPT, 'node', nobody, '300'], { env: SCRIPT_ENV, timeoutMs: 20_000 });
    const ixy = await lab.run(t.stackNs, [process.execPath, SCRIPT, 'ixy', nobody, '300', t.dev, t.stackCidr], { env: SCRIPT_ENV, timeoutMs: 20_000 });
    const want = JSON.parse(node.stdout) as { log: string[]; afterMs: number };
    const got = JSON.parse(ixy.stdout) as { log: string[]; afterMs: number };
    assert.deepEqual(want.log, ['timeout connecting opening', 'close false'], node.stdout + node.stderr);
    assert.deepEqual(got.log, want.log, ixy.stdout + ixy.stderr);
    assert.ok(got.afterMs >= 290 && got.afterMs < 2000, `ixy.ts/net: closed ${got.afterMs} ms after connect`);
  } finally {
    await lab.cleanup();
  }
});
