/**
 * ixy.ts/driver: the `Device` interface every device kind implements (`rxBatch`/`txBatch` of buffer ids, statistics,
 * link, MAC), device specs (`parseDeviceSpec`) and `openDevice`, and the registry of kinds: sim, ixgbe, virtio, xdp,
 * packet, tap, impair. For people writing forwarders and middleboxes; a stack app needs only the root entry point.
 *
 * @module ixy.ts/driver
 */
// Every device kind registers itself on import; a new kind adds a line here.
import './sim/sim-driver.js';
import './ixgbe/pci-driver.js';
import './packet/packet-driver.js';
import './tap/tap-driver.js';
import './xdp/xdp-driver.js';
import './virtio/virtio-driver.js';
import './impair/impair-driver.js';

export * from './device.js';
export * from './open.js';
export { SimNic } from './sim/sim-nic.js';
export type { SimHandles, SimNicOptions, TesterSnapshot } from './sim/sim-nic.js';
