/**
 * Node's `http` client on ixy.ts/net (test/netns-scripts/net-http-client.ts: an `http.Agent` with keepAlive whose
 * `createConnection` is ixy.ts/net's `connect`) against Linux servers, on xdp: and on packet::
 *
 *   ns P: Linux 10.N.0.1: python3 -m http.server (HTTP/1.1) and a Node http server, both serving a 10 MiB file
 *   --veth (offloads off)-- ns S: the client script on xdp:/packet: 10.N.0.2
 *
 * Three GETs from each server, one after another: every body has the file's sha256, and the agent made exactly one
 * socket per server (the three requests to a server shared it: keep-alive through our sockets). The script ends with
 * every buffer back in its pool and exit 0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { directTopology, type DevKind, makeDataFile, MIB, SCRIPT_ENV, StackProc, tempDir, waitListening } from '../helpers/stack-netns.js';
import { CLIENT_SCRIPT, lines, skipUnless, withLab } from '../helpers/net-http.js';

const skip = skipUnless(['python3', 'ping', 'ethtool', 'ss']);
const PY_PORT = 8001;
const NODE_PORT = 8002;
const ROUNDS = 3;

describe('http.get through an Agent on ixy.ts/net, against python3 -m http.server and a Node server', { skip }, () => {
  for (const [i, kind] of (['xdp', 'packet'] as DevKind[]).entries()) {
    test(`${kind}: the 10 MiB file from each, sha256 equal, one socket per server for ${ROUNDS} requests`, { timeout: 90_000 }, (tc) => withLab(async (lab) => {
      const dir = tempDir('nethttp-client');
      try {
        const data = makeDataFile(dir, 10 * MIB);
        const file = path.basename(data.path);
        const t = directTopology(lab, kind, 115 + i);
        lab.spawn(t.peer, ['python3', '-m', 'http.server', '--protocol', 'HTTP/1.1', '--bind', t.peerIp, '--directory', dir, String(PY_PORT)]);
        const serveFile = `const b = require('fs').readFileSync(${JSON.stringify(data.path)});
          require('http').createServer((q, s) => { s.setHeader('content-length', b.length); s.end(b); }).listen(${NODE_PORT}, '${t.peerIp}');`;
        lab.spawn(t.peer, [process.execPath, '-e', serveFile]);
        await waitListening(lab, t.peer, PY_PORT);
        await waitListening(lab, t.peer, NODE_PORT);

        const urls = [`http://${t.peerIp}:${PY_PORT}/${file}`, `http://${t.peerIp}:${NODE_PORT}/${file}`];
        const cmd = ['node', CLIENT_SCRIPT, t.dev, t.stackCidr, urls[0], String(ROUNDS), urls[1], String(ROUNDS)];
        const p = new StackProc(lab.spawn(t.stackNs, cmd, SCRIPT_ENV), cmd.join(' '));
        assert.equal(await p.wait(60_000), 0, p.log());
        const out = lines(p);
        const responses = out.filter((l) => l.event === 'response');
        assert.equal(responses.length, 2 * ROUNDS, p.log());
        for (const [k, r] of responses.entries()) {
          const server = k < ROUNDS ? 0 : 1;
          assert.deepEqual([r.url, r.status, r.length, r.sha256], [urls[server], 200, data.size, data.sha256], `response ${k}`);
          assert.equal(r.socket, server, `response ${k} came on socket ${r.socket}: one socket per server, reused`);
        }
        assert.deepEqual(out.at(-1), { event: 'done', sockets: 2, leakedBuffers: 0 }, p.log());
        tc.diagnostic(`${kind}: ${2 * ROUNDS} × 10 MiB on 2 sockets`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));
  }
});
