import * as R from './regs.js';

/**
 * Advanced descriptors as four 32-bit words in a ring (§7.1.6, §7.2.3.2.4). Small functions: V8 inlines them into
 * the batch loops. `slot` is the descriptor index; a ring has a power-of-two size and `mask` = size - 1.
 */

/** RX read format: packet buffer address; header address 0 (which also clears the write-back status). */
export function writeRxRead(desc: Uint32Array, slot: number, physLo: number, physHi: number): void {
  const w = slot << 2;
  desc[w] = physLo;
  desc[w + 1] = physHi;
  desc[w + 2] = 0;
  desc[w + 3] = 0;
}

export function rxStatus(desc: Uint32Array, slot: number): number {
  return desc[(slot << 2) + 2];
}

export function rxLength(desc: Uint32Array, slot: number): number {
  return desc[(slot << 2) + 3] & 0xffff;
}

/** TX data descriptor for a one-buffer frame: EOP, insert FCS, report status, advanced data type, PAYLEN. */
export function writeTxData(desc: Uint32Array, slot: number, physLo: number, physHi: number, len: number): void {
  const w = slot << 2;
  desc[w] = physLo;
  desc[w + 1] = physHi;
  desc[w + 2] = R.TXD_CMD_FRAME | len;
  desc[w + 3] = len << R.TXD_PAYLEN_SHIFT;
}

export function txDone(desc: Uint32Array, slot: number): boolean {
  return (Atomics.load(desc, (slot << 2) + 3) & R.TXD_STAT_DD) !== 0;
}

/** Decoded TX data descriptor, for tests and diagnostics (allocates: not for the hot path). */
export function decodeTxData(desc: Uint32Array, slot: number): { addr: number; len: number; paylen: number; eop: boolean; rs: boolean; dext: boolean; dtyp: number } {
  const w = slot << 2;
  const cmd = desc[w + 2];
  return {
    addr: desc[w + 1] * 0x1_0000_0000 + desc[w], len: cmd & R.TXD_LEN_MASK, paylen: desc[w + 3] >>> R.TXD_PAYLEN_SHIFT,
    eop: (cmd & R.TXD_DCMD_EOP) !== 0, rs: (cmd & R.TXD_DCMD_RS) !== 0, dext: (cmd & R.TXD_DCMD_DEXT) !== 0,
    dtyp: (cmd & R.TXD_DTYP_MASK) >>> 20,
  };
}

/** Entries from `from` up to (not including) `to` on a ring: (to - from) mod size. */
export function ringDistance(from: number, to: number, mask: number): number {
  return (to - from) & mask;
}

export function ringNext(i: number, mask: number): number {
  return (i + 1) & mask;
}
