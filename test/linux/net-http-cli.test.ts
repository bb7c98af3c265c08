/**
 * `ixy http` (Node's own http server on ixy.ts/net, run through the CLI) against Linux clients in a namespace:
 *
 *   ns P: Linux 10.N.0.1: curl, wrk, ab, socat, node --veth (offloads off)-- ns S: ixy http on xdp: 10.N.0.2
 *   tap:  ns S holds both: the tap ixy creates is Linux's side (10.N.0.1), the stack 10.N.0.2 behind it
 *
 * --dir D (xdp:): curl GETs a small file and a 100 MiB one (equal sha256), HEAD (headers, no body), 404 for a
 * missing file, paths that climb out of D (--path-as-is /../, an encoded slash) answer 404/403 and never the file
 * beside D, and the access log has one line per request (method, path, status, size), also for 100 curls that each
 * hang up once they have the bytes; three pipelined requests in one write get three responses in order on one
 * connection. Hello world (xdp:): wrk -c256 with no socket error and only 2xx, ab -k 5000 requests all kept alive and
 * none failed. Node's fetch() and http.get from Linux (tap:) get
 * the right bodies. --threads 2 on a two-queue veth: 200 curl requests on 200 connections all answered, and the
 * --json summary's perThread shows both threads served some. Every run ends on SIGTERM with exit 0 and no leaked
 * buffer. CLI mistakes: one `ixy: ` line on stderr, exit 1 or 2, no stack trace.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CLI, type DataFile, directTopology, makeDataFile, MIB, prefixFile, sha256File, type StackProc, tempDir, type Topology,
} from '../helpers/stack-netns.js';
import { curl, skipUnless, startHttp, withLab } from '../helpers/net-http.js';
import { Netlab } from '../../lab/netns.js';

const skip = skipUnless(['curl', 'wrk', 'ab', 'socat', 'ping', 'ethtool', 'ss']);
const PORT = 80;

/** One access log line: `IP - - [time] "METHOD PATH HTTP/1.1" STATUS SIZE T ms`. */
const LOG_LINE = /^(\d+\.\d+\.\d+\.\d+) - - \[[^\]]+\] "(\S+) (\S+) HTTP\/1\.1" (\d{3}) (\S+) [\d.]+ms$/;

function accessLog(p: StackProc): { ip: string; method: string; path: string; status: number; size: string }[] {
  return p.stdout.split('\n').map((l) => LOG_LINE.exec(l)).filter((m) => m !== null && m[3] !== '/__ready')
    .map((m) => ({ ip: m![1], method: m![2], path: m![3], status: Number(m![4]), size: m![5] }));
}

/** SIGTERM: exit 0, and (--json) no leaked buffer; returns the summary when there is one. */
async function stopClean(p: StackProc, json: boolean): Promise<Record<string, any> | null> {
  assert.equal(await p.stop(), 0, `exit code\n${p.log()}`);
  if (!json) { assert.match(p.stdout, /buffers leaked 0$/m, p.log()); return null; }
  const s = p.json();
  assert.equal(s.leakedBuffers, 0, p.log());
  return s;
}

