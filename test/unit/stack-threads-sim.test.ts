/**
 * `--threads 2` on the simulated 82599, IX's design end to end: ports 0 and 1 cabled together; an echo server with
 * two elastic threads on sim:1 and an echo client with two on sim:0, each thread on its own queue pair with its own
 * mempool (ixgbe queue handles on a port brought up once by a primary). RSS spreads the client's connections over
 * the server's threads, and each client thread opens only connections whose replies RSS sends back to its own queue,
 * so no frame has to be handed between threads (only ARP is shared).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimNic } from '../../src/driver/index.js';
import { runStackThreads, type ThreadsResult } from '../../src/apps/stack-threads.js';
import { parseIpv4 } from '../../src/stack/ip-interface.js';
import { sleep } from '../helpers/sim.js';

describe('--threads 2 on the simulated 82599 (RSS, port probe)', () => {
  let nic: SimNic | null = null;
  before(async () => {
    nic = await SimNic.start({ ports: 2, wire: 'loop', physMiB: 128 });
    SimNic.setCurrent(nic);
  });
  after(async () => {
    SimNic.setCurrent(null);
    await nic?.stop();
  });

  test('echo client ×2 on sim:0 ↔ echo server ×2 on sim:1: every thread busy, nothing handed over, nothing leaked', { timeout: 60_000 }, async (tc) => {
    const common = { batch: 64, poolSize: 2048, ringSize: 512, live: false, threads: 2 };
    const stopServer = new AbortController();
    const server = runStackThreads({ ...common, dev: 'sim:1', ip: '10.0.9.2/24', seconds: 30, signal: stopServer.signal }, () => ({ kind: 'echo-server', port: 7 }));
    await sleep(1500);
    const client: ThreadsResult = await runStackThreads({ ...common, dev: 'sim:0', ip: '10.0.9.1/24', seconds: 20 }, () => ({
      kind: 'echo-client', client: { ip: parseIpv4('10.0.9.2', 'server'), port: 7, connections: 16, size: 64, rounds: 10, messages: 2000 },
    }));
    stopServer.abort();
    const srv = await server;
    const show = (r: ThreadsResult): string => JSON.stringify(r.perThread.map((f) => ({
      t: f.thread, conns: f.connections, msgs: f.messages, opens: f.activeOpens, accepted: f.accepted, steering: f.steering,
    })));
    tc.diagnostic(`client ${show(client)}; server ${show(srv)}`);
    for (const f of client.perThread) {
      assert.equal(f.failures, 0, show(client));
      assert.ok((f.messages ?? 0) >= 2000, `client thread ${f.thread}: ${f.messages} messages`);
      assert.equal(f.steering.handedOff, 0, 'RSS sent every reply to the thread that opened the connection');
    }
    const opened = client.perThread.reduce((a, f) => a + f.activeOpens, 0);
    const accepted = srv.perThread.reduce((a, f) => a + f.accepted, 0);
    assert.equal(accepted, opened, 'the server accepted every connection the client opened');
    for (const f of srv.perThread) {
      assert.ok(f.accepted > opened / 8, `server thread ${f.thread} accepted ${f.accepted} of ${opened}: RSS spreads flows`);
      assert.equal(f.steering.handedOff, 0);
    }
    assert.equal(client.leakedBuffers, 0);
    assert.equal(srv.leakedBuffers, 0);
  });
});
