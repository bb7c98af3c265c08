/**
 * The simulated 82599 checks the hardware rules a driver must follow. Each test drives a fresh SimNic through a
 * raw BAR with one deliberately broken sequence and checks that the model names the broken rule, both in
 * nic.fault() and in the SimFault that the next register access throws. A fault is sticky for the whole NIC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dmaAllocatorFor, openDevice, parseDeviceSpec, type SimNic } from '../../src/driver/index.js';
import type { SimBar } from '../../src/driver/sim/sim-bar.js';
import { waitForBits } from '../../src/driver/bar.js';
import { PHYS_HI, PHYS_LO, u32View, type DmaRegion } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { SimFault } from '../../src/util/errors.js';
import * as R from '../../src/driver/ixgbe/regs.js';
import { writeTxData } from '../../src/driver/ixgbe/descriptors.js';
import { buildTestFrame } from '../../src/util/test-frame.js';
import { resetPort, simPortMac, sleep, waitUntil, withSimNic } from '../helpers/sim.js';

const RING = 64; // descriptors
/** What fault() says while the flag is up but the message not yet written (sim-bar.ts readFaultMessage). */
const FAULT_PLACEHOLDER = 'simulated NIC reported a fault';
const RING_BYTES = RING * R.DESC_BYTES;

/** A register read that completes normally proves every earlier write was applied without a fault. */
function assertNoFault(nic: SimNic, bar: SimBar, step: string): void {
  bar.read32(R.STATUS);
  assert.equal(nic.fault(), null, `fault already after: ${step}`);
}

/**
 * The access that breaks a rule. Writes are posted; one may already throw the SimFault it caused if the model
 * applied it before the write returned, so that is allowed here (and checked by expectFault afterwards).
 */
function breakRule(access: () => void): void {
  try {
    access();
  } catch (e) {
    if (!(e instanceof SimFault)) throw e;
  }
}

/** Waits for the model to report a fault (the DMA engines run after the register writes), then checks it. */
async function expectFault(nic: SimNic, bar: SimBar, rule: RegExp): Promise<void> {
  // Wait for the real message rather than the placeholder fault() returns if the flag is up before the message is
  // written (a race once in model-loop.ts, guarded by 'the fault message is published together with the fault
  // flag' below), so these tests check the rule, not that race.
  await waitUntil(() => { const m = nic.fault(); return m !== null && m !== FAULT_PLACEHOLDER; }, 1000);
  const msg = nic.fault();
  assert.ok(msg !== null, 'the model reported no fault');
  assert.match(msg, rule);
  assert.match(msg, /^sim port 0: /);
  assert.throws(() => bar.read32(R.STATUS), (e: unknown) => e instanceof SimFault && e.message === msg && e.code === 'ESIMFAULT');
  assert.throws(() => bar.write32(R.EIMC, 0), SimFault, 'a posted write after the fault must throw too');
}

function ring(nic: SimNic): { region: DmaRegion; phys: number; desc: Uint32Array } {
  const region = nic.dma.allocate(RING_BYTES, true);
  return { region, phys: region.physAddr(0), desc: u32View(region) };
}

function setRxRing(bar: SimBar, q: number, phys: number, bytes: number): void {
  bar.write32(R.SRRCTL(q), R.SRRCTL_DESCTYPE_ADV_ONEBUF | R.SRRCTL_DROP_EN | 2);
  bar.write32(R.RDBAL(q), PHYS_LO(phys));
  bar.write32(R.RDBAH(q), PHYS_HI(phys));
  bar.write32(R.RDLEN(q), bytes);
  bar.write32(R.RDH(q), 0);
  bar.write32(R.RDT(q), 0);
}

function setTxRing(bar: SimBar, q: number, phys: number, bytes: number): void {
  bar.write32(R.TDBAL(q), PHYS_LO(phys));
  bar.write32(R.TDBAH(q), PHYS_HI(phys));
  bar.write32(R.TDLEN(q), bytes);
  bar.write32(R.TDH(q), 0);
  bar.write32(R.TDT(q), 0);
}

/** Fresh NIC, raw BAR of port 0; stops the NIC whatever happens. */
function ruleTest(name: string, fn: (nic: SimNic, bar: SimBar) => Promise<void> | void): void {
  test(name, () => withSimNic({ ports: 2, wire: 'tester', physMiB: 8 }, async (nic) => {
    const bar = nic.openBar(0);
    assert.equal(nic.fault(), null);
    await fn(nic, bar);
  }));
}

