/**
 * An unmodified `node:http` server on the TCP/IP stack: `attach` puts a stack on the device in this thread, and
 * `serve` hands the http server each of its connections (as `server.emit('connection', socket)`). The handler is
 * plain Node. Stops on SIGINT/SIGTERM or after --seconds; prints the requests served.
 *
 *   node dist/examples/http-hello.js --dev xdp:veth0 --ip 10.0.0.2/24 [--port 80] [--seconds 10]
 *   then, from the peer:  curl http://10.0.0.2/   or   wrk -c 64 http://10.0.0.2/
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { attach, serve } from 'ixy.ts/net';

const { values: o } = parseArgs({
  options: { dev: { type: 'string' }, ip: { type: 'string' }, port: { type: 'string', default: '80' }, seconds: { type: 'string' } },
});
if (!o.dev || !o.ip) {
  console.error('usage: http-hello --dev SPEC --ip A.B.C.D/N [--port 80] [--seconds S]');
  process.exit(2);
}

let requests = 0;
const server = http.createServer((req, res) => {
  requests++;
  const body = `hello from ixy.ts: ${req.method} ${req.url}\n`;
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', Buffer.byteLength(body)); // lets HTTP/1.0 clients (ab -k) keep the connection
  res.end(body);
});

const iface = await attach({ device: o.dev, ip: o.ip });
serve(server, Number(o.port), () => console.log(`listening on ${iface.address}:${o.port}`));

const timer = o.seconds ? setTimeout(() => void stop(), Number(o.seconds) * 1000) : undefined;
async function stop(): Promise<void> {
  clearTimeout(timer);
  server.close();
  const r = await iface.close();
  console.log(`${requests} requests`);
  console.log(`buffers not returned to the pool: ${r.leakedBuffers}`);
}
process.once('SIGINT', stop).once('SIGTERM', stop);
