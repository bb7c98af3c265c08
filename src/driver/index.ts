// Every device kind registers itself on import; later kinds (virtio, xdp, packet, tap) add a line here.
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
