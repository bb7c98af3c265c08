/**
 * The memory shared by the runtime and an L2 app's worker. The worker's loop never yields to its event loop, so it
 * cannot take messages while it runs: the runtime asks for figures and for the stop through these words, and the
 * worker publishes its counters here (`Atomics` on the control words, plain float64 for the figures).
 */
import type { SimHandles } from '../driver/sim/sim-nic.js';
import type { DeviceInfo } from './figures.js';
import type { WireError } from './worker-error.js';

export const C_STOP = 0; // runtime → worker: finish
export const C_REQ = 1; // runtime → worker: publish the figures (bumped)
export const C_ACK = 2; // worker → runtime: published for this request
export const CTL_WORDS = 4;

export const MAX_DEVICES = 4;
export const MAX_APP_FIGURES = 32;
export const F_CPU_NS = 0;
export const F_DEV = 8; // rxPackets, txPackets, rxBytes, txBytes, rxMissed per device
export const DEV_FIELDS = 5;
export const F_APP = F_DEV + MAX_DEVICES * DEV_FIELDS;
export const STATS_F64 = F_APP + MAX_APP_FIGURES;

export interface L2WorkerConfig {
  app: string;
  export: string;
  options: unknown;
  devices: string[];
  batch: number;
  ringSize: number;
  poolSize: number;
  force: boolean;
  promisc: boolean;
  /** Pin the worker to this CPU (-1: don't). */
  cpu: number;
  sim: SimHandles | null;
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
}

export type L2Message =
  | { type: 'ready'; devices: DeviceInfo[]; figureNames: string[] }
  | { type: 'done'; summary: unknown; leaked: number }
  | { type: 'error'; error: WireError };
