/**
 * `ixy.ts/net` behaves as Node's `net`: each scenario runs twice in one test — on Node's `net` over loopback, and on
 * ixy.ts/net with both ends on the TCP/IP stack (two interfaces of this thread on the simulated 82599's ports, cabled
 * to each other) — and the events each side saw, in order, must be the same. Data events are summed (how bytes are cut
 * into chunks differs by design), the rest is compared one by one: connect, ready, end, finish, close(hadError),
 * error code and syscall, timeout, drain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { NetInterface } from 'ixy.ts/net';
import { NetPair } from '../helpers/net-pair.js';

type AnySocket = net.Socket;
type AnyServer = net.Server;

interface Impl {
  name: string;
  createServer(options: net.ServerOpts, listener?: (s: AnySocket) => void): AnyServer;
  connect(options: { port: number; allowHalfOpen?: boolean; timeout?: number; localPort?: number; signal?: AbortSignal }): AnySocket;
  /** The address a client connects to. */
  host: string;
}

const nodeImpl: Impl = {
  name: 'node:net',
  createServer: (o, l) => net.createServer(o, l),
  connect: (o) => net.connect({ ...o, host: '127.0.0.1' }),
  host: '127.0.0.1',
};

let pair: NetPair | null = null;
let client: NetInterface | null = null;
let server: NetInterface | null = null;
const ixyImpl: Impl = {
  name: 'ixy.ts/net',
  createServer: (o, l) => server!.createServer(o, l as never) as unknown as AnyServer,
  connect: (o) => client!.connect({ ...o, host: server!.address }) as unknown as AnySocket,
  get host() { return server!.address; },
};

const closeSeen = new WeakMap<AnySocket, Promise<void>>();

