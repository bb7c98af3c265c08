/**
 * Node's own `http` server on `ixy.ts/net`, for test/linux/net-http-*.test.ts: run in the stack's namespace, it
 * attaches a stack to `dev` and hands `http.createServer(handler)` the stack's connections with `serve()`. Uses only
 * the package's public imports. Does nothing unless IXY_NETNS_SCRIPT=1 (`node --test dist/test/` loads every file).
 *
 *   node net-http-server.js <dev> <ip/prefix> <port>
 *
 * Routes:
 *   POST /hash              reads the body; answers {"sha256","length","expect","transferEncoding"} as JSON
 *   GET  /chunked?n=&size=  n random chunks of `size` bytes, each its own res.write(), no content-length; the
 *                           x-body-sha256 and x-body-length headers say what the body is
 *   GET  /big?mib=N         N MiB, written with back-pressure (for a client that resets half-way)
 *   GET  /throw             the handler throws (the process's 'uncaughtException' handler logs it and goes on)
 *   anything else           "hello <path>\n"
 *
 * stdout, one JSON object a line: {"event":"listening"}; {"event":"uncaught","message"}; {"event":"socket-error",
 * "code","syscall"} for an error on a connection; {"event":"big-closed","sent","finished"} when a /big response
 * ends either way; at SIGTERM {"event":"closed","leakedBuffers"}, then exit 0.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { attach, serve } from 'ixy.ts/net';

const say = (v: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };

function hashBody(req: http.IncomingMessage, res: http.ServerResponse): void {
  const h = createHash('sha256');
  let length = 0;
  req.on('data', (d: Buffer) => { h.update(d); length += d.length; });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      sha256: h.digest('hex'), length, expect: req.headers.expect ?? null, transferEncoding: req.headers['transfer-encoding'] ?? null,
    }));
  });
}

function chunked(url: URL, res: http.ServerResponse): void {
  const chunks = Array.from({ length: Number(url.searchParams.get('n') ?? 8) }, () => randomBytes(Number(url.searchParams.get('size') ?? 1000)));
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  res.setHeader('x-body-sha256', h.digest('hex'));
  res.setHeader('x-body-length', chunks.reduce((a, c) => a + c.length, 0));
  let i = 0;
  const next = (): void => {
    if (i === chunks.length) { res.end(); return; }
    res.write(chunks[i++]);
    setImmediate(next); // one chunk per turn of the event loop: each leaves as its own HTTP chunk
  };
  next();
}

function big(url: URL, res: http.ServerResponse): void {
  const total = Number(url.searchParams.get('mib') ?? 64) << 20;
  const block = Buffer.alloc(64 * 1024, 0x5a);
  let sent = 0;
  res.setHeader('content-length', total);
  res.on('close', () => say({ event: 'big-closed', sent, finished: res.writableFinished }));
  const more = (): void => {
    while (sent < total) {
      sent += block.length;
      if (!res.write(block)) { res.once('drain', more); return; }
    }
    res.end();
  };
  more();
}

async function main(dev: string, cidr: string, port: number): Promise<void> {
  process.on('uncaughtException', (e) => say({ event: 'uncaught', message: e.message }));
  const iface = await attach({ device: dev, ip: cidr });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/hash') return hashBody(req, res);
    if (url.pathname === '/chunked') return chunked(url, res);
    if (url.pathname === '/big') return big(url, res);
    if (url.pathname === '/throw') throw new Error('thrown by the /throw handler');
    res.end(`hello ${url.pathname}\n`);
  });
  server.on('connection', (s: NodeJS.EventEmitter) => {
    s.on('error', (e: NodeJS.ErrnoException) => say({ event: 'socket-error', code: e.code, syscall: e.syscall, message: e.message }));
  });
  serve(server, port, () => say({ event: 'listening', port }));
  process.once('SIGTERM', () => {
    server.close();
    void iface.close().then((r) => { say({ event: 'closed', leakedBuffers: r.leakedBuffers }); process.exit(0); });
  });
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const a = process.argv.slice(2);
  main(a[0], a[1], Number(a[2])).catch((e: Error) => { say({ event: 'error', message: e.message }); process.exit(1); });
}
