/**
 * Opens a PCI device the way `ixy` does (openDevice with the kind of ixy driver it has, or claimPciDevice when it has
 * none), with a mempool on heap memory so no hugepages are needed, and prints one line `OPEN {json}`: the error, or
 * `opened: true` (after closing it again). `node pci-open.js ADDR`. Run it only where /sys is read-only (the test
 * remounts it so): a wrong check then fails on the unbind instead of taking a device the machine uses.
 * Does nothing unless IXY_NETNS_SCRIPT=1.
 */
import { openDevice } from '../../src/driver/index.js';
import { HeapDmaAllocator } from '../../src/mem/dma.js';
import { Mempool } from '../../src/mem/mempool.js';
import { claimPciDevice, describeForListing, readPciDevice } from '../../src/sys/pci.js';

function main(): void {
  const addr = process.argv[2];
  const kind = describeForListing(readPciDevice(addr)).userDriver;
  const pool = new Mempool(new HeapDmaAllocator(), { count: 1024 });
  try {
    if (kind) openDevice(`${kind}:${addr}`, { pool }).close();
    else claimPciDevice(addr).release(true);
    console.log(`OPEN ${JSON.stringify({ kind, opened: true })}`);
  } catch (e) {
    const err = e as Error;
    console.log(`OPEN ${JSON.stringify({ kind, opened: false, error: { name: err.name, message: err.message } })}`);
  }
}

if (process.env.IXY_NETNS_SCRIPT === '1') main();
