/**
 * Registers `impair:SEED[,options]/INNER` (grammar in impair-spec.ts): the inner device, opened with the same
 * options, behind an ImpairDevice. Its mempool is the inner device's, so the DMA memory is the inner kind's.
 */
import { dmaAllocatorFor, openDevice, registerDriver, registeredDrivers } from '../open.js';
import { ImpairDevice } from './impair-device.js';
import { IMPAIR_USAGE, parseImpairSpec } from './impair-spec.js';

registerDriver({
  kind: 'impair',
  usage: IMPAIR_USAGE,
  check: (spec) => { parseImpairSpec(spec); },
  dmaAllocator: (spec) => dmaAllocatorFor([parseImpairSpec(spec).inner]),
  /**
   * A driver entry's headroom cannot depend on the spec, so this is the largest any other kind asks for (AF_XDP's
   * 256): right for every inner kind, as the others take any headroom that leaves room for a frame.
   */
  get poolHeadroom(): number | undefined {
    let h: number | undefined;
    for (const e of registeredDrivers()) {
      if (e.kind !== 'impair' && e.poolHeadroom !== undefined && (h === undefined || e.poolHeadroom > h)) h = e.poolHeadroom;
    }
    return h;
  },
  open: (spec, opts) => {
    const { config, inner } = parseImpairSpec(spec);
    const dev = openDevice(inner, opts);
    try {
      return new ImpairDevice(spec.text, dev, config);
    } catch (e) {
      dev.close();
      throw e;
    }
  },
});
