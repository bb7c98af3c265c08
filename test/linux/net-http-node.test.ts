/**
 * A program's own `http.createServer(handler)` served on ixy.ts/net with `serve()` (test/netns-scripts/
 * net-http-server.ts, public imports only) against Linux clients:
 *
 *   ns P: Linux 10.N.0.1: curl, python3, and a Node http server for comparison --veth (offloads off)--
 *   ns S: the script on xdp: 10.N.0.2
 *
 * Bodies: a 100 MiB POST (curl sends `Expect: 100-continue`: the 100 Continue comes, then the body; the handler's
 * sha256 equals the file's), a chunked 100 MiB upload, a chunked response of separate res.write()s (each its own
 * HTTP chunk, reassembled to the announced sha256). Bad input: a malformed request line and a malformed header get
 * the very bytes Node's http answers on Linux ("400 Bad Request", then the connection ends with a FIN, not a RST); an
 * exception thrown by a handler reaches the process's 'uncaughtException' handler and the next connection is served;
 * clients that reset (SO_LINGER 0) in the middle of a 64 MiB answer make those server sockets emit ECONNRESET while a
 * 32 MiB download beside them completes. At the end SIGTERM: every buffer back in the pool, exit 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Netlab } from '../../lab/netns.js';
import { type DataFile, directTopology, makeDataFile, MIB, sha256File, sleep, type StackProc, tempDir, type Topology, waitListening } from '../helpers/stack-netns.js';
import { curl, lines, rawExchange, resetMidResponse, skipUnless, startServerScript, waitLine } from '../helpers/net-http.js';

const skip = skipUnless(['curl', 'python3', 'ping', 'ethtool', 'ss']);
const PORT = 8080;
const NODE_PORT = 8099;

/** Splits a `Transfer-Encoding: chunked` body into its chunks' data. */
function unchunk(raw: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let off = 0; ;) {
    const eol = raw.indexOf('\r\n', off);
    assert.ok(eol > off, `a chunk-size line at ${off}`);
    const size = parseInt(raw.subarray(off, eol).toString('latin1'), 16);
    if (size === 0) return chunks;
    chunks.push(raw.subarray(eol + 2, eol + 2 + size));
    assert.equal(raw.subarray(eol + 2 + size, eol + 4 + size).toString('latin1'), '\r\n', 'CRLF after the chunk');
    off = eol + 4 + size;
  }
}

/** A header's value in curl's -D dump. */
function header(dump: string, name: string): string {
  const m = new RegExp(`^${name}: (\\S+)\\r$`, 'im').exec(dump);
  assert.ok(m, `no ${name} header in\n${dump}`);
  return m[1];
}

