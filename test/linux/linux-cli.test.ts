/**
 * The CLI with Linux-interface devices: clear one-line errors, and nothing left behind (XDP program, promiscuous
 * flag, tap interface) however the program ends — SIGINT, SIGTERM, or an error while opening the second device.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { canUseNetns, Netlab } from '../../lab/netns.js';

const CLI = path.resolve('dist/src/cli/main.js');

function linkInfo(lab: Netlab, ns: string, ifname: string): { xdp?: unknown; flags: string[] } {
  return (JSON.parse(lab.ipIn(ns, ['-j', '-d', 'link', 'show', 'dev', ifname])) as Array<{ xdp?: unknown; flags: string[] }>)[0];
}

async function untilOutput(text: () => string, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(text())) {
    if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms: ${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('CLI on Linux interfaces', { skip: canUseNetns() ? false : 'needs root (network namespaces)' }, () => {
  test('a missing interface is a one-line error, exit 1', { timeout: 30_000 }, async () => {
    const lab = new Netlab();
    try {
      const ns = lab.ns('e');
      for (const spec of ['xdp:nosuch0', 'packet:nosuch0']) {
        const r = await lab.run(ns, ['node', CLI, 'fwd', spec, 'packet:lo', '--seconds', '1']);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /^ixy: .*no interface 'nosuch0'.*ip link/);
      }
    } finally {
      await lab.cleanup();
    }
  });

  test('bad xdp spec options are rejected with the accepted values', { timeout: 30_000 }, async () => {
    const lab = new Netlab();
    try {
      const ns = lab.ns('e');
      const r = await lab.run(ns, ['node', CLI, 'pktgen', 'xdp:lo,mode=turbo', '--count', '1']);
      assert.equal(r.code, 2, 'a malformed spec is a usage error');
      assert.match(r.stderr.trim(), /^ixy: .*mode.*native.*generic/);
    } finally {
      await lab.cleanup();
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`fwd over xdp stops on ${signal}: totals printed, program detached, promiscuous mode restored`, { timeout: 60_000 }, async () => {
      const lab = new Netlab();
      try {
        const A = lab.ns('a');
        const M = lab.ns('m');
        const v1 = lab.veth({ ns: A, name: 'a' }, { ns: M, name: 'm1' });
        const v2 = lab.veth({ ns: A, name: 'b' }, { ns: M, name: 'm2' });
        const fwd = lab.spawn(M, ['node', CLI, 'fwd', `xdp:${v1.b}`, `xdp:${v2.b}`]);
        let out = '';
        fwd.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
        fwd.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
        await untilOutput(() => out, /\[xdp:/, 20_000);
        assert.ok(linkInfo(lab, M, v1.b).xdp, 'program attached while running');
        assert.ok(linkInfo(lab, M, v1.b).flags.includes('PROMISC'), 'promiscuous while running');
        const code = await new Promise<number | null>((r) => { fwd.once('exit', r); fwd.kill(signal); });
        assert.equal(code, 0, out);
        assert.match(out, /totals after .* \(stopped by signal\)/);
        assert.match(out, /buffers leaked 0/);
        for (const i of [v1.b, v2.b]) {
          const info = linkInfo(lab, M, i);
          assert.equal(info.xdp, undefined, `no XDP program left on ${i}`);
          assert.ok(!info.flags.includes('PROMISC'), `promiscuous mode restored on ${i}`);
        }
      } finally {
        await lab.cleanup();
      }
    });
  }

  test('when the second device fails to open, the first is undone (no program left)', { timeout: 30_000 }, async () => {
    const lab = new Netlab();
    try {
      const A = lab.ns('a');
      const M = lab.ns('m');
      const v = lab.veth({ ns: A, name: 'a' }, { ns: M, name: 'm' });
      lab.ipIn(M, ['link', 'set', 'lo', 'mtu', '9000']);
      const r = await lab.run(M, ['node', CLI, 'fwd', `xdp:${v.b}`, 'xdp:lo', '--seconds', '1']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(linkInfo(lab, M, v.b).xdp, undefined, 'program of the first device detached');
    } finally {
      await lab.cleanup();
    }
  });

  test('the tap interface fwd created is gone after SIGTERM', { timeout: 30_000 }, async () => {
    const lab = new Netlab();
    try {
      const M = lab.ns('m');
      const t1 = lab.ifname('t1');
      const t2 = lab.ifname('t2');
      const fwd = lab.spawn(M, ['node', CLI, 'fwd', `tap:${t1}`, `tap:${t2}`]);
      let out = '';
      fwd.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      await untilOutput(() => out, /\[tap:/, 20_000);
      assert.match(lab.ipIn(M, ['-o', 'link']), new RegExp(t1));
      const code = await new Promise<number | null>((r) => { fwd.once('exit', r); fwd.kill('SIGTERM'); });
      assert.equal(code, 0);
      assert.doesNotMatch(lab.ipIn(M, ['-o', 'link']), new RegExp(`${t1}|${t2}`));
    } finally {
      await lab.cleanup();
    }
  });
});
