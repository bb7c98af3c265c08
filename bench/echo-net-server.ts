#!/usr/bin/env node
/**
 * The IX/mTCP echo server on Node's `net` module and the Linux TCP/IP stack, for bench/echo: every chunk that
 * arrives is written straight back (`socket.write(chunk)`), Nagle off; a half-close from the client is answered
 * with `end()`. It prints `{"ready":true,...}` once listening and, on SIGTERM/SIGINT, one JSON line with its counts
 * and its own CPU time (process.cpuUsage: all threads, user + system).
 *
 *   node dist/bench/echo-net-server.js --ip 10.79.2.2 [--port 7] [--backlog 4096]
 */
import * as net from 'node:net';
import { parseBenchArgs } from './options.js';

const { values } = parseBenchArgs({
  options: { ip: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '7' }, backlog: { type: 'string', default: '4096' } },
  strict: true,
});

let accepted = 0;
let closed = 0;
let bytesEchoed = 0;
let errors = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => {
  accepted++;
  s.on('data', (chunk: Buffer) => { bytesEchoed += chunk.length; s.write(chunk); });
  s.on('end', () => s.end());
  s.on('error', () => { errors++; });
  s.on('close', () => { closed++; });
});
server.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
server.listen({ host: values.ip, port: Number(values.port), backlog: Number(values.backlog) }, () => {
  console.log(JSON.stringify({ ready: true, ip: values.ip, port: Number(values.port), pid: process.pid }));
});

function finish(): void {
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({
    mode: 'net-server', accepted, closed, bytesEchoed, errors, elapsedMs: performance.now() - t0,
    cpuNs: (cpu.user + cpu.system) * 1000, userNs: cpu.user * 1000, systemNs: cpu.system * 1000,
  }));
  process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
