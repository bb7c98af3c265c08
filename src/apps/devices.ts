import { featureNames } from '../driver/virtio/virtio-device.js';
import { registeredDrivers } from '../driver/open.js';
import { xdpMaxMtu } from '../driver/xdp/xdp-device.js';
import { hugepageStatus } from '../sys/hugepages.js';
import { ARPHRD_ETHER, ARPHRD_LOOPBACK, type LinuxInterface, type LinuxScanOptions, listLinuxInterfaces } from '../sys/linux-interfaces.js';
import { describeForListing, listNetworkDevices } from '../sys/pci.js';

/**
 * Drivers with native XDP (an ndo_bpf in the kernel driver); on any other interface `xdp:` runs the program on the
 * generic (skb) path. `tun` counts only for TAP interfaces: a layer-3 tun has no native XDP.
 */
const NATIVE_XDP_DRIVERS = new Set([
  'veth', 'virtio_net', 'tun', 'ixgbe', 'ixgbevf', 'i40e', 'iavf', 'ice', 'igb', 'igc', 'mlx4_core', 'mlx4_en', 'mlx5_core',
  'bnxt_en', 'qede', 'nfp', 'ena', 'hv_netvsc', 'vif', 'xen-netfront', 'sfc', 'thunder-nicvf', 'mvneta', 'mvpp2',
  'stmmaceth', 'dpaa2-eth', 'fsl_enetc', 'atlantic', 'netdevsim', 'bonding', 'txgbe', 'ngbe', 'fec', 'gve', 'octeontx2-nicvf',
]);
/** Mempool buffers `ixy` uses (the Mempool default); AF_XDP puts XDP_PACKET_HEADROOM (256) in front of each frame. */
const BUFFER_SIZE = 2048;

export interface LinuxInterfaceReport extends LinuxInterface {
  /** `xdp:<if>` and how it would run, or spec null with the reason it would not work. */
  xdp: { spec: string | null; mode: 'native' | 'generic' | null; note: string };
  /** `packet:<if>` (AF_PACKET takes every interface, lo included). */
  packet: { spec: string };
  /** What to know before taking it: the default route, a link that is down, frames without an Ethernet header. */
  warnings: string[];
}

export interface DevicesReport {
  pci: ReturnType<typeof describeForListing>[];
  simulated: string[];
  hugepages: { total: number; free: number; mounts: string[] } | null;
  /** The interfaces of this network namespace and the specs that would take them. */
  linux: LinuxInterfaceReport[];
  /** TAP interfaces are not listed: tap: creates one by name. */
  tap: string;
  kinds: string[];
}

export const DEFAULT_ROUTE_WARNING = 'carries the default route: taking it with xdp would cut this machine off (xdp: and packet: refuse it without --force)';
const TAP_LINE = 'tap:NAME[,mq=N] creates a TAP interface by name (e.g. tap:ixy0); an existing TAP of that name is attached to';

export function devicesReport(sysfsRoot = '/sys', linuxOpts: Omit<LinuxScanOptions, 'sysfsRoot'> = {}): DevicesReport {
  let hp: DevicesReport['hugepages'] = null;
  try { const s = hugepageStatus(); hp = { total: s.total, free: s.free, mounts: s.mounts }; } catch { hp = null; }
  return {
    pci: listNetworkDevices(sysfsRoot).map((d) => describeForListing(d)),
    simulated: ['sim:0', 'sim:1'],
    hugepages: hp,
    linux: listLinuxInterfaces({ ...linuxOpts, sysfsRoot }).map(describeInterface),
    tap: TAP_LINE,
    kinds: registeredDrivers().map((d) => d.usage),
  };
}

