/**
 * One elastic thread of a stack app run with `threads > 1` (dataplane/runtime.ts starts them): builds its share
 * (dataplane/stack-host.ts) and runs it. The elastic loop yields to this thread's event loop between slices, so the
 * runtime's messages (figures, stop, halt) arrive while it runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { App } from '../api/native.js';
import { SimNic, type SimHandles } from '../driver/index.js';
import { pinThisThread } from '../sys/cpu.js';
import type { StackAppDefinition } from './app.js';
import { loadApp } from './app-loader.js';
import type { DeviceInfo, ThreadFigures } from './figures.js';
import { type StackHostConfig, StackHost } from './stack-host.js';
import { errorToWire, type WireError } from './worker-error.js';

export interface StackWorkerConfig {
  app: string;
  export: string;
  options: unknown;
  host: StackHostConfig;
  sim: SimHandles | null;
  cpu: number;
}

export type StackWorkerMessage =
  | { type: 'ready'; device: DeviceInfo }
  | { type: 'figures'; figures: ThreadFigures }
  | { type: 'warning'; line: string }
  | { type: 'unreachable' }
  | { type: 'done'; figures: ThreadFigures; summary: unknown; leaked: number }
  | { type: 'error'; error: WireError };

export type StackWorkerRequest = 'figures' | 'stop' | 'halt';

const cfg = workerData as StackWorkerConfig;
const post = (m: StackWorkerMessage): void => parentPort!.postMessage(m);

async function run(): Promise<void> {
  if (cfg.cpu >= 0) pinThisThread(cfg.cpu);
  if (cfg.sim) SimNic.attach(cfg.sim);
  const def = (await loadApp(cfg.app, cfg.export)) as StackAppDefinition<unknown, App>;
  const host = StackHost.open(def, cfg.options, cfg.host, {
    warn: (line) => post({ type: 'warning', line }),
    unreachable: () => post({ type: 'unreachable' }),
  });
  parentPort!.on('message', (m: StackWorkerRequest) => {
    if (m === 'figures') post({ type: 'figures', figures: host.figures() });
    else if (m === 'stop') host.stop();
    else host.halt();
  });
  post({ type: 'ready', device: host.info });
  const done = await host.run();
  post({ type: 'done', ...done });
}

run().catch((e: unknown) => post({ type: 'error', error: errorToWire(e) })).finally(() => parentPort!.close());
