import type { SimHandles } from '../driver/sim/sim-nic.js';

/**
 * The control block shared by the main thread (CLI, signals, live statistics) and the dataplane worker
 * (the busy loop). The worker never yields to its event loop while running, so it allocates nothing; the main
 * thread talks to it only through these words.
 */
export const C_STOP = 0; // main → worker: finish
export const C_REQ = 1; // main → worker: publish statistics (bumped)
export const C_ACK = 2; // worker → main: statistics published for this request
export const CTL_WORDS = 4;

export const MAX_DEVICES = 4;
export const D_RX_PACKETS = 0;
export const D_TX_PACKETS = 1;
export const D_RX_BYTES = 2;
export const D_TX_BYTES = 3;
export const D_RX_DROPPED = 4;
export const DEV_FIELDS = 5;
export const F_CPU_NS = 0; // the worker thread's CPU time since its loop started
export const F_WORK = 1; // packets forwarded (fwd) or sent (pktgen)
export const F_DROPPED = 2; // packets the app dropped (TX ring full)
export const F_ELAPSED_MS = 3;
export const F_DEV_BASE = 8;
export const STATS_F64 = F_DEV_BASE + MAX_DEVICES * DEV_FIELDS;

export type AppName = 'fwd' | 'pktgen' | 'pcap';

export interface DataplaneConfig {
  app: AppName;
  devices: string[];
  batch: number;
  ringSize: number;
  poolSize: number;
  force: boolean;
  promisc: boolean;
  /** pktgen: Mpps, 0 = as fast as possible. */
  rateMpps: number;
  /** pktgen: destination MAC (six bytes). */
  dst: number[];
  /** pktgen: frames to send, pcap: packets to capture; 0 = until stopped. */
  count?: number;
  /** pcap: output file and snap length. */
  pcapFile?: string;
  snaplen?: number;
  sim: SimHandles | null;
  /** Pin the dataplane thread to this CPU (-1: don't). */
  cpu: number;
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
}

export interface DeviceInfo {
  spec: string;
  driver: string;
  mac: string;
  linkMbps: number;
}

export type WorkerMessage =
  | { type: 'ready'; devices: DeviceInfo[] }
  | { type: 'done'; work: number; dropped: number; cpuNs: number; elapsedMs: number; leaked: number }
  | { type: 'error'; message: string; userError: boolean; usageError: boolean };
