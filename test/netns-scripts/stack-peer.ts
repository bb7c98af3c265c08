/**
 * The Linux side of the stack interop tests (test/linux/stack-linux*.test.ts): plain Node sockets inside the peer
 * namespace, spawned through `ip netns exec`. Each mode prints one JSON line at the end (and `ready` first where
 * the test has to wait for it). Does nothing unless IXY_NETNS_SCRIPT=1, because `node --test dist/test/` would load
 * every file under dist/test.
 *
 *   node stack-peer.js many <ip> <port> <n> <size> [timeoutMs]
 *     opens n connections at once, sends a distinct size-byte message on each, checks the echo byte for byte, then
 *     closes each with FIN (end()) and waits for the peer's FIN: { ok, failed, mismatches, finsSeen, errors, elapsedMs }
 *   node stack-peer.js rtt <ip> <port> <ms> <intervalMs> [newConnEveryMs]
 *     one connection: a 64-byte round trip every intervalMs for ms; optionally also a fresh connection with one
 *     round trip every newConnEveryMs: { rounds, failures, maxMs, p50Ms, p99Ms, newConns, newConnFailures, errors }
 *   node stack-peer.js reset <ip> <port> <bytes>
 *     sends up to bytes without reading the echo, until the server's window closes (it holds data), then
 *     resetAndDestroy() (RST); then one round trip on a fresh connection:
 *     { written, sendQ, recvQ (ss, just before the RST), resetSent, afterOk, errors }
 *   node stack-peer.js echo-server <port>
 *     an echo server; prints `ready` once listening, and on SIGTERM:
 *     { conns, fins (peer closed with FIN), resets, errors, bytes, open }
 */
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';

const say = (line: string): Promise<void> => new Promise((r) => process.stdout.write(`${line}\n`, () => r()));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The message for connection i: "ixy-<i>-" then a pattern that depends on i, `size` bytes. */
export function message(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let k = 0; k < size; k++) b[k] = (i * 7 + k * 13) & 0xff;
  b.write(`ixy-${i}-`);
  return b;
}

/** The last error a socket reported (kept by a listener that stays, so an error between operations is no crash). */
const lastError = new WeakMap<net.Socket, Error>();
const gone = (s: net.Socket): Error => lastError.get(s) ?? new Error('the socket is closed');

/** Connects, resolving with the socket (or rejecting on error / after timeoutMs). */
function connect(ip: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: ip, port, noDelay: true });
    s.on('error', (e) => { lastError.set(s, e); });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`connect timed out after ${timeoutMs} ms`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.off('error', fail); resolve(s); });
    const fail = (e: Error): void => { clearTimeout(t); reject(e); };
    s.once('error', fail);
  });
}

/** Reads exactly n bytes from s (or rejects on end/error/timeout). */
function readExactly(s: net.Socket, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) { reject(gone(s)); return; }
    const parts: Buffer[] = [];
    let got = 0;
    const done = (e: Error | null, b?: Buffer): void => {
      clearTimeout(t);
      s.off('data', onData); s.off('end', onEnd); s.off('error', done);
      if (e) reject(e); else resolve(b!);
    };
    const onData = (d: Buffer): void => {
      parts.push(d); got += d.length;
      if (got > n) done(new Error(`got ${got} bytes, expected ${n}`));
      else if (got === n) { s.pause(); done(null, Buffer.concat(parts)); }
    };
    const onEnd = (): void => done(new Error(`connection ended after ${got} of ${n} bytes`));
    const t = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms with ${got} of ${n} bytes`)), timeoutMs);
    s.on('data', onData); s.once('end', onEnd); s.once('error', done);
    s.resume();
  });
}

/** One round trip on an open socket: sends msg, reads the same number of bytes, compares. */
async function roundTrip(s: net.Socket, msg: Buffer, timeoutMs: number): Promise<void> {
  s.write(msg);
  const back = await readExactly(s, msg.length, timeoutMs);
  if (!back.equals(msg)) throw new Error('echo differs from the message');
}

/** Half-closes with FIN and waits for the peer's FIN and the close. Resolves true if the peer's FIN was seen. */
function finClose(s: net.Socket, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) { reject(gone(s)); return; }
    let fin = false;
    const t = setTimeout(() => { s.destroy(); reject(new Error(`no FIN from the peer within ${timeoutMs} ms`)); }, timeoutMs);
    s.on('end', () => { fin = true; });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
    s.once('close', () => { clearTimeout(t); resolve(fin); });
    s.resume();
    s.end();
  });
}

async function many(ip: string, port: number, n: number, size: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  let ok = 0, failed = 0, mismatches = 0, finsSeen = 0;
  const errors: string[] = [];
  const one = async (i: number): Promise<void> => {
    try {
      const s = await connect(ip, port, timeoutMs);
      try {
        await roundTrip(s, message(i, size), timeoutMs);
      } catch (e) {
        if ((e as Error).message.includes('differs')) mismatches++;
        s.destroy();
        throw e;
      }
      if (await finClose(s, timeoutMs)) finsSeen++;
      ok++;
    } catch (e) {
      failed++;
      if (errors.length < 5) errors.push(`#${i}: ${(e as Error).message}`);
    }
  };
  await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  await say(JSON.stringify({ ok, failed, mismatches, finsSeen, errors, elapsedMs: Math.round(performance.now() - t0) }));
}

