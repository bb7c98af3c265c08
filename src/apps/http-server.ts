/**
 * `ixy http`: Node's own `http` server on the stack, once per thread (the runtime loads this module in each and calls
 * its default export). Serves the files under `dir` (GET and HEAD; index.html for a directory) or, without one, a
 * fixed "hello world" for benchmarks; an access log line per request (Common Log Format plus the time taken).
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { serve, threadFigures } from '../net/index.js';

export interface HttpServerOptions {
  port: number;
  /** Directory to serve; none: "hello world\n" for every request. */
  dir?: string;
  /** Where access log lines go: 'stdout' or 'none'. */
  log: 'stdout' | 'none';
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
  '.json': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml',
};
const HELLO = Buffer.from('hello world\n');

export default function start(o: HttpServerOptions): void {
  threadFigures.requests = 0;
  const root = o.dir === undefined ? null : resolve(o.dir);
  const server = http.createServer((req, res) => {
    threadFigures.requests++;
    const t0 = performance.now();
    // 'close', not 'finish': a client that has all its bytes may hang up before res.end() (a file's stream ends a turn
    // later), and http then never emits 'finish' for it
    if (o.log === 'stdout') res.on('close', () => accessLog(req, res, t0));
    if (root === null) {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('content-length', HELLO.length);
      res.end(HELLO);
      return;
    }
    sendFile(root, req, res);
  });
  serve(server, o.port);
}

function sendFile(root: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return status(res, 405, { allow: 'GET, HEAD' });
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return status(res, 400);
  }
  let file = join(root, path);
  if (file !== root && !file.startsWith(root + sep)) return status(res, 403);
  let st;
  try {
    st = statSync(file);
    if (st.isDirectory()) { file = join(file, 'index.html'); st = statSync(file); }
  } catch {
    return status(res, 404);
  }
  res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
  res.setHeader('content-length', st.size);
  if (req.method === 'HEAD') { res.end(); return; }
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

function status(res: http.ServerResponse, code: number, headers: Record<string, string> = {}): void {
  const body = `${code} ${http.STATUS_CODES[code]}\n`;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.statusCode = code;
  res.end(body);
}

function accessLog(req: http.IncomingMessage, res: http.ServerResponse, t0: number): void {
  const when = new Date().toISOString();
  const bytes = res.getHeader('content-length') ?? '-';
  console.log(`${req.socket.remoteAddress} - - [${when}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} ${bytes} ${(performance.now() - t0).toFixed(3)}ms`);
}
