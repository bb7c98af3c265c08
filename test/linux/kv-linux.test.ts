/**
 * `ixy kv` against memcached and its clients, through Linux:
 *
 *   ns P: Linux 10.110.0.1, memcached 1.6 on 127.0.0.1:11311 (-t 1 -U 0), the clients --veth-- ns S: ixy kv on xdp: 10.110.0.2:11211
 *
 * (a) the same scripted session (every command, every error reply, pipelined steps, a 300 KB value, the item size
 *     limit) and 2000 random and mutated commands from a fixed seed, sent to both servers step by step: the same
 *     bytes back (VERSION strings and the values of full `stats` listings masked);
 * (b) libmemcached's `memccapable -a` (its ASCII tests) passes against ixy kv; its binary-protocol tests are run too
 *     and reported (they fail until the binary protocol exists);
 * (c) the npm `memcached` client (text protocol) gets the same results from both: set/get/getMulti/delete/incr/
 *     decr/gets+cas/touch/add/replace/append/prepend and expiry;
 * (d) `memccp` then `memccat` round-trip a 600 KB file with the same sha256;
 * then ixy kv stops (SIGTERM) with exit 0, its --json summary counts the connections, and no buffer leaked.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import {
  directTopology, makeDataFile, missingTools, sha256File, SCRIPT_ENV, startStack, type StackProc, tempDir, type Topology,
  waitListening, waitReachable,
} from '../helpers/stack-netns.js';

const KV_PEER = fileURLToPath(new URL('../netns-scripts/kv-peer.js', import.meta.url));
const TOOLS = ['memcached', 'memccapable', 'memccp', 'memccat', 'ethtool', 'ping', 'ss'];
const missing = canUseNetns() ? missingTools(TOOLS) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')} (apt-get install memcached libmemcached-tools)` : false;
const MC_PORT = 11311;

describe('ixy kv ↔ memcached and its clients (xdp)', { skip }, () => {
  let lab: Netlab;
  let t: Topology;
  let kv: StackProc;
  let dir = '';
  const ixy = (): string => `${t.stackIp}:11211`;

  before(async () => {
    dir = tempDir('kv-linux');
    lab = new Netlab();
    t = directTopology(lab, 'xdp', 110);
    kv = await startStack(t, ['kv', '--json']);
    await waitReachable(t, kv);
    lab.spawn(t.peer, ['memcached', '-p', String(MC_PORT), '-U', '0', '-t', '1', '-m', '64', '-l', '127.0.0.1', '-u', 'root']);
    await waitListening(lab, t.peer, MC_PORT);
  });
  after(async () => {
    await lab?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const peer = async <T>(args: string[], timeoutMs: number): Promise<T> => {
    const r = await lab.run(t.peer, ['node', KV_PEER, ...args], { env: SCRIPT_ENV, timeoutMs });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    try { return JSON.parse(last) as T; } catch { throw new Error(`kv-peer ${args[0]}: no JSON (exit ${r.code})\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}\n${kv.log()}`); }
  };

  test('(a) a scripted session and 2000 random commands: the same replies as memcached, byte for byte', { timeout: 240_000 }, async (tc) => {
    const r = await peer<{ steps: number; mismatches: unknown[]; closes: number; error?: string }>(
      ['session', t.stackIp, '11211', '127.0.0.1', String(MC_PORT), '20250101', '2000'], 220_000);
    assert.equal(r.error, undefined, r.error);
    tc.diagnostic(`${r.steps} steps, ${r.closes} closed connections (both servers closed them)`);
    assert.deepEqual(r.mismatches, [], JSON.stringify(r.mismatches, null, 1));
    assert.ok(r.closes >= 3, `quit, an HTTP request line: the connection closed (${r.closes})`);
    assert.ok(r.steps > 2150);
  });

  test('(c) the npm memcached client gets the same results from both servers', { timeout: 60_000 }, async (tc) => {
    const r = await peer<{ ixy: unknown[]; memcached: unknown[]; error?: string }>(['client', t.stackIp, '11211', '127.0.0.1', String(MC_PORT)], 50_000);
    assert.equal(r.error, undefined, r.error);
    tc.diagnostic(`${r.ixy.length} operations`);
    assert.deepEqual(r.ixy, r.memcached);
    assert.ok(r.ixy.length >= 35);
  });

  test('(d) memccp then memccat: a 600 KB file comes back with the same sha256', { timeout: 60_000 }, async () => {
    const data = makeDataFile(dir, 600_000);
    const cp = await lab.run(t.peer, ['memccp', `--servers=${ixy()}`, data.path], { timeoutMs: 30_000 });
    assert.equal(cp.code, 0, cp.stdout + cp.stderr);
    const out = path.join(dir, 'back.bin');
    const cat = await lab.run(t.peer, ['memccat', `--servers=${ixy()}`, `--file=${out}`, path.basename(data.path)], { timeoutMs: 30_000 });
    assert.equal(cat.code, 0, cat.stdout + cat.stderr);
    assert.equal(sha256File(out), data.sha256);
  });

  test('(b) memccapable -a: every ASCII test passes; the binary ones are reported', { timeout: 240_000 }, async (tc) => {
    // "ascii set noreply<padding>[pass]", or the name, an error line ("Errno: 110 Connection timed out"), "[FAIL]"
    const results = (out: string): { name: string; ok: boolean }[] => [...out.matchAll(/^(ascii|binary) ([a-z]+(?: [a-z]+)*) +(?:[^\n[]*\n)?\[(pass|FAIL|skip)\]/gm)]
      .map((m) => ({ name: `${m[1]} ${m[2]}`, ok: m[3] === 'pass' }));
    // stdout and stderr in one pipe: the error lines between a test's name and its verdict stay in place
    const capable = (args: string, timeoutMs: number): ReturnType<Netlab['run']> => lab.run(t.peer, ['sh', '-c', `memccapable ${args} 2>&1`], { timeoutMs });
    const ascii = await capable(`-h ${t.stackIp} -p 11211 -a -t 2`, 120_000);
    const a = results(ascii.stdout + ascii.stderr);
    tc.diagnostic(`memccapable -a: ${a.filter((x) => x.ok).length} of ${a.length} passed`);
    assert.ok(a.length >= 27, ascii.stdout + ascii.stderr);
    assert.deepEqual(a.filter((x) => !x.ok), [], ascii.stdout + ascii.stderr);
    assert.equal(ascii.code, 0, ascii.stdout + ascii.stderr);
    const ref = await capable(`-h 127.0.0.1 -p ${MC_PORT} -a`, 60_000);
    assert.equal(results(ref.stdout + ref.stderr).length, a.length, 'the same tests as against memcached');
    const bin = await capable(`-h ${t.stackIp} -p 11211 -b -t 1`, 200_000);
    const b = results(bin.stdout + bin.stderr);
    tc.diagnostic(`memccapable -b (binary protocol, not implemented): ${b.filter((x) => x.ok).length} of ${b.length} passed; failing: ${b.filter((x) => !x.ok).map((x) => x.name).join(', ')}`);
    assert.ok(b.length >= 20, `memccapable -b ran its binary tests: ${bin.stdout.slice(0, 500)}`);
    assert.ok(kv.running, 'binary requests (no newline, closed after 2048 bytes) did not harm the server');
  });

  test('ixy kv stops with exit 0: live NDJSON figures, a summary with its counters, no leaked buffer', { timeout: 30_000 }, async () => {
    assert.ok(kv.running, kv.log());
    const code = await kv.stop();
    assert.equal(code, 0, kv.log());
    const s = kv.json();
    assert.equal(s.type, 'summary');
    assert.equal(s.leakedBuffers, 0, kv.log());
    assert.ok(s.connections >= 4, `connections ${s.connections}`);
    assert.ok(s.get > 0 && s.set > 0 && s.hits > 0, JSON.stringify(s));
    const live = kv.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.type === 'stats');
    assert.ok(live.length >= 1 && typeof live[0].opsPerSec === 'number' && typeof live[0].items === 'number', kv.stdout.slice(0, 500));
  });
});
