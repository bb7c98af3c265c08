/**
 * The programs in examples/, compiled (dist/examples/*.js, importing 'ixy.ts' through the package's own exports map),
 * each run against Linux in network namespaces:
 *
 *   ns P: Linux 10.N.0.1 --veth (offloads off)-- ns S: the example on xdp:/packet: 10.N.0.2
 *
 * udp-echo: datagrams from socat come back byte for byte; tcp-echo: 512 KiB on each of two socat connections come
 * back with the same sha256; tcp-rtt-client: round trips against `socat … EXEC:cat`, its numbers parse and the
 * connections end with FIN; arp-icmp-responder: `ping -c 5` gets 5 replies and Linux's neighbour table holds the
 * example's MAC; echo-threads (the runtime, 2 threads on a 2-queue veth): 512 KiB on each of four connections come
 * back with the same sha256, both threads report figures; http-hello (node:http via ixy.ts/net): curl and a 2000-request
 * keep-alive run of ab get their answers. Every example exits 0 (SIGTERM or --seconds) with every packet buffer back in its pool.
 * Without root: every example imports only the package's public entry points (its exports map) and node: builtins,
 * stays ixy-short and says in a header comment what it does and how to run it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import {
  type DataFile, directTopology, type DevKind, makeDataFile, missingTools, sleep, StackProc, tcpStates, tempDir,
  type Topology, waitListening, waitReachable,
} from '../helpers/stack-netns.js';

const EXAMPLES = path.resolve('dist/examples');
const TOOLS = ['socat', 'ping', 'ethtool', 'sha256sum', 'ss', 'curl', 'ab'];
const missing = canUseNetns() ? missingTools(TOOLS) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')}` : false;

async function withTopology(kind: DevKind, net: number, fn: (t: Topology) => Promise<void>, queues?: number): Promise<void> {
  const lab = new Netlab();
  try { await fn(directTopology(lab, kind, net, queues)); } finally { await lab.cleanup(); }
}

/** Starts `node dist/examples/<name>.js --dev … --ip … <args>` in the stack's namespace. */
function startExample(t: Topology, name: string, args: string[] = []): StackProc {
  const cmd = ['node', path.join(EXAMPLES, `${name}.js`), '--dev', t.dev, '--ip', t.stackCidr, ...args];
  return new StackProc(t.lab.spawn(t.stackNs, cmd), cmd.join(' '));
}

async function waitFor(p: StackProc, re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(p.stdout);
    if (m) return m;
    if (!p.running || Date.now() > deadline) throw new Error(`no line matching ${re}\n${p.log()}`);
    await sleep(20);
  }
}

/** The example ended with exit code 0 and said every buffer came back. */
function assertCleanExit(p: StackProc, code: number | null): void {
  assert.equal(code, 0, `exit code\n${p.log()}`);
  assert.match(p.stdout, /^buffers not returned to the pool: 0$/m, p.log());
}

