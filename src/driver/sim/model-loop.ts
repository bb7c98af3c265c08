import {
  CH_DONE_SEQ, CH_DONE_VALUE, CH_HEAD, CH_HEADER_WORDS, CH_TAIL, CHANNEL_CAP, CHANNELS_PER_PORT, channelWordIndex,
  FAULT_MSG_BYTES, FAULT_MSG_OFFSET, G_FAULT, G_FAULT_LEN, G_HEARTBEAT, G_READY, G_SLEEPING, G_STOP, G_WAKE,
  OFFSET_MASK, OP_MASK, OP_WRITE, P_CABLE, portWord,
} from './layout.js';
import { PhysView } from './phys-memory.js';
import { PortModel, type WireEnd } from './port-model.js';
import { LinuxWire } from './linux-wire.js';
import { Tester } from './tester.js';
import { MonotonicClock } from '../../sys/monotonic-clock.js';
import { GapLog } from '../../util/gap-log.js';
import type { SimHandles } from './sim-nic.js';

export function portMac(port: number): Uint8Array {
  return Uint8Array.of(0x02, 0x69, 0x78, 0x79, 0x00, port); // locally administered, "ixy"
}

/** A cable from one port to another: what one sends, the other receives. */
class Cable implements WireEnd {
  constructor(private readonly to: PortModel, private readonly g: Int32Array, private readonly from: number) {}
  deliver(mem: Uint8Array, off: number, len: number): boolean {
    return this.to.receive(mem, off, len);
  }
  present(): boolean {
    return Atomics.load(this.g, portWord(this.from, P_CABLE)) !== 0 && Atomics.load(this.g, portWord(this.to.index, P_CABLE)) !== 0;
  }
}

/** A tester whose cable can be pulled from the control words. */
class PluggedTester implements WireEnd {
  constructor(readonly tester: Tester, private readonly g: Int32Array, private readonly port: number) {}
  deliver(mem: Uint8Array, off: number, len: number): boolean {
    return this.tester.deliver(mem, off, len);
  }
  present(): boolean {
    return Atomics.load(this.g, portWord(this.port, P_CABLE)) !== 0;
  }
}

const SPIN_BEFORE_PARK = 20000;

/**
 * The model thread: applies MMIO transactions in order, advances reset/link timers, runs the testers and the
 * DMA engines, and parks when there is nothing to do (woken by the next register access).
 */