describe('ixy http --dir on xdp: against curl and socat', { skip }, () => {
  let lab: Netlab;
  let t: Topology;
  let http: StackProc;
  let work = '';
  let dir = '';
  let big: DataFile;
  const base = (): string => `http://${t.stackIp}:${PORT}`;

  before(async () => {
    work = tempDir('nethttp');
    dir = path.join(work, 'www');
    fs.mkdirSync(dir);
    big = makeDataFile(dir, 100 * MIB);
    fs.writeFileSync(path.join(dir, 'small.txt'), 'a small file\n');
    for (const [f, body] of [['a.txt', 'first\n'], ['b.txt', 'second\n'], ['c.txt', 'third\n']]) fs.writeFileSync(path.join(dir, f), body);
    fs.writeFileSync(path.join(work, 'secret.txt'), 'SECRET beside the served directory\n');
    lab = new Netlab();
    t = directTopology(lab, 'xdp', 110);
    http = await startHttp(t, PORT, ['--dir', dir]);
  });
  after(async () => {
    try { if (http) await stopClean(http, false); } finally {
      await lab?.cleanup();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('GET small and 100 MiB files (sha256 equal), HEAD, 404, no way out of --dir, one access log line per request', { timeout: 120_000 }, async (tc) => {
    const small = await curl(t, ['-sS', '-D', '-', `${base()}/small.txt`]);
    assert.equal(small.code, 0, small.stderr);
    assert.match(small.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(small.stdout, /\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
    assert.ok(small.stdout.endsWith('\r\n\r\na small file\n'), small.stdout);

    const out = path.join(work, 'got.bin');
    const t0 = performance.now();
    const got = await curl(t, ['-sS', '-o', out, '-w', '%{http_code} %{size_download}', `${base()}/${path.basename(big.path)}`], 120_000);
    const ms = performance.now() - t0;
    assert.equal(got.stdout, `200 ${big.size}`, got.stderr + http.log());
    assert.equal(sha256File(out), big.sha256, 'sha256 of the 100 MiB download');
    fs.rmSync(out);
    tc.diagnostic(`100 MiB GET in ${(ms / 1000).toFixed(2)} s (${(100 / (ms / 1000)).toFixed(0)} MiB/s)`);

    // HEAD: the GET's headers, no body (curl would read a body it was not promised as the next response's start)
    const head = await curl(t, ['-sS', '-I', '-w', '%{size_download}', `${base()}/${path.basename(big.path)}`]);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head.stdout, new RegExp(`\\r\\ncontent-length: ${big.size}\\r\\n`, 'i'));
    assert.ok(head.stdout.endsWith('\r\n\r\n0'), `no body after the HEAD's headers: ${JSON.stringify(head.stdout.slice(-40))}`);

    const code = async (p: string): Promise<{ status: string; body: string }> => {
      const r = await curl(t, ['-sS', '--path-as-is', '-w', '\n%{http_code}', `${base()}${p}`]);
      const i = r.stdout.lastIndexOf('\n');
      return { status: r.stdout.slice(i + 1), body: r.stdout.slice(0, i) };
    };
    assert.deepEqual(await code('/missing.txt'), { status: '404', body: '404 Not Found\n' });
    for (const [p, status] of [['/../secret.txt', '404'], ['/..%2fsecret.txt', '403'], ['/a.txt/../../secret.txt', '404']]) {
      const r = await code(p);
      assert.equal(r.status, status, `${p}: ${JSON.stringify(r)}`);
      assert.ok(!r.body.includes('SECRET'), `${p} served the file beside --dir`);
    }

    await new Promise((r) => setTimeout(r, 200)); // the log line is written when the response has finished
    const want = [
      ['GET', '/small.txt', 200], ['GET', `/${path.basename(big.path)}`, 200], ['HEAD', `/${path.basename(big.path)}`, 200],
      ['GET', '/missing.txt', 404], ['GET', '/../secret.txt', 404], ['GET', '/..%2fsecret.txt', 403], ['GET', '/a.txt/../../secret.txt', 404],
    ];
    const log = accessLog(http);
    assert.deepEqual(log.map((l) => [l.method, l.path, l.status]), want, http.log());
    for (const l of log) assert.equal(l.ip, t.peerIp);
    assert.equal(log[1].size, String(big.size));

    // a client that hangs up as soon as it has the bytes (each curl its own process) is logged all the same
    const before = log.length;
    const many = await lab.run(t.peer, ['sh', '-c', `for i in $(seq 100); do curl -sS -o /dev/null ${base()}/small.txt || exit 1; done`], { timeoutMs: 60_000 });
    assert.equal(many.code, 0, many.stderr);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(accessLog(http).slice(before).filter((l) => l.path === '/small.txt' && l.status === 200).length, 100, http.log());
  });

  test('three pipelined GETs in one write (socat): three responses, in order, on one connection', { timeout: 60_000 }, async () => {
    const req = (f: string, last = false): string => `GET /${f} HTTP/1.1\\r\\nHost: x\\r\\n${last ? 'Connection: close\\r\\n' : ''}\\r\\n`;
    const before = accessLog(http).length;
    // stdin stays open (no half-close, which makes Node's http drop answers it has not written yet): the server's
    // close after the third answer (Connection: close) is what ends socat
    const r = await lab.run(t.peer, ['sh', '-c', `(printf '${req('a.txt')}${req('b.txt')}${req('c.txt', true)}'; sleep 3) | socat -t 1 - TCP:${t.stackIp}:${PORT}`], { timeoutMs: 30_000 });
    const answers = r.stdout.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 3, r.stdout);
    assert.deepEqual(answers.map((a) => [a.split('\r\n')[0], a.split('\r\n\r\n')[1]]), [
      ['HTTP/1.1 200 OK', 'first\n'], ['HTTP/1.1 200 OK', 'second\n'], ['HTTP/1.1 200 OK', 'third\n'],
    ]);
    assert.match(answers[2], /\r\nConnection: close\r\n/i);
    assert.deepEqual(accessLog(http).slice(before).map((l) => l.path), ['/a.txt', '/b.txt', '/c.txt']);
  });
});

describe('ixy http (hello world) on xdp: under wrk and ab', { skip }, () => {
  test('wrk -t1 -c256 -d3s: no socket errors, only 2xx; ab -k -n 5000 -c 64: none failed, all kept alive', { timeout: 120_000 }, (tc) => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 111);
    const http = await startHttp(t, PORT, ['--access-log', 'none', '--json']);
    const url = `http://${t.stackIp}:${PORT}/`;
    const wrk = await lab.run(t.peer, ['wrk', '-t1', '-c256', '-d3s', url], { timeoutMs: 30_000 });
    assert.equal(wrk.code, 0, wrk.stdout + wrk.stderr);
    const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(wrk.stdout);
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(wrk.stdout);
    assert.ok(requests > 0, wrk.stdout);
    assert.equal(errors, null, `wrk counted socket errors: ${errors?.[0]}\n${http.log()}`);
    assert.equal(non2xx, null, `wrk counted ${non2xx?.[1]} non-2xx answers`);
    tc.diagnostic(`wrk: ${requests} requests, ${/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1]} requests/s`);

    const ab = await lab.run(t.peer, ['ab', '-k', '-n', '5000', '-c', '64', url], { timeoutMs: 60_000 });
    assert.equal(ab.code, 0, ab.stdout + ab.stderr);
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(ab.stdout)?.[1]);
    assert.equal(field('Complete requests'), 5000, ab.stdout);
    assert.equal(field('Failed requests'), 0, ab.stdout);
    assert.equal(field('Keep-Alive requests'), 5000, ab.stdout);
    assert.doesNotMatch(ab.stdout, /Non-2xx responses/, ab.stdout);
    tc.diagnostic(`ab: ${/Requests per second:\s+([\d.]+)/.exec(ab.stdout)?.[1]} requests/s`);

    const s = (await stopClean(http, true))!;
    // wrk does not count the answers still on their way when its 3 s are up; the server counted them
    assert.ok(s.requests >= requests + 5000 + 1, `the server counted ${s.requests}: every request (and the readiness probe)`);
  }));
});

