/**
 * The native app under `ixy.ts/net`: it owns the stack's TCP handles for the sockets and servers of one thread and
 * turns each iteration's events into their stream events (in the iteration that delivered them: what a handler
 * writes leaves in the same iteration). Its module is what the runtime loads (the default export): with `threads:
 * N`, each thread builds its own, and with `serverModule` each thread then loads the user's server module, which
 * calls `createServer().listen()` on its thread's stack — Node's `cluster`, shared-nothing.
 */
import { EventKind, type EventQueue } from '../api/events.js';
import type { App, NetApi } from '../api/native.js';
import { defineStackApp } from '../dataplane/app.js';
import { formatIpv4 } from '../stack/ip-interface.js';
import type { Server, ServerHost } from './server.js';
import { Socket, type SocketHost } from './socket.js';

export class NetStack implements App, SocketHost, ServerHost {
  yieldNow = false;
  accepted = 0;
  opened = 0;
  private done = false;
  api!: NetApi;
  address = '0.0.0.0';
  private readonly sockets = new Map<number, Socket>();
  private readonly servers = new Map<number, Server>();
  private stopping = false;
  private failure: unknown = null;
  private nextFree = 49152;
  /** Servers listening and sockets open that are ref'd: while > 0 the loop keeps the process alive (Node's ref/unref). */
  private refs = 0;

  /**
   * The loop holds the process while a server or socket is ref'd, or while it winds down. `keeper`, ref'd exactly
   * while a handle is, holds it over the moment the loop's next slice was scheduled before the first handle came.
   */
  get refed(): boolean { return this.refs > 0 || this.stopping; }
  private readonly keeper = setInterval(() => {}, 0x7fffffff).unref();

  /** @internal A server or socket was ref'd (+1) or unref'd / let go (−1). */
  ref(delta: number): void {
    const before = this.refs;
    this.refs += delta;
    if (before === 0 && this.refs > 0) this.keeper.ref();
    else if (before > 0 && this.refs === 0) this.keeper.unref();
  }

  /** True once stopped and every socket is gone; throws what `fail` was given, which ends the loop with it. */
  get finished(): boolean {
    if (this.failure !== null) throw this.failure;
    return this.done;
  }

  figures(): Record<string, number> {
    return { sockets: this.sockets.size, servers: this.servers.size, accepted: this.accepted, opened: this.opened, ...threadFigures };
  }

  start(api: NetApi): void {
    this.api = api;
    this.address = formatIpv4(api.addresses[0]);
  }

  onEvents(ev: EventQueue, api: NetApi): void {
    if (this.failure !== null) throw this.failure;
    for (let i = 0; i < ev.count; i++) {
      try {
        this.dispatch(ev, i, api);
      } catch (e) {
        // What the application's listeners throw (a request handler, …) is not the stack's failure: as from node:net's
        // callbacks it goes to 'uncaughtException' (or ends the process), and the other connections go on.
        process.nextTick(rethrow, e);
      }
    }
    this.yieldNow = true;
    if (this.stopping && this.sockets.size === 0) this.end();
  }

  private dispatch(ev: EventQueue, i: number, api: NetApi): void {
    const h = ev.handle[i];
    const kind = ev.kind[i];
    if (kind === EventKind.Knock) { this.knock(h, ev.localPort(i), ev.remoteIp(i), ev.remotePort(i)); return; }
    const s = this.sockets.get(h);
    if (s === undefined) {
      if (kind === EventKind.Recv && ev.length(i) > 0) api.recvDone(h, ev.length(i)); // a socket already let go
      return;
    }
    switch (kind) {
      case EventKind.Connected: s.onConnected(ev.reason(i), ev.localPort(i)); break;
      case EventKind.Recv: s.onData(ev.bytes, ev.offset(i), ev.length(i)); break;
      case EventKind.Sent: s.onSent(); break;
      case EventKind.Dead: s.onDead(ev.reason(i)); break;
    }
  }

  /** Ends the run with `e` (thrown from the loop at its next events: the runtime reports it). */
  fail(e: unknown): void {
    this.failure ??= e;
  }

