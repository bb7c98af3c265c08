/**
 * `--threads 2`: two shared-nothing elastic threads, each on its own queue of a two-queue veth (AF_XDP), with Linux
 * as the peer:
 *
 *   ns P: Linux 10.N.0.1 --veth (2 queues each end)-- ns S: ixy echo … --dev xdp:s --threads 2, 10.N.0.2
 *
 * Server: Linux opens 1000 connections; the kernel spreads them over the two queues (a random hash per socket), both
 * threads serve some, every echo comes back byte for byte. Client: the stack's connections to a Linux echo server
 * take ports of their own thread, and the replies that the kernel put on the other queue are handed over (the
 * steering counters show it); no failures, no leaked buffers. Pings reach the stack whichever thread gets them
 * (ARP is shared between the threads). Then the same server on the simulated 82599 cabled to the veth
 * (`--dev sim:0 --sim-wire …`): the model's RSS spreads the Linux connections, and no frame changes thread.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import { directTopology, missingTools, PEER, peerScript, SCRIPT_ENV, startStack, waitListening, waitReachable } from '../helpers/stack-netns.js';

const missing = canUseNetns() ? missingTools(['ping', 'ethtool', 'ss']) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')}` : false;

async function withLab(fn: (lab: Netlab) => Promise<void>): Promise<void> {
  const lab = new Netlab();
  try { await fn(lab); } finally { await lab.cleanup(); }
}

describe('--threads 2 over a two-queue veth (AF_XDP)', { skip }, () => {
  test('echo server: 1000 Linux connections spread over both threads, every echo intact, pings answered', { timeout: 90_000 }, (tc) => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 91, 2);
    const srv = await startStack(t, ['echo', 'server', '--port', '7', '--threads', '2', '--json']);
    await waitReachable(t, srv);
    const ping = await lab.run(t.peer, ['ping', '-c', '50', '-i', '0.01', '-W', '2', '-q', t.stackIp], { timeoutMs: 20_000 });
    assert.match(ping.stdout, /50 packets transmitted, 50 received, 0% packet loss/, ping.stdout + srv.log());
    const r = await peerScript(lab, t.peer, ['many', t.stackIp, '7', '1000', '64', '30000'], 60_000);
    assert.equal(r.ok, 1000, `${JSON.stringify(r)}\n${srv.log()}`);
    assert.equal(r.mismatches, 0);
    assert.equal(await srv.stop(), 0, srv.log());
    const s = srv.json();
    tc.diagnostic(`per thread: ${JSON.stringify(s.perThread.map((f: any) => ({ t: f.thread, conns: f.connections, rx: f.rxPackets, steering: f.steering })))}`);
    assert.equal(s.threads, 2);
    assert.equal(s.perThread.length, 2);
    assert.equal(s.accepted, 1000, srv.log());
    for (const f of s.perThread) assert.ok(f.connections > 50, `thread ${f.thread} served only ${f.connections} of 1000 connections`);
    assert.equal(s.bytesEchoed, 64_000);
    assert.equal(s.devices[0].spec.startsWith(`xdp:${t.dev.slice(4)}@0`), true, JSON.stringify(s.devices));
    assert.equal(s.devices[1].spec.startsWith(`xdp:${t.dev.slice(4)}@1`), true, JSON.stringify(s.devices));
    assert.equal(s.leakedBuffers, 0);
  }));

  test('echo client: connections from both threads to a Linux server, replies on the wrong queue handed over', { timeout: 90_000 }, (tc) => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 92, 2);
    const port = 7009;
    const server = lab.spawn(t.peer, ['node', PEER, 'echo-server', String(port)], SCRIPT_ENV);
    try {
      await waitListening(lab, t.peer, port);
      const cli = await startStack(t, ['echo', 'client', '--connect', t.peerIp, '--port', String(port), '--threads', '2',
        '--connections', '32', '--size', '64', '--rounds', '10', '--messages', '4000', '--json']);
      assert.equal(await cli.wait(60_000), 0, cli.log());
      const c = cli.json();
      tc.diagnostic(`echo client: ${c.messages} messages, ${c.connectionsOpened} connections; per thread ${JSON.stringify(c.perThread.map((f: any) => ({ t: f.thread, msgs: f.messages, steering: f.steering })))}`);
      assert.equal(c.failures, 0, cli.log());
      assert.ok(c.messages >= 4000, `messages ${c.messages}`);
      for (const f of c.perThread) {
        assert.ok(f.messages >= 2000, `thread ${f.thread}: ${f.messages} messages (each has half of --messages)`);
        assert.ok(f.activeOpens >= 200, `thread ${f.thread}: ${f.activeOpens} connections (2000 messages at 10 per connection)`);
      }
      // ~400 connections, each reply flow on a random queue: half the flows land on the other thread
      const handed = c.perThread.reduce((a: number, f: any) => a + f.steering.handedOff, 0);
      const received = c.perThread.reduce((a: number, f: any) => a + f.steering.received, 0);
      assert.ok(handed > 100, `only ${handed} frames handed over between threads`);
      assert.ok(received >= handed - c.perThread.reduce((a: number, f: any) => a + f.steering.dropped, 0), 'handed-over frames arrived');
      assert.equal(c.leakedBuffers, 0);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('close', r));
    }
  }));

  test('echo server ×2 on the simulated 82599 cabled to the veth: RSS spreads 400 Linux connections, every echo intact', { timeout: 90_000 }, (tc) => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 94);
    const spare = lab.veth({ ns: t.stackNs, name: 'x' }, { ns: t.stackNs, name: 'y' }); // port 1's wire (unused)
    const srv = await startStack(t, ['echo', 'server', '--port', '7', '--threads', '2', '--sim-wire', `${t.dev.slice(4)},${spare.a}`, '--json'], 'sim:0');
    await waitReachable(t, srv);
    const r = await peerScript(lab, t.peer, ['many', t.stackIp, '7', '400', '64', '30000'], 60_000);
    assert.equal(r.ok, 400, `${JSON.stringify(r)}\n${srv.log()}`);
    assert.equal(r.mismatches, 0);
    assert.equal(await srv.stop(), 0, srv.log());
    const s = srv.json();
    tc.diagnostic(`per thread: ${JSON.stringify(s.perThread.map((f: any) => ({ t: f.thread, conns: f.connections, rx: f.rxPackets, steering: f.steering })))}`);
    assert.equal(s.accepted, 400, srv.log());
    for (const f of s.perThread) {
      assert.ok(f.connections > 100, `thread ${f.thread} served only ${f.connections} of 400 connections`);
      assert.equal(f.steering.handedOff, 0, 'RSS put each flow on one thread');
    }
    assert.deepEqual(s.devices.map((d: any) => d.spec), ['sim:0,queue=0', 'sim:0,queue=1']);
    assert.equal(s.leakedBuffers, 0);
  }));

  test('a device that cannot be shared, or too few queues: one-line errors', { timeout: 30_000 }, () => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 93); // one queue per end
    const few = await startStack(t, ['echo', 'server', '--threads', '2']);
    assert.equal(await few.wait(20_000), 1, few.log());
    assert.match(few.log(), /--threads 2 needs 2 queues of .* and it has 1: .*numrxqueues 2/);
    const pk = await startStack(t, ['echo', 'server', '--threads', '2'], t.dev.replace(/^xdp:/, 'packet:'));
    assert.equal(await pk.wait(20_000), 1, pk.log());
    assert.match(pk.log(), /needs a device whose queues threads can share \([^)]*xdp:[^)]*\); packet: devices serve one thread/);
  }));
});
