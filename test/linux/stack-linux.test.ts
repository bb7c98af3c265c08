/**
 * The TCP/IP stack against Linux's, through the CLI apps (`ixy echo`, `ixy nc`), on every Linux-facing device kind:
 *
 *   ns P: Linux 10.N.0.1 --veth-- ns S: ixy on xdp:/packet: 10.N.0.2     (tap: ns S holds both; see helpers)
 *
 * Per kind: 100 pings at 10 ms, none lost; 10 MiB through `ixy echo server` with socat comes back with the same
 * sha256; 100 MiB each way with nc (Linux client → `ixy nc --listen`, `ixy nc --connect` → Linux `nc -l`), same
 * sha256. Then, on xdp: 1000 concurrent Linux connections to the echo server closed with FIN from Linux; connections
 * the stack closes (echo client with --rounds); a reset from Linux while the server holds unacknowledged data.
 * Impairment (nftables, impair:) and the SYN flood are in stack-linux-stress.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { canUseNetns, Netlab } from '../../lab/netns.js';
import {
  directTopology, type DataFile, type DevKind, linuxToStack, makeDataFile, MIB, missingTools, peerScript, prefixFile,
  sleep, stackToLinux, startStack, tcpStates, tempDir, transferNote, waitListening, waitReachable, PEER, SCRIPT_ENV,
} from '../helpers/stack-netns.js';

const TOOLS = ['nc', 'socat', 'ping', 'ethtool', 'sha256sum', 'ss'];
const missing = canUseNetns() ? missingTools(TOOLS) : [];
const skip = !canUseNetns() ? 'needs root (network namespaces)' : missing.length ? `needs ${missing.join(', ')}` : false;

const TRANSFER = 100 * MIB;
const ECHO_BYTES = 10 * MIB;
const KINDS: DevKind[] = ['xdp', 'packet', 'tap'];
/** Before counting closed connections: time for a lost last ACK to cost a FIN retransmission or two (200, 400 ms). */
const LAST_ACK_GRACE_MS = 1500;

/** Runs fn with a fresh Netlab, always cleaned up (processes killed, namespaces deleted). */
async function withLab(fn: (lab: Netlab) => Promise<void>): Promise<void> {
  const lab = new Netlab();
  try { await fn(lab); } finally { await lab.cleanup(); }
}

