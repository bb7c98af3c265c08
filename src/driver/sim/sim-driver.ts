import { IxyError } from '../../util/errors.js';
import { IxgbeDevice } from '../ixgbe/ixgbe.js';
import { registerDriver, type DeviceSpec } from '../open.js';
import { SimNic } from './sim-nic.js';

function nicFor(spec: DeviceSpec): SimNic {
  const nic = SimNic.current();
  if (!nic) {
    throw new IxyError(`${spec.text} needs a simulated NIC in this process: run it through \`ixy\`, which starts one, or call SimNic.start()`);
  }
  return nic;
}

function portOf(spec: DeviceSpec): number {
  if (!/^\d+$/.test(spec.arg)) throw new IxyError(`'${spec.text}' is not a simulated port: use sim:N, e.g. sim:0`);
  return Number(spec.arg);
}

/** `sim:N`: port N of the simulated 82599, driven by the unmodified ixgbe driver. */
registerDriver({
  kind: 'sim',
  usage: 'sim:N — port N of the simulated 82599 (no hardware needed)',
  dmaAllocator: (spec) => nicFor(spec).dma,
  open: (spec, opts) => {
    const nic = nicFor(spec);
    const bar = nic.openBar(portOf(spec));
    return IxgbeDevice.open(spec.text, { bar, dma: nic.dma, linkWaitMs: 1000, release: () => {} }, opts);
  },
});
