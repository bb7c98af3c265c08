/**
 * ixy.ts: a user-space network dataplane for Node.js. The root entry point holds what an application needs:
 * devices (`openDevice`, `createPool`), the TCP/IP stack, the native zero-copy API (calls, events, result codes), the
 * run-to-completion loop that runs an app on a stack, and the runtime (`start`, `run`) that runs an app defined with
 * `defineL2App`/`defineStackApp` on one thread or several, with figures once a second. The layers below have their own entry points:
 * `ixy.ts/driver`, `ixy.ts/wire`, `ixy.ts/stack`, `ixy.ts/sim`. Anything not exported here or there is internal.
 *
 * @module ixy.ts
 */
export {
  type Device, type DeviceOptions, type DeviceSpec, type DeviceStats, emptyStats, formatMac, openDevice, parseDeviceSpec,
} from './driver/index.js';
export { createPool, type PoolOptions } from './dataplane/pool.js';
export { Mempool, type MempoolOptions } from './mem/mempool.js';
export { Stack, type StackOptions, StackCounters } from './stack/stack.js';
export { type TimeSource, VirtualTime } from './stack/clock.js';
/** CLOCK_MONOTONIC read without allocating: the time source a busy loop should give its Stack. */
export { MonotonicClock } from './sys/monotonic-clock.js';
export { formatIpv4, parseIpv4, parseIpv4Cidr, type Ipv4Address } from './stack/ip-interface.js';
export type { App, NetApi } from './api/native.js';
export { EventKind, EventQueue } from './api/events.js';
export { ApiError, apiErrorName, DeathReason, deathReasonName } from './api/codes.js';
export { ElasticThread, type ElasticOptions, LoopCounters } from './dataplane/elastic-thread.js';
export { run, Runtime, type RuntimeOptions, start } from './dataplane/runtime.js';
export {
  type AppDefinition, type AppFigures, type AppRef, defineL2App, defineStackApp, type L2App, type L2AppDefinition, type L2Context,
  type StackAppDefinition, type StackContext,
} from './dataplane/app.js';
export type { DeviceCounters, DeviceInfo, Figures, RunResult, StackFigures, StopReason, ThreadFigures } from './dataplane/figures.js';
export { IxyError, SimFault, UsageError, type UsageErrorCode } from './util/errors.js';
