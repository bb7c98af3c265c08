/** What a running app reports: once a second (the runtime's `figures` event) and at the end (`RunResult`). */
import type { AppFigures } from './app.js';

/** A device's counters since it was opened. */
export interface DeviceCounters {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  /** Frames the device had to drop (no free descriptor or buffer). */
  rxMissed: number;
}

/** A stack app's counters (plain copies of the stack's and loop's counter objects). */
export interface StackFigures {
  tcp: Record<string, number>;
  ip: Record<string, number>;
  iface: Record<string, number>;
  loop: { iterations: number; rxPackets: number; parks: number; yields: number; batchSizes: number[] };
  /** With several threads: frames handed between threads (dataplane/steering.ts). */
  steering: { handedOff: number; arpShared: number; received: number; dropped: number };
  /** Frames longer than a buffer, dropped by the device (TSO/GSO super-frames). */
  rxOversize: number;
}

/** One thread's counters, cumulative since it started. */
export interface ThreadFigures {
  thread: number;
  /** CPU time the thread used, ns. */
  cpuNs: number;
  /** Per device, in the order given (a stack app has one). */
  devices: DeviceCounters[];
  app: AppFigures;
  /** null for L2 apps. */
  stack: StackFigures | null;
}

/** One sample: the counters of every thread, `t` seconds after start, `dt` seconds after the previous sample. */
export interface Figures {
  t: number;
  dt: number;
  threads: ThreadFigures[];
}

/** A device a thread runs on, once it is up. */
export interface DeviceInfo {
  thread: number;
  spec: string;
  driver: string;
  mac: string;
  /** 0: link down. */
  linkMbps: number;
}

export type StopReason =
  /** `seconds` passed */
  | 'time'
  /** the AbortSignal fired */
  | 'signal'
  /** `stop()` was called */
  | 'stop'
  /** the app finished by itself */
  | 'finished'
  /** ARP gave up on an address the app needs (its definition's `unreachable`) */
  | 'unreachable';

export interface RunResult {
  stoppedBy: StopReason;
  elapsedMs: number;
  /** Packet buffers not back in their pools after the devices closed: 0 unless something leaks. */
  leakedBuffers: number;
  devices: DeviceInfo[];
  /** The last counters of each thread. */
  threads: ThreadFigures[];
  /** Each thread's app `summary` (undefined without one). */
  summaries: unknown[];
}

export function emptyDeviceCounters(): DeviceCounters {
  return { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxMissed: 0 };
}
