/**
 * `serve(http.createServer(…))`: `http` sets `socket.server` to its own `http.Server`, so the stack's server must not
 * rely on that property. A connection the server closes (`Connection: close`) ends with 'close' and no 'error', and
 * neither the stack's server nor `http` keeps it. Both ends are stacks of this thread on the simulated 82599's ports,
 * cabled to each other.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { NetInterface, Server } from 'ixy.ts/net';
import { NetPair } from '../helpers/net-pair.js';

let pair: NetPair | null = null;
let client: NetInterface | null = null;
let server: NetInterface | null = null;

before(async () => {
  pair = await NetPair.open('10.0.8');
  ({ client, server } = pair);
});

after(async () => {
  for (const x of await pair!.close()) assert.equal(x.leakedBuffers, 0, 'every packet buffer back in its pool');
});

const connections = (s: Server): Promise<number> => new Promise((r) => s.getConnections((_e, n) => r(n)));

test("Connection: close — the server's sockets close without an error and are let go", async () => {
  const seen: string[] = [];
  const web = http.createServer((_req, res) => { res.setHeader('content-length', 12); res.end('hello world\n'); });
  web.on('connection', (s: NodeJS.EventEmitter) => {
    s.on('error', (e: Error) => seen.push(`error ${e.message}`));
    s.on('close', () => seen.push('close'));
  });
  const ours = server!.serve(web, 80);
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (o: { port: number; host: string }) => client!.connect({ port: o.port, host: o.host });
  for (let i = 0; i < 3; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: server!.address, port: 80, agent, headers: { connection: 'close' } }, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve(b));
      }).on('error', reject);
    });
    assert.equal(body, 'hello world\n');
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(seen, ['close', 'close', 'close']);
  assert.equal(await connections(ours), 0, "the stack's server let the sockets go");
  await new Promise<void>((r) => web.close(() => r()));
});