/** Records a socket's events (data summed into the next non-data event). */
function watch(s: AnySocket, log: string[]): void {
  closeSeen.set(s, new Promise((r) => s.once('close', () => r())));
  let bytes = 0;
  const flush = (): string => { const b = bytes; bytes = 0; return b > 0 ? ` after ${b} bytes` : ''; };
  s.on('data', (d: Buffer) => { bytes += d.length; });
  for (const ev of ['connect', 'ready', 'end', 'finish', 'timeout', 'drain']) s.on(ev, () => log.push(`${ev}${flush()}`));
  s.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code} ${e.syscall ?? ''}${flush()}`.trimEnd()));
  s.on('close', (hadError: boolean) => log.push(`close ${hadError}${flush()}`));
}

/** Resolves on the socket's 'close' event (`watch`ed sockets), then lets the ticks it scheduled run. */
const closed = async (s: AnySocket): Promise<void> => { await closeSeen.get(s); await sleep(20); };
const listening = (srv: AnyServer): Promise<number> => new Promise((r) => srv.listen(0, () => r((srv.address() as net.AddressInfo).port)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Scenario = (impl: Impl) => Promise<{ client: string[]; server: string[] }>;

const scenarios: Record<string, Scenario> = {
  async 'echo 100 KB, then a graceful close from the client'(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({}, (sock) => { watch(sock, s); sock.pipe(sock); });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.end(Buffer.alloc(100_000, 7));
    sock.on('close', () => c.push(`bytesRead ${sock.bytesRead} bytesWritten ${sock.bytesWritten} readyState ${sock.readyState}`));
    await closed(sock);
    await sleep(50);
    srv.close();
    return { client: c, server: s };
  },

  async 'half-close: the server (allowHalfOpen) answers after the client ended'(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({ allowHalfOpen: true }, (sock) => {
      watch(sock, s);
      sock.on('end', () => setTimeout(() => sock.end('bye'), 50));
      sock.resume();
    });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.on('connect', () => sock.end());
    await closed(sock);
    await sleep(50);
    srv.close();
    return { client: c, server: s };
  },

  async 'half-close the other way: the server ends first, the client (allowHalfOpen) still sends'(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({ allowHalfOpen: true }, (sock) => { watch(sock, s); sock.end('first'); sock.resume(); });
    const port = await listening(srv);
    const sock = impl.connect({ port, allowHalfOpen: true });
    watch(sock, c);
    sock.resume();
    sock.on('end', () => setTimeout(() => sock.end(Buffer.alloc(5000, 1)), 50));
    await closed(sock);
    await sleep(50);
    srv.close();
    return { client: c, server: s };
  },

  async 'without allowHalfOpen the side that gets a FIN ends too, and a write after it is EPIPE'(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({}, (sock) => { watch(sock, s); sock.end('bye'); sock.resume(); });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.resume();
    sock.on('end', () => sock.write('too late', (e) => c.push(`write callback ${(e as NodeJS.ErrnoException | null)?.code}`)));
    await closed(sock);
    await sleep(50);
    srv.close();
    return { client: c, server: s };
  },

  async "maxConnections 1: a second connection is closed at once and the server emits 'drop'"(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({}, (sock) => { s.push('connection'); sock.resume(); sock.on('end', () => sock.end()); });
    srv.maxConnections = 1;
    srv.on('drop', (d?: { remotePort?: number; localPort?: number }) => s.push(`drop ${typeof d?.remotePort} ${d?.localPort === port}`));
    const port = await listening(srv);
    const first = impl.connect({ port });
    await new Promise((r) => first.once('connect', r));
    await sleep(50);
    const second = impl.connect({ port });
    watch(second, c);
    second.resume();
    await closed(second);
    first.end();
    await new Promise((r) => first.once('close', r));
    srv.close();
    return { client: c, server: s };
  },

  async 'connect with an AbortSignal that fires: AbortError, then close(true)'(impl) {
    const c: string[] = [];
    const s: string[] = [];
    const srv = impl.createServer({}, (sock) => { watch(sock, s); sock.resume(); });
    const port = await listening(srv);
    const ac = new AbortController();
    const sock = impl.connect({ port, signal: ac.signal });
    watch(sock, c);
    sock.on('error', (e) => c.push(`${e.name}`));
    sock.on('connect', () => setTimeout(() => ac.abort(), 20));
    await closed(sock);
    await sleep(100);
    srv.close();
    return { client: c, server: s };
  },

  async 'connection refused: a port nobody listens on'(impl) {
    const c: string[] = [];
    const srv = impl.createServer({});
    const port = await listening(srv);
    await new Promise<void>((r) => srv.close(() => r()));
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.on('error', (e: NodeJS.ErrnoException & { address?: string; port?: number }) => c.push(`refused ${e.address === impl.host} ${e.port === port} ${e.message === `connect ECONNREFUSED ${impl.host}:${port}`}`));
    await closed(sock);
    return { client: c, server: [] };
  },

  async "server.close() with a connection open: 'close' only after it ended"(impl) {
    const c: string[] = []; const s: string[] = [];
    const srv = impl.createServer({}, (sock) => { watch(sock, s); sock.resume(); });
    srv.on('close', () => s.push('server close'));
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    await new Promise((r) => sock.once('connect', r));
    await sleep(50);
    srv.close(() => s.push('close callback'));
    s.push('close called');
    srv.getConnections((_e, n) => s.push(`connections ${n}`));
    await sleep(100);
    sock.end();
    await closed(sock);
    await sleep(100);
    return { client: c, server: s };
  },

  async 'destroy() with writes pending: no error, the peer sees a FIN'(impl) {
    const c: string[] = []; const s: string[] = [];
    let serverSock: AnySocket | null = null;
    const srv = impl.createServer({}, (sock) => { serverSock = sock; watch(sock, s); sock.resume(); sock.on('end', () => sock.end()); });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.alloc(64 * 1024));
    sock.destroy();
    await closed(sock);
    await new Promise<void>((r) => { const t = setInterval(() => { if (serverSock?.closed) { clearInterval(t); r(); } }, 10); });
    srv.close();
    // how much of the write went out before the FIN differs (the kernel's buffer vs the stack's queue): drop the count
    return { client: c, server: s.map((l) => l.replace(/ after \d+ bytes/, '')) };
  },

  async 'write after end(): ERR_STREAM_WRITE_AFTER_END'(impl) {
    const c: string[] = [];
    const srv = impl.createServer({}, (sock) => { sock.resume(); sock.on('end', () => sock.end()); });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.end();
    sock.write('late', (e) => c.push(`write callback ${(e as NodeJS.ErrnoException | null)?.code}`));
    await closed(sock);
    srv.close();
    return { client: c, server: [] };
  },

  async "an idle socket's setTimeout: 'timeout', and it stays open until destroyed"(impl) {
    const c: string[] = [];
    const srv = impl.createServer({}, (sock) => sock.resume());
    const port = await listening(srv);
    const sock = impl.connect({ port, timeout: 150 });
    watch(sock, c);
    await new Promise((r) => sock.once('timeout', r));
    c.push(`still ${sock.readyState}`);
    sock.destroy();
    await closed(sock);
    srv.close();
    return { client: c, server: [] };
  },

  async 'EADDRINUSE: a second server on the same port'(impl) {
    const s: string[] = [];
    const a = impl.createServer({});
    const port = await listening(a);
    const b = impl.createServer({});
    b.on('error', (e: NodeJS.ErrnoException) => s.push(`error ${e.code} ${e.syscall} ${/^listen EADDRINUSE: address already in use /.test(e.message)}`));
    b.on('listening', () => s.push('listening'));
    b.listen(port);
    await sleep(50);
    s.push(`listening ${b.listening}`);
    a.close();
    return { client: [], server: s };
  },

  async 'connect from a chosen local port: both ends see it'(impl) {
    const c: string[] = []; const s: string[] = [];
    const localPort = 40000 + Math.floor(Math.random() * 9000);
    const srv = impl.createServer({}, (sock) => { s.push(`remotePort ${sock.remotePort === localPort}`); sock.resume(); sock.on('end', () => sock.end()); });
    const port = await listening(srv);
    const sock = impl.connect({ port, localPort });
    watch(sock, c);
    sock.on('connect', () => { c.push(`localPort ${sock.localPort === localPort} ${(sock.address() as net.AddressInfo).port === localPort}`); sock.end(); });
    await closed(sock);
    srv.close();
    return { client: c, server: s };
  },

  async 'the peer resets: ECONNRESET (read), then close(true)'(impl) {
    const c: string[] = [];
    const srv = impl.createServer({}, (sock) => { sock.on('data', () => sock.resetAndDestroy()); });
    const port = await listening(srv);
    const sock = impl.connect({ port });
    watch(sock, c);
    sock.write('x');
    await closed(sock);
    srv.close();
    return { client: c, server: [] };
  },
};

describe('ixy.ts/net against node:net, scenario by scenario', () => {
  before(async () => {
    pair = await NetPair.open('10.0.7');
    ({ client, server } = pair);
  });
  after(async () => {
    for (const x of await pair!.close()) assert.equal(x.leakedBuffers, 0, 'every packet buffer back in its pool');
  });

  for (const [name, run] of Object.entries(scenarios)) {
    test(name, { timeout: 30_000 }, async (t) => {
      const want = structuredClone(await run(nodeImpl));
      const got = structuredClone(await run(ixyImpl));
      t.diagnostic(`node:net ${JSON.stringify(want)}`);
      assert.ok(want.client.length + want.server.length > 0, 'the scenario recorded events');
      assert.deepEqual(got, want);
    });
  }

  test('setKeepAlive(true, 100): a probe after 100 ms idle, answered by the peer, and the connection stays open (stack counters)', { timeout: 30_000 }, async () => {
    const srv = server!.createServer((sock) => sock.resume());
    srv.listen(0);
    await new Promise((r) => srv.once('listening', r));
    const sock = client!.connect({ port: srv.address()!.port, host: server!.address });
    await new Promise((r) => sock.once('connect', r));
    const probes = async (): Promise<number> => {
      const f = await new Promise<{ threads: { stack: { tcp: Record<string, number> } | null }[] }>((r) => client!.runtime.once('figures', r));
      return f.threads[0].stack!.tcp.keepaliveProbes;
    };
    const before = await probes();
    sock.setKeepAlive(true, 100);
    await probes();
    const after = await probes();
    // after an answered probe the next waits for the interval (TcpConfig.keepaliveIntervalMs, 75 s), as Linux's does
    assert.equal(after - before, 1, `${after - before} probes`);
    assert.equal(sock.readyState, 'open');
    sock.end();
    await new Promise((r) => sock.once('close', r));
    srv.close();
  });

  test("back-pressure: a paused reader's window closes, the writer sees write() false and 'drain'; 4 MiB arrive intact", { timeout: 60_000 }, async () => {
    for (const impl of [nodeImpl, ixyImpl]) {
      let serverSock: AnySocket | null = null;
      const srv = impl.createServer({ pauseOnConnect: true }, (s) => { serverSock = s; });
      const port = await listening(srv);
      const sock = impl.connect({ port });
      await new Promise((r) => sock.once('connect', r));
      const data = Buffer.alloc(4 << 20);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 255;
      let refused = 0;
      for (let off = 0; off < data.length; off += 64 * 1024) if (!sock.write(data.subarray(off, off + 64 * 1024))) refused++;
      const drained = new Promise((r) => sock.once('drain', r));
      await sleep(500);
      const s = serverSock as unknown as AnySocket;
      assert.ok(refused > 0, `${impl.name}: write() returned false`);
      assert.ok(s.readableLength < 1 << 20, `${impl.name}: the paused reader holds ${s.readableLength} bytes: bounded by the window, not the 4 MiB sent`);
      assert.ok(!sock.writableFinished, `${impl.name}: the writer is held back while the reader is paused`);
      const h = createHash('sha256');
      let n = 0;
      s.on('data', (d: Buffer) => { h.update(d); n += d.length; });
      s.resume();
      await drained;
      sock.end();
      await new Promise((r) => s.once('end', r));
      assert.equal(n, data.length, impl.name);
      assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'), impl.name);
      s.end();
      await new Promise((r) => sock.once('close', r));
      srv.close();
    }
  });
});