/** A TX queue set up correctly (and the link up, so frames reach the tester), ready for descriptors. */
function txQueueUp(nic: SimNic, bar: SimBar): { desc: Uint32Array } {
  resetPort(bar);
  bar.write32(R.AUTOC, R.AUTOC_LMS_10G_SERIAL | R.AUTOC_10G_XAUI | R.AUTOC_AN_RESTART);
  if (!waitForBits(() => bar.read32(R.LINKS), R.LINKS_UP, R.LINKS_UP, 1000)) throw new Error('link did not come up');
  const r = ring(nic);
  setTxRing(bar, 0, r.phys, RING_BYTES);
  bar.write32(R.DMATXCTL, R.DMATXCTL_TE);
  bar.write32(R.TXDCTL(0), R.TXDCTL_ENABLE);
  assertNoFault(nic, bar, 'TX queue enable');
  return { desc: r.desc };
}

/** A packet buffer holding a 60-byte test frame. */
function frameBuffer(nic: SimNic): { lo: number; hi: number } {
  const region = nic.dma.allocate(4096, true);
  const f = buildTestFrame({ src: simPortMac(0), dst: Uint8Array.of(2, 0, 0, 0, 0, 1), stream: 3 });
  new Uint8Array(region.buffer, region.byteOffset, 4096).set(f);
  const phys = region.physAddr(0);
  return { lo: PHYS_LO(phys), hi: PHYS_HI(phys) };
}

ruleTest('writing a register during global reset', async (nic, bar) => {
  bar.write32(R.CTRL, R.CTRL_RST);
  breakRule(() => bar.write32(R.RXCTRL, 0));
  await expectFault(nic, bar, /register 0x3000 written during global reset/);
});

ruleTest('waiting for CTRL.RST before the next write is fine (control for the rule above)', (nic, bar) => {
  resetPort(bar, false);
  bar.write32(R.RXCTRL, 0);
  assertNoFault(nic, bar, 'RXCTRL write after reset');
});

ruleTest('enabling an RX queue before RDRXCTL.DMAIDONE', async (nic, bar) => {
  // Straight after power-on no DMA initialisation has run (it follows a global reset). This is deterministic;
  // catching the 2 ms between CTRL.RST clearing and DMAIDONE setting is not, as register reads can take ms.
  const r = ring(nic);
  setRxRing(bar, 0, r.phys, RING_BYTES);
  assert.equal(bar.read32(R.RDRXCTL) & R.RDRXCTL_DMAIDONE, 0, 'precondition: DMAIDONE clear');
  assertNoFault(nic, bar, 'ring registers');
  breakRule(() => bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE));
  await expectFault(nic, bar, /RX queue 0 enabled before DMA initialisation finished: wait for RDRXCTL\.DMAIDONE/);
});

ruleTest('enabling an RX queue before its ring base and length are set', async (nic, bar) => {
  resetPort(bar);
  bar.write32(R.SRRCTL(0), R.SRRCTL_DESCTYPE_ADV_ONEBUF | 2);
  assertNoFault(nic, bar, 'SRRCTL');
  breakRule(() => bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE));
  await expectFault(nic, bar, /RX queue 0 enabled before its ring was set up/);
});

ruleTest('enabling a TX queue before its ring base and length are set', async (nic, bar) => {
  resetPort(bar);
  bar.write32(R.DMATXCTL, R.DMATXCTL_TE);
  assertNoFault(nic, bar, 'DMATXCTL');
  breakRule(() => bar.write32(R.TXDCTL(0), R.TXDCTL_ENABLE));
  await expectFault(nic, bar, /TX queue 0 enabled before its ring was set up/);
});

ruleTest('RX ring base not 128-byte aligned', async (nic, bar) => {
  resetPort(bar);
  const r = ring(nic);
  setRxRing(bar, 0, r.phys + 64, RING_BYTES - 128);
  assertNoFault(nic, bar, 'ring registers');
  breakRule(() => bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE));
  await expectFault(nic, bar, /RX queue 0: ring base 0x[0-9a-f]*40 is not 128-byte aligned/);
});

