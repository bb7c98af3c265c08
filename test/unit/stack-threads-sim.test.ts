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
import { run, start } from '../../src/dataplane/runtime.js';
import type { RunResult } from '../../src/dataplane/figures.js';
import { sleep } from '../helpers/sim.js';

const ECHO_SERVER = new URL('../../src/apps/echo-server.js', import.meta.url);
const ECHO_CLIENT = new URL('../../src/apps/echo-client.js', import.meta.url);

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
    const common = { batch: 64, poolSize: 2048, ringSize: 512, threads: 2 };
    const stopServer = new AbortController();
    const server = await start({ module: ECHO_SERVER, options: { port: 7 } }, { ...common, devices: ['sim:1'], ip: '10.0.9.2/24', seconds: 30, signal: stopServer.signal });
    await sleep(500);
    // each client thread opens half the connections and sends half the messages
    const client: RunResult = await run({
      module: ECHO_CLIENT, options: { ip: (10 << 24) | (9 << 8) | 2, port: 7, connections: 32, size: 64, rounds: 10, messages: 4000 },
    }, { ...common, devices: ['sim:0'], ip: '10.0.9.1/24', seconds: 20 });
    stopServer.abort();
    const srv = await server.done;
    const show = (r: RunResult): string => JSON.stringify(r.threads.map((f) => ({
      t: f.thread, app: f.app, opens: f.stack!.tcp.activeOpens, accepted: f.stack!.tcp.passiveOpens, steering: f.stack!.steering,
    })));
    tc.diagnostic(`client ${show(client)}; server ${show(srv)}`);
    assert.equal(client.stoppedBy, 'finished');
    assert.equal(srv.stoppedBy, 'signal');
    for (const f of client.threads) {
      assert.equal(f.app.failures, 0, show(client));
      assert.ok(f.app.messages >= 2000, `client thread ${f.thread}: ${f.app.messages} messages`);
      assert.equal(f.stack!.steering.handedOff, 0, 'RSS sent every reply to the thread that opened the connection');
    }
    const opened = client.threads.reduce((a, f) => a + f.stack!.tcp.activeOpens, 0);
    const accepted = srv.threads.reduce((a, f) => a + f.stack!.tcp.passiveOpens, 0);
    assert.equal(accepted, opened, 'the server accepted every connection the client opened');
    for (const f of srv.threads) {
      assert.ok(f.stack!.tcp.passiveOpens > opened / 8, `server thread ${f.thread} accepted ${f.stack!.tcp.passiveOpens} of ${opened}: RSS spreads flows`);
      assert.equal(f.stack!.steering.handedOff, 0);
    }
    assert.equal(client.leakedBuffers, 0);
    assert.equal(srv.leakedBuffers, 0);
  });
});
