/**
 * What the runtime (dataplane/runtime.ts) runs: an app *definition*, the default export of a module, which builds the
 * app for each thread. The runtime loads the module by path, so worker threads can build their own copy; the options
 * travel with it and must survive structured cloning (numbers, strings, arrays, plain objects, typed arrays).
 *
 * Two kinds:
 * - `l2`: works on frames. Its `step()` is called in a busy loop on a worker thread that never yields (ixy's model:
 *   fwd, pktgen, pcap).
 * - `stack`: an app of the native TCP/IP API (`App`: `start`, `onEvents`, `finished`), run by an elastic thread.
 */
import type { App, NetApi } from '../api/native.js';
import type { Device } from '../driver/device.js';
import type { Mempool } from '../mem/mempool.js';
import type { Stack } from '../stack/stack.js';

/** An app's own counters, cumulative since it started; sampled once a second (never per packet). */
export type AppFigures = Record<string, number>;

export interface L2App {
  /** One pass over the devices; returns the packets handled (0: idle). */
  step(): number;
  /** True once the app has done what it was asked (e.g. sent `count` frames): the loop ends. */
  readonly finished: boolean;
  /** Called once the loop has ended, before the devices close (e.g. to close a file). */
  close?(): void;
}

export interface L2Context {
  /** The devices, opened in the order of the runtime's `devices` option. */
  readonly devices: readonly Device[];
  /** The pool they share. */
  readonly pool: Mempool;
  /** Packets per rxBatch/txBatch call. */
  readonly batch: number;
}

export interface L2AppDefinition<O = unknown, A extends L2App = L2App> {
  readonly kind: 'l2';
  /** How many devices it takes: [least, most]. */
  readonly devices: readonly [number, number];
  create(ctx: L2Context, options: O): A;
  figures?(app: A): AppFigures;
  /** What the run's result holds about the app at the end (structured-cloneable). */
  summary?(app: A): unknown;
}

export interface StackContext {
  readonly stack: Stack;
  readonly device: Device;
  /** This copy's thread and how many run (`threads`): apps that share work (e.g. connections) take their part. */
  readonly thread: number;
  readonly threads: number;
}

export interface StackAppDefinition<O = unknown, A extends App = App> {
  readonly kind: 'stack';
  create(ctx: StackContext, options: O): A;
  figures?(app: A): AppFigures;
  summary?(app: A): unknown;
  /** Asked to stop: wind down (e.g. close connections). The loop ends when the app is finished, at most 2 s later. */
  stop?(app: A, api: NetApi): void;
  /** ARP gave up on `ip` (an int32 address): return true to end the run, as nothing the app needs can be reached. */
  unreachable?(app: A, ip: number): boolean;
}

export type AppDefinition = L2AppDefinition<never, L2App> | StackAppDefinition<never, App>;

/** Declares an L2 app: `export default defineL2App({ devices: [2, 2], create: (ctx, o) => … })`. */
export function defineL2App<O, A extends L2App>(def: Omit<L2AppDefinition<O, A>, 'kind'>): L2AppDefinition<O, A> {
  return { kind: 'l2', ...def };
}

/** Declares a stack app: `export default defineStackApp({ create: (ctx, o) => new MyApp(o) })`. */
export function defineStackApp<O, A extends App>(def: Omit<StackAppDefinition<O, A>, 'kind'>): StackAppDefinition<O, A> {
  return { kind: 'stack', ...def };
}

/**
 * Which app to run: a module (a path or `file:` URL; relative paths are taken from the current directory), the export
 * that holds the definition (default `default`) and the options given to its `create`.
 */
export interface AppRef<O = unknown> {
  module: string | URL;
  export?: string;
  options?: O;
}
