import { Mempool } from '../../mem/mempool.js';
import { IxyError, UsageError } from '../../util/errors.js';
import { IxgbeDevice, type IxgbePlatform } from '../ixgbe/ixgbe.js';
import { registerDriver, type DeviceSpec, type QueueShare } from '../open.js';
import { SimNic } from './sim-nic.js';

function nicFor(spec: DeviceSpec): SimNic {
  const nic = SimNic.current();
  if (!nic) {
    throw new IxyError(`${spec.text} needs a simulated NIC in this process: run it through \`ixy\`, which starts one, or call SimNic.start()`);
  }
  return nic;
}

/** `N` or `N,queue=Q` (Q: the hardware queue pair a `--threads` thread drives; set by shareQueues). */
function parseSimSpec(spec: DeviceSpec): { port: number; queue: number | undefined } {
  const m = /^(\d+)(?:,queue=(\d{1,2}))?$/.exec(spec.arg);
  if (!m) throw new UsageError(`'${spec.text}' is not a simulated port: use sim:N, e.g. sim:0`, 'EBADSPEC');
  return { port: Number(m[1]), queue: m[2] === undefined ? undefined : Number(m[2]) };
}

function platformFor(spec: DeviceSpec, port: number): IxgbePlatform {
  const nic = nicFor(spec);
  return { bar: nic.openBar(port), dma: nic.dma, linkWaitMs: 1000, release: () => {} };
}

/**
 * `--threads N`: this thread brings the port up with N queue pairs and RSS but no rings (the primary); thread i opens
 * `sim:P,queue=i`, a handle on queue pair i with its own mempool. RSS spreads received flows by a Toeplitz hash the
 * threads can compute, so their connections pick ports whose replies come back to them (steering 'rss').
 */
function shareQueues(spec: DeviceSpec, threads: number): QueueShare {
  const { port, queue } = parseSimSpec(spec);
  if (queue !== undefined) throw new UsageError(`'${spec.text}': give the port only (sim:${port}) with --threads`);
  if (threads > 16) throw new IxyError(`--threads ${threads}: the simulated 82599 has 16 queue pairs here: use 1..16`);
  const nic = nicFor(spec);
  // The primary needs a pool to satisfy the driver's checks; it allocates no buffers (no rings of its own).
  const pool = new Mempool(nic.dma, { count: 64 });
  const primary = IxgbeDevice.open(spec.text, platformFor(spec, port), { pool, rxQueues: threads, txQueues: threads, queues: 'deferred' });
  const rss = primary.rss();
  return {
    specs: Array.from({ length: threads }, (_, i) => `sim:${port},queue=${i}`),
    steering: rss ? 'rss' : 'partition',
    rss: rss ? { key: Array.from(rss.key), reta: Array.from(rss.reta) } : undefined,
    close: () => primary.close(),
  };
}

/** `sim:N`: port N of the simulated 82599, driven by the unmodified ixgbe driver. */
registerDriver({
  kind: 'sim',
  usage: 'sim:N — port N of the simulated 82599 (no hardware needed)',
  check: (spec) => { parseSimSpec(spec); },
  dmaAllocator: (spec) => nicFor(spec).dma,
  open: (spec, opts) => {
    const { port, queue } = parseSimSpec(spec);
    return IxgbeDevice.open(spec.text, platformFor(spec, port), { ...opts, queueHandle: queue });
  },
  shareQueues,
});
