/**
 * `ixy.ts/net`: Node's `net` API on the dataplane's TCP/IP stack, in the thread of the application's other code.
 *
 *   import { attach, createServer } from 'ixy.ts/net';
 *   await attach({ device: 'xdp:veth0', ip: '10.0.0.2/24' });
 *   createServer((socket) => socket.pipe(socket)).listen(7);
 *
 * `http.createServer(handler)` runs on it unchanged: `serve(httpServer, 80)` hands it each connection of the stack
 * (as `server.emit('connection', socket)`); an `http.Agent` whose `createConnection` is our `connect` makes clients. Not supported: IPv6, names (connect takes IPv4
 * addresses: no `lookup`), Unix sockets and pipes, `socket.connect()` on an existing socket, passing handles.
 *
 * @module ixy.ts/net
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { attach, type AttachOptions, type ConnectOptions, connectOn, defaultStack, NetInterface, type NodeServer, serveOn, startServers } from './interface.js';
import { Server, type ListenOptions, type ServerOptions } from './server.js';
import { Socket, type SocketOptions } from './socket.js';

export { attach, type AttachOptions, type ConnectOptions, isIP, isIPv4, isIPv6, type ListenOptions, NetInterface, Server, type ServerOptions, Socket, type SocketOptions, startServers };
export { netError, type NetErrorCode } from './errors.js';
export { threadFigures } from './net-stack.js';

/**
 * Serves a Node server (`http.createServer(handler)`, …) on this thread's stack: `serve(httpServer, 80)`.
 * `httpServer.close()` stops it.
 */
export function serve(nodeServer: NodeServer, options: ListenOptions | number, cb?: () => void): Server {
  return serveOn(defaultStack(), nodeServer, options, cb);
}

/** `net.createServer([options][, connectionListener])` on this thread's stack (the first `attach`ed). */
export function createServer(options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void): Server {
  return typeof options === 'function' ? new Server(defaultStack(), {}, options) : new Server(defaultStack(), options ?? {}, listener);
}

/** `net.connect(port[, host][, cb])` / `net.connect(options[, cb])` on this thread's stack. */
export function connect(options: ConnectOptions, cb?: () => void): Socket;
export function connect(port: number, host?: string, cb?: () => void): Socket;
export function connect(...args: unknown[]): Socket {
  return connectOn(defaultStack(), args);
}

export const createConnection = connect;