ruleTest('RDLEN not a multiple of 128 bytes', async (nic, bar) => {
  resetPort(bar);
  const r = ring(nic);
  setRxRing(bar, 0, r.phys, RING_BYTES - 16 * 3); // 61 descriptors
  assertNoFault(nic, bar, 'ring registers');
  breakRule(() => bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE));
  await expectFault(nic, bar, /RX queue 0: ring length 976 is not a multiple of 128 bytes/);
});

ruleTest('enabling a TX queue before DMATXCTL.TE', async (nic, bar) => {
  resetPort(bar);
  const r = ring(nic);
  setTxRing(bar, 0, r.phys, RING_BYTES);
  assertNoFault(nic, bar, 'ring registers');
  breakRule(() => bar.write32(R.TXDCTL(0), R.TXDCTL_ENABLE));
  await expectFault(nic, bar, /TX queue 0 enabled before DMATXCTL\.TE/);
});

ruleTest('RDT moved past RDH: handing back descriptors the NIC owns', async (nic, bar) => {
  resetPort(bar);
  const r = ring(nic);
  setRxRing(bar, 0, r.phys, RING_BYTES);
  bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE);
  bar.write32(R.RDT(0), RING - 1); // legal: all but one descriptor to the NIC
  assertNoFault(nic, bar, 'RDT = ring size - 1');
  assert.equal(bar.read32(R.RDH(0)), 0);
  breakRule(() => bar.write32(R.RDT(0), 0)); // one more: the NIC would own all 64, i.e. the tail passes the head
  await expectFault(nic, bar, new RegExp(`RX queue 0: RDT moved from ${RING - 1} to 0 past the head 0: the driver handed back descriptors the NIC still owns`));
});

ruleTest('RDT beyond the end of the ring', async (nic, bar) => {
  resetPort(bar);
  const r = ring(nic);
  setRxRing(bar, 0, r.phys, RING_BYTES);
  bar.write32(R.RXDCTL(0), R.RXDCTL_ENABLE);
  assertNoFault(nic, bar, 'RX queue enable');
  breakRule(() => bar.write32(R.RDT(0), RING));
  await expectFault(nic, bar, new RegExp(`RX queue 0: RDT ${RING} is beyond the ring of ${RING} descriptors`));
});

ruleTest('TX descriptor with a zero buffer length', async (nic, bar) => {
  const { desc } = txQueueUp(nic, bar);
  const buf = frameBuffer(nic);
  writeTxData(desc, 0, buf.lo, buf.hi, 0);
  breakRule(() => bar.write32(R.TDT(0), 1));
  await expectFault(nic, bar, /TX queue 0: descriptor 0 has a zero buffer length/);
});

ruleTest('TX descriptor pointing outside DMA memory', async (nic, bar) => {
  const { desc } = txQueueUp(nic, bar);
  const buf = frameBuffer(nic);
  writeTxData(desc, 0, buf.lo, buf.hi, 60); // a good one first: it is sent
  writeTxData(desc, 1, 0x1000, 0, 60); // bus address 0x1000: below the simulated memory
  breakRule(() => bar.write32(R.TDT(0), 2));
  await expectFault(nic, bar, /TX queue 0: descriptor 1 points outside DMA memory \(0x0:0x1000 \+60\)/);
  assert.equal(nic.tester(0).rxFrames, 1, 'the good descriptor before the bad one was transmitted');
});

ruleTest('TX descriptor whose PAYLEN does not match the frame length', async (nic, bar) => {
  const { desc } = txQueueUp(nic, bar);
  const buf = frameBuffer(nic);
  writeTxData(desc, 0, buf.lo, buf.hi, 60);
  desc[3] = 64 << R.TXD_PAYLEN_SHIFT; // PAYLEN 64 for a 60-byte buffer
  breakRule(() => bar.write32(R.TDT(0), 1));
  await expectFault(nic, bar, /TX queue 0: descriptor 0 says PAYLEN 64 for a 60-byte frame/);
});

ruleTest('a well-formed TX descriptor is sent without a fault (control for the TX rules above)', async (nic, bar) => {
  const { desc } = txQueueUp(nic, bar);
  const buf = frameBuffer(nic);
  writeTxData(desc, 0, buf.lo, buf.hi, 60);
  bar.write32(R.TDT(0), 1);
  assert.ok(await waitUntil(() => nic.tester(0).rxFrames === 1, 1000), 'frame not transmitted');
  assert.ok(await waitUntil(() => (Atomics.load(desc, 3) & R.TXD_STAT_DD) !== 0, 1000), 'DD not written back');
  assert.equal(bar.read32(R.TDH(0)), 1);
  assertNoFault(nic, bar, 'transmit');
});

