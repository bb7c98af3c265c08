/**
 * A device's register space (PCI BAR0), accessed 32 bits at a time.
 * Two implementations: MappedBar over an mmapped `resource0` (real hardware), and SimBar (driver/sim/sim-bar.ts),
 * which carries every access to the simulated NIC as a PCIe-like transaction. The ixgbe driver only sees this interface.
 */
export interface Bar {
  read32(offset: number): number;
  write32(offset: number, value: number): void;
  close(): void;
}

/**
 * Registers of a real device: a Uint32Array over the uncached mapping of BAR0.
 * Atomics keep V8 from merging or hoisting the accesses (a register poll must re-read every time).
 */
export class MmioBar implements Bar {
  private readonly regs: Uint32Array;
  constructor(buffer: ArrayBuffer, private readonly unmap: () => void) {
    this.regs = new Uint32Array(buffer);
  }
  read32(offset: number): number {
    return Atomics.load(this.regs, offset >>> 2);
  }
  write32(offset: number, value: number): void {
    Atomics.store(this.regs, offset >>> 2, value);
  }
  close(): void {
    this.unmap();
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the calling thread (drivers wait this way during bring-up, as ixy's usleep does). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Polls `read() & mask` until it equals `want`, for at most `timeoutMs`; returns whether it did. */
export function waitForBits(read: () => number, mask: number, want: number, timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((read() & mask) === want) return true;
    if (performance.now() > deadline) return false;
    sleepMs(1);
  }
}
