import { SimFault } from '../../util/errors.js';
import type { Bar } from '../bar.js';
import { MonotonicClock } from '../../sys/monotonic-clock.js';
import {
  CH_CLAIMED, CH_DONE_SEQ, CH_DONE_VALUE, CH_HEAD, CH_HEADER_WORDS, CH_TAIL, CHANNEL_CAP, CHANNELS_PER_PORT,
  channelWordIndex, FAULT_MSG_BYTES, FAULT_MSG_OFFSET, G_FAULT, G_FAULT_LEN, G_HEARTBEAT, G_SLEEPING, G_WAKE,
  OP_READ, OP_WRITE,
} from './layout.js';

const READ_TIMEOUT_MS = 3000;

/** The clock for the deadlines: performance.now() allocates on Node 20, and waitForRoom is on the forwarder's path. */
let clock: MonotonicClock | null = null;
const clockMs = new Float64Array(1);
function nowMs(): number {
  (clock ??= new MonotonicClock()).read(clockMs);
  return clockMs[0];
}

/**
 * BAR0 of a simulated port, as PCIe transactions: a write is posted (queued, the caller goes on), a read is
 * non-posted (queued behind earlier writes, then the caller waits for the completion). The model thread applies
 * each access in order with the register's real semantics — clear-on-read counters, write-1-to-clear masks,
 * self-clearing reset bits — so the ixgbe driver is the same code on hardware and on the model.
 */
export class SimBar implements Bar {
  private readonly ch: Int32Array; // this channel's words, viewed from its header
  private readonly g: Int32Array;
  private readonly ring: number; // index of the first entry word within ch
  private tail = 0;
  /** The model's consumer index as last read: re-read only when the ring looks full. */
  private head = 0;
  private seq = 0;

  constructor(private readonly ctl: SharedArrayBuffer, readonly port: number) {
    this.g = new Int32Array(ctl);
    let claimed = -1;
    for (let c = 0; c < CHANNELS_PER_PORT && claimed < 0; c++) {
      if (Atomics.compareExchange(this.g, channelWordIndex(port, c) + CH_CLAIMED, 0, 1) === 0) claimed = c;
    }
    if (claimed < 0) {
      throw new SimFault(`simulated port ${port} already has ${CHANNELS_PER_PORT} users: close a device first`);
    }
    const base = channelWordIndex(port, claimed);
    this.ch = new Int32Array(ctl, base * 4);
    this.ring = CH_HEADER_WORDS;
    this.tail = Atomics.load(this.ch, CH_TAIL);
    this.head = Atomics.load(this.ch, CH_HEAD);
    this.seq = Atomics.load(this.ch, CH_DONE_SEQ);
  }

  write32(offset: number, value: number): void {
    this.post(OP_WRITE | offset, value);
  }

  read32(offset: number): number {
    const seq = (this.seq + 1) | 0;
    this.seq = seq;
    this.post(OP_READ | offset, seq);
    const ch = this.ch;
    for (let spin = 0; spin < 4000; spin++) {
      if (Atomics.load(ch, CH_DONE_SEQ) === seq) return this.completion();
    }
    const deadline = performance.now() + READ_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(ch, CH_DONE_SEQ);
      if (done === seq) return this.completion();
      if (performance.now() > deadline) {
        throw new SimFault(
          `simulated NIC did not answer a read of register 0x${offset.toString(16)} within ${READ_TIMEOUT_MS} ms ` +
            `(model loop count ${Atomics.load(this.g, G_HEARTBEAT)}): is its worker thread alive?`,
        );
      }
      Atomics.wait(ch, CH_DONE_SEQ, done, 5);
    }
  }

  private completion(): number {
    this.checkFault();
    return Atomics.load(this.ch, CH_DONE_VALUE) >>> 0;
  }

  private post(op: number, value: number): void {
    const ch = this.ch;
    const t = this.tail;
    if (((t - this.head) | 0) >= CHANNEL_CAP) this.waitForRoom(t);
    const e = this.ring + ((t & (CHANNEL_CAP - 1)) << 1);
    ch[e] = op;
    ch[e + 1] = value;
    this.tail = (t + 1) | 0;
    Atomics.store(ch, CH_TAIL, this.tail); // release: the entry (and any descriptor writes before it) is visible
    const g = this.g;
    if (Atomics.load(g, G_SLEEPING) !== 0) {
      Atomics.add(g, G_WAKE, 1);
      Atomics.notify(g, G_WAKE, 1);
    }
    if (Atomics.load(g, G_FAULT) !== 0) this.checkFault();
  }

  private waitForRoom(t: number): void {
    this.head = Atomics.load(this.ch, CH_HEAD);
    if (((t - this.head) | 0) < CHANNEL_CAP) return;
    const deadline = nowMs() + READ_TIMEOUT_MS;
    for (let spin = 1; ((t - (this.head = Atomics.load(this.ch, CH_HEAD))) | 0) >= CHANNEL_CAP; spin++) {
      Atomics.add(this.g, G_WAKE, 1);
      Atomics.notify(this.g, G_WAKE, 1);
      if ((spin & 1023) === 0 && nowMs() > deadline) {
        throw new SimFault('simulated NIC stopped taking register writes: is its worker thread alive?');
      }
    }
  }

  private checkFault(): void {
    if (Atomics.load(this.g, G_FAULT) === 0) return;
    throw new SimFault(readFaultMessage(this.ctl));
  }

  close(): void {
    // wait until the model has applied everything we posted, then give the channel back
    const deadline = performance.now() + READ_TIMEOUT_MS;
    while (Atomics.load(this.ch, CH_HEAD) !== this.tail && performance.now() < deadline) {
      Atomics.add(this.g, G_WAKE, 1);
      Atomics.notify(this.g, G_WAKE, 1);
    }
    Atomics.store(this.ch, CH_CLAIMED, 0);
  }
}

export function readFaultMessage(ctl: SharedArrayBuffer): string {
  const g = new Int32Array(ctl);
  const len = Math.min(Atomics.load(g, G_FAULT_LEN), FAULT_MSG_BYTES);
  const bytes = new Uint8Array(ctl, FAULT_MSG_OFFSET, len).slice();
  return new TextDecoder().decode(bytes) || 'simulated NIC reported a fault';
}
