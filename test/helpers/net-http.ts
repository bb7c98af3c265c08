/**
 * Helpers of the `ixy.ts/net` HTTP interop tests (test/linux/net-http-*.test.ts): start `ixy http` or a netns script
 * on the stack and wait until it serves, read the scripts' JSON lines, run curl and small Python clients in the
 * peer's namespace. No side effects on import.
 */
import { fileURLToPath } from 'node:url';
import { canUseNetns, Netlab, type RunResult } from '../../lab/netns.js';
import { missingTools, SCRIPT_ENV, sleep, StackProc, startStack, type Topology, waitReachable } from './stack-netns.js';

export const SERVER_SCRIPT = fileURLToPath(new URL('../netns-scripts/net-http-server.js', import.meta.url));
export const CLIENT_SCRIPT = fileURLToPath(new URL('../netns-scripts/net-http-client.js', import.meta.url));

/** `describe`'s skip: a reason when not root or a tool is missing, else false. */
export function skipUnless(tools: string[]): string | false {
  if (!canUseNetns()) return 'needs root (network namespaces)';
  const missing = missingTools(tools);
  return missing.length ? `needs ${missing.join(', ')}` : false;
}

export async function withLab(fn: (lab: Netlab) => Promise<void>): Promise<void> {
  const lab = new Netlab();
  try { await fn(lab); } finally { await lab.cleanup(); }
}

/** `curl <args>` in the peer's namespace. */
export function curl(t: Topology, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return t.lab.run(t.peer, ['curl', ...args], { timeoutMs });
}

/** Polls `http://<stack>:<port>/__ready` until an HTTP status comes back (any: the server is up). */
export async function waitHttp(t: Topology, p: StackProc, port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await curl(t, ['-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://${t.stackIp}:${port}/__ready`], 5000);
    if (/^[1-5]\d\d$/.test(r.stdout)) return;
    if (!p.running || Date.now() > deadline) throw new Error(`no HTTP answer from ${t.stackIp}:${port}\n${p.log()}`);
    await sleep(100);
  }
}

/** `ixy http <args> --port <port>` on the topology's device, once it answers HTTP. */
export async function startHttp(t: Topology, port: number, args: string[]): Promise<StackProc> {
  const p = await startStack(t, ['http', '--port', String(port), ...args]);
  await waitReachable(t, p);
  await waitHttp(t, p, port);
  return p;
}

export type Line = Record<string, any> & { event: string };

/** A script's JSON lines so far. */
export function lines(p: StackProc): Line[] {
  return p.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

export async function waitLine(p: StackProc, pred: (l: Line) => boolean, what: string, ms = 30_000): Promise<Line> {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = lines(p).find(pred);
    if (l) return l;
    if (!p.running || Date.now() > deadline) throw new Error(`no ${what} line within ${ms} ms\n${p.log()}`);
    await sleep(20);
  }
}

/** test/netns-scripts/net-http-server.js on the stack's device, once it listens and answers pings. */
export async function startServerScript(t: Topology, port: number): Promise<StackProc> {
  const cmd = ['node', SERVER_SCRIPT, t.dev, t.stackCidr, String(port)];
  const p = new StackProc(t.lab.spawn(t.stackNs, cmd, SCRIPT_ENV), cmd.join(' '));
  await waitLine(p, (l) => l.event === 'listening', "'listening'");
  await waitReachable(t, p);
  return p;
}

/** What a raw TCP client saw: the bytes (latin1) and how the connection ended. */
export interface RawResult { data: string; end: 'eof' | 'reset' | 'timeout'; ms: number }

const RAW_CLIENT = `
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(bytes.fromhex(sys.argv[3]))
s.settimeout(float(sys.argv[4]))
t0, data, end = time.time(), b'', 'eof'
try:
    while True:
        d = s.recv(65536)
        if not d: break
        data += d
except ConnectionResetError: end = 'reset'
except socket.timeout: end = 'timeout'
print(json.dumps({'data': data.decode('latin1'), 'end': end, 'ms': (time.time() - t0) * 1000}))
`;

/** Sends `bytes` on a new connection from the peer (no half-close) and reads until the server closes (or `waitS`). */
export async function rawExchange(t: Topology, ip: string, port: number, bytes: string, waitS = 5): Promise<RawResult> {
  const hex = Buffer.from(bytes, 'latin1').toString('hex');
  const r = await t.lab.run(t.peer, ['python3', '-c', RAW_CLIENT, ip, String(port), hex, String(waitS)], { timeoutMs: (waitS + 10) * 1000 });
  if (r.code !== 0) throw new Error(`raw client: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as RawResult;
}

const RESET_CLIENT = `
import socket, struct, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(('GET %s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % sys.argv[3]).encode())
got = 0
while got < int(sys.argv[4]):
    d = s.recv(65536)
    if not d: break
    got += len(d)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
print(got)
`;

/** GETs `path`, reads at least `bytes` of the answer, then closes with a RST (SO_LINGER 0); resolves with what it read. */
export async function resetMidResponse(t: Topology, port: number, path: string, bytes: number): Promise<number> {
  const r = await t.lab.run(t.peer, ['python3', '-c', RESET_CLIENT, t.stackIp, String(port), path, String(bytes)], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`reset client: exit ${r.code}\n${r.stderr}`);
  return Number(r.stdout.trim());
}
