/**
 * Helpers shared by the simulated-NIC tests. No side effects on import (the test runner may load this file as a test).
 */
import { after, before } from 'node:test';
import { SimNic, type SimNicOptions } from '../../src/driver/index.js';
import type { Device, DeviceStats } from '../../src/driver/device.js';
import { waitForBits } from '../../src/driver/bar.js';
import type { SimBar } from '../../src/driver/sim/sim-bar.js';
import * as R from '../../src/driver/ixgbe/regs.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** MAC address of simulated port p, as the model's EEPROM holds it. */
export function simPortMac(p: number): Uint8Array {
  return Uint8Array.of(0x02, 0x69, 0x78, 0x79, 0x00, p);
}

export function zeroStats(): DeviceStats {
  return { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0 };
}

export function statsOf(dev: Device): DeviceStats {
  const s = zeroStats();
  dev.readStats(s);
  return s;
}

/**
 * Starts one SimNic for the enclosing describe() (and makes it the thread's current NIC for `sim:N` specs);
 * stops it afterwards. Returns a getter, since the NIC exists only once `before` ran.
 */
export function useSimNic(opts: SimNicOptions): () => SimNic {
  let nic: SimNic | null = null;
  before(async () => {
    nic = await SimNic.start(opts);
    SimNic.setCurrent(nic);
  });
  after(async () => {
    if (nic) {
      await nic.stop();
      if (SimNic.current() === nic) SimNic.setCurrent(null);
      nic = null;
    }
  });
  return () => {
    if (!nic) throw new Error('SimNic not started');
    return nic;
  };
}

/** Runs `fn` with a fresh SimNic as the current one; always stops it. */
export async function withSimNic<T>(opts: SimNicOptions, fn: (nic: SimNic) => Promise<T> | T): Promise<T> {
  const nic = await SimNic.start(opts);
  const prev = SimNic.current();
  SimNic.setCurrent(nic);
  try {
    return await fn(nic);
  } finally {
    await nic.stop();
    SimNic.setCurrent(prev === nic ? null : prev);
  }
}

/** Polls `cond` (synchronously, 1 ms apart) until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs = 1): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (performance.now() > deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * Global reset of a raw simulated port as the datasheet wants it (§4.6.3): reset, wait for CTRL.RST to clear,
 * then optionally for EEPROM auto-read and DMA initialisation (RDRXCTL.DMAIDONE).
 */
export function resetPort(bar: SimBar, waitDmaInit = true): void {
  bar.write32(R.EIMC, R.EIMC_ALL);
  bar.write32(R.CTRL, R.CTRL_RST);
  if (!waitForBits(() => bar.read32(R.CTRL), R.CTRL_RST_MASK, 0, 1000)) throw new Error('CTRL.RST did not clear');
  if (!waitDmaInit) return;
  if (!waitForBits(() => bar.read32(R.EEC), R.EEC_ARD, R.EEC_ARD, 1000)) throw new Error('EEC.ARD did not set');
  if (!waitForBits(() => bar.read32(R.RDRXCTL), R.RDRXCTL_DMAIDONE, R.RDRXCTL_DMAIDONE, 1000)) {
    throw new Error('RDRXCTL.DMAIDONE did not set');
  }
}