describe('ixy http on tap: against Node clients', { skip }, () => {
  test("Node's fetch() and http.get from Linux get the files' bytes", { timeout: 90_000 }, (tc) => withLab(async (lab) => {
    const work = tempDir('nethttp-tap');
    try {
      const data = prefixFile(work, makeDataFile(work, 4 * MIB), 3 * MIB + 17);
      const t = directTopology(lab, 'tap', 112);
      const http = await startHttp(t, PORT, ['--dir', work, '--json']);
      const client = `
        import http from 'node:http';
        import { createHash } from 'node:crypto';
        const sha = (b) => createHash('sha256').update(b).digest('hex');
        const url = process.argv[1];
        const f = await fetch(url);
        const fb = Buffer.from(await f.arrayBuffer());
        const g = await new Promise((resolve, reject) => http.get(url, (res) => {
          const parts = [];
          res.on('data', (d) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts) }));
        }).on('error', reject));
        console.log(JSON.stringify({ fetch: [f.status, fb.length, sha(fb)], get: [g.status, g.body.length, sha(g.body)] }));`;
      const r = await lab.run(t.peer, [process.execPath, '--input-type=module', '-e', client, `http://${t.stackIp}:${PORT}/${path.basename(data.path)}`], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr + http.log());
      const got = JSON.parse(r.stdout) as { fetch: unknown[]; get: unknown[] };
      assert.deepEqual(got, { fetch: [200, data.size, data.sha256], get: [200, data.size, data.sha256] });
      const s = (await stopClean(http, true))!;
      assert.match(s.device.spec, /^tap:/);
      tc.diagnostic(`tap: ${s.requests} requests, ${s.tcp.retransmits} retransmits`);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }));
});

describe('ixy http --threads 2 on a two-queue veth (xdp:)', { skip }, () => {
  test('200 requests on 200 connections all answered; both threads served some (--json perThread)', { timeout: 90_000 }, (tc) => withLab(async (lab) => {
    const t = directTopology(lab, 'xdp', 113, 2);
    const http = await startHttp(t, PORT, ['--threads', '2', '--access-log', 'none', '--json']);
    // Connection: close: a new connection per request, so the kernel's per-flow hash spreads them over both queues
    const r = await curl(t, ['-sS', '-Z', '--parallel-max', '16', '-H', 'Connection: close', '-o', '/dev/null', '-w', '%{http_code}\n',
      `http://${t.stackIp}:${PORT}/[1-200]`]);
    const codes = r.stdout.trim().split('\n');
    assert.equal(codes.length, 200, r.stderr);
    assert.ok(codes.every((c) => c === '200'), `not all 200: ${codes.filter((c) => c !== '200').join(' ')}`);
    const s = (await stopClean(http, true))!;
    const served = s.perThread.map((p: Record<string, number>) => p.requests);
    tc.diagnostic(`requests per thread: ${served.join(', ')}`);
    assert.equal(s.threads, 2);
    assert.equal(s.requests, 201, 'the 200 and the readiness probe');
    assert.equal(s.accepted, 201);
    assert.equal(served.reduce((a: number, b: number) => a + b, 0), 201);
    for (const [i, n] of served.entries()) assert.ok(n >= 10, `thread ${i} served ${n} of 201 requests`);
  }));
});

describe('ixy http: CLI mistakes', { skip }, () => {
  test('a missing or non-directory --dir, a bad --access-log, no --ip: one `ixy:` line, exit 1 or 2, no stack trace', { timeout: 60_000 }, () => withLab(async (lab) => {
    const ns = lab.ns('c'); // no interface is opened (the options fail first), and none of the host's could be
    const work = tempDir('nethttp-cli');
    try {
      const file = path.join(work, 'file.txt');
      fs.writeFileSync(file, 'not a directory\n');
      const dev = ['--dev', 'xdp:nosuch0', '--ip', '10.112.0.2/24'];
      const cases: [string[], number, RegExp][] = [
        [[...dev, '--dir', path.join(work, 'absent')], 1, /^ixy: cannot serve .*absent: no such file or directory/],
        [[...dev, '--dir', file], 2, /^ixy: --dir .*file\.txt is not a directory/],
        [[...dev, '--access-log', 'bogus'], 2, /^ixy: --access-log 'bogus' is not a destination: use stdout or none$/],
        [['--dev', 'xdp:nosuch0'], 2, /^ixy: --ip is required/],
        [[...dev, '--port', '70000'], 2, /^ixy: --port must be an integer in 1\.\.65535/],
      ];
      for (const [args, code, message] of cases) {
        const r = await lab.run(ns, ['node', CLI, 'http', ...args], { timeoutMs: 30_000 });
        const what = `ixy http ${args.join(' ')}: exit ${r.code}\n${r.stderr}`;
        assert.equal(r.code, code, what);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, what);
        assert.match(r.stderr.trimEnd(), message, what);
        assert.doesNotMatch(r.stderr, /\n\s+at /, what);
        assert.equal(r.stdout, '', what);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }));
});
