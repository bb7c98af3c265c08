/**
 * Node's `http` and `net` habits that HTTP servers rely on, on ixy.ts/net with both ends in this process (two
 * interfaces on the simulated 82599's ports, cabled to each other), each compared with node:net over loopback where
 * the two can differ. What test/linux/net-http-node.test.ts found against Linux, without root:
 * - http's connection listener sets `socket.server` to its own server: server.close() still completes once the
 *   keep-alive connection is gone, and no socket emits an error on the way;
 * - a malformed request gets "400 Bad Request" and then the connection's end (a FIN), not a reset, also when the
 *   request arrives on a socket already flowing (http destroys it inside the 'data' event);
 * - destroy(err) right after a write: the peer gets the bytes, then 'end' (as net.Socket closes: no RST);
 * - a peer that resets while the server is writing: the server's socket fails with ECONNRESET (syscall read);
 * - a 'data' listener that throws: the error reaches 'uncaughtException' (in a child process, test/helpers/net-throw-child.ts:
 *   the test runner owns this one's), and the stack goes on serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { NetInterface } from 'ixy.ts/net';
import { NetPair } from '../helpers/net-pair.js';

const CHILD = fileURLToPath(new URL('../helpers/net-throw-child.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const NODE_HOST = '127.0.0.1';

let pair: NetPair | null = null;
let client: NetInterface | null = null;
let server: NetInterface | null = null;

interface Side {
  name: string;
  /** Serves `s` (an http.Server or net.Server) on a free port; resolves with it. */
  listen(s: net.Server): Promise<number>;
  connect(port: number): net.Socket;
}

const nodeSide: Side = {
  name: 'node:net',
  listen: (s) => new Promise((r) => s.listen(0, NODE_HOST, () => r((s.address() as net.AddressInfo).port))),
  connect: (port) => net.connect(port, NODE_HOST),
};
const ixySide: Side = {
  name: 'ixy.ts/net',
  listen: (s) => new Promise((r) => {
    const ours = server!.serve(s, 0, () => r(ours.address()!.port));
  }),
  connect: (port) => client!.connect({ port, host: server!.address }) as unknown as net.Socket,
};

