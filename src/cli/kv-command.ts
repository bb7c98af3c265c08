/** `ixy kv`: the memcached-compatible server (apps/kv-server.ts) run by the runtime, with a live line and a summary. */
import type { KvServerOptions } from '../apps/kv-server.js';
import { fmt, summaryJson } from '../apps/stats-format.js';
import type { Figures, RunResult } from '../dataplane/figures.js';
import { formatIpv4, parseIpv4Cidr } from '../stack/ip-interface.js';
import { UsageError } from '../util/errors.js';
import { delta, runApp, total } from './run-app.js';
import { stackOptions } from './stack-commands.js';

type Values = Record<string, string | number | boolean | undefined>;

export const KV_SERVER = new URL('../apps/kv-server.js', import.meta.url);

/** memcached's `-I` syntax: bytes, or a number with k or m (1024, 512k, 1m, 2M). */
export function parseItemSize(s: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new UsageError(`-I '${s}' is not a size: use bytes or a number with k or m, e.g. -I 1m or -I 512k`);
  const n = Number(m[1]) * (m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024);
  if (n < 1024) throw new UsageError(`-I ${s} is below the smallest item size limit, 1k`);
  if (n > 128 * 1024 * 1024) throw new UsageError(`-I ${s} is above the largest item size limit, 128m`);
  return n;
}

const OPS = ['get', 'set', 'delete', 'incr', 'touch', 'other'] as const;

export async function runKv(v: Values): Promise<number> {
  const o = stackOptions(v);
  const itemSizeMax = parseItemSize(String(v['max-item-size']));
  const memoryMiB = v['memory-limit'] as number;
  if (itemSizeMax > memoryMiB * 1024 * 1024) {
    throw new UsageError(`-I ${v['max-item-size']} is larger than the memory limit -m ${memoryMiB}: an item must fit in the memory`);
  }
  const options: KvServerOptions = {
    port: v.port as number, memoryMiB, itemSizeMax, maxConns: v['conn-limit'] as number,
    outputBound: v['output-bound'] as number, copyBelow: v['copy-below'] as number,
  };
  const rate = (now: Figures, prev: Figures | null, key: string): number => delta(now, prev, key) / (now.dt || 1);
  const ops = (now: Figures, prev: Figures | null): number => OPS.reduce((a, k) => a + rate(now, prev, k), 0);
  const hitRatio = (now: Figures, prev: Figures | null): number => {
    const h = delta(now, prev, 'hits');
    const m = delta(now, prev, 'misses');
    return h + m === 0 ? NaN : h / (h + m);
  };
  const mib = (b: number): string => fmt(b / 1048576, 1);
  const r: RunResult = await runApp(KV_SERVER, options, o, {
    json: (now, prev) => {
      const a = now.threads[0].app;
      return {
        opsPerSec: ops(now, prev), ...Object.fromEntries(OPS.map((k) => [`${k}PerSec`, rate(now, prev, k)])),
        hitRatio: Number.isNaN(hitRatio(now, prev)) ? null : hitRatio(now, prev), hits: a.hits, misses: a.misses, items: a.items, bytes: a.bytes,
        memoryBytes: a.memory, limitBytes: a.limit, evictions: a.evictions, connections: a.connections, errors: a.errors,
      };
    },
    lines: (now, prev) => {
      const a = now.threads[0].app;
      const hr = hitRatio(now, prev);
      return [`[kv] ${fmt(ops(now, prev), 0)} ops/s (get ${fmt(rate(now, prev, 'get'), 0)}, set ${fmt(rate(now, prev, 'set'), 0)}), ` +
        `hit ratio ${Number.isNaN(hr) ? '-' : `${fmt(hr * 100, 1)}%`}, items ${a.items}, memory ${mib(a.memory)}/${mib(a.limit)} MiB, ` +
        `evictions ${a.evictions}, connections ${a.connections}`];
    },
  }, {
    live: true, json: v.json === true,
    onReady: (rt) => {
      if (v.json) return;
      const addr = parseIpv4Cidr(v.ip as string);
      const d = rt.devices[0];
      console.log(`[${d.spec}] up: driver ${d.driver}, MAC ${d.mac}, IPv4 ${formatIpv4(addr.ip)}/${addr.prefix}; ` +
        `memcached text protocol on port ${options.port}, -m ${memoryMiB} MiB, -I ${itemSizeMax} bytes, -c ${options.maxConns}`);
    },
  });
  const t = r.threads[0];
  const stats = (r.summaries[0] as { stats: Record<string, number | string> } | undefined)?.stats ?? {};
  const opsTotal = OPS.reduce((a, k) => a + total(r, k), 0);
  const out = {
    ops: opsTotal, get: total(r, 'get'), set: total(r, 'set'), delete: total(r, 'delete'), incr: total(r, 'incr'), touch: total(r, 'touch'),
    other: total(r, 'other'), hits: total(r, 'hits'), misses: total(r, 'misses'),
    items: total(r, 'items'), bytes: total(r, 'bytes'), evictions: total(r, 'evictions'), connections: total(r, 'totalConnections'),
    rejected: total(r, 'rejected'), stats,
    device: { spec: r.devices[0].spec, driver: r.devices[0].driver, mac: r.devices[0].mac }, elapsedMs: r.elapsedMs, cpuNs: t.cpuNs,
    stoppedBy: r.stoppedBy, leakedBuffers: r.leakedBuffers, tcp: t.stack?.tcp, loop: t.stack?.loop,
  };
  if (v.json) console.log(summaryJson(out));
  else {
    console.log(`kv: ${opsTotal} commands (get ${out.get}, set ${out.set}, delete ${out.delete}, incr/decr ${out.incr}, touch ${out.touch}), ` +
      `hits ${out.hits}, misses ${out.misses}, items ${out.items}, evictions ${out.evictions}, connections ${out.connections}, buffers leaked ${r.leakedBuffers}`);
  }
  return 0;
}
