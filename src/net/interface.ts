/**
 * Where `ixy.ts/net`'s sockets live: `attach()` starts a stack on a device in this thread (the runtime runs it on an
 * elastic loop beside Node's event loop) and returns a `NetInterface` to make servers and connections on. The first
 * one attached is the thread's default, used by the module-level `createServer`/`connect`.
 */
import { moduleHref } from '../dataplane/app-loader.js';
import type { RunResult } from '../dataplane/figures.js';
import { type Runtime, type RuntimeOptions, start } from '../dataplane/runtime.js';
import { argError, netError } from './errors.js';
import { defaults, type NetStack, type NetStackOptions, stacksByToken } from './net-stack.js';
import { type ListenOptions, Server, type ServerOptions } from './server.js';
import { Socket, type SocketOptions } from './socket.js';

const NET_STACK = new URL('./net-stack.js', import.meta.url);

/** The device and the stack's settings (the runtime's options for one stack app on one thread). */
export type AttachOptions = Omit<RuntimeOptions, 'devices' | 'ip' | 'threads' | 'pin' | 'cpu' | 'promisc' | 'seconds' | 'signal'> & {
  /** The device spec, e.g. `xdp:veth0`, `tap:ixy0`, `sim:0`. */
  device: string;
  /** The interface's address and prefix, `A.B.C.D/N`. */
  ip: string;
};

export interface ConnectOptions extends SocketOptions {
  port: number;
  /** An IPv4 address (names are not resolved). */
  host?: string;
  /** Only the interface's own address. */
  localAddress?: string;
  localPort?: number;
  /** Idle timeout in ms, as `socket.setTimeout` ('timeout' event; the socket stays open). */
  timeout?: number;
  signal?: AbortSignal;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

let nextToken = 1;

export class NetInterface {
  /** @internal */
  constructor(readonly stack: NetStack, readonly runtime: Runtime) {}

  /** The interface's IPv4 address. */
  get address(): string { return this.stack.address; }

  createServer(options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void): Server {
    return typeof options === 'function' ? new Server(this.stack, {}, options) : new Server(this.stack, options ?? {}, listener);
  }

  /** `connect(port[, host][, cb])` or `connect(options[, cb])`, as `net.connect`. */
  connect(...args: unknown[]): Socket {
    return connectOn(this.stack, args);
  }

  createConnection(...args: unknown[]): Socket {
    return connectOn(this.stack, args);
  }

  /** `serve` on this interface. */
  serve(nodeServer: NodeServer, options: ListenOptions | number, cb?: () => void): Server {
    return serveOn(this.stack, nodeServer, options, cb);
  }

