/**
 * What every `ixy` command that runs an app shares: the runtime (dataplane/runtime.ts) started with SIGINT/SIGTERM as
 * its AbortSignal, warnings on stderr, and a line (or an NDJSON object with `--json`) of figures once a second.
 */
import type { Figures, RunResult } from '../dataplane/figures.js';
import { type Runtime, type RuntimeOptions, start } from '../dataplane/runtime.js';
import { statsJson } from '../apps/stats-format.js';

export interface LiveView {
  /** Text lines from this second's figures and the previous sample's (null at the first). */
  lines?(now: Figures, prev: Figures | null): string[];
  /** The same for `--json`: one object. */
  json?(now: Figures, prev: Figures | null): object;
}

export interface CliRun {
  live: boolean;
  json: boolean;
  /** Called once the devices are up. */
  onReady?(rt: Runtime): void;
  /** Called after each second's figures were printed. */
  onFigures?(f: Figures): void;
}

export const APPS = {
  fwd: new URL('../apps/forward.js', import.meta.url),
  pktgen: new URL('../apps/pktgen.js', import.meta.url),
  pcap: new URL('../apps/pcap-capture.js', import.meta.url),
  echoServer: new URL('../apps/echo-server.js', import.meta.url),
  echoClient: new URL('../apps/echo-client.js', import.meta.url),
  pingpong: new URL('../apps/pingpong.js', import.meta.url),
  netcat: new URL('../apps/netcat.js', import.meta.url),
  /** The runtime runs ixy.ts/net's stack app, which loads the server module in each thread. */
  http: new URL('../net/net-stack.js', import.meta.url),
  httpServer: new URL('../apps/http-server.js', import.meta.url),
};

export async function runApp(module: URL, options: unknown, ro: RuntimeOptions, view: LiveView, c: CliRun): Promise<RunResult> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const rt = await start({ module, options }, { ...ro, signal: abort.signal });
    rt.on('warning', (line) => console.error(line));
    c.onReady?.(rt);
    let prev: Figures | null = null;
    rt.on('figures', (f) => {
      if (c.live && c.json && view.json) console.log(statsJson(f.t, view.json(f, prev)));
      else if (c.live && !c.json && view.lines) for (const l of view.lines(f, prev)) console.log(l);
      prev = f;
      c.onFigures?.(f);
    });
    return await rt.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `now[key] - prev[key]` of a figure of the app's thread `i` (the whole value at the first sample). */
export function delta(now: Figures, prev: Figures | null, key: string, i = 0): number {
  return (now.threads[i].app[key] ?? 0) - (prev?.threads[i].app[key] ?? 0);
}

/** The sum of an app figure over the threads. */
export function total(f: Figures | { threads: Figures['threads'] }, key: string): number {
  return f.threads.reduce((a, t) => a + (t.app[key] ?? 0), 0);
}
