import { registeredDrivers } from '../driver/open.js';
import { hugepageStatus } from '../sys/hugepages.js';
import { describeForListing, listNetworkDevices } from '../sys/pci.js';

export interface DevicesReport {
  pci: ReturnType<typeof describeForListing>[];
  simulated: string[];
  hugepages: { total: number; free: number; mounts: string[] } | null;
  kinds: string[];
}

export function devicesReport(sysfsRoot = '/sys'): DevicesReport {
  let hp: DevicesReport['hugepages'] = null;
  try { const s = hugepageStatus(); hp = { total: s.total, free: s.free, mounts: s.mounts }; } catch { hp = null; }
  return {
    pci: listNetworkDevices(sysfsRoot).map(describeForListing),
    simulated: ['sim:0', 'sim:1'],
    hugepages: hp,
    kinds: registeredDrivers().map((d) => d.usage),
  };
}

export function printDevices(r: DevicesReport, print: (l: string) => void): void {
  print('PCI network devices:');
  if (r.pci.length === 0) print('  (none)');
  for (const d of r.pci) {
    const ifs = d.interfaces.length ? d.interfaces.join(',') : '-';
    const user = d.userDriver ? `${d.userDriver}:${d.address}` : 'no ixy.ts driver';
    print(`  ${d.address}  ${d.vendorDevice}  ${d.name.padEnd(22)} kernel driver ${d.driver ?? '-'}, interfaces ${ifs}`);
    print(`      ${user}; ${d.safe ? 'safe to take' : 'NOT safe'}: ${d.reason}`);
  }
  print(`Simulated: ${r.simulated.join(', ')} (82599 model, always available)`);
  if (r.hugepages) {
    print(`Hugepages: ${r.hugepages.free} of ${r.hugepages.total} free (2 MiB); hugetlbfs mounted at ${r.hugepages.mounts.join(', ') || 'nowhere'}`);
  }
  print('Device specs:');
  for (const k of r.kinds) print(`  ${k}`);
}
