/**
 * Node's `http` client on `ixy.ts/net`, for test/linux/net-http-client.test.ts: run in the stack's namespace, it
 * attaches a stack to `dev` and GETs each URL `count` times, one request after another, through one `http.Agent`
 * (keepAlive) whose `createConnection` is ixy.ts/net's `connect`, counting the sockets it makes. Uses only the
 * package's public imports. Does nothing unless IXY_NETNS_SCRIPT=1.
 *
 *   node net-http-client.js <dev> <ip/prefix> <url> <count> [<url> <count> …]
 *
 * stdout, one JSON object a line: {"event":"response","url","status","length","sha256","socket"} per request
 * (socket: the index of the socket that carried it), then {"event":"done","sockets","leakedBuffers"}; on a failure
 * {"event":"error","message"} and exit 1.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { attach, connect, type ConnectOptions, type Socket } from 'ixy.ts/net';

const say = (v: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };

const sockets: Socket[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
// The agent hands createConnection its options (host, port, keepAlive, …) as it would hand them to net.createConnection.
type CreateConnection = (options: ConnectOptions, cb?: () => void) => Socket;
(agent as unknown as { createConnection: CreateConnection }).createConnection = (options, cb) => {
  const s = connect(options, cb);
  sockets.push(s);
  return s;
};

function get(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      const socket = sockets.indexOf(res.socket as unknown as Socket);
      const h = createHash('sha256');
      let length = 0;
      res.on('data', (d: Buffer) => { h.update(d); length += d.length; });
      res.on('end', () => resolve({
        event: 'response', url, status: res.statusCode, length, sha256: h.digest('hex'), socket,
      }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function main(dev: string, cidr: string, jobs: string[]): Promise<void> {
  const iface = await attach({ device: dev, ip: cidr });
  try {
    for (let i = 0; i < jobs.length; i += 2) {
      for (let n = 0; n < Number(jobs[i + 1]); n++) say(await get(jobs[i]));
    }
  } finally {
    agent.destroy();
    const r = await iface.close();
    say({ event: 'done', sockets: sockets.length, leakedBuffers: r.leakedBuffers });
  }
}

if (process.env.IXY_NETNS_SCRIPT === '1') {
  const a = process.argv.slice(2);
  main(a[0], a[1], a.slice(2)).catch((e: Error) => { say({ event: 'error', message: e.message }); process.exitCode = 1; });
}