async function rtt(ip: string, port: number, ms: number, intervalMs: number, newConnEveryMs: number): Promise<void> {
  const errors: string[] = [];
  const times: number[] = [];
  let failures = 0, newConns = 0, newConnFailures = 0;
  const note = (e: unknown): void => { if (errors.length < 5) errors.push((e as Error).message); };
  const s = await connect(ip, port, 5000);
  const end = performance.now() + ms;
  const fresh = async (k: number): Promise<void> => {
    try {
      const c = await connect(ip, port, 10_000);
      await roundTrip(c, message(100_000 + k, 64), 10_000);
      await finClose(c, 10_000);
      newConns++;
    } catch (e) { newConnFailures++; note(e); }
  };
  const pending: Promise<void>[] = [];
  let nextFresh = newConnEveryMs > 0 ? performance.now() : Infinity;
  for (let i = 0; performance.now() < end; i++) {
    if (performance.now() >= nextFresh) { pending.push(fresh(pending.length)); nextFresh += newConnEveryMs; }
    const t = performance.now();
    try {
      await roundTrip(s, message(i, 64), 10_000);
      times.push(performance.now() - t);
    } catch (e) { failures++; note(e); break; }
    const wait = intervalMs - (performance.now() - t);
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(pending);
  try { await finClose(s, 5000); } catch (e) { note(e); }
  times.sort((a, b) => a - b);
  const q = (p: number): number => (times.length ? Math.round(times[Math.min(times.length - 1, Math.floor(times.length * p))] * 100) / 100 : -1);
  await say(JSON.stringify({ rounds: times.length, failures, maxMs: q(1), p50Ms: q(0.5), p99Ms: q(0.99), newConns, newConnFailures, errors }));
}

async function reset(ip: string, port: number, bytes: number): Promise<void> {
  const errors: string[] = [];
  const s = await connect(ip, port, 5000);
  s.pause(); // never read: the echo backs up, the server holds what it received
  s.on('error', (e) => { if (errors.length < 5) errors.push(`first connection: ${e.message}`); });
  const chunk = Buffer.alloc(65536, 0x42);
  let written = 0;
  const deadline = performance.now() + 5000;
  // write until the kernel stops taking data for 300 ms (the server's window closed: it holds what it received)
  while (written < bytes && performance.now() < deadline) {
    written += chunk.length;
    if (!s.write(chunk)) {
      const drained = await Promise.race([new Promise<boolean>((r) => s.once('drain', () => r(true))), sleep(300).then(() => false)]);
      if (!drained) break;
    }
  }
  // the kernel's view of this socket: Send-Q (not acknowledged by the server) and Recv-Q (echo not read)
  const ss = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${s.localPort} )`], { encoding: 'utf8' }).trim().split(/\s+/);
  const o = /^\d+$/.test(ss[0] ?? '') ? 0 : 1; // with one state filtered, ss leaves the State column out
  const recvQ = Number(ss[o]);
  const sendQ = Number(ss[o + 1]);
  s.resetAndDestroy();
  await new Promise((r) => s.once('close', r));
  await sleep(200);
  let afterOk = false;
  try {
    const c = await connect(ip, port, 5000);
    await roundTrip(c, message(7, 64), 5000);
    await finClose(c, 5000);
    afterOk = true;
  } catch (e) { errors.push(`after the reset: ${(e as Error).message}`); }
  await say(JSON.stringify({ written, sendQ, recvQ, resetSent: true, afterOk, errors }));
}

async function echoServer(port: number): Promise<void> {
  let conns = 0, fins = 0, resets = 0, bytes = 0, open = 0;
  const errors: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    conns++; open++;
    s.on('data', (d) => { bytes += d.length; s.write(d); });
    s.on('end', () => { fins++; s.end(); });
    s.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') resets++;
      else if (errors.length < 5) errors.push(e.message);
    });
    s.on('close', () => { open--; });
  });
  await new Promise<void>((r) => server.listen(port, r));
  process.on('SIGTERM', () => {
    void say(JSON.stringify({ conns, fins, resets, errors, bytes, open })).then(() => process.exit(0));
  });
  await say('ready');
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const [mode, ...a] = process.argv.slice(2);
  const run = mode === 'many' ? many(a[0], Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4] ?? 20_000))
    : mode === 'rtt' ? rtt(a[0], Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4] ?? 0))
    : mode === 'reset' ? reset(a[0], Number(a[1]), Number(a[2]))
    : mode === 'echo-server' ? echoServer(Number(a[0]))
    : Promise.reject(new Error(`unknown mode '${mode}'`));
  run.catch(async (e: Error) => { await say(JSON.stringify({ error: e.message })); process.exitCode = 1; });
}
