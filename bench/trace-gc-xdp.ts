/**
 * Proof that the forwarding loop allocates nothing on AF_XDP: `ixy fwd xdp:A xdp:B` runs under `node --trace-gc`
 * in a namespace for S seconds while `ixy pktgen` (AF_PACKET) offers traffic from another; the collections are
 * grouped by V8 isolate (the main thread's and the dataplane worker's). Root; namespaces are removed afterwards.
 *
 *   node dist/bench/trace-gc-xdp.js [--seconds 20] [--rate 0.3]   → bench/results/trace-gc-xdp.json
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Netlab } from '../lab/netns.js';
import { collectionsByIsolate } from './trace-gc-lines.js';
import { RESULTS_DIR } from './paths.js';
import { optionError, parseBenchArgs } from './options.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RESULTS = `${RESULTS_DIR}/`;

const { values } = parseBenchArgs({ options: { seconds: { type: 'string', default: '20' }, rate: { type: 'string', default: '0.3' } } });
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (!(seconds > 0) || !(rate > 0)) optionError('--seconds and --rate must be positive numbers');

const lab = new Netlab();
process.on('SIGINT', () => { lab.cleanupSync(); process.exit(130); });
try {
  const G = lab.ns('g');
  const M = lab.ns('m');
  const R = lab.ns('r');
  const a = lab.veth({ ns: G, name: 'g' }, { ns: M, name: 'ma' });
  const b = lab.veth({ ns: M, name: 'mb' }, { ns: R, name: 'r' });
  const gen = lab.spawn(G, ['node', CLI, 'pktgen', `packet:${a.a}`, '--rate', String(rate)]);
  const fwd = lab.spawn(M, ['node', '--trace-gc', CLI, 'fwd', `xdp:${a.b}`, `xdp:${b.a}`, '--seconds', String(seconds)]);
  let out = '';
  fwd.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  fwd.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise((r) => fwd.once('exit', r));
  gen.kill('SIGINT');
  const byIsolate = collectionsByIsolate(out);
  const forwarded = Number(/forwarded (\d+)/.exec(out)?.[1] ?? NaN);
  const warmupMs = 1000;
  const isolates = [...byIsolate].map(([id, at]) => ({ isolate: id, collections: at.length, atMs: at, afterWarmup: at.filter((t) => t > warmupMs && t < seconds * 1000 - 100).length }));
  const result = {
    benchmark: 'trace-gc-xdp', date: new Date().toISOString(), seconds, offeredMpps: rate, forwarded, isolates,
    note: 'the dataplane worker is the isolate whose collections all fall in the first ~100 ms (start-up) and at the very end (shutdown); the main thread prints statistics and may collect now and then',
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(RESULTS + 'trace-gc-xdp.json', JSON.stringify(result, null, 2) + '\n');
  console.log(`forwarded ${forwarded} packets in ${seconds} s over xdp; collections per isolate (ms since start):`);
  for (const i of isolates) console.log(`  ${i.isolate}: ${i.collections} (${i.afterWarmup} between 1 s and the end) at ${i.atMs.join(', ')}`);
  console.log(JSON.stringify(result));
} finally {
  await lab.cleanup();
}
