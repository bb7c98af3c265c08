#!/usr/bin/env node
/**
 * The hello-world server of bench/http on Node's own `http` and the kernel's TCP/IP: the handler of `ixy http`
 * without `--dir` (src/apps/http-server.ts, which runs it on the stack through `serve`), line for line — a request
 * counter, the start time its access log would use, `content-type: text/plain`, `content-length: 12`, the 12-byte
 * body "hello world\n". Node's defaults otherwise (backlog 511 as `serve`, keep-alive timeout 5 s). It prints
 * `{"ready":true,...}` once listening and, on SIGTERM/SIGINT, one JSON line with its counts and its CPU time.
 *
 *   node dist/bench/http-node-server.js --ip 10.82.2.2 [--port 80]
 */
import http from 'node:http';
import { parseBenchArgs } from './options.js';

const { values } = parseBenchArgs({
  options: { ip: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '80' } },
  strict: true,
});

const HELLO = Buffer.from('hello world\n');
let requests = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();

const server = http.createServer((_req, res) => {
  requests++;
  void performance.now(); // src/apps/http-server.ts takes the access log's start time here (logged only with --access-log stdout)
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', HELLO.length);
  res.end(HELLO);
});
server.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
server.listen({ host: values.ip, port: Number(values.port) }, () => {
  console.log(JSON.stringify({ ready: true, ip: values.ip, port: Number(values.port), pid: process.pid }));
});

function finish(): void {
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ mode: 'node-http', requests, elapsedMs: performance.now() - t0, cpuNs: (cpu.user + cpu.system) * 1000 }));
  process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
