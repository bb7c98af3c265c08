/** How the runtime (dataplane/runtime.ts) drives the threads of one run, whatever kind of app they run. */
import type { DeviceInfo, ThreadFigures } from './figures.js';

export interface EngineDone {
  threads: ThreadFigures[];
  summaries: unknown[];
  leaked: number;
}

export interface Engine {
  readonly devices: DeviceInfo[];
  /** Every thread's counters now. */
  sample(): Promise<ThreadFigures[]>;
  /** Let the app stop (and wind down). */
  stop(): void;
  /** Settles when every thread has ended and closed its devices. */
  readonly done: Promise<EngineDone>;
}

export interface EngineHooks {
  warn(line: string): void;
  /** An app gave up (ARP could not resolve what it needs): end the run. */
  unreachable(): void;
}

/** The app's module as the threads load it. */
export interface ModuleRef {
  href: string;
  exportName: string;
  options: unknown;
}

/** How long a thread may take to end after it was told to, before it is terminated and the run fails. */
export const STOP_TIMEOUT_MS = 10_000;
