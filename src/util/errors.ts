/**
 * An error the user can fix: its message is one line that says what is wrong and how to fix it.
 * The CLI prints `ixy: <message>` for these and exits non-zero without a stack trace.
 */
export class IxyError extends Error {
  override readonly name: string = 'IxyError';
  constructor(message: string, readonly code: string = 'EIXY') {
    super(message);
  }
}

/** A rule of the hardware broken by the driver, as reported by the simulated NIC. */
export class SimFault extends IxyError {
  override readonly name: string = 'SimFault';
  constructor(message: string) {
    super(message, 'ESIMFAULT');
  }
}

/**
 * Something wrong in what was asked (a missing or malformed option, a spec or address that cannot be parsed, an app
 * that cannot be found): the CLI exits 2 for these, 1 for every other error. `code` says which kind.
 */
export class UsageError extends IxyError {
  override readonly name: string = 'UsageError';
  constructor(message: string, code: UsageErrorCode = 'EUSAGE') {
    super(message, code);
  }
}

/**
 * - `EBADSPEC`: a device spec that cannot be parsed or names no device kind, or a `sim:` device without a running
 *   simulated NIC;
 * - `ENOOPTION`: an option the app or runtime needs is missing;
 * - `EBADOPTION`: an option is out of range or does not fit the app (e.g. two devices for a one-device app);
 * - `ENOAPP`: the app module cannot be loaded or does not export an app definition;
 * - `EUSAGE`: any other mistake in the command line.
 */
export type UsageErrorCode = 'EUSAGE' | 'EBADSPEC' | 'ENOOPTION' | 'EBADOPTION' | 'ENOAPP';

/** What to do about a file system error, by its code. */
const FILE_HINTS: Record<string, string> = {
  ENOENT: 'check the path (does the directory exist?)',
  ENOTDIR: 'check the path: a part of it is not a directory',
  EISDIR: 'name a file, not a directory',
  EACCES: 'check its permissions, or run as a user who may',
  EPERM: 'check its permissions, or run as a user who may',
  EROFS: 'it is on a read-only file system: pick another place',
  ENOSPC: 'the file system is full',
};

/** A file system error as one line: `cannot <verb> <path>: no such file or directory (ENOENT): <what to do>`. */
export function fileError(verb: string, path: string, e: unknown): IxyError {
  const err = e as NodeJS.ErrnoException;
  const m = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '');
  const cause = err.code && m ? `${m[1]} (${err.code})` : (err.message ?? String(e)).split('\n')[0];
  const hint = err.code ? FILE_HINTS[err.code] : undefined;
  return new IxyError(`cannot ${verb} ${path}: ${cause}${hint ? `: ${hint}` : ''}`);
}
