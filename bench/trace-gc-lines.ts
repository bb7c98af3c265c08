/** `node --trace-gc` output, grouped by V8 isolate (one per thread): "[pid:0xISOLATE]   1234 ms: Scavenge …". */
export function collectionsByIsolate(out: string): Map<string, number[]> {
  const byIsolate = new Map<string, number[]>();
  for (const line of out.split('\n')) {
    const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: (Scavenge|Mark-Compact|Mark-sweep|Minor)/i.exec(line);
    if (m) byIsolate.set(m[1], [...(byIsolate.get(m[1]) ?? []), Number(m[2])]);
  }
  return byIsolate;
}

export interface GcEvent {
  isolate: string;
  /** ms since the isolate started. */
  atMs: number;
  /** Scavenge, Mark-Compact, … */
  kind: string;
  /** The main thread's pause: the collection's own time plus, for a mark-compact, its incremental marking steps. */
  pauseMs: number;
}

/**
 * One line of `--trace-gc` output as a collection, or null:
 * "[pid:0xISOLATE]   1234 ms: Scavenge 5.2 (6.0) -> 4.3 (7.0) MB, 0.83 / 0.00 ms  (average mu = …) allocation failure;"
 * and for a mark-compact "…MB, 3.2 / 0.0 ms  (+ 12.5 ms in 40 steps since start of marking, …)".
 */
export function gcEvent(line: string): GcEvent | null {
  const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: ([A-Za-z][A-Za-z -]*?) [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in \d+ steps)?/i.exec(line);
  if (!m) return null;
  return { isolate: m[1], atMs: Number(m[2]), kind: m[3], pauseMs: Number(m[4]) + (m[5] ? Number(m[5]) : 0) };
}
