/**
 * Receive-side scaling on the simulated 82599 (§7.1.2.8), driven by the ixgbe driver with 4 RX queues:
 * - TCP/UDP/IPv4 frames from the other (looped) port land on RETA[Toeplitz(key, tuple) mod 128], the queue the
 *   software hash (util/toeplitz.ts) predicts, and all four queues get flows; ARP and fragments go by the rule for
 *   their type;
 * - IX's port probe (dataplane/steering.ts, rss mode): local ports chosen for thread q get their replies on queue q.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dmaAllocatorFor, openDevice, parseDeviceSpec, type Device } from '../../src/driver/index.js';
import type { IxgbeDevice } from '../../src/driver/ixgbe/ixgbe.js';
import { Steering } from '../../src/dataplane/steering.js';
import { Mempool } from '../../src/mem/mempool.js';
import { rssQueue, Toeplitz } from '../../src/util/toeplitz.js';
import { simPortMac, sleep, useSimNic } from '../helpers/sim.js';

const QUEUES = 4;

interface Tuple { sip: number; dip: number; sport: number; dport: number; proto: number; fragment?: boolean }

/** An Ethernet + IPv4 + L4 frame to port 1's MAC (checksums are not the NIC's business here). */
function frameInto(pool: Mempool, id: number, t: Tuple): void {
  const b = pool.bytes;
  const o = pool.dataOffset(id);
  b.fill(0, o, o + 64);
  b.set(simPortMac(1), o);
  b.set(simPortMac(0), o + 6);
  b[o + 12] = 0x08; b[o + 13] = 0x00;
  const ip = o + 14;
  b[ip] = 0x45; b[ip + 3] = 50; b[ip + 8] = 64; b[ip + 9] = t.proto;
  if (t.fragment) b[ip + 7] = 10; // fragment offset 80 bytes: no ports to hash
  for (let k = 0; k < 4; k++) { b[ip + 12 + k] = (t.sip >>> (24 - 8 * k)) & 0xff; b[ip + 16 + k] = (t.dip >>> (24 - 8 * k)) & 0xff; }
  b[ip + 20] = t.sport >>> 8; b[ip + 21] = t.sport & 0xff; b[ip + 22] = t.dport >>> 8; b[ip + 23] = t.dport & 0xff;
  pool.len[id] = 64;
}

function arpInto(pool: Mempool, id: number): void {
  const b = pool.bytes;
  const o = pool.dataOffset(id);
  b.fill(0, o, o + 60);
  b.fill(0xff, o, o + 6);
  b.set(simPortMac(0), o + 6);
  b[o + 12] = 0x08; b[o + 13] = 0x06;
  pool.len[id] = 60;
}

/** Sends the frames and returns, per frame in send order, the queue it arrived on (tag: the IPv4 ID field). */
async function sendAndSee(tx: Device, rx: Device, pool: Mempool, fill: ((id: number) => void)[]): Promise<number[]> {
  const ids = new Uint32Array(fill.length);
  for (let i = 0; i < fill.length; i++) {
    ids[i] = pool.alloc();
    fill[i](ids[i]);
    const o = pool.dataOffset(ids[i]);
    if (pool.bytes[o + 12] === 0x08 && pool.bytes[o + 13] === 0x00) { pool.bytes[o + 18] = i >>> 8; pool.bytes[o + 19] = i & 0xff; }
  }
  let sent = 0;
  while (sent < ids.length) sent += tx.txBatch(0, ids.subarray(sent), ids.length - sent);
  const seen = new Array<number>(fill.length).fill(-1);
  const got = new Uint32Array(64);
  let n = 0;
  const deadline = Date.now() + 5000;
  while (n < fill.length && Date.now() < deadline) {
    for (let q = 0; q < QUEUES; q++) {
      const k = rx.rxBatch(q, got, 64);
      for (let i = 0; i < k; i++) {
        const o = pool.dataOffset(got[i]);
        const b = pool.bytes;
        const tag = b[o + 12] === 0x08 && b[o + 13] === 0x06 ? fill.length - 1 : (b[o + 18] << 8) | b[o + 19];
        seen[tag] = q;
        n++;
      }
      pool.freeBatch(got, 0, k);
    }
    if (n < fill.length) await sleep(1);
  }
  assert.equal(n, fill.length, `received ${n} of ${fill.length} frames`);
  return seen;
}

