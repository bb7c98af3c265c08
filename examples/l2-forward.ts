/**
 * ixy's forwarder as a library user writes it: frames received on one device leave on the other, both directions,
 * one byte of each touched so the data crosses the CPU. On `sim:0 sim:1` (the default) the simulated 82599's testers
 * send 1 Mpps into each port and check every frame that comes out of the other.
 *
 *   node l2-forward.js [devA] [devB] [seconds]      e.g. node l2-forward.js xdp:veth0 packet:veth1 10
 */
import { createPool, type Device, emptyStats, openDevice } from 'ixy.ts';
import { SimNic } from 'ixy.ts/sim';

const [specA = 'sim:0', specB = 'sim:1', seconds = '3'] = process.argv.slice(2);
const BATCH = 32;
const ids = new Uint32Array(BATCH);

function forward(rx: Device, tx: Device): number {
  const n = rx.rxBatch(0, ids, BATCH);
  if (n === 0) return 0;
  const { bytes, entrySize, headroom } = rx.pool;
  for (let i = 0; i < n; i++) bytes[ids[i] * entrySize + headroom + 1] |= 0;
  const sent = tx.txBatch(0, ids, n);
  if (sent < n) rx.pool.freeBatch(ids, sent, n - sent); // what the TX ring could not take is dropped
  return sent;
}

const sim = specA.startsWith('sim:') || specB.startsWith('sim:') ? await SimNic.start() : null;
const pool = createPool([specA, specB], { count: 4096 });
const a = openDevice(specA, { pool });
const b = openDevice(specB, { pool });
sim?.setGenerator(0, 1);
sim?.setGenerator(1, 1);

let forwarded = 0;
const end = performance.now() + Number(seconds) * 1000;
let tick = performance.now() + 1000;
while (performance.now() < end) {
  forwarded += forward(a, b) + forward(b, a);
  if (performance.now() >= tick) {
    tick += 1000;
    const sa = emptyStats();
    a.readStats(sa);
    console.log(`${a.spec}: rx ${sa.rxPackets} tx ${sa.txPackets}   forwarded so far ${forwarded}`);
  }
}
sim?.setGenerator(0, 0);
sim?.setGenerator(1, 0);
await new Promise((r) => setTimeout(r, 50)); // let the last frames cross the wire
const arrived = sim ? [0, 1].map((p) => sim.tester(p).streams.reduce((s, x) => s + x.unique, 0)) : [];
a.close();
b.close();
console.log(`forwarded ${forwarded} frames${sim ? `; the testers received ${arrived.join(' + ')} of them intact` : ''}`);
console.log(`buffers not returned to the pool: ${pool.allocated}`);
await sim?.stop();
