/** Checks of the command line that need no device: the same device named twice, an output file that cannot be written. */
import { closeSync, openSync } from 'node:fs';
import { parseDeviceSpec } from '../driver/index.js';
import { fileError, UsageError } from '../util/errors.js';

/**
 * What a spec takes underneath its options and wrappers: `xdp:X@1,mode=native`, `packet:X` and `impair:7/xdp:X`
 * all take the interface X; `sim:0,queue=1` takes port 0 of the simulated NIC.
 */
export function underlyingDevice(text: string): string {
  const spec = parseDeviceSpec(text);
  const head = spec.arg.split(',')[0];
  switch (spec.kind) {
    case 'impair': return underlyingDevice(spec.arg.slice(spec.arg.indexOf('/') + 1));
    case 'xdp': return `the interface ${head.includes('@') ? head.slice(0, head.lastIndexOf('@')) : head}`;
    case 'packet': case 'tap': return `the interface ${head}`;
    case 'sim': return `port ${head} of the simulated 82599`;
    case 'ixgbe': case 'virtio': return `the PCI device ${head.toLowerCase()}`;
    default: return spec.text;
  }
}

/** Refuses two specs that take the same interface, port or PCI device. */
export function checkDistinctDevices(specs: string[]): void {
  for (let i = 0; i < specs.length; i++) {
    for (let j = i + 1; j < specs.length; j++) {
      const a = underlyingDevice(specs[i]);
      if (a === underlyingDevice(specs[j])) {
        throw new UsageError(`${specs[i]} and ${specs[j]} are both ${a}: name two different devices (e.g. the ends of two veth pairs, or sim:0 sim:1)`);
      }
    }
  }
}

/** Fails before any device is opened when `path` cannot be written (its directory is missing, it is a directory, …). */
export function checkWritable(path: string, what: string): void {
  try {
    closeSync(openSync(path, 'w'));
  } catch (e) {
    throw fileError(`write ${what}`, path, e);
  }
}