describe('RSS on the simulated 82599', () => {
  useSimNic({ ports: 2, wire: 'loop', physMiB: 64 });

  function open(): { pool: Mempool; tx: Device; rx: IxgbeDevice } {
    const pool = new Mempool(dmaAllocatorFor([parseDeviceSpec('sim:0')]), { count: 8192 });
    const tx = openDevice('sim:0', { pool, ringSize: 512 });
    const rx = openDevice('sim:1', { pool, ringSize: 512, rxQueues: QUEUES }) as IxgbeDevice;
    return { pool, tx, rx };
  }

  test('each flow lands on the queue the Toeplitz hash and the redirection table predict; all queues get flows', async () => {
    const { pool, tx, rx } = open();
    try {
      const rss = rx.rss();
      assert.ok(rss !== null, 'RSS is on with 4 RX queues');
      assert.deepEqual(Array.from(new Set(rss.reta)).sort(), [0, 1, 2, 3]);
      const h = new Toeplitz(rss.key);
      const tuples: Tuple[] = [];
      let seed = 12345;
      const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
      for (let i = 0; i < 400; i++) {
        tuples.push({ sip: rnd() | 0, dip: rnd() | 0, sport: rnd() & 0xffff, dport: rnd() & 0xffff, proto: i % 4 === 3 ? 17 : 6, fragment: i % 10 === 9 });
      }
      const fill = tuples.map((t) => (id: number) => frameInto(pool, id, t));
      fill.push((id) => arpInto(pool, id));
      const seen = await sendAndSee(tx, rx, pool, fill);
      const perQueue = new Array(QUEUES).fill(0);
      tuples.forEach((t, i) => {
        const hash = t.fragment ? h.hashIpv4(t.sip, t.dip) : h.hashIpv4Tcp(t.sip, t.dip, t.sport, t.dport);
        assert.equal(seen[i], rssQueue(hash, rss.reta), `frame ${i} (${JSON.stringify(t)}) on queue ${seen[i]}`);
        perQueue[seen[i]]++;
      });
      for (let q = 0; q < QUEUES; q++) assert.ok(perQueue[q] > 50, `queue ${q} got ${perQueue[q]} of 400 flows`);
      assert.equal(seen[fill.length - 1], rss.reta[0], 'ARP (not hashed: hash 0) goes to RETA[0]');
    } finally {
      rx.close();
      tx.close();
    }
    assert.equal(pool.allocated, 0, 'every buffer back in the pool');
  });

  test("IX's port probe: ports a thread picks get their replies on that thread's queue", async () => {
    const { pool, tx, rx } = open();
    try {
      const rss = rx.rss()!;
      const local = (10 << 24) | (1 << 16) | 2;
      const remote = (10 << 24) | (1 << 16) | 1;
      const fill: ((id: number) => void)[] = [];
      const want: number[] = [];
      for (let q = 0; q < QUEUES; q++) {
        const s = new Steering({ thread: q, threads: QUEUES, mode: 'rss', inboxes: [], outboxes: [], rssKey: rss.key, reta: rss.reta, queue: q });
        let picked = 0;
        for (let lport = 32768; picked < 25; lport++) {
          if (!s.portIsMine(local, lport, remote, 7)) continue;
          picked++;
          // the reply: remote:7 → local:lport
          fill.push((id) => frameInto(pool, id, { sip: remote, dip: local, sport: 7, dport: lport, proto: 6 }));
          want.push(q);
        }
      }
      const seen = await sendAndSee(tx, rx, pool, fill);
      assert.deepEqual(seen, want);
    } finally {
      rx.close();
      tx.close();
    }
  });
});