test('examples/: only public imports (the exports map) and node: builtins, at most ~80 lines, a header comment with a run line', () => {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { name: string; exports: Record<string, unknown> };
  const allowed = new Set(Object.keys(pkg.exports).map((k) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`)));
  const files = fs.readdirSync('examples').filter((f) => f.endsWith('.ts'));
  for (const want of ['l2-forward', 'udp-echo', 'tcp-echo', 'tcp-rtt-client', 'arp-icmp-responder', 'echo-threads', 'http-hello']) assert.ok(files.includes(`${want}.ts`), want);
  for (const f of files) {
    const src = fs.readFileSync(path.join('examples', f), 'utf8');
    const specifiers = [...src.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'/g)].map((m) => m[1] ?? m[2]);
    assert.ok(specifiers.length > 0, f);
    for (const s of specifiers) assert.ok(allowed.has(s) || s.startsWith('node:'), `${f} imports '${s}': not a public entry point`);
    assert.ok(src.trimEnd().split('\n').length <= 85, `${f} has ${src.split('\n').length} lines`);
    assert.match(src, /^\/\*\*\n(?: \*.*\n)+?.*node [\w/.-]+\.js/, `${f}: a header comment with how to run it`);
  }
});

describe('examples/ against Linux', { skip }, () => {
  let dir = '';
  let data: DataFile;
  before(() => {
    dir = tempDir('examples');
    data = makeDataFile(dir, 512 * 1024);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  test('udp-echo (packet:): 6 datagrams from socat come back byte for byte; SIGTERM exits 0, no leaked buffer', { timeout: 60_000 }, () =>
    withTopology('packet', 71, async (t) => {
      const small = path.join(dir, 'udp.bin');
      fs.writeFileSync(small, fs.readFileSync(data.path).subarray(0, 6000));
      const p = startExample(t, 'udp-echo', ['--port', '7']);
      await waitReachable(t, p);
      // socat reads the file 1000 bytes at a time: one datagram each; it waits 3 s after EOF for the replies.
      const r = await t.lab.run(t.peer, ['sh', '-c', `socat -b 1000 -t 3 - UDP:${t.stackIp}:7 < ${small} | sha256sum`], { timeoutMs: 20_000 });
      const want = (await t.lab.run(t.peer, ['sha256sum', small])).stdout.split(' ')[0];
      assert.equal(r.stdout.split(' ')[0], want, `echoed bytes differ: ${r.stdout} ${r.stderr}\n${p.log()}`);
      assertCleanExit(p, await p.stop());
      assert.match(p.stdout, /^echoed 6 datagrams, 6000 bytes; 0 replies failed$/m, p.log());
    }));

  test('tcp-echo (xdp:): 512 KiB on each of two socat connections come back with the same sha256; SIGTERM exits 0, no leaked buffer', { timeout: 90_000 }, () =>
    withTopology('xdp', 72, async (t) => {
      const p = startExample(t, 'tcp-echo', ['--port', '7']);
      await waitReachable(t, p);
      const echo = (): ReturnType<typeof t.lab.run> =>
        t.lab.run(t.peer, ['sh', '-c', `socat -t 30 -T 30 - TCP:${t.stackIp}:7 < ${data.path} | sha256sum`], { timeoutMs: 60_000 });
      const rs = await Promise.all([echo(), echo()]);
      for (const r of rs) {
        assert.equal(r.code, 0, r.stderr + p.log());
        assert.equal(r.stdout.split(' ')[0], data.sha256, `echoed bytes differ: ${r.stdout} ${r.stderr}\n${p.log()}`);
      }
      await sleep(300); // the last ACK of each close
      assertCleanExit(p, await p.stop());
      assert.match(p.stdout, new RegExp(`^accepted 2 connections, 2 closed, 0 aborted; ${2 * data.size} bytes echoed$`, 'm'), p.log());
    }));

  test('tcp-rtt-client (xdp:): 4 connections to socat EXEC:cat for 3 s; round trips, msgs/s and RTT p50 ≤ p99 parse; closed with FIN; exits 0', { timeout: 60_000 }, (tc) =>
    withTopology('xdp', 73, async (t) => {
      t.lab.spawn(t.peer, ['socat', 'TCP-LISTEN:7,fork,reuseaddr', 'EXEC:cat']);
      await waitListening(t.lab, t.peer, 7);
      const p = startExample(t, 'tcp-rtt-client', ['--connect', t.peerIp, '--conns', '4', '--size', '64', '--seconds', '3']);
      assertCleanExit(p, await p.wait(30_000));
      const m = /^(\d+) round trips on 4 connections in ([\d.]+) s: (\d+) msgs\/s, RTT p50 (\d+) µs p99 (\d+) µs; (\d+) failures$/m.exec(p.stdout);
      assert.ok(m, `no summary line\n${p.log()}`);
      const [trips, secs, rate, p50, p99, failures] = m.slice(1).map(Number);
      tc.diagnostic(m[0]);
      assert.ok(trips >= 100, `only ${trips} round trips\n${p.log()}`);
      assert.ok(secs >= 2.9 && secs < 4, `ran ${secs} s`);
      assert.ok(Math.abs(rate - trips / secs) <= 1 + trips * 0.01, `rate ${rate} vs ${trips}/${secs}`);
      assert.ok(p50 > 0 && p50 <= p99, `p50 ${p50} p99 ${p99}`);
      assert.equal(failures, 0, p.log());
      const perSecond = [...p.stdout.matchAll(/^(\d+) msgs\/s$/gm)].map((x) => Number(x[1]));
      assert.ok(perSecond.length >= 2 && perSecond.some((n) => n > 0), `per-second lines: ${perSecond}\n${p.log()}`);
      await sleep(300);
      assert.equal(tcpStates(t.lab, t.peer, 7).ESTAB ?? 0, 0, 'Linux still has established connections: no FIN came');
    }));

  test('arp-icmp-responder (packet:): ping -c 5 gets 5 replies, Linux learns the MAC over ARP; counters; SIGTERM exits 0, no leaked buffer', { timeout: 60_000 }, () =>
    withTopology('packet', 74, async (t) => {
      const p = startExample(t, 'arp-icmp-responder');
      const mac = (await waitFor(p, /^up: .*, MAC ([0-9a-f:]{17}),/m))[1];
      const ifname = t.dev.slice('packet:'.length);
      const linkMac = (JSON.parse(t.lab.ipIn(t.stackNs, ['-j', 'link', 'show', 'dev', ifname])) as { address: string }[])[0].address;
      assert.equal(mac, linkMac, 'the example uses the device MAC');
      const ping = await t.lab.run(t.peer, ['ping', '-c', '5', '-i', '0.2', '-W', '2', t.stackIp], { timeoutMs: 20_000 });
      assert.equal(ping.code, 0, ping.stdout + ping.stderr + p.log());
      assert.match(ping.stdout, /5 packets transmitted, 5 received/, ping.stdout);
      const neigh = t.lab.ipIn(t.peer, ['neigh', 'show', t.stackIp]);
      assert.match(neigh, new RegExp(`lladdr ${mac}`), `ip neigh: ${neigh}`);
      assertCleanExit(p, await p.stop());
      const c = /ARP requests answered (\d+), ICMP echo replies (\d+)\n/.exec(p.stdout.slice(p.stdout.lastIndexOf('frames in')));
      assert.ok(c, p.log());
      assert.ok(Number(c[1]) >= 1, `ARP requests answered: ${c[1]}`);
      assert.equal(Number(c[2]), 5, `ICMP echo replies: ${c[2]}`);
    }));

  test('echo-threads (the runtime, xdp: with 2 queues, --threads 2): 512 KiB on each of 4 connections come back with the same sha256; SIGTERM exits 0', { timeout: 90_000 }, () =>
    withTopology('xdp', 75, async (t) => {
      const p = startExample(t, 'echo-threads', ['--threads', '2', '--port', '7']);
      await waitFor(p, /^thread 1: /m);
      await waitReachable(t, p);
      const echo = (): ReturnType<typeof t.lab.run> =>
        t.lab.run(t.peer, ['sh', '-c', `socat -t 30 -T 30 - TCP:${t.stackIp}:7 < ${data.path} | sha256sum`], { timeoutMs: 60_000 });
      const rs = await Promise.all([echo(), echo(), echo(), echo()]);
      for (const r of rs) {
        assert.equal(r.code, 0, r.stderr + p.log());
        assert.equal(r.stdout.split(' ')[0], data.sha256, `echoed bytes differ: ${r.stdout} ${r.stderr}\n${p.log()}`);
      }
      await waitFor(p, /^t0 \d+ accepted \d+ bytes \| t1 \d+ accepted \d+ bytes$/m);
      await sleep(300);
      const r = await p.stop();
      assert.equal(r, 0, p.log());
      assert.match(p.stdout, new RegExp(`^stopped by signal: 4 connections, ${4 * data.size} bytes echoed; buffers not returned: 0$`, 'm'), p.log());
    }, 2));

  test('http-hello (xdp:, node:http on ixy.ts/net): curl gets the answer, ab -k 2000 requests 0 failed; SIGTERM exits 0, no leaked buffer', { timeout: 90_000 }, () =>
    withTopology('xdp', 76, async (t) => {
      const p = startExample(t, 'http-hello', ['--port', '8080']);
      await waitFor(p, /^listening on /m);
      await waitReachable(t, p);
      const r = await t.lab.run(t.peer, ['curl', '-s', '-m', '10', `http://${t.stackIp}:8080/x?y=1`], { timeoutMs: 20_000 });
      assert.equal(r.stdout, 'hello from ixy.ts: GET /x?y=1\n', r.stderr + p.log());
      const ab = await t.lab.run(t.peer, ['ab', '-q', '-k', '-n', '2000', '-c', '16', `http://${t.stackIp}:8080/`], { timeoutMs: 60_000 });
      assert.match(ab.stdout, /Complete requests:\s+2000/, ab.stdout + ab.stderr + p.log());
      assert.match(ab.stdout, /Failed requests:\s+0/, ab.stdout);
      assert.match(ab.stdout, /Keep-Alive requests:\s+2000/, ab.stdout);
      assertCleanExit(p, await p.stop());
      assert.match(p.stdout, /^2001 requests$/m, p.log());
    }));
});
