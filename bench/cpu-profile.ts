/**
 * Where a process's CPU went, from a V8 CPU profile (`node --cpu-prof`: a `.cpuprofile`, one sample per interval with
 * the id of the call-tree node that was running): the self time of each sample inside a time window, grouped into
 * categories by the running function's script. Native code called from JavaScript (koffi's system calls, the HTTP
 * parser's `execute`) is charged to the JavaScript function that called it.
 *
 * Sample times are V8's TimeTicks in µs: CLOCK_MONOTONIC on Linux, the clock of `process.hrtime` in any process, so
 * another process can name the window.
 */

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  windowMs: number;
  samples: number;
  /** Share of the window's samples (self time) per category, largest first. */
  categories: Array<{ category: string; pct: number; ms: number }>;
  /** The functions with the most self time. */
  top: Array<{ fn: string; where: string; pct: number }>;
  /** Inclusive time of the frames asked for: the share of samples with one of them anywhere on the stack. */
  inclusive: Array<{ label: string; pct: number }>;
}

/** Frames to report inclusive time for: a function (one of `fns`) in a script whose URL contains `url`. */
export interface FrameSpec { label: string; fns: string[]; url: string }

/** Categories in the order they are tried: the first whose test accepts the frame takes the sample. */
const CATEGORIES: Array<[string, (fn: string, url: string) => boolean]> = [
  ['idle (waiting in the event loop)', (fn) => fn === '(idle)'],
  ['GC', (fn) => fn === '(garbage collector)'],
  ['V8 itself (program: compiler, runtime, ICs)', (fn) => fn === '(program)' || fn === '(root)'],
  ['http parser and Node http (node:_http_*, HTTPParser)', (fn, url) => url.startsWith('node:_http_') || url === 'node:http' || fn.startsWith('HTTPParser')],
  ['Node streams and events (node:internal/streams, node:events)', (_fn, url) => /^node:(internal\/streams\/|stream|events)/.test(url)],
  ['Node other (ticks, timers, buffers, builtins)', (_fn, url) => url.startsWith('node:') || url === ''],
  ['net layer (src/net/)', (_fn, url) => url.includes('/src/net/')],
  ['app: the request handler (src/apps/)', (_fn, url) => url.includes('/src/apps/')],
  ['stack and its loop (src/stack/, src/wire/, src/dataplane/, src/mem/)', (_fn, url) => /\/src\/(stack|wire|dataplane|mem)\//.test(url)],
  ['driver (src/driver/xdp/, with its sendto/poll system calls)', (_fn, url) => url.includes('/src/driver/')],
  ['clock reads (the loop reads it each iteration, empty ones too) and other system calls (src/sys/, koffi)', (_fn, url) => url.includes('/src/sys/') || url.includes('/koffi/')],
];
const OTHER = 'other JavaScript';

export function categoryOf(fn: string, url: string): string {
  for (const [name, test] of CATEGORIES) if (test(fn, url)) return name;
  return OTHER;
}

/** Per node, a bit mask of the `frames` on its stack (the node itself included). */
function framesOnStack(p: CpuProfile, frames: FrameSpec[]): Map<number, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const mask = new Map<number, number>();
  const visit = (id: number, above: number): void => {
    const f = byId.get(id)!.callFrame;
    let m = above;
    frames.forEach((fr, i) => { if (fr.fns.includes(f.functionName) && f.url.includes(fr.url)) m |= 1 << i; });
    mask.set(id, m);
    for (const c of byId.get(id)!.children ?? []) visit(c, m);
  };
  const children = new Set(p.nodes.flatMap((n) => n.children ?? []));
  for (const n of p.nodes) if (!children.has(n.id)) visit(n.id, 0);
  return mask;
}

/** The samples whose time lies in [fromUs, toUs] (the whole profile without a window), summarised. */
export function summariseProfile(p: CpuProfile, fromUs = -Infinity, toUs = Infinity, frames: FrameSpec[] = [], topN = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const onStack = framesOnStack(p, frames);
  const incl = new Float64Array(frames.length);
  const perNode = new Map<number, number>();
  let t = p.startTime;
  let n = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const prev = t;
    t += p.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    // a sample stands for the time since the previous one
    perNode.set(p.samples[i], (perNode.get(p.samples[i]) ?? 0) + (t - prev));
    const m = onStack.get(p.samples[i]) ?? 0;
    for (let f = 0; f < frames.length; f++) if (m & (1 << f)) incl[f] += t - prev;
    n++;
  }
  const total = [...perNode.values()].reduce((a, b) => a + b, 0) || 1;
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of perNode) {
    const f = byId.get(id)!.callFrame;
    const c = categoryOf(f.functionName, f.url);
    cats.set(c, (cats.get(c) ?? 0) + us);
    const key = `${f.functionName || '(anonymous)'}\t${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    windowMs: round(total / 1000),
    samples: n,
    categories: [...cats].sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, pct: round((us / total) * 100), ms: round(us / 1000) })),
    top: [...fns].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, us]) => {
      const [fn, where] = k.split('\t');
      return { fn, where, pct: round((us / total) * 100) };
    }),
    inclusive: frames.map((f, i) => ({ label: f.label, pct: round((incl[i] / total) * 100) })),
  };
}

/** `file:///…/dist/src/net/socket.js` → `src/net/socket.js`; node: URLs as they are. */
function shortUrl(url: string): string {
  const m = /\/dist\/(.*)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}