  /** Destroys every socket, stops the stack and closes the device. */
  async close(): Promise<RunResult> {
    if (defaults.stack === this.stack) defaults.stack = null;
    return this.runtime.stop();
  }
}

/** Starts a stack on `o.device` in this thread; the first one is the default for `createServer`/`connect`. */
export async function attach(o: AttachOptions): Promise<NetInterface> {
  const token = nextToken++;
  const { device, ...rest } = o;
  const rt = await start({ module: NET_STACK, options: { token } satisfies NetStackOptions }, { ...rest, devices: [device] });
  const stack = stacksByToken.get(token)!;
  stacksByToken.delete(token);
  defaults.stack ??= stack;
  return new NetInterface(stack, rt);
}

/**
 * Runs `serverModule` once per thread, each with its own stack on one queue of the device (Node's `cluster`,
 * shared-nothing as IX): the module calls `createServer(…).listen(port)` as it would with `node:net`.
 */
export function startServers(
  serverModule: string | URL, o: AttachOptions & Pick<RuntimeOptions, 'threads' | 'pin' | 'seconds' | 'signal'> & { serverOptions?: unknown },
): Promise<Runtime> {
  const { device, serverOptions, ...rest } = o;
  return start({ module: NET_STACK, options: { serverModule: moduleHref(serverModule), serverOptions } satisfies NetStackOptions }, { ...rest, devices: [device] });
}

/**
 * Feeds a Node server made for `node:net` — `http.createServer(handler)`, an Express or Fastify app's server — with
 * connections of this thread's stack: each of our sockets is handed to it as its own would be (`'connection'`).
 * `nodeServer.close()` then stops ours too (and closes `http`'s idle keep-alive connections as it always does).
 */
export function serveOn(stack: NetStack, nodeServer: NodeServer, options: ListenOptions | number, cb?: () => void): Server {
  const ours = new Server(stack, { allowHalfOpen: nodeServer.allowHalfOpen === true }, (s) => nodeServer.emit('connection', s));
  ours.on('error', (e) => nodeServer.emit('error', e));
  nodeServer.close = function close(done?: (err?: Error) => void) {
    nodeServer.closeIdleConnections?.();
    ours.close(done);
    return nodeServer;
  };
  nodeServer.address = () => ours.address();
  ours.listen(options, () => {
    // http starts tracking its connections on its own 'listening' (closeIdleConnections, headers and request timeouts)
    nodeServer.emit('listening');
    cb?.();
  });
  return ours;
}

/** What `serveOn` needs of a Node server (net.Server and its subclasses). */
export interface NodeServer {
  emit(event: 'connection', socket: unknown): boolean;
  emit(event: 'error', err: Error): boolean;
  emit(event: 'listening'): boolean;
  close(cb?: (err?: Error) => void): unknown;
  address(): unknown;
  closeIdleConnections?(): void;
  allowHalfOpen?: boolean;
}

/** The thread's default stack, or a one-line error that says how to get one. */
export function defaultStack(): NetStack {
  if (defaults.stack === null) {
    throw Object.assign(new Error("ixy.ts/net has no stack in this thread: await attach({ device: 'xdp:veth0', ip: '10.0.0.2/24' }) first"), { code: 'ERR_IXY_NO_STACK' });
  }
  return defaults.stack;
}

function parseIpv4Literal(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) return null;
  return (Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4]);
}

/** @internal `connect`'s argument forms on `stack`. */
export function connectOn(stack: NetStack, args: unknown[]): Socket {
  const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
  const o: ConnectOptions = typeof args[0] === 'object' && args[0] !== null
    ? (args[0] as ConnectOptions)
    : { port: args[0] as number, host: typeof args[1] === 'string' ? args[1] : undefined };
  const port = Number(o.port);
  if (o.port === undefined || (typeof o.port !== 'number' && typeof o.port !== 'string') || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw argError('range', 'ERR_SOCKET_BAD_PORT', `Port should be > 0 and < 65536. Received ${String(o.port)}.`);
  }
  const host = o.host ?? 'localhost';
  const s = new Socket({ allowHalfOpen: o.allowHalfOpen });
  if (cb) s.once('connect', cb);
  if (o.timeout !== undefined) s.setTimeout(o.timeout);
  if (o.noDelay !== undefined) s.setNoDelay(o.noDelay);
  if (o.keepAlive) s.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
  s.remoteAddress = host;
  s.remotePort = port;
  s.connecting = true;
  const ip = parseIpv4Literal(host);
  const fail = (e: Error): void => { process.nextTick(() => { s.connecting = false; s.destroy(e); }); };
  if (ip === null) {
    fail(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (ixy.ts/net connects to IPv4 addresses; names are not resolved)`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host }));
    return s;
  }
  if (o.localAddress !== undefined && o.localAddress !== stack.address) {
    fail(netError('EADDRNOTAVAIL', 'connect', o.localAddress, o.localPort));
    return s;
  }
  const h = stack.open(s, ip, port, o.localPort);
  if (h < 0) {
    fail(netError(h === -6 ? 'EADDRINUSE' : h === -8 ? 'ENETUNREACH' : 'EMFILE', 'connect', host, port));
    return s;
  }
  if (o.signal) {
    const abort = (): void => { s.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })); };
    if (o.signal.aborted) process.nextTick(abort);
    else { o.signal.addEventListener('abort', abort, { once: true }); s.once('close', () => o.signal!.removeEventListener('abort', abort)); }
  }
  return s;
}
