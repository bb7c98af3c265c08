import { linuxMemory } from '../../mem/mmap-dma.js';
import { ifnameProblem } from '../../sys/netif.js';
import { IxyError, UsageError } from '../../util/errors.js';
import type { DeviceOptions } from '../device.js';
import { registerDriver, type DeviceSpec } from '../open.js';
import { TapDevice } from './tap-device.js';
import { MAX_TAP_QUEUES } from './tun.js';

export interface TapSpec {
  name: string;
  /** From `,mq=N`; undefined when not given. */
  mq: number | undefined;
}

const USAGE = 'use tap:NAME[,mq=N], e.g. tap:ixy0 or tap:ixy0,mq=2';

/** `tap:<name>[,mq=N]` → name and queue count, or a one-line error. */
export function parseTapSpec(spec: DeviceSpec): TapSpec {
  const [name, ...options] = spec.arg.split(',');
  const problem = ifnameProblem(name, true);
  if (problem) throw new UsageError(`'${spec.text}' is not a TAP device: ${problem}; ${USAGE}`, 'EBADSPEC');
  let mq: number | undefined;
  for (const o of options) {
    const m = /^mq=(.*)$/.exec(o);
    if (!m) throw new UsageError(`'${spec.text}' has an unknown option '${o}': ${USAGE}`, 'EBADSPEC');
    if (!/^\d+$/.test(m[1]) || Number(m[1]) < 1 || Number(m[1]) > MAX_TAP_QUEUES) {
      throw new UsageError(`'${spec.text}': mq=${m[1]} is not a queue count: use mq=1..${MAX_TAP_QUEUES}`, 'EBADSPEC');
    }
    mq = Number(m[1]);
  }
  return { name, mq };
}

/** Queues to open: mq=N, else as many as the options ask for (one by default). */
function queueCount(spec: DeviceSpec, t: TapSpec, opts: DeviceOptions): number {
  const asked = Math.max(opts.rxQueues ?? 1, opts.txQueues ?? 1);
  if (t.mq === undefined) return asked;
  if (asked > t.mq) throw new IxyError(`${spec.text} has ${t.mq} queue(s) but ${asked} were asked for: raise mq=`);
  return t.mq;
}

/** `tap:<name>[,mq=N]`: a TAP interface created for this process (root or CAP_NET_ADMIN); gone when it closes. */
registerDriver({
  kind: 'tap',
  usage: 'tap:NAME[,mq=N] — a TAP interface created by ixy (N queues), removed on exit (root or CAP_NET_ADMIN)',
  check: (spec) => { parseTapSpec(spec); },
  dmaAllocator: (spec) => {
    parseTapSpec(spec);
    return linuxMemory;
  },
  open: (spec, opts) => {
    const t = parseTapSpec(spec);
    return TapDevice.open(spec.text, t.name, queueCount(spec, t, opts), opts);
  },
});
