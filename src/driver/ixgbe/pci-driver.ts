import { HugepageDmaAllocator } from '../../sys/hugepages.js';
import { claimPciDevice, isNetworkClass, type PciDeviceInfo, parsePciAddress, readPciDevice } from '../../sys/pci.js';
import { IxyError } from '../../util/errors.js';
import { MmioBar } from '../bar.js';
import { registerDriver } from '../open.js';
import { INTEL_VENDOR, IXGBE_DEVICE_IDS } from './device-ids.js';
import { IxgbeDevice } from './ixgbe.js';

let hugepages: HugepageDmaAllocator | null = null;
const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** Why this device is not one for the ixgbe driver, or null. Read-only: nothing is touched. */
function notIxgbe(info: PciDeviceInfo): string | null {
  if (!isNetworkClass(info.classCode)) return `${info.address} is not a network device (class 0x${info.classCode.toString(16).padStart(6, '0')}): see \`ixy devices\``;
  if (info.vendor === INTEL_VENDOR && IXGBE_DEVICE_IDS.has(info.device)) return null;
  return `${info.address} is ${hex4(info.vendor)}:${hex4(info.device)}, not an ixgbe NIC (82599/X520/X540/X550): see \`ixy devices\``;
}

/** `ixgbe:<pci address>`: a real 82599/X5x0 taken from the kernel, DMA memory from hugepages. */
registerDriver({
  kind: 'ixgbe',
  usage: 'ixgbe:DDDD:BB:DD.F — an Intel 82599/X520/X540/X550 port (root, hugepages)',
  dmaAllocator: (spec) => {
    // check the device before the memory, so a wrong address is reported as such
    const why = notIxgbe(readPciDevice(parsePciAddress(spec.arg)));
    if (why) throw new IxyError(why);
    return (hugepages ??= new HugepageDmaAllocator());
  },
  open: (spec, opts) => {
    const claimed = claimPciDevice(spec.arg, {
      force: opts.force,
      expect: notIxgbe,
    });
    let bar: MmioBar;
    try {
      const mapped = claimed.mapBar(0);
      bar = new MmioBar(mapped.buffer, () => mapped.unmap());
    } catch (e) {
      claimed.release(true);
      throw e;
    }
    const dma = (hugepages ??= new HugepageDmaAllocator());
    return IxgbeDevice.open(spec.text, { bar, dma, linkWaitMs: 10000, release: (failed) => claimed.release(failed) }, opts);
  },
});
