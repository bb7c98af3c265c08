/**
 * `Socket`: a TCP connection of the stack as Node's `net.Socket` — a `stream.Duplex` with Node's events, errors and
 * properties, on the native API (one handle). Copies: a received segment is copied once into a Buffer the app owns
 * (the packet buffer is released at once, or when a paused reader resumes: until then it keeps the receive window
 * closed); written data is copied once into a Buffer that the stack references until the peer acknowledges it.
 */
import { Duplex } from 'node:stream';
import { ApiError, DeathReason } from '../api/codes.js';
import type { NetApi } from '../api/native.js';
import { netError } from './errors.js';

/** What a socket needs from the stack it lives on (net/net-stack.ts). */
export interface SocketHost {
  readonly api: NetApi;
  /** The interface's address, dotted. */
  readonly address: string;
  attach(handle: number, s: Socket): void;
  detach(handle: number): void;
  ref(delta: number): void;
  /** Let Node's event loop run right after this iteration (stream events, promise jobs). */
  wake(): void;
}

export interface SocketOptions {
  /** Keep the writable side open after the peer's FIN (default false, as `net`). */
  allowHalfOpen?: boolean;
}

type Callback = (err?: Error | null) => void;

export class Socket extends Duplex {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: 'IPv4' | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  localFamily: 'IPv4' | undefined;
  connecting = false;
  bytesRead = 0;
  /** ms of inactivity before 'timeout' (0: none). */
  timeout: number | undefined;
  /** @internal */ host: SocketHost | null = null;
  /** The server that accepted it (`net.Socket#server`); `http` sets its own `http.Server` here. */
  server: object | null = null;
  /**
   * @internal The stack's server that accepted it, told in `_destroy` before 'close' (Node's order). Not `server`:
   * `http` overwrites that with its `http.Server` (as `node:net` keeps its own link in `_server`).
   */
  owner: { onSocketDestroyed(s: Socket): void } | null = null;
  /** @internal */ handle = -1;
  private dispatched = 0;
  /** Received bytes copied out but not yet released to the stack (the reader is paused). */
  private held = 0;
  private out: Buffer | null = null;
  private outOff = 0;
  private outCb: Callback | null = null;
  private finalCb: Callback | null = null;
  private pumping = false;
  private finSent = false;
  private finReceived = false;
  private timer: NodeJS.Timeout | null = null;
  private noDelay = true;
  private keepAlive: [boolean, number] = [false, 0];

  constructor(options: SocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
  }

  get bytesWritten(): number {
    return this.dispatched + (this.out ? this.out.length - this.outOff : 0) + this.writableLength;
  }

  /** True until the connection is established. */
  get pending(): boolean { return this.handle < 0 || this.connecting; }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  address(): { address: string; family: 'IPv4'; port: number } | Record<string, never> {
    return this.localAddress === undefined || this.localPort === undefined ? {} : { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  /** Emits 'timeout' after `ms` without data in either direction (0 turns it off); `net.Socket#setTimeout`. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) { if (ms === 0) this.off('timeout', callback); else this.once('timeout', callback); }
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.timeout = ms;
    if (ms > 0 && !this.destroyed) this.timer = setTimeout(() => this.emit('timeout'), ms).unref();
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.applyOptions();
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = [enable, initialDelay];
    this.applyOptions();
    return this;
  }

  /** Ends the writable side, and destroys the socket once it is finished (`net.Socket#destroySoon`). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Closes the connection with a RST and destroys the socket. */
  resetAndDestroy(): this {
    this.abortHandle();
    return this.destroy();
  }

  /** @internal */ refd = true;

  /** Lets the process exit while this socket is open (and nothing else holds it), as `net.Socket#unref`. */
  unref(): this {
    if (this.refd) { this.refd = false; if (this.handle >= 0) this.host!.ref(-1); }
    return this;
  }

  ref(): this {
    if (!this.refd) { this.refd = true; if (this.handle >= 0) this.host!.ref(1); }
    return this;
  }

  // ---- the stream's side ----

  override _read(): void {
    if (this.held > 0 && this.handle >= 0) {
      this.host!.api.recvDone(this.handle, this.held);
      this.held = 0;
      this.host!.wake();
    }
  }

  override _writev(chunks: { chunk: Buffer }[], cb: Callback): void {
    this.out = chunks.length === 1 ? Buffer.from(chunks[0].chunk) : Buffer.concat(chunks.map((c) => c.chunk));
    this.outOff = 0;
    this.outCb = cb;
    if (!this.connecting) this.pump();
  }

  override _final(cb: Callback): void {
    this.finalCb = cb;
    if (!this.connecting) this.pump();
  }

  override _destroy(err: Error | null, cb: Callback): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.handle >= 0) {
      const unread = this.held > 0 || (!this.finReceived && this.readableLength > 0);
      if (err !== null || unread || this.connecting) this.abortHandle();
      else if (!this.finSent) { this.host!.api.close(this.handle); this.finSent = true; this.host!.wake(); }
      // else both FINs are on their way: the stack reports the end (onDead) and the handle is let go then
    }
    this.out = null;
    this.outCb = null;
    this.owner?.onSocketDestroyed(this);
    cb(err);
    process.nextTick(() => this.emit('close', err !== null));
  }

