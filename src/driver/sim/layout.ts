/**
 * Shared-memory layout of the simulated NIC. Everything the driver threads and the model thread share lives in
 * three SharedArrayBuffers, created once by SimNic and handed to every thread that uses the NIC:
 *  - `phys`: the simulated machine's "physical memory" for DMA (rings and packet buffers);
 *  - `ctl`: control words, the fault report, and the MMIO transaction channels of every port;
 *  - `stats`: the testers' counters and latency histograms (read live by the main thread).
 */

/** Bus address of phys[0]: above 4 GiB, so the high halves of 64-bit descriptor addresses are exercised. */
export const PHYS_BASE = 0x1_0000_0000;
/** First bytes of phys are the allocator's own: [0] = next free page (Int32, atomically bumped). */
export const PHYS_HEADER_BYTES = 4096;

// ctl: global Int32 words
export const G_SLEEPING = 0; // model thread is (about to be) parked
export const G_WAKE = 1; // bumped + notified to wake it
export const G_FAULT = 2; // number of rule violations reported (sticky)
export const G_STOP = 3; // ask the model thread to exit
export const G_READY = 4; // set by the model thread once running
export const G_FAULT_LEN = 6; // bytes of the first fault's message
export const G_PORTS = 7;
/** Per-port control words start here: PORT_WORDS words each. */
export const G_PORT_BASE = 16;
export const PORT_WORDS = 8;
export const P_CABLE = 0; // 1 = cable plugged in (link partner present)
export const P_CHANNELS_CLAIMED = 1;
/** Model loop counter (to tell a hung model from a slow one): on a cache line of its own, since drivers read
 * words 0..2 on every register write and must not miss in their cache each time the model bumps it. */
export const G_HEARTBEAT = 96;
export const G_WORDS = 256;

export const FAULT_MSG_OFFSET = G_WORDS * 4; // UTF-8 text of the first fault
export const FAULT_MSG_BYTES = 1024;

// MMIO channels: one single-producer ring of (op|offset, value) pairs per (port, client thread).
export const CHANNELS_PER_PORT = 8;
export const CHANNEL_CAP = 256; // entries, power of two
// The words the model writes and those the driver writes sit 64 bytes apart (128 with the adjacent-line
// prefetcher in mind), so neither side's stores evict the line the other is polling.
export const CH_HEAD = 0; // consumer index (model)
export const CH_DONE_SEQ = 1; // sequence number of the last completed read (model)
export const CH_DONE_VALUE = 2; // (model)
export const CH_TAIL = 16; // producer index (driver)
export const CH_CLAIMED = 17; // (driver, at open/close)
export const CH_HEADER_WORDS = 32;
export const CHANNEL_WORDS = CH_HEADER_WORDS + CHANNEL_CAP * 2;
export const CHANNELS_OFFSET = FAULT_MSG_OFFSET + FAULT_MSG_BYTES;
export const OP_WRITE = 1 << 24;
export const OP_READ = 2 << 24;
export const OP_MASK = 0xff << 24;
export const OFFSET_MASK = 0xffffff;

export function ctlBytes(ports: number): number {
  return CHANNELS_OFFSET + ports * CHANNELS_PER_PORT * CHANNEL_WORDS * 4;
}

export function channelWordIndex(port: number, channel: number): number {
  return (CHANNELS_OFFSET >>> 2) + (port * CHANNELS_PER_PORT + channel) * CHANNEL_WORDS;
}

export function portWord(port: number, word: number): number {
  return G_PORT_BASE + port * PORT_WORDS + word;
}
