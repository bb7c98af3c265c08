/**
 * Errors as Node's `net` makes them (lib/internal/errors.js: exceptionWithHostPort, uvExceptionWithHostPort): the
 * message `<syscall> <CODE> <address>:<port>`, and `code`, `errno` (negative, as libuv's), `syscall`, `address`, `port`.
 */
import { constants } from 'node:os';

export type NetErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EPIPE' | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'ENETUNREACH' | 'ECONNABORTED' | 'EMFILE';

/** libuv's descriptions, which Node puts in listen errors ("listen EADDRINUSE: address already in use …"). */
const DESCRIPTIONS: Record<NetErrorCode, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'broken pipe',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ENETUNREACH: 'network is unreachable',
  ECONNABORTED: 'software caused connection abort',
  EMFILE: 'too many open files',
};

export function netError(code: NetErrorCode, syscall: string, address?: string, port?: number, withDescription = false): NodeJS.ErrnoException {
  const where = address === undefined ? '' : port === undefined || port <= 0 ? ` ${address}` : ` ${address}:${port}`;
  const e: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(
    withDescription ? `${syscall} ${code}: ${DESCRIPTIONS[code]}${where}` : `${syscall} ${code}${where}`,
  );
  e.errno = -(constants.errno as Record<string, number>)[code];
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}

/** Node's `ERR_…` errors for misuse (a TypeError or RangeError with a `code`). */
export function argError(kind: 'type' | 'range', code: string, message: string): Error {
  const e = kind === 'type' ? new TypeError(message) : new RangeError(message);
  (e as NodeJS.ErrnoException).code = code;
  return e;
}