/** Connects, waits until the server side is set up, writes `bytes`; resolves with what came back and how it ended. */
async function exchange(side: Side, port: number, bytes: string | null): Promise<string[]> {
  const log: string[] = [];
  const s = side.connect(port);
  let data = '';
  s.on('data', (d: Buffer) => { data += d.toString('latin1'); });
  s.on('end', () => log.push(`end after ${JSON.stringify(data)}`));
  s.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code} after ${JSON.stringify(data)}`));
  await new Promise((r) => s.once('connect', r));
  await sleep(50); // the server's socket is flowing by now: what arrives is handed to 'data' inside the push
  if (bytes !== null) s.write(bytes);
  await new Promise((r) => s.once('close', r));
  return log;
}

describe("http and net habits on ixy.ts/net, each as on node:net", () => {
  before(async () => {
    pair = await NetPair.open('10.0.8');
    ({ client, server } = pair);
  });
  after(async () => {
    for (const x of await pair!.close()) assert.equal(x.leakedBuffers, 0, 'every packet buffer back in its pool');
  });

  test('http: after a keep-alive request server.close() completes, and no socket emits an error', { timeout: 30_000 }, async () => {
    const agent = new http.Agent({ keepAlive: true });
    (agent as unknown as { createConnection: (o: { port: number }) => net.Socket }).createConnection = (o) => ixySide.connect(o.port);
    const errors: string[] = [];
    const srv = http.createServer((_q, res) => res.end('ok'));
    srv.on('connection', (s: net.Socket) => s.on('error', (e) => errors.push(e.message)));
    const port = await ixySide.listen(srv);
    const body = await new Promise<string>((resolve) => http.get({ host: server!.address, port, agent }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => { b += d; });
      res.on('end', () => resolve(b));
    }));
    assert.equal(body, 'ok');
    // at once: http closes its idle connections (it tracks them once its server has emitted 'listening'); not only when
    // the keep-alive timeout (5 s) ends the connection
    const closed = new Promise<string>((r) => srv.close(() => r('closed')));
    assert.equal(await Promise.race([closed, sleep(2000).then(() => 'still open after 2 s')]), 'closed');
    agent.destroy();
    assert.deepEqual(errors, []);
  });

  test('http: a malformed request line or header gets 400 Bad Request, then the end of the connection (not a reset)', { timeout: 30_000 }, async () => {
    for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n']) {
      const got: Record<string, string[]> = {};
      for (const side of [nodeSide, ixySide]) {
        const srv = http.createServer((_q, res) => res.end('ok'));
        const port = await side.listen(srv);
        got[side.name] = await exchange(side, port, bad);
        srv.close();
      }
      assert.deepEqual(got['node:net'], ['end after "HTTP/1.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n"'], 'node:net');
      assert.deepEqual(got['ixy.ts/net'], got['node:net'], JSON.stringify(bad));
    }
  });

  test('http: a request whose headers never end gets 408 Request Timeout after headersTimeout', { timeout: 30_000 }, async () => {
    const got: Record<string, string[]> = {};
    for (const side of [nodeSide, ixySide]) {
      const srv = http.createServer({ connectionsCheckingInterval: 100, headersTimeout: 300, requestTimeout: 300 }, (_q, res) => res.end('ok'));
      const port = await side.listen(srv);
      got[side.name] = await exchange(side, port, 'GET / HTTP/1.1\r\nHost: x\r\n');
      srv.close();
    }
    assert.deepEqual(got['node:net'], ['end after "HTTP/1.1 408 Request Timeout\\r\\nConnection: close\\r\\n\\r\\n"']);
    assert.deepEqual(got['ixy.ts/net'], got['node:net']);
  });

  test("destroy(err) right after a write: the peer gets the bytes, then 'end'", { timeout: 30_000 }, async () => {
    const got: Record<string, string[]> = {};
    for (const side of [nodeSide, ixySide]) {
      const srv = net.createServer((s) => { s.on('error', () => {}); s.on('data', () => { s.write('bye'); s.destroy(new Error('done')); }); });
      const port = await side.listen(srv);
      got[side.name] = await exchange(side, port, 'hi');
      srv.close();
    }
    assert.deepEqual(got['node:net'], ['end after "bye"']);
    assert.deepEqual(got['ixy.ts/net'], got['node:net']);
  });

  test('a peer that resets while the server writes: ECONNRESET (read) on the server socket, 10 times of 10', { timeout: 60_000 }, async () => {
    for (const side of [nodeSide, ixySide]) {
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) {
        let done: () => void = () => {};
        const gone = new Promise<void>((r) => { done = r; });
        const srv = net.createServer((s) => {
          const block = Buffer.alloc(64 * 1024, i);
          const more = (): void => { while (!s.destroyed && s.write(block)); };
          s.on('drain', more);
          s.on('error', (e: NodeJS.ErrnoException) => codes.push(`${e.code} ${e.syscall}`));
          s.on('close', () => done());
          more();
        });
        const port = await side.listen(srv);
        const c = side.connect(port);
        let got = 0;
        c.on('error', () => {});
        c.on('data', (d: Buffer) => { got += d.length; if (got > 100_000 && !c.destroyed) c.resetAndDestroy(); });
        await gone;
        srv.close();
      }
      assert.deepEqual(codes, Array(10).fill('ECONNRESET read'), side.name);
    }
  });

  test("a 'data' listener that throws: 'uncaughtException' gets the error, the stack serves the next connection (child process)", { timeout: 60_000 }, () => {
    const out = execFileSync(process.execPath, [CHILD], { encoding: 'utf8', timeout: 50_000 });
    assert.deepEqual(out.trim().split('\n').map((l) => JSON.parse(l) as unknown), [
      { uncaught: 'thrown in data' }, { first: 'no answer' }, { second: 'echo hello' }, { leaked: [0, 0] },
    ]);
  });
});
