/**
 * Micro-benchmark of the stack's timer wheel (src/stack/timer-wheel.ts), about 1 s:
 *
 *   npx tsc -p . && node dist/bench/timer-wheel.js [--json]
 *
 * Prints ns per add, per cancel, per add + cancel pair (the usual life of a retransmission or delayed-ACK timer),
 * and per fired timer (near timers: level 0/1; far timers: spread over 2^24 ticks ≈ 4.5 min, fired by a loop
 * advancing 64 ticks (~1 ms) at a time, cascades included). Writes bench/results/timer-wheel.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { TimerWheel } from '../src/stack/timer-wheel.js';
import { RESULTS_DIR } from './paths.js';

const RESULTS = `${RESULTS_DIR}/`;
const N = 60_000; // timers per round (capacity 65536)

let fired = 0;
const wheel = new TimerWheel((kind) => { fired += kind; }, { capacity: 1 << 16 });
const handles = new Int32Array(N);
const order = new Int32Array(N); // a permutation: cancel in another order than added
const offsets = new Int32Array(N); // due offsets over every level: 1 tick … 2^28 ticks
{
  let x = 0x12345678;
  const rnd = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
  for (let i = 0; i < N; i++) order[i] = i;
  for (let i = N - 1; i > 0; i--) { const j = rnd() % (i + 1); const t = order[i]!; order[i] = order[j]!; order[j] = t; }
  for (let i = 0; i < N; i++) offsets[i] = 1 + (rnd() % 2 ** (1 + (i % 28)));
}

function addRound(): void {
  const now = wheel.now;
  for (let i = 0; i < N; i++) handles[i] = wheel.add(now + offsets[i]!, 1, i);
}
function cancelRound(): void {
  for (let i = 0; i < N; i++) wheel.cancel(handles[order[i]!]!);
}
function pairRound(): void {
  const now = wheel.now;
  for (let i = 0; i < N; i++) wheel.cancel(wheel.add(now + offsets[i]!, 1, i));
}
/** Adds N timers due within `spread` ticks and advances `step` ticks at a time until all have fired. */
function fireRound(spread: number, step: number): void {
  const start = wheel.now;
  for (let i = 0; i < N; i++) wheel.add(start + 1 + (offsets[i]! % spread), 1, i);
  for (let t = start + step; wheel.size > 0; t += step) wheel.advance(t);
}

function time(rounds: number, fn: () => void, between?: () => void): number {
  let ns = 0n;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    ns += process.hrtime.bigint() - t0;
    between?.();
  }
  return Number(ns) / (rounds * N);
}

// Warm up every path (JIT), then measure.
for (let r = 0; r < 3; r++) { addRound(); cancelRound(); pairRound(); fireRound(4096, 1); fireRound(1 << 24, 64); }
const t0 = performance.now();
let cancelNs = 0;
const addNs = time(40, addRound, () => { const c0 = process.hrtime.bigint(); cancelRound(); cancelNs += Number(process.hrtime.bigint() - c0); });
cancelNs /= 40 * N;
const pairNs = time(40, pairRound);
fired = 0;
const fireNearNs = time(12, () => fireRound(4096, 1));
const fireFarNs = time(12, () => fireRound(1 << 24, 64));
const firedCount = fired;
const elapsedMs = performance.now() - t0;

const result = {
  bench: 'timer-wheel',
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  wheel: { levels: wheel.levels, slotBits: wheel.slotBits, capacity: wheel.capacity, tickUs: 16 },
  timersPerRound: N,
  nsPerAdd: round(addNs),
  nsPerCancel: round(cancelNs),
  nsPerAddCancelPair: round(pairNs),
  nsPerFiredNear: round(fireNearNs),
  nsPerFiredFar: round(fireFarNs),
  notes: {
    add: 'dues spread over 1 tick … 2^28 ticks (every level), wheel holding up to 60000 timers',
    cancel: 'in a random order, wheel holding up to 60000 timers',
    nsPerFiredNear: '60000 timers due within 4096 ticks, advance(now + 1) per loop: add + advance + callback per timer',
    nsPerFiredFar: '60000 timers due within 2^24 ticks, advance(now + 64) per loop (262144 calls): add + cascades + advance + callback per timer',
  },
  firedCount,
  elapsedMs: round(elapsedMs),
};
fs.mkdirSync(RESULTS, { recursive: true });
fs.writeFileSync(`${RESULTS}timer-wheel.json`, `${JSON.stringify(result, null, 2)}\n`);
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  console.log(`timer wheel (${wheel.levels} levels × ${1 << wheel.slotBits} slots, 16 µs ticks), ${N} timers per round:`);
  console.log(`  add             ${result.nsPerAdd} ns`);
  console.log(`  cancel          ${result.nsPerCancel} ns`);
  console.log(`  add + cancel    ${result.nsPerAddCancelPair} ns`);
  console.log(`  fired (near)    ${result.nsPerFiredNear} ns per timer (incl. its add and the advance calls)`);
  console.log(`  fired (far)     ${result.nsPerFiredFar} ns per timer (incl. its add, cascades and the advance calls)`);
  console.log(`  → ${RESULTS}timer-wheel.json`);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