  /** Winding down (the runtime's stop): no new connections; the loop ends once every socket is gone. */
  stop(): void {
    this.stopping = true;
    this.keeper.ref(); // the loop must run on until the sockets are gone
    for (const port of [...this.servers.keys()]) this.unlisten(port);
    for (const s of [...this.sockets.values()]) s.destroy();
    if (this.sockets.size === 0) this.end();
  }

  private end(): void {
    this.done = true;
    clearInterval(this.keeper);
  }

  // SocketHost
  attach(handle: number, s: Socket): void {
    this.sockets.set(handle, s);
    if (s.refd) this.ref(1);
  }
  detach(handle: number): void {
    const s = this.sockets.get(handle);
    if (s === undefined) return;
    this.sockets.delete(handle);
    if (s.refd) this.ref(-1);
    if (this.stopping && this.sockets.size === 0) this.end();
  }
  wake(): void { this.yieldNow = true; }

  // ServerHost
  listen(port: number, backlog: number, server: Server): number {
    const r = this.api.listen(port, backlog);
    if (r >= 0) {
      this.servers.set(port, server);
      if (server.refd) this.ref(1);
    }
    return r;
  }
  unlisten(port: number): void {
    const server = this.servers.get(port);
    if (server === undefined) return;
    this.api.unlisten(port);
    this.servers.delete(port);
    if (server.refd) this.ref(-1);
  }
  freePort(): number {
    for (let i = 0; i < 16384; i++) {
      const p = this.nextFree;
      this.nextFree = p === 65535 ? 49152 : p + 1;
      if (!this.servers.has(p)) return p;
    }
    return 0;
  }

  /** A connection opened by `connect()`: the handle, or a negative ApiError. */
  open(s: Socket, ip: number, port: number, localPort?: number): number {
    const h = this.api.connect(ip, port, 0, localPort);
    if (h >= 0) { s.bind(this, h, formatIpv4(ip), port, true); this.opened++; }
    return h;
  }

  private knock(h: number, localPort: number, rip: number, rport: number): void {
    const server = this.servers.get(localPort);
    const remoteAddress = formatIpv4(rip);
    if (server === undefined || this.stopping) {
      this.api.reject(h);
      return;
    }
    if (!server.admits({ remoteAddress, remotePort: rport, localPort })) {
      // as Node closes a connection over maxConnections: accepted, then closed (a FIN, not a RST)
      this.api.accept(h, 0);
      this.api.close(h);
      return;
    }
    this.api.accept(h, 0);
    this.accepted++;
    const s = new Socket({ allowHalfOpen: server.options.allowHalfOpen });
    s.bind(this, h, remoteAddress, rport, false);
    s.localPort = localPort;
    server.onConnection(s);
  }
}

function rethrow(e: unknown): never {
  throw e;
}

/** Counters a server module adds to its thread's figures (e.g. `threadFigures.requests++`), reported once a second. */
export const threadFigures: Record<string, number> = {};

/** The stacks this thread runs, by the token `attach` gave them (net/interface.ts). */
export const stacksByToken = new Map<number, NetStack>();
/** The stack `createServer()`/`connect()` use in this thread when none is named. */
export const defaults: { stack: NetStack | null } = { stack: null };

export interface NetStackOptions {
  /** Set by `attach`: how it finds the stack it started. */
  token?: number;
  /** A module to load in each thread once its stack is up (it calls `createServer().listen()`). */
  serverModule?: string;
  /** Given to the server module's default export, if that is a function (structured-cloneable). */
  serverOptions?: unknown;
}

export default defineStackApp({
  create: (_ctx, o: NetStackOptions) => {
    const app = new NetStack();
    if (o?.token !== undefined) stacksByToken.set(o.token, app);
    if (o?.serverModule !== undefined) {
      defaults.stack = app;
      // The module runs once the loop has started the app (start() sets the api); its errors end the run.
      setImmediate(() => {
        import(o.serverModule!)
          .then((m: { default?: unknown }) => (typeof m.default === 'function' ? (m.default as (o: unknown) => unknown)(o.serverOptions) : undefined))
          .catch((e: unknown) => app.fail(e));
      });
    }
    return app;
  },
  figures: (a) => a.figures(),
  stop: (a) => a.stop(),
});