describe('http.createServer + serve() on xdp: against Linux clients', { skip }, () => {
  let lab: Netlab;
  let t: Topology;
  let srv: StackProc;
  let work = '';
  let data: DataFile;
  const url = (p: string): string => `http://${t.stackIp}:${PORT}${p}`;

  before(async () => {
    work = tempDir('nethttp-node');
    data = makeDataFile(work, 100 * MIB);
    lab = new Netlab();
    t = directTopology(lab, 'xdp', 114);
    srv = await startServerScript(t, PORT);
  });
  after(async () => {
    try {
      if (srv?.running) {
        srv.child.kill('SIGTERM');
        assert.equal(await srv.wait(15_000), 0, srv.log());
        assert.deepEqual(lines(srv).at(-1), { event: 'closed', leakedBuffers: 0 }, srv.log());
        // the only socket errors of the whole run: http's parse errors (it destroys the socket with them) and the resets
        assert.deepEqual(lines(srv).filter((l) => l.event === 'socket-error').map((l) => l.code), [
          'HPE_INVALID_METHOD', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_CONTENT_LENGTH', 'ECONNRESET', 'ECONNRESET', 'ECONNRESET',
        ], srv.log());
      }
    } finally {
      await lab?.cleanup();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('POST 100 MiB: 100 Continue first (Expect: 100-continue), then the body; sha256 equal', { timeout: 120_000 }, async (tc) => {
    const t0 = performance.now();
    const r = await curl(t, ['-sS', '-v', '--data-binary', `@${data.path}`, url('/hash')], 120_000);
    const ms = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr + srv.log());
    assert.match(r.stderr, /^> Expect: 100-continue\r?$/m, 'curl asked');
    const cont = r.stderr.search(/^< HTTP\/1\.1 100 Continue\r?$/m);
    const ok = r.stderr.search(/^< HTTP\/1\.1 200 OK\r?$/m);
    assert.ok(cont >= 0 && ok > cont, `100 Continue, then 200 OK:\n${r.stderr.split('\n').filter((l) => /^[<>*]/.test(l)).join('\n')}`);
    assert.doesNotMatch(r.stderr, /Done waiting for 100-continue/, 'curl did not give up waiting and send the body unasked');
    assert.deepEqual(JSON.parse(r.stdout), { sha256: data.sha256, length: data.size, expect: '100-continue', transferEncoding: null });
    tc.diagnostic(`100 MiB POST in ${(ms / 1000).toFixed(2)} s`);
  });

  test('a chunked upload of 100 MiB (Transfer-Encoding: chunked): sha256 equal', { timeout: 120_000 }, async () => {
    const r = await curl(t, ['-sS', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${data.path}`, url('/hash')], 120_000);
    assert.equal(r.code, 0, r.stderr + srv.log());
    const got = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(got.transferEncoding, 'chunked');
    assert.equal(got.length, data.size);
    assert.equal(got.sha256, data.sha256);
  });

  test('a chunked response (16 res.write()s, no content-length): 16 HTTP chunks whose bytes have the announced sha256', { timeout: 60_000 }, async () => {
    const headers = path.join(work, 'chunked.h');
    const raw = path.join(work, 'chunked.raw');
    const r = await curl(t, ['-sS', '--raw', '-D', headers, '-o', raw, url('/chunked?n=16&size=65536')]);
    assert.equal(r.code, 0, r.stderr);
    const h = fs.readFileSync(headers, 'latin1');
    assert.match(h, /^transfer-encoding: chunked\r$/im);
    assert.doesNotMatch(h, /^content-length:/im);
    const chunks = unchunk(fs.readFileSync(raw));
    assert.equal(chunks.length, 16, `chunk sizes: ${chunks.map((c) => c.length).join(' ')}`);
    const body = Buffer.concat(chunks);
    assert.equal(body.length, Number(header(h, 'x-body-length')));
    const plain = path.join(work, 'chunked.body');
    fs.writeFileSync(plain, body);
    assert.equal(sha256File(plain), header(h, 'x-body-sha256'));
    // and curl, decoding another one itself, agrees
    const decoded = await curl(t, ['-sS', '-D', headers, '-o', plain, url('/chunked?n=5&size=1000')]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.equal(sha256File(plain), header(fs.readFileSync(headers, 'latin1'), 'x-body-sha256'));
  });

  test("a malformed request line and a malformed header: Node's own 400 answer, then a FIN (not a RST)", { timeout: 60_000 }, async () => {
    // the reference: Node's http on Linux's TCP, in the peer's namespace
    const node = lab.spawn(t.peer, [process.execPath, '-e', `require('http').createServer((q, s) => s.end('ok')).listen(${NODE_PORT}, '${t.peerIp}')`]);
    try {
      await waitListening(lab, t.peer, NODE_PORT);
      for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n']) {
        const want = await rawExchange(t, t.peerIp, NODE_PORT, bad);
        const got = await rawExchange(t, t.stackIp, PORT, bad);
        assert.equal(want.data, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', `Node's answer to ${JSON.stringify(bad)}`);
        assert.deepEqual([got.data, got.end], [want.data, 'eof'], `${JSON.stringify(bad)}\n${srv.log()}`);
        assert.ok(got.ms < 2000, `closed at once (${got.ms.toFixed(0)} ms)`);
      }
    } finally {
      node.kill('SIGTERM');
    }
  });

  test("a handler's exception goes to 'uncaughtException'; the next connection is served", { timeout: 60_000 }, async () => {
    const r = await curl(t, ['-sS', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', url('/throw')]);
    assert.equal(r.stdout, '000', 'no answer to the request whose handler threw (as with node:net)');
    const l = await waitLine(srv, (x) => x.event === 'uncaught', "'uncaught'", 5000);
    assert.equal(l.message, 'thrown by the /throw handler');
    const next = await curl(t, ['-sS', url('/after-the-throw')]);
    assert.equal(next.stdout, 'hello /after-the-throw\n', srv.log());
    assert.ok(srv.running);
  });

  test('clients that reset half-way through 64 MiB: ECONNRESET on those sockets; a 32 MiB download beside them completes', { timeout: 90_000 }, async (tc) => {
    const before = lines(srv).length;
    const download = curl(t, ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', url('/big?mib=32'), '--limit-rate', '10M'], 60_000);
    const read = [];
    for (let i = 0; i < 3; i++) read.push(await resetMidResponse(t, PORT, '/big?mib=64', 100_000));
    const d = await download;
    assert.equal(d.stdout, `200 ${32 * MIB}`, d.stderr + srv.log());
    await sleep(300);
    const after = lines(srv).slice(before);
    const resets = after.filter((l) => l.event === 'socket-error');
    assert.deepEqual(resets.map((l) => `${l.code} ${l.syscall}`), Array(3).fill('ECONNRESET read'), srv.log());
    const closed = after.filter((l) => l.event === 'big-closed');
    assert.deepEqual(closed.map((l) => l.finished).sort(), [false, false, false, true], 'three cut short, one finished');
    tc.diagnostic(`the resetting clients read ${read.join(', ')} bytes first`);
    const next = await curl(t, ['-sS', url('/still-there')]);
    assert.equal(next.stdout, 'hello /still-there\n');
  });
});