  // ---- the stack's side (net/net-stack.ts) ----

  /** @internal A connection of `host` (accepted, or connecting when `connecting`). */
  bind(host: SocketHost, handle: number, remoteIp: string, remotePort: number, connecting: boolean): void {
    this.host = host;
    this.handle = handle;
    this.remoteAddress = remoteIp;
    this.remotePort = remotePort;
    this.remoteFamily = 'IPv4';
    this.localAddress = host.address;
    this.localFamily = 'IPv4';
    this.connecting = connecting;
    host.attach(handle, this);
    this.applyOptions();
  }

  /** @internal */
  onConnected(reason: number, localPort: number): void {
    if (reason !== 0) {
      this.connecting = false;
      this.host!.detach(this.handle);
      this.handle = -1;
      const code = reason === DeathReason.Refused ? 'ECONNREFUSED' : reason === DeathReason.TimedOut ? 'ETIMEDOUT' : 'ECONNRESET';
      this.destroy(netError(code, 'connect', this.remoteAddress, this.remotePort));
      return;
    }
    this.connecting = false;
    this.localPort = localPort;
    this.touch();
    this.emit('connect');
    this.emit('ready');
    this.pump();
  }

  /** @internal Data (`len` > 0) or the peer's FIN (0). */
  onData(bytes: Uint8Array, off: number, len: number): void {
    const api = this.host!.api;
    if (len === 0) {
      this.finReceived = true;
      if (!this.destroyed) this.push(null);
      return;
    }
    if (this.destroyed) { api.recvDone(this.handle, len); return; }
    this.bytesRead += len;
    this.touch();
    this.held += len;
    if (this.push(Buffer.copyBytesFrom(bytes, off, len))) {
      api.recvDone(this.handle, this.held);
      this.held = 0;
    }
    this.host!.wake();
  }

  /** @internal The peer acknowledged data: the send queue has room again. */
  onSent(): void {
    this.touch();
    this.pump();
  }

  /** @internal The connection is gone (the handle is invalid from now on). */
  onDead(reason: number): void {
    this.host!.detach(this.handle);
    this.handle = -1;
    this.held = 0;
    if (this.destroyed) return;
    if (reason === DeathReason.Reset) this.destroy(netError('ECONNRESET', 'read'));
    else if (reason === DeathReason.TimedOut) this.destroy(netError('ETIMEDOUT', 'read'));
    else {
      if (!this.finReceived) this.push(null);
      this.destroy();
    }
  }

  private pump(): void {
    if (this.pumping || this.handle < 0) return;
    this.pumping = true;
    try {
      const api = this.host!.api;
      while (this.out !== null) {
        const p = this.out;
        const n = api.sendv(this.handle, p, this.outOff, p.length - this.outOff);
        if (n === ApiError.Again) return;
        const cb = this.outCb!;
        if (n < 0) {
          this.out = null;
          this.outCb = null;
          cb(netError('EPIPE', 'write'));
          return;
        }
        this.outOff += n;
        this.dispatched += n;
        if (this.outOff === p.length) {
          this.out = null;
          this.outCb = null;
          this.touch();
          cb(); // may hand the next chunks to _writev, which this loop then sends
        }
      }
      if (this.finalCb !== null && this.handle >= 0) {
        const cb = this.finalCb;
        this.finalCb = null;
        if (!this.finSent) { api.close(this.handle); this.finSent = true; }
        cb();
      }
    } finally {
      this.pumping = false;
      this.host?.wake();
    }
  }

  private abortHandle(): void {
    if (this.handle < 0 || this.host === null) return;
    this.host.api.abort(this.handle);
    this.host.detach(this.handle);
    this.host.wake();
    this.handle = -1;
  }

  private touch(): void {
    this.timer?.refresh();
  }

  private applyOptions(): void {
    if (this.handle < 0) return;
    const api = this.host!.api;
    api.setNoDelay(this.handle, this.noDelay);
    // Node's initialDelay 0 keeps the idle time as it was (the stack's keepaliveIdleMs at first), as the stack's does
    if (this.keepAlive[0] || this.keepAlive[1] > 0) api.setKeepAlive(this.handle, this.keepAlive[0], this.keepAlive[1]);
  }
}
