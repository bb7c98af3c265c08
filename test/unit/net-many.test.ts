/**
 * 10 000 connections open at once on ixy.ts/net, both ends in this process: two interfaces attached to the simulated
 * 82599's two ports, cabled to each other (`wire: 'loop'`), as test/unit/net-conformance.test.ts does. The client
 * opens them in waves of 100 and keeps every one open; each sends its own message and gets it echoed; once all 10 000
 * are open and echoed the server counts 10 000 connections, then the clients end (in waves too) and every socket on
 * both sides closes without an error. Counts on both sides match (connect, connection, echo, close; the
 * stacks' active and passive opens), and `close()` finds every packet buffer back in its pool. The same run on
 * node:net over loopback when the file-descriptor limit allows two descriptors a connection (skipped otherwise, with
 * the reason).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { NetInterface } from 'ixy.ts/net';
import { NetPair } from '../helpers/net-pair.js';

const N = 10_000;
const WAVE = 100;

interface Ends {
  createServer(listener: (s: net.Socket) => void): net.Server;
  connect(port: number): net.Socket;
}

interface Tally { connected: number; accepted: number; echoed: number; clientClosed: number; serverClosed: number; errors: string[]; openAtPeak: number }

/** Opens N connections in waves, each echoing its own message, all open at once; then ends them, a wave at a time. */
async function manyConnections(ends: Ends): Promise<Tally> {
  const tally: Tally = { connected: 0, accepted: 0, echoed: 0, clientClosed: 0, serverClosed: 0, errors: [], openAtPeak: 0 };
  const server = ends.createServer((s) => {
    tally.accepted++;
    s.on('error', (e: NodeJS.ErrnoException) => tally.errors.push(`server ${e.code}`));
    s.on('close', (hadError) => { tally.serverClosed++; if (hadError) tally.errors.push('server close(true)'); });
    s.pipe(s); // echo; the client's end() ends ours
  });
  const port = await new Promise<number>((r) => server.listen({ port: 0, backlog: N }, () => r((server.address() as net.AddressInfo).port)));
  const clients: net.Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let first = 0; first < N; first += WAVE) {
    const wave: Promise<void>[] = [];
    for (let i = first; i < Math.min(N, first + WAVE); i++) {
      const msg = `connection ${i} of ${N}\n`;
      const c = ends.connect(port);
      clients.push(c);
      c.on('error', (e: NodeJS.ErrnoException) => tally.errors.push(`client ${i} ${e.code}`));
      closed.push(new Promise((r) => c.on('close', (hadError) => { tally.clientClosed++; if (hadError) tally.errors.push(`client ${i} close(true)`); r(); })));
      c.on('connect', () => { tally.connected++; c.write(msg); });
      wave.push(new Promise((r) => {
        let got = '';
        c.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.length < msg.length) return;
          if (got === msg) tally.echoed++; else tally.errors.push(`client ${i} got ${JSON.stringify(got)}`);
          r();
        });
        c.on('close', () => r());
      }));
    }
    await Promise.all(wave);
  }
  tally.openAtPeak = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
  // in waves too: thousands of FINs in one tick overflow the receiving port's RX ring (512; both stacks share this
  // thread) and, above 4096, the TX staging ring and the pool: the dropped FINs wait for RTOs that fire together
  for (let first = 0; first < N; first += WAVE) {
    for (const c of clients.slice(first, first + WAVE)) c.end();
    await Promise.all(closed.slice(first, first + WAVE));
  }
  for (let i = 0; i < 200 && tally.serverClosed < tally.accepted; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise<void>((r) => server.close(() => r()));
  return tally;
}

function checkTally(t: Tally, name: string): void {
  assert.deepEqual(t.errors.slice(0, 10), [], `${name}: errors`);
  assert.deepEqual(
    { connected: t.connected, accepted: t.accepted, echoed: t.echoed, openAtPeak: t.openAtPeak, clientClosed: t.clientClosed, serverClosed: t.serverClosed },
    { connected: N, accepted: N, echoed: N, openAtPeak: N, clientClosed: N, serverClosed: N },
    name,
  );
}

/** The soft limit on open files (`ulimit -n`), from /proc/self/limits. */
function fileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null ? 1024 : m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

describe(`${N} concurrent connections`, () => {
  let pair: NetPair | null = null;
  let client: NetInterface | null = null;
  let server: NetInterface | null = null;
  before(async () => {
    // room for N connections and, on the client, their N TIME-WAITs (the default table holds 65 536)
    pair = await NetPair.open('10.0.9', { maxConnections: 4 * N });
    ({ client, server } = pair);
  });
  after(async () => {
    await pair?.close();
  });

  test('ixy.ts/net (both ends on the simulated 82599): every echo, matching counts, no buffer left out of its pool', { timeout: 300_000 }, async (tc) => {
    const t0 = performance.now();
    const tally = await manyConnections({
      createServer: (l) => server!.createServer(l as never) as unknown as net.Server,
      connect: (port) => client!.connect({ port, host: server!.address }) as unknown as net.Socket,
    });
    const ms = performance.now() - t0;
    checkTally(tally, 'ixy.ts/net');
    const [c, s] = await pair!.close();
    assert.equal(c.threads[0].stack!.tcp.activeOpens, N, 'client stack: active opens');
    assert.equal(s.threads[0].stack!.tcp.passiveOpens, N, 'server stack: passive opens');
    assert.deepEqual([c.threads[0].app.opened, s.threads[0].app.accepted], [N, N], 'ixy.ts/net: opened and accepted');
    assert.deepEqual([c.leakedBuffers, s.leakedBuffers], [0, 0], 'every packet buffer back in its pool');
    tc.diagnostic(`${N} connections open at once, echoed and closed in ${(ms / 1000).toFixed(1)} s; client tcp ${JSON.stringify(pick(c.threads[0].stack!.tcp))}`);
  });

  const need = 2 * N + 256;
  // root may raise this process's own limit (prlimit(2) through util-linux's prlimit), as a server operator would
  if (fileLimit() < need && process.getuid?.() === 0) {
    try { execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${need}:${need}`], { stdio: 'ignore' }); } catch { /* skipped below */ }
  }
  const limit = fileLimit();
  test('node:net over loopback: the same', {
    timeout: 300_000,
    skip: limit < need ? `needs ${need} file descriptors (two a connection); ulimit -n is ${limit}` : false,
  }, async (tc) => {
    const t0 = performance.now();
    const tally = await manyConnections({ createServer: (l) => net.createServer(l), connect: (port) => net.connect(port, '127.0.0.1') });
    checkTally(tally, 'node:net');
    tc.diagnostic(`node:net: ${N} connections in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
});

function pick(tcp: Record<string, number>): Record<string, number> {
  const keys = ['segmentsOut', 'retransmits', 'rtoExpirations', 'noBuffer', 'backlogDrops', 'resetsIn', 'resetsOut'];
  return Object.fromEntries(keys.map((k) => [k, tcp[k]]));
}
