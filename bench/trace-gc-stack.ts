/**
 * Proof that the stack's elastic threads allocate nothing in a steady run: `ixy echo server --threads 2` on a
 * two-queue veth (AF_XDP) runs under `node --trace-gc` while `ixy echo client --threads 2` keeps 64 connections busy
 * from another namespace. Collections are grouped by V8 isolate (the main thread and one per elastic thread) and
 * counted between the warm-up and the end. Root; the namespaces are removed afterwards.
 *
 *   node dist/bench/trace-gc-stack.js [--seconds 15] [--warmup 3]   → bench/results/trace-gc-stack.json
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Netlab } from '../lab/netns.js';
import { numberOption } from './fwd-linux-topo.js';
import { collectionsByIsolate } from './trace-gc-lines.js';
import { RESULTS_DIR } from './paths.js';
import { parseBenchArgs } from './options.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RESULTS = `${RESULTS_DIR}/`;

const { values } = parseBenchArgs({ options: { seconds: { type: 'string', default: '15' }, warmup: { type: 'string', default: '3' } } });
const seconds = numberOption('seconds', values.seconds, 1);
const warmup = numberOption('warmup', values.warmup, 0);

const collect = (p: import('node:child_process').ChildProcess): Promise<string> => new Promise((resolve) => {
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  p.once('close', () => resolve(out));
});

const lab = new Netlab();
process.on('SIGINT', () => { lab.cleanupSync(); process.exit(130); });
try {
  const C = lab.ns('c');
  const S = lab.ns('s');
  const v = lab.veth({ ns: C, name: 'c', queues: 2 }, { ns: S, name: 's', queues: 2 });
  for (const [ns, i] of [[C, v.a], [S, v.b]]) {
    await lab.run(ns, ['ethtool', '-K', i, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }
  const server = lab.spawn(S, ['node', '--trace-gc', CLI, 'echo', 'server', '--dev', `xdp:${v.b}`, '--ip', '10.97.0.2/24', '--threads', '2',
    '--seconds', String(seconds + warmup + 2), '--json']);
  const serverOut = collect(server);
  await new Promise((r) => setTimeout(r, 1500));
  const client = lab.spawn(C, ['node', CLI, 'echo', 'client', '--dev', `xdp:${v.a}`, '--ip', '10.97.0.1/24', '--connect', '10.97.0.2',
    '--threads', '2', '--connections', '64', '--seconds', String(seconds + warmup), '--json']);
  const clientOut = await collect(client);
  const out = await serverOut;
  const last = (s: string): Record<string, any> => JSON.parse(s.trim().split('\n').pop() ?? '{}');
  const cli = last(clientOut);
  const srv = last(out);
  // measured window in the server's isolate clocks: from (client start + warm-up) to the client's end
  const fromMs = 1500 + warmup * 1000;
  const toMs = 1500 + (seconds + warmup) * 1000;
  const isolates = [...collectionsByIsolate(out)].map(([isolate, at]) => ({
    isolate, collections: at.length, inWindow: at.filter((t) => t > fromMs && t < toMs).length, atMs: at,
  }));
  const result = {
    benchmark: 'trace-gc-stack', date: new Date().toISOString(), seconds, warmupSeconds: warmup,
    msgsPerSec: cli.msgsPerSec, clientFailures: cli.failures,
    serverPerThread: (srv.perThread ?? []).map((f: any) => ({ thread: f.thread, connections: f.connections, rxPackets: f.rxPackets })),
    leakedBuffers: srv.leakedBuffers, windowMs: [fromMs, toMs], isolates,
    note: 'isolate clocks start with their thread (the workers a few ms after the main thread); the elastic threads are the isolates whose collections all fall at start-up and shutdown',
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(RESULTS + 'trace-gc-stack.json', JSON.stringify(result, null, 2) + '\n');
  console.log(`echo over 2 elastic threads: ${Math.round(cli.msgsPerSec)} msgs/s, ${cli.failures} failures, server per thread ` +
    result.serverPerThread.map((f: any) => `${f.connections} conns/${f.rxPackets} packets`).join(', '));
  for (const i of isolates) console.log(`  isolate ${i.isolate}: ${i.collections} collections, ${i.inWindow} in the measured window; at ${i.atMs.join(', ')} ms`);
  console.log(JSON.stringify({ benchmark: result.benchmark, msgsPerSec: result.msgsPerSec, inWindow: isolates.map((i) => i.inWindow) }));
} finally {
  await lab.cleanup();
}
