import { HugepageDmaAllocator } from '../../sys/hugepages.js';
import { type DmaPath, isNetworkClass, NO_SCAN, type PciDeviceInfo, parsePciAddress, readPciDevice } from '../../sys/pci.js';
import { dmaAllocatorForPci, openPciPlatform, parseDmaOption } from '../../sys/vfio.js';
import { IxyError, UsageError } from '../../util/errors.js';
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

const hugepageDma = (): HugepageDmaAllocator => (hugepages ??= new HugepageDmaAllocator());

/** `ADDR[,dma=vfio|pagemap]` → the address and the forced DMA path, if any. */
function parseIxgbeArg(arg: string): { address: string; dma?: DmaPath } {
  const [addr, ...opts] = arg.split(',');
  let dma: DmaPath | undefined;
  for (const o of opts) {
    const d = parseDmaOption(o);
    if (d === null) throw new UsageError(`unknown ixgbe option '${o}' in '${arg}': use ixgbe:DDDD:BB:DD.F[,dma=vfio|pagemap]`, 'EBADSPEC');
    dma = d;
  }
  return { address: parsePciAddress(addr ?? ''), ...(dma ? { dma } : {}) };
}

/**
 * `ixgbe:<pci address>[,dma=vfio|pagemap]`: a real 82599/X5x0 taken from the kernel; BAR0 and DMA memory through
 * VFIO when the port has an IOMMU group and /dev/vfio/vfio exists, else sysfs resource0 and hugepages + pagemap.
 */
registerDriver({
  kind: 'ixgbe',
  usage: 'ixgbe:DDDD:BB:DD.F[,dma=vfio|pagemap] — an Intel 82599/X520/X540/X550 port (root; VFIO with an IOMMU, else hugepages)',
  check: (spec) => { parseIxgbeArg(spec.arg); },
  dmaAllocator: (spec) => {
    // check the device before the memory, so a wrong address is reported as such
    const a = parseIxgbeArg(spec.arg);
    const why = notIxgbe(readPciDevice(a.address, '/sys', NO_SCAN));
    if (why) throw new IxyError(why);
    return dmaAllocatorForPci(a.address, { dma: a.dma, pagemapDma: hugepageDma });
  },
  open: (spec, opts) => {
    const a = parseIxgbeArg(spec.arg);
    const platform = openPciPlatform(a.address, { force: opts.force, expect: notIxgbe, dma: a.dma, pagemapDma: hugepageDma });
    const claimed = platform.claimed;
    let bar: MmioBar;
    try {
      const mapped = claimed.mapBar(0);
      bar = new MmioBar(mapped.buffer, () => mapped.unmap());
    } catch (e) {
      claimed.release(true);
      throw e;
    }
    const dma = platform.dma();
    return IxgbeDevice.open(spec.text, { bar, dma, linkWaitMs: 10000, release: (failed) => claimed.release(failed) }, opts);
  },
});