describe('TCP/IP stack ↔ Linux', { skip }, () => {
  let dir = '';
  let big: DataFile;
  let echoData: DataFile;
  before(() => {
    dir = tempDir('stack-linux');
    big = makeDataFile(dir, TRANSFER);
    echoData = prefixFile(dir, big, ECHO_BYTES);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  KINDS.forEach((kind, i) => {
    describe(kind, () => {
      test(`${kind}: 100 pings at 10 ms, 0% loss; 10 MiB through ixy echo server with socat, same sha256`, { timeout: 90_000 }, () => withLab(async (lab) => {
        const t = directTopology(lab, kind, 60 + i);
        const srv = await startStack(t, ['echo', 'server', '--port', '7', '--json']);
        await waitReachable(t, srv);
        const ping = await lab.run(t.peer, ['ping', '-c', '100', '-i', '0.01', '-W', '2', '-q', t.stackIp], { timeoutMs: 30_000 });
        assert.match(ping.stdout, /100 packets transmitted, 100 received, 0% packet loss/, ping.stdout + ping.stderr + srv.log());

        const echo = await lab.run(t.peer, ['sh', '-c', `socat -t 30 -T 30 - TCP:${t.stackIp}:7 < ${echoData.path} | sha256sum`], { timeoutMs: 60_000 });
        assert.equal(echo.code, 0, echo.stderr + srv.log());
        assert.equal(echo.stdout.split(' ')[0], echoData.sha256, `echoed bytes differ: ${echo.stdout} ${echo.stderr}\n${srv.log()}`);

        assert.equal(await srv.stop(), 0, srv.log());
        const s = srv.json();
        assert.equal(s.accepted, 1, srv.log());
        assert.equal(s.closed, 1, 'the connection is over: socat and the server both closed');
        assert.equal(s.bytesEchoed, ECHO_BYTES);
        assert.ok(s.ip.icmpEchoReplies >= 100, `icmpEchoReplies ${s.ip.icmpEchoReplies}`);
        assert.equal(s.tcp.resetsIn + s.tcp.resetsOut, 0, `no resets: ${JSON.stringify(s.tcp)}`);
        assert.equal(s.leakedBuffers, 0);
      }));

      test(`${kind}: Linux nc → ixy nc --listen, 100 MiB, same sha256`, { timeout: 120_000 }, (tc) => withLab(async (lab) => {
        const t = directTopology(lab, kind, 63 + i);
        const r = await linuxToStack(t, big, dir, 90_000);
        tc.diagnostic(transferNote('Linux → stack', TRANSFER, r));
      }));

      test(`${kind}: ixy nc --connect → Linux nc -l, 100 MiB, same sha256`, { timeout: 120_000 }, (tc) => withLab(async (lab) => {
        const t = directTopology(lab, kind, 66 + i);
        const r = await stackToLinux(t, big, 90_000);
        tc.diagnostic(transferNote('stack → Linux', TRANSFER, r));
      }));
    });
  });

  describe('connections (xdp)', () => {
    test('1000 concurrent Linux connections to ixy echo server: each echo byte for byte, closed with FIN from Linux', { timeout: 90_000 }, (tc) => withLab(async (lab) => {
      const t = directTopology(lab, 'xdp', 70);
      const srv = await startStack(t, ['echo', 'server', '--port', '7', '--json']);
      await waitReachable(t, srv);
      const r = await peerScript(lab, t.peer, ['many', t.stackIp, '7', '1000', '64', '20000'], 60_000);
      tc.diagnostic(`1000 connections: ${r.elapsedMs} ms`);
      assert.deepEqual({ ok: r.ok, failed: r.failed, mismatches: r.mismatches, finsSeen: r.finsSeen }, { ok: 1000, failed: 0, mismatches: 0, finsSeen: 1000 },
        `${JSON.stringify(r.errors)}\n${srv.log()}`);
      // Linux closed first: its sockets wait in TIME-WAIT; nothing half-closed or still open on either side
      let states: Record<string, number> = {};
      for (let k = 0; k < 50; k++) {
        states = tcpStates(lab, t.peer, 7);
        if (Object.keys(states).every((s) => s === 'TIME-WAIT')) break;
        await sleep(100);
      }
      assert.deepEqual(states, { 'TIME-WAIT': 1000 }, `Linux socket states for port 7: ${JSON.stringify(states)}`);
      // a FIN whose ACK was lost (the burst can overflow the rx ring) is resent after a 200 ms RTO: let it finish
      await sleep(LAST_ACK_GRACE_MS);
      assert.equal(await srv.stop(), 0, srv.log());
      const s = srv.json();
      assert.equal(s.accepted, 1000, srv.log());
      assert.equal(s.closed, 1000, 'every connection reached CLOSED on the stack (LAST-ACK acknowledged)');
      assert.equal(s.bytesEchoed, 64_000);
      assert.equal(s.tcp.resetsIn + s.tcp.resetsOut, 0, JSON.stringify(s.tcp));
      assert.equal(s.leakedBuffers, 0);
      tc.diagnostic(`stack tcp: ${JSON.stringify(s.tcp)}`);
    }));

    test('the stack closes (echo client, --rounds 20): Linux sees a FIN on every connection, nothing left half-open', { timeout: 60_000 }, (tc) => withLab(async (lab) => {
      const t = directTopology(lab, 'xdp', 71);
      const port = 7007;
      const server = lab.spawn(t.peer, ['node', PEER, 'echo-server', String(port)], SCRIPT_ENV);
      let out = '';
      server.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      await waitListening(lab, t.peer, port);
      const cli = await startStack(t, ['echo', 'client', '--connect', t.peerIp, '--port', String(port),
        '--connections', '10', '--size', '64', '--rounds', '20', '--messages', '2000', '--json']);
      assert.equal(await cli.wait(30_000), 0, cli.log());
      const c = cli.json();
      tc.diagnostic(`echo client: ${c.messages} messages, ${c.connectionsOpened} connections, ${c.failures} failures, RTT p50 ${c.rttUs.p50} µs`);
      assert.equal(c.failures, 0, cli.log());
      assert.ok(c.messages >= 2000, `messages ${c.messages}`);
      assert.ok(c.connectionsOpened >= 100, `connectionsOpened ${c.connectionsOpened}: 2000 messages at 20 per connection`);
      assert.equal(c.tcp.resetsIn + c.tcp.resetsOut, 0, JSON.stringify(c.tcp));
      assert.equal(c.leakedBuffers, 0);
      // the stack closed first: Linux's sockets went CLOSE-WAIT → LAST-ACK → gone; none may be left over
      let states: Record<string, number> = {};
      for (let k = 0; k < 30; k++) {
        states = tcpStates(lab, t.peer, port);
        if (Object.keys(states).every((s) => s === 'LISTEN')) break;
        await sleep(100);
      }
      assert.deepEqual(states, { LISTEN: 1 }, `Linux socket states for port ${port} after the client exited: ${JSON.stringify(states)}`);
      server.kill('SIGTERM');
      await new Promise((r) => server.once('close', r));
      const s = JSON.parse(out.trim().split('\n').pop()!) as { conns: number; fins: number; resets: number; open: number; errors: string[] };
      assert.deepEqual({ conns: s.conns, fins: s.fins, resets: s.resets, open: s.open }, { conns: c.connectionsOpened, fins: c.connectionsOpened, resets: 0, open: 0 },
        `Linux echo server: ${out}`);
    }));

    test('a reset from Linux while the server holds data: the server survives, frees the data, keeps serving', { timeout: 60_000 }, (tc) => withLab(async (lab) => {
      const t = directTopology(lab, 'xdp', 72);
      const srv = await startStack(t, ['echo', 'server', '--port', '7', '--json']);
      await waitReachable(t, srv);
      const r = await peerScript(lab, t.peer, ['reset', t.stackIp, '7', String(8 * MIB)], 30_000);
      tc.diagnostic(`reset: wrote ${r.written} bytes; before the RST: Send-Q ${r.sendQ} (the server's window is closed), Recv-Q ${r.recvQ} (echo not read)`);
      assert.ok(r.sendQ > 0 && r.recvQ > 0, `the server holds data when the RST goes out: ${JSON.stringify(r)}`);
      assert.equal(r.afterOk, true, `${JSON.stringify(r.errors)}\n${srv.log()}`);
      // and a crowd after it
      const m = await peerScript(lab, t.peer, ['many', t.stackIp, '7', '100', '64'], 30_000);
      assert.equal(m.ok, 100, JSON.stringify(m));
      assert.ok(srv.running, 'the server is still running');
      await sleep(LAST_ACK_GRACE_MS);
      assert.equal(await srv.stop(), 0, srv.log());
      const s = srv.json();
      tc.diagnostic(`stack tcp: ${JSON.stringify(s.tcp)}`);
      assert.equal(s.accepted, 102, srv.log());
      assert.equal(s.closed, 102);
      assert.ok(s.tcp.resetsIn >= 1, `resetsIn ${s.tcp.resetsIn}`);
      assert.equal(s.leakedBuffers, 0, 'the buffers the reset connection held were freed');
    }));
  });
});
