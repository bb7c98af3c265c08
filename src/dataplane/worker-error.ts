import { IxyError, UsageError, type UsageErrorCode } from '../util/errors.js';

/** An error as it crosses from a worker thread: enough to rebuild its class and code on the other side. */
export interface WireError { message: string; code?: string; kind: 'usage' | 'ixy' | 'other' }

export function errorToWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const kind = err instanceof UsageError ? 'usage' : err instanceof IxyError ? 'ixy' : 'other';
  return { message: kind === 'other' && process.env.IXY_DEBUG ? String(err.stack) : err.message, code: (err as IxyError).code, kind };
}

export function errorFromWire(w: WireError, prefix = ''): Error {
  if (w.kind === 'usage') return new UsageError(w.message, w.code as UsageErrorCode);
  if (w.kind === 'ixy') return new IxyError(prefix + w.message, w.code);
  return new Error(prefix + w.message);
}
