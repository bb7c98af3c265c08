/**
 * Result codes of the native API's calls (after IX's: OK, NOMEM, NOBUFS, INVAL, AGAIN, BADH, CLOSED, …).
 * Calls return a non-negative value on success (0, or a byte count for `sendv`) and one of these negative
 * codes on misuse, so an application cannot put the stack into a state TCP forbids.
 */
export const ApiError = {
  /** The handle names no live connection (never valid, or its connection is gone). */
  BadHandle: -1,
  /** An argument is out of range (offset/length outside the buffer, port 0, …). */
  Invalid: -2,
  /** The connection is in a state where the call makes no sense (sendv after close, accept twice, …). */
  Closed: -3,
  /** Nothing can be taken now; retry after the next `sent` event (send buffer full). */
  Again: -4,
  /** No memory for a new connection, timer or buffer (tables full, pool empty). */
  NoMemory: -5,
  /** The local address/port is taken (listen on a port twice, connect from a busy tuple). */
  InUse: -6,
  /** More bytes acknowledged with recvDone than were delivered. */
  Overrun: -7,
  /** No route or no address to reach the destination. */
  Unreachable: -8,
} as const;
export type ApiError = (typeof ApiError)[keyof typeof ApiError];

const NAMES = new Map<number, string>(Object.entries(ApiError).map(([k, v]) => [v, k]));
export function apiErrorName(code: number): string {
  return NAMES.get(code) ?? (code >= 0 ? 'Ok' : `ApiError(${code})`);
}

/** Why a connection died (the `dead` event's reason, the `connected` event's outcome when it failed). */
export const DeathReason = {
  /** Both sides closed (FIN exchanged) — the normal end. */
  Closed: 0,
  /** The peer reset the connection (RST). */
  Reset: 1,
  /** Retransmissions or the connection attempt timed out (RFC 9293 §3.8.3 R2). */
  TimedOut: 2,
  /** The peer refused the connection (RST in reply to our SYN). */
  Refused: 3,
  /** The application aborted it (`abort`) or rejected it (`reject`), or the stack shut down. */
  Aborted: 4,
} as const;
export type DeathReason = (typeof DeathReason)[keyof typeof DeathReason];

export function deathReasonName(r: number): string {
  return ['closed', 'reset', 'timed out', 'refused', 'aborted'][r] ?? `reason ${r}`;
}
