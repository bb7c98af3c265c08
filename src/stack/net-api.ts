import type { NetApi } from '../api/native.js';
import type { Stack } from './stack.js';

/** The native API on one stack (its `api`): each call goes straight to the layer that owns it. */
export class StackNetApi implements NetApi {
  constructor(private readonly stack: Stack) {}
  get bytes(): Uint8Array { return this.stack.iface.bytes; }
  get addresses(): Int32Array { return this.stack.iface.ips; }
  get nowMs(): number { return this.stack.clock.ms; }

  listen(port: number, backlog = 128): number { return this.stack.tcp.listen(port, backlog); }
  unlisten(port: number): number { return this.stack.tcp.unlisten(port); }
  connect(ip: number, port: number, cookie: number, localPort?: number): number {
    return this.stack.tcp.connect(ip, port, cookie, localPort);
  }
  accept(handle: number, cookie: number): number { return this.stack.tcp.accept(handle, cookie); }
  reject(handle: number): number { return this.stack.tcp.reject(handle); }
  sendv(handle: number, data: Uint8Array, off: number, len: number): number { return this.stack.tcp.sendv(handle, data, off, len); }
  recvDone(handle: number, len: number): number { return this.stack.tcp.recvDone(handle, len); }
  close(handle: number): number { return this.stack.tcp.close(handle); }
  abort(handle: number): number { return this.stack.tcp.abort(handle); }
  setKeepAlive(handle: number, enable: boolean, idleMs: number): number { return this.stack.tcp.setKeepAlive(handle, enable, idleMs); }
  setNoDelay(handle: number, noDelay: boolean): number { return this.stack.tcp.setNoDelay(handle, noDelay); }

  udpBind(port: number): number { return this.stack.udp.bind(port); }
  udpUnbind(port: number): number { return this.stack.udp.unbind(port); }
  sendTo(port: number, ip: number, remotePort: number, data: Uint8Array, off: number, len: number): number {
    return this.stack.udp.sendTo(port, ip, remotePort, data, off, len);
  }
  udpRecvDone(buf: number): number { return this.stack.udp.recvDone(buf); }
}
