/** `node --trace-gc` output, grouped by V8 isolate (one per thread): "[pid:0xISOLATE]   1234 ms: Scavenge …". */
export function collectionsByIsolate(out: string): Map<string, number[]> {
  const byIsolate = new Map<string, number[]>();
  for (const line of out.split('\n')) {
    const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: (Scavenge|Mark-Compact|Mark-sweep|Minor)/i.exec(line);
    if (m) byIsolate.set(m[1], [...(byIsolate.get(m[1]) ?? []), Number(m[2])]);
  }
  return byIsolate;
}