/** Which of xdp: / packet: would take the interface, and what to watch out for. Listing only. */
export function describeInterface(i: LinuxInterface): LinuxInterfaceReport {
  const maxMtu = xdpMaxMtu(BUFFER_SIZE);
  const ethernet = i.linkType === null || i.linkType === ARPHRD_ETHER || i.linkType === ARPHRD_LOOPBACK;
  let xdp: LinuxInterfaceReport['xdp'];
  if (i.linkType === ARPHRD_LOOPBACK || i.name === 'lo') {
    xdp = { spec: null, mode: null, note: 'not for the loopback interface' };
  } else if (i.mtu !== null && i.mtu > maxMtu) {
    xdp = {
      spec: null, mode: null,
      note: `MTU too large for xdp: ${i.mtu} > ${maxMtu} (${BUFFER_SIZE}-byte buffers, 256 bytes headroom); ip link set dev ${i.name} mtu ${maxMtu} makes it fit`,
    };
  } else if (i.driver !== null && NATIVE_XDP_DRIVERS.has(i.driver) && (i.driver !== 'tun' || i.tunMode === 'tap')) {
    xdp = { spec: `xdp:${i.name}`, mode: 'native', note: `native XDP, driver ${i.driver}` };
  } else {
    xdp = { spec: `xdp:${i.name}`, mode: 'generic', note: `generic XDP: ${i.driver === null ? 'driver unknown' : `no native XDP known for driver ${i.driver}`}` };
  }
  const warnings: string[] = [];
  if (i.defaultRoute) warnings.push(DEFAULT_ROUTE_WARNING);
  if (!ethernet) warnings.push(`not Ethernet (link type ${i.linkType}${i.tunMode === 'tun' ? ', a layer-3 tun' : ''}): frames start with the IP header, no MAC addresses`);
  if (i.operstate === 'down') warnings.push(`link is down: no traffic until it is up (ip link set dev ${i.name} up)`);
  if (i.operstate === 'lowerlayerdown') warnings.push('link is lowerlayerdown: no carrier (cable, or a veth whose peer is down)');
  return { ...i, xdp, packet: { spec: `packet:${i.name}` }, warnings };
}

/** virtio feature names from sysfs's bit string (bit i at position i); unknown bits as numbers. */
export function virtioFeatureList(bits: string): string {
  let f = 0n;
  const unknown: number[] = [];
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') f |= 1n << BigInt(i);
  const names = featureNames(f);
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1' && featureNames(1n << BigInt(i)).length === 0) unknown.push(i);
  return [...names, ...unknown.map((b) => `bit ${b}`)].join(' ') || 'none';
}

export function printDevices(r: DevicesReport, print: (l: string) => void): void {
  print('PCI network devices:');
  if (r.pci.length === 0) print('  (none)');
  for (const d of r.pci) {
    const ifs = d.interfaces.length ? d.interfaces.join(',') : '-';
    const user = d.userDriver ? `${d.userDriver}:${d.address}` : 'no ixy.ts driver';
    print(`  ${d.address}  ${d.vendorDevice}  ${d.name.padEnd(22)} kernel driver ${d.driver ?? '-'}, interfaces ${ifs}`);
    print(`      ${user}; ${d.safe ? 'safe to take' : 'NOT safe'}: ${d.reason}`);
    if (d.userDriver) print(`      DMA: ${d.dma.path} (${d.dma.reason})`);
    if (d.virtioFeatureBits) print(`      features the kernel's driver negotiated: ${virtioFeatureList(d.virtioFeatureBits)}`);
  }
  print(`Simulated: ${r.simulated.join(', ')} (82599 model, always available)`);
  printLinuxInterfaces(r, print);
  if (r.hugepages) {
    print(`Hugepages: ${r.hugepages.free} of ${r.hugepages.total} free (2 MiB); hugetlbfs mounted at ${r.hugepages.mounts.join(', ') || 'nowhere'}`);
  }
  print('Device specs:');
  for (const k of r.kinds) print(`  ${k}`);
}

function printLinuxInterfaces(r: DevicesReport, print: (l: string) => void): void {
  print('Linux interfaces (this network namespace):');
  if (r.linux.length === 0) print('  (none)');
  const width = Math.max(0, ...r.linux.map((i) => i.name.length));
  const driverWidth = Math.max(1, ...r.linux.map((i) => (i.driver ?? '-').length));
  for (const i of r.linux) {
    const queues = i.rxQueues === null ? 'queues ?' : `queues ${i.rxQueues} rx / ${i.txQueues} tx`;
    print(
      `  ${i.name.padEnd(width)}  ${(i.mac ?? '-').padEnd(17)}  mtu ${String(i.mtu ?? '?').padEnd(5)}  ${(i.operstate ?? '?').padEnd(7)}  ` +
        `driver ${(i.driver ?? '-').padEnd(driverWidth)}  ${queues}`,
    );
    const xdp = i.xdp.spec ? `${i.xdp.spec} (${i.xdp.note})` : `no xdp: ${i.xdp.note}`;
    print(`      ${i.packet.spec}; ${xdp}`);
    for (const w of i.warnings) print(`      ! ${w}`);
  }
  print(`  ${r.tap}`);
}
