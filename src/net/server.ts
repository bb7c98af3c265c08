/**
 * `Server`: a listening TCP port of the stack as Node's `net.Server` (listen, address, close, getConnections,
 * maxConnections; events 'listening', 'connection', 'close', 'error', 'drop').
 */
import { EventEmitter } from 'node:events';
import { ApiError } from '../api/codes.js';
import { argError, netError } from './errors.js';
import type { Socket, SocketOptions } from './socket.js';

/** What a server needs from the stack it listens on (net/net-stack.ts). */
export interface ServerHost {
  readonly address: string;
  listen(port: number, backlog: number, server: Server): number;
  unlisten(port: number): void;
  /** A free port for `listen(0)`. */
  freePort(): number;
  ref(delta: number): void;
}

export interface ServerOptions extends SocketOptions {
  /** Start accepted sockets paused (no 'data' until resumed). Default false. */
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
  signal?: AbortSignal;
}

export class Server extends EventEmitter {
  maxConnections: number | undefined;
  private port = -1;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private closeCallbacks: ((err?: Error) => void)[] = [];

  /** @internal */
  constructor(private readonly host: ServerHost, readonly options: ServerOptions, listener?: (s: Socket) => void) {
    super();
    if (listener) this.on('connection', listener);
  }

  get listening(): boolean { return this.port >= 0; }

  /** `listen([port[, host[, backlog]]][, callback])` or `listen(options[, callback])`; port 0 or none: a free port. */
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const o: ListenOptions = typeof args[0] === 'object' && args[0] !== null
      ? (args[0] as ListenOptions)
      : { port: args[0] as number | undefined, host: typeof args[1] === 'string' ? args[1] : undefined, backlog: typeof args[1] === 'number' ? args[1] : args[2] as number | undefined };
    if (typeof o.port === 'string' && !/^\d+$/.test(o.port)) throw argError('type', 'ERR_INVALID_ARG_VALUE', `The argument 'options' is invalid: ixy.ts/net listens on TCP ports only, not on the path '${o.port}'`);
    const port = o.port === undefined || o.port === null ? 0 : Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw argError('range', 'ERR_SOCKET_BAD_PORT', `Options.port should be >= 0 and < 65536. Received ${String(o.port)}.`);
    if (this.listening) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    if (cb) this.once('listening', cb);
    if (o.host !== undefined && o.host !== this.host.address && o.host !== '0.0.0.0' && o.host !== '::') {
      process.nextTick(() => this.emit('error', netError('EADDRNOTAVAIL', 'listen', o.host, port, true)));
      return this;
    }
    const p = port === 0 ? this.host.freePort() : port;
    const r = this.host.listen(p, o.backlog ?? 511, this);
    if (r === ApiError.InUse) {
      process.nextTick(() => this.emit('error', netError('EADDRINUSE', 'listen', o.host ?? '0.0.0.0', port, true)));
      return this;
    }
    if (r < 0) {
      process.nextTick(() => this.emit('error', netError('EMFILE', 'listen', o.host ?? '0.0.0.0', port, true)));
      return this;
    }
    this.port = p;
    this.closing = false;
    o.signal?.addEventListener('abort', () => this.close(), { once: true });
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address(): { address: string; family: 'IPv4'; port: number } | null {
    return this.listening ? { address: '0.0.0.0', family: 'IPv4', port: this.port } : null;
  }

  /** Stops accepting; 'close' once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    if (!this.listening) {
      if (cb) process.nextTick(cb, Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' }));
      return this;
    }
    if (cb) this.closeCallbacks.push(cb);
    this.host.unlisten(this.port);
    this.port = -1;
    this.closing = true;
    this.maybeClosed();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.sockets.size);
    return this;
  }

  /** @internal */ refd = true;

  /** Lets the process exit while this server listens (and nothing else holds it), as `net.Server#unref`. */
  unref(): this {
    if (this.refd) { this.refd = false; if (this.listening) this.host.ref(-1); }
    return this;
  }

  ref(): this {
    if (!this.refd) { this.refd = true; if (this.listening) this.host.ref(1); }
    return this;
  }

  /** @internal Room for one more connection? Else 'drop' is emitted. */
  admits(info: { remoteAddress: string; remotePort: number; localPort: number }): boolean {
    if (this.maxConnections === undefined || this.sockets.size < this.maxConnections) return true;
    this.emit('drop', {
      localAddress: this.host.address, localPort: info.localPort, localFamily: 'IPv4',
      remoteAddress: info.remoteAddress, remotePort: info.remotePort, remoteFamily: 'IPv4',
    });
    return false;
  }

  /** @internal */
  onConnection(s: Socket): void {
    this.sockets.add(s);
    s.owner = this;
    s.server = this;
    if (this.options.noDelay !== undefined) s.setNoDelay(this.options.noDelay);
    if (this.options.keepAlive) s.setKeepAlive(true, this.options.keepAliveInitialDelay ?? 0);
    if (this.options.pauseOnConnect) s.pause();
    this.emit('connection', s);
  }

  /** @internal */
  onSocketDestroyed(s: Socket): void {
    if (this.sockets.delete(s)) this.maybeClosed();
  }

  private maybeClosed(): void {
    if (!this.closing || this.sockets.size > 0) return;
    this.closing = false;
    const cbs = this.closeCallbacks;
    this.closeCallbacks = [];
    process.nextTick(() => {
      this.emit('close');
      for (const cb of cbs) cb();
    });
  }
}
