#!/usr/bin/env node
/**
 * The echo server of bench/echo written with `ixy.ts/net` — the code of bench/echo-net-server.ts (`node:net`) on the
 * TCP/IP stack instead of the kernel's: `attach` a stack to an AF_XDP device in this thread, then
 * `createServer(…).listen(port)`; every chunk that arrives is written straight back (`socket.write(chunk)`), Nagle
 * off; a half-close from the client is answered with `end()`. Each chunk is copied once in (a Buffer per segment) and
 * once out (docs/net.md), where the native server (`ixy echo server`) echoes from the receive buffers. It prints
 * `{"ready":true,...}` once listening and, on SIGTERM/SIGINT, one JSON line with its counts, the loop thread's CPU
 * time and the stack's counters.
 *
 *   node dist/bench/echo-ixynet-server.js --dev xdp:IF --ip A.B.C.D/N [--port 7] [--batch 64]
 */
import { attach, createServer, type NetInterface, type Socket } from 'ixy.ts/net';
import { optionError, parseBenchArgs } from './options.js';

const { values } = parseBenchArgs({
  options: { dev: { type: 'string' }, ip: { type: 'string' }, port: { type: 'string', default: '7' }, batch: { type: 'string', default: '64' } },
  strict: true,
});
if (values.dev === undefined || values.ip === undefined) optionError('--dev SPEC and --ip A.B.C.D/N are required');

const counts = { accepted: 0, closed: 0, bytesEchoed: 0, errors: 0 };

function echo(s: Socket): void {
  counts.accepted++;
  s.on('data', (chunk: Buffer) => { counts.bytesEchoed += chunk.length; s.write(chunk); });
  s.on('end', () => s.end());
  s.on('error', () => { counts.errors++; });
  s.on('close', () => { counts.closed++; });
}

async function attachOrExit(): Promise<NetInterface> {
  try {
    return await attach({ device: values.dev!, ip: values.ip!, batch: Number(values.batch) });
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).message }));
    return process.exit(1);
  }
}

const iface = await attachOrExit();
const server = createServer({ noDelay: true, allowHalfOpen: true }, echo);
server.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
server.listen(Number(values.port), () => {
  console.log(JSON.stringify({ ready: true, ip: iface.address, port: Number(values.port), pid: process.pid }));
});

async function finish(): Promise<void> {
  server.close();
  const r = await iface.close();
  const t = r.threads[0];
  console.log(JSON.stringify({
    mode: 'ixynet-server', ...counts, elapsedMs: r.elapsedMs, cpuNs: t.cpuNs, leakedBuffers: r.leakedBuffers,
    tcp: t.stack?.tcp, ip: t.stack?.ip, iface: t.stack?.iface, loop: t.stack?.loop,
  }));
  process.exit(0);
}
process.once('SIGTERM', () => void finish()).once('SIGINT', () => void finish());
