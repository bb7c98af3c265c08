import { linuxMemory } from '../../mem/mmap-dma.js';
import { ifnameProblem } from '../../sys/netif.js';
import { UsageError } from '../../util/errors.js';
import { refuseDefaultRouteLink } from '../default-route-guard.js';
import { registerDriver, type DeviceSpec } from '../open.js';
import { PacketDevice } from './packet-device.js';

/** The interface name of `packet:<ifname>`, or a one-line error. */
export function parsePacketSpec(spec: DeviceSpec): string {
  const problem = ifnameProblem(spec.arg);
  if (problem) throw new UsageError(`'${spec.text}' is not a packet device: ${problem}; use packet:IFNAME, e.g. packet:eth0 (see ip link)`, 'EBADSPEC');
  return spec.arg;
}

/** `packet:<ifname>`: any Linux interface through AF_PACKET with TPACKET_V3 rings (root or CAP_NET_RAW). */
registerDriver({
  kind: 'packet',
  usage: 'packet:IFNAME — a Linux interface through AF_PACKET TPACKET_V3 rings (root or CAP_NET_RAW)',
  check: (spec) => { parsePacketSpec(spec); },
  dmaAllocator: (spec) => {
    parsePacketSpec(spec);
    return linuxMemory;
  },
  open: (spec, opts) => {
    const ifname = parsePacketSpec(spec);
    refuseDefaultRouteLink(spec.text, ifname, 'packet', opts.force);
    return PacketDevice.open(spec.text, ifname, opts);
  },
});