export function runModel(h: SimHandles): void {
  const g = new Int32Array(h.ctl);
  const phys = new PhysView(h.phys);
  const scratch = new Uint8Array(16384);
  const ports: PortModel[] = [];
  const fault = (port: number, message: string): void => {
    // Only this thread reports faults: write the first message, then raise the flag others poll.
    if (Atomics.load(g, G_FAULT) === 0) {
      const bytes = new TextEncoder().encode(message).subarray(0, FAULT_MSG_BYTES);
      new Uint8Array(h.ctl, FAULT_MSG_OFFSET, FAULT_MSG_BYTES).set(bytes);
      Atomics.store(g, G_FAULT_LEN, bytes.length);
    }
    Atomics.add(g, G_FAULT, 1);
    void port;
  };
  const clock = new MonotonicClock(); // performance.now() allocates on Node 20: a scavenge every fraction of a second
  const now = new Float64Array(2); // [now, previous pass] in ms (CLOCK_MONOTONIC)
  clock.readAbsolute(now);
  now[1] = now[0];
  const gapLog = h.gapLog ? new GapLog(h.gapLog) : null;
  for (let p = 0; p < h.ports; p++) ports.push(new PortModel(p, portMac(p), phys, { fault, now }, scratch));
  const testers: Tester[] = [];
  const linuxWires: LinuxWire[] = [];
  if (h.wire === 'loop') {
    for (let p = 0; p < h.ports; p++) ports[p].wire = new Cable(ports[p ^ 1], g, p);
  } else if (h.wire === 'linux') {
    try {
      for (let p = 0; p < h.ports; p++) linuxWires.push(new LinuxWire(h.linuxInterfaces![p], ports[p]));
    } catch (e) {
      for (const w of linuxWires) w.close();
      throw e;
    }
    for (let p = 0; p < h.ports; p++) ports[p].wire = linuxWires[p];
  } else {
    for (let p = 0; p < h.ports; p++) {
      const t = new Tester(p, ports[p], phys, h.stats, now);
      testers.push(t);
      ports[p].wire = new PluggedTester(t, g, p);
    }
  }
  const channelBase = new Int32Array(h.ports * CHANNELS_PER_PORT);
  for (let p = 0; p < h.ports; p++) for (let c = 0; c < CHANNELS_PER_PORT; c++) channelBase[p * CHANNELS_PER_PORT + c] = channelWordIndex(p, c);

  const drain = (p: number, base: number): number => {
    const tail = Atomics.load(g, base + CH_TAIL);
    let head = g[base + CH_HEAD];
    if (head === tail) return 0;
    const port = ports[p];
    let n = 0;
    while (head !== tail) {
      const e = base + CH_HEADER_WORDS + ((head & (CHANNEL_CAP - 1)) << 1);
      const op = g[e];
      const v = g[e + 1];
      if ((op & OP_MASK) === OP_WRITE) port.write(op & OFFSET_MASK, v);
      else {
        g[base + CH_DONE_VALUE] = port.read(op & OFFSET_MASK);
        Atomics.store(g, base + CH_DONE_SEQ, v);
        Atomics.notify(g, base + CH_DONE_SEQ);
      }
      head = (head + 1) | 0;
      n++;
    }
    Atomics.store(g, base + CH_HEAD, head);
    return n;
  };
  const pending = (): boolean => {
    for (let i = 0; i < channelBase.length; i++) {
      const b = channelBase[i];
      if (Atomics.load(g, b + CH_TAIL) !== g[b + CH_HEAD]) return true;
    }
    return false;
  };

  Atomics.store(g, G_READY, 1);
  Atomics.notify(g, G_READY);
  let idle = 0;
  let loops = 0;
  const nports = h.ports;
  for (;;) {
    clock.readAbsolute(now);
    if (gapLog !== null) gapLog.sample(now);
    let due = Infinity;
    for (let p = 0; p < nports; p++) {
      ports[p].tick();
      const d = ports[p].due;
      if (d < due) due = d;
    }
    let work = 0;
    for (let i = 0; i < channelBase.length; i++) work += drain((i / CHANNELS_PER_PORT) | 0, channelBase[i]);
    let generating = false;
    for (let t = 0; t < testers.length; t++) {
      work += testers[t].generate();
      if (testers[t].active()) generating = true;
    }
    for (let p = 0; p < nports; p++) work += ports[p].transmit(64);
    for (let w = 0; w < linuxWires.length; w++) work += linuxWires[w].poll(64);
    if ((++loops & 255) === 0) {
      Atomics.store(g, G_HEARTBEAT, loops);
      if (Atomics.load(g, G_STOP) !== 0) {
        for (const w of linuxWires) w.close();
        return;
      }
    }
    if (work > 0 || generating) { idle = 0; continue; }
    if (++idle < SPIN_BEFORE_PARK) continue;
    const wake = Atomics.load(g, G_WAKE);
    Atomics.store(g, G_SLEEPING, 1);
    if (!pending() && Atomics.load(g, G_STOP) === 0) {
      // a Linux wire cannot wake us: look at its socket at least every millisecond
      const maxPark = linuxWires.length > 0 ? 1 : 20;
      clock.readAbsolute(now);
      const ms = due === Infinity ? maxPark : Math.max(0, Math.min(maxPark, due - now[0]));
      Atomics.wait(g, G_WAKE, wake, ms);
    }
    Atomics.store(g, G_SLEEPING, 0);
    clock.readAbsolute(now);
    now[1] = now[0]; // parked on purpose: not a gap
    idle = SPIN_BEFORE_PARK - 200; // stay responsive for a little while after waking
  }
}