ruleTest('unaligned register offset (read)', async (nic, bar) => {
  assert.throws(() => bar.read32(0x4002), (e: unknown) => e instanceof SimFault && /register access at 0x4002: not a 4-byte aligned offset/.test(e.message));
  await expectFault(nic, bar, /register access at 0x4002: not a 4-byte aligned offset inside BAR0/);
});

ruleTest('unaligned register offset (write)', async (nic, bar) => {
  breakRule(() => bar.write32(R.CTRL_EXT + 1, 0));
  await expectFault(nic, bar, /register access at 0x19: not a 4-byte aligned offset inside BAR0/);
});

ruleTest('a fault is sticky: later correct accesses keep failing, and a device cannot be opened', async (nic, bar) => {
  bar.write32(R.CTRL, R.CTRL_RST);
  breakRule(() => bar.write32(R.RXCTRL, 0));
  await expectFault(nic, bar, /written during global reset/);
  await sleep(5);
  assert.throws(() => bar.read32(R.CTRL), SimFault);
  const pool = new Mempool(dmaAllocatorFor([parseDeviceSpec('sim:1')]), { count: 1024 });
  assert.throws(() => openDevice('sim:1', { pool }), (e: unknown) => e instanceof SimFault && /written during global reset/.test(e.message));
  assert.equal(pool.available, pool.count, 'the failed open leaked buffers');
});

test('the fault message is published together with the fault flag (no placeholder message in between)', async () => {
  // Poll nic.fault() as fast as possible while a rule is broken: the first non-null answer must already name it.
  const seen: string[] = [];
  for (let i = 0; i < 8; i++) {
    await withSimNic({ ports: 1, wire: 'tester', physMiB: 4 }, (nic) => {
      const bar = nic.openBar(0);
      bar.write32(R.CTRL, R.CTRL_RST);
      breakRule(() => bar.write32(R.RXCTRL, 0));
      let m: string | null = null;
      const end = performance.now() + 1000;
      while (m === null && performance.now() < end) m = nic.fault();
      seen.push(String(m));
    });
  }
  const wrong = seen.filter((m) => !/written during global reset/.test(m));
  assert.deepEqual(wrong, [], `fault() returned ${wrong.length} of ${seen.length} times a message without the rule: ${JSON.stringify(wrong[0])}`);
});

test('the ixgbe driver brings both ports up, moves traffic and closes without breaking a rule', () =>
  withSimNic({ ports: 2, wire: 'tester', physMiB: 32 }, async (nic) => {
    const pool = new Mempool(dmaAllocatorFor(['sim:0', 'sim:1'].map(parseDeviceSpec)), { count: 6144 });
    const a = openDevice('sim:0', { pool, rxQueues: 2, txQueues: 2, ringSize: 2048 });
    const b = openDevice('sim:1', { pool });
    try {
      nic.setGenerator(0, 1, 2000);
      const ids = new Uint32Array(32);
      let fwd = 0;
      let sent = 0;
      const deadline = performance.now() + 3000;
      while (fwd < 2000 && performance.now() < deadline) {
        const n = a.rxBatch(0, ids, 32);
        if (n === 0) continue;
        const s = b.txBatch(0, ids, n);
        if (s < n) pool.freeBatch(ids, s, n - s);
        fwd += n;
        sent += s;
      }
      nic.setGenerator(0, 0, 2000);
      assert.equal(fwd, 2000);
      a.setPromisc(false);
      a.setPromisc(true);
      assert.equal(a.linkSpeedMbps(), 10000);
      assert.ok(sent > 0);
      assert.ok(await waitUntil(() => nic.tester(1).rxFrames === sent, 1000), `tester got ${nic.tester(1).rxFrames} of ${sent}`);
      assert.equal(nic.fault(), null);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(nic.fault(), null, 'close broke a rule');
    // the port can be brought up again after close
    const again = openDevice('sim:0', { pool });
    again.close();
    assert.equal(nic.fault(), null);
    assert.equal(pool.available, pool.count);
  }));
